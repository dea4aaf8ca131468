"""Performance benchmark of the installed ``tap-webex-meetings`` against the fake Webex.

Run it from the project's virtual environment (the tap must be installed in it)::

    .venv/bin/python scripts/benchmark.py                      # every case, 3 runs each
    .venv/bin/python scripts/benchmark.py --case 20k --repeat 5 --json bench.json
    .venv/bin/python scripts/benchmark.py --case 200x50 --workers 8
    .venv/bin/python scripts/benchmark.py --case 20k --profile tap.prof   # + one cProfile run

For each case a fake Webex (``tap-webex-meetings-sandbox --bulk``) is started in its own
process on 127.0.0.1, so it never shares a GIL or a core's time slice with what is
measured. Then, alternately and ``--repeat`` times, two kinds of subprocess run against it:

* the **tap**: the ``tap-webex-meetings`` console script next to ``sys.executable``, with a
  config file, exactly as a user or Meltano runs it (stdout to /dev/null, or to files with
  ``--output DIR``);
* the **baseline**: a plain ``requests.Session`` loop that sends the same requests one at a
  time (same URL, params and headers as the tap's first page, then ``Link: rel="next"``,
  series after series, plus the same series lookup or discovery requests) and writes every
  meeting as a Singer RECORD line to the same kind of sink. It is the cost of the HTTP
  requests and of the JSON in and out, without singer-sdk: what the tap could at best do
  with one request at a time.

Cases: ``20k`` one series of 20,000 meetings; ``200k`` one series of 200,000 meetings;
``200x50`` 200 series of 50 meetings with 50 ms of server latency per request, where the
tap runs twice, with ``max_workers: 1`` and with its default (or ``--workers N``). The
single-series cases pass ``meeting_series_ids`` (one lookup request, then pages); the
200-series case lets the tap discover its series (two discovery pages of 100). The date
range is exactly the one the bulk data covers: ``start_date`` is the first meeting's start
and ``end_date`` one hour after the last one's, so every generated meeting is extracted.

Columns (each a median over the repetitions):

* ``records``: series_meetings records written (the tap's ``record_count`` metrics, the
  baseline's own count, or the RECORD lines of ``--output`` files); a run whose count is
  not series x meetings fails its ``check``.
* ``requests``: API requests the server recorded during one run (its ``/_sandbox/status``
  count before and after), and ``check``: ``ok`` when, in every run, the server's request
  log shows exactly the expected lookup / discovery requests and ceil(meetings/page_size)
  page requests for each series and date window, all answered 200.
* ``seconds``: wall time of the subprocess, from start to exit (Python start-up included).
* ``rec/s``: records / seconds.
* ``ratio``: baseline seconds / tap seconds (1.0: the tap is as fast as the bare loop).
* ``peak MiB``: the subprocess's peak resident memory (``ru_maxrss`` of ``os.wait4``).
* ``cpu s``: CPU seconds (user + system) of the subprocess; ``srv cpu s``: CPU seconds the
  fake server spent meanwhile (Linux). With one request at a time the two mostly take
  turns, so seconds ~ cpu s + srv cpu s + latency: what is left for the tap to win is
  its own ``cpu s``.

Below the tables, ``targets`` compares the numbers with the project's goals (ratio >= 0.8
on 20k; peak RSS of 200k within 20 MB of 20k; exact request counts; ``200x50`` parallel
at least 4x faster than ``max_workers=1``); ``--check`` makes a missed target exit 1.
A failed or timed-out run always exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import pstats
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests

PAGE_SIZE = 100
TOKEN = "sandbox-token"
FAKE_NOW = "2026-06-15T12:00:00Z"  # the fake clock: bulk meetings start two days later
STREAM = "series_meetings"
SERIES_STREAM = "meeting_series"
TAP_COMMAND = Path(sys.executable).with_name("tap-webex-meetings")
MiB = 1024 * 1024

# Targets the lead checks (see the module docstring).
MIN_RATIO_20K = 0.8
MAX_RSS_GROWTH_MB = 20
MIN_PARALLEL_SPEEDUP = 4.0

# The fake server, started by a tiny bootstrap that also stops it when the benchmark's
# end of its stdin closes (the benchmark exited, even by SIGKILL): no orphaned servers.
SERVER_BOOTSTRAP = """
import os, signal, sys, threading
from tap_webex_meetings.sandbox.cli import main
def watch():
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
raise SystemExit(main(sys.argv[1:]))
"""

REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


@dataclass(frozen=True)
class Case:
    """One benchmark case: bulk data, server latency, and how the tap finds the series."""

    name: str
    series: int
    meetings: int
    latency_ms: float = 0.0
    discover: bool = False  # let the tap discover the series instead of configuring ids
    compare_workers: bool = False  # run the tap with max_workers 1 and parallel

    @property
    def records(self) -> int:
        return self.series * self.meetings

    def describe(self) -> str:
        latency = f", {self.latency_ms:g} ms latency" if self.latency_ms else ""
        how = "discovered" if self.discover else "meeting_series_ids"
        return (
            f"{self.series} series x {self.meetings:,} meetings{latency}, series {how}, "
            f"page_size {PAGE_SIZE}"
        )


CASES = {
    "20k": Case("20k", 1, 20_000),
    "200k": Case("200k", 1, 200_000),
    "200x50": Case("200x50", 200, 50, latency_ms=50, discover=True, compare_workers=True),
}


@dataclass(frozen=True)
class Expected:
    """The requests one correct run makes."""

    lookups: int
    discovery: int
    pages_per_window: int
    windows: int  # one per series: the bulk data has no instances, so no cap windows

    @property
    def total(self) -> int:
        return self.lookups + self.discovery + self.pages_per_window * self.windows

    @classmethod
    def of(cls, case: Case) -> Expected:
        return cls(
            lookups=0 if case.discover else case.series,
            discovery=math.ceil(case.series / PAGE_SIZE) if case.discover else 0,
            pages_per_window=math.ceil(case.meetings / PAGE_SIZE),
            windows=case.series,
        )


@dataclass
class Run:
    """One measured subprocess run."""

    label: str
    seconds: float
    cpu_seconds: float
    server_cpu_seconds: float | None
    peak_rss_mib: float
    exit_code: int
    timed_out: bool
    records: int | None
    requests: int
    lookups: int
    discovery: int
    page_requests: int
    windows: int
    pages_per_window: list[int]
    non_200: int
    other: int
    check: str  # "ok", or what was wrong

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class Row:
    """Medians of one kind of run in one case."""

    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(r.cpu_seconds for r in self.runs)

    @property
    def server_cpu_seconds(self) -> float | None:
        values = [r.server_cpu_seconds for r in self.runs]
        return None if None in values else statistics.median(v or 0.0 for v in values)

    @property
    def peak_rss_mib(self) -> float:
        return statistics.median(r.peak_rss_mib for r in self.runs)

    @property
    def records(self) -> int | None:
        counts = [r.records for r in self.runs]
        return None if None in counts else int(statistics.median(c or 0 for c in counts))

    @property
    def requests(self) -> int:
        return int(statistics.median(r.requests for r in self.runs))

    @property
    def check(self) -> str:
        bad = [f"run {i + 1}: {r.check}" for i, r in enumerate(self.runs) if r.check != "ok"]
        return "ok" if not bad else "; ".join(bad)

    def rate(self) -> float | None:
        records = self.records
        return None if records is None else records / self.seconds


# --- the fake server ---------------------------------------------------------------------


class Server:
    """The fake Webex in its own process, logging request lines to a file."""

    def __init__(self, case: Case, log_path: Path, timeout: float) -> None:
        self.case = case
        self.log_path = log_path
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self._log: IO[bytes] | None = None

    def start(self) -> Server:
        self._log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-c",
            SERVER_BOOTSTRAP,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--now",
            FAKE_NOW,
            "--bulk",
            f"{self.case.series}x{self.case.meetings}",
            "--latency-ms",
            str(self.case.latency_ms),
            "--verbose",
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise RuntimeError(f"fake server did not start within {self.timeout:g} s")
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                raise RuntimeError(f"fake server exited: {self.log_path.read_text()[-2000:]}")
            line += chunk
        text = line.decode().strip()
        if not text.startswith("api_url="):
            raise RuntimeError(f"unexpected first line from the fake server: {text!r}")
        self.api_url = text.removeprefix("api_url=")
        return self

    @property
    def base_url(self) -> str:
        return self.api_url.rsplit("/v1", 1)[0]

    def status(self) -> dict[str, Any]:
        url = f"{self.base_url}/_sandbox/status"
        with urllib.request.urlopen(url, timeout=self.timeout) as response:  # loopback only
            data: dict[str, Any] = json.load(response)
        return data

    def cpu_seconds(self) -> float | None:
        """CPU time the server process used so far (Linux: /proc; else None)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # utime and stime are fields 14 and 15 of the line, 12 and 13 after "(comm)".
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def request_targets(self, since: int) -> list[tuple[str, int]]:
        """``(path?query, status)`` of each API request logged after byte ``since``."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        found = []
        for match in REQUEST_LINE.finditer(text):
            target = match["target"]
            if not target.startswith("/_sandbox/"):
                found.append((target, int(match["status"])))
        return found

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- measuring one subprocess ------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    exit_code: int
    timed_out: bool


def measure(command: Sequence[str], stdout: Path, stderr: Path, timeout: float) -> Measured:
    """Run ``command`` to its end (killed after ``timeout``); wall time and peak RSS."""
    killed = threading.Event()
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        )

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    rss_bytes = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, rss_bytes / MiB, process.returncode, killed.is_set())


# --- configs and plans -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What both the tap and the baseline are asked to extract."""

    api_url: str
    series_ids: list[str] | None  # None: discover
    start: str
    end: str
    page_size: int = PAGE_SIZE
    token: str = TOKEN
    timezone: str = "UTC"
    request_timeout: float = 60.0


def query_format(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_for(case: Case, server: Server) -> Plan:
    """The exact date range of the bulk data, and the series ids (checked with the server)."""
    # Imported here, not at the top, so that the baseline worker does not pay for it.
    from tap_webex_meetings.sandbox import bulk_series  # noqa: PLC0415

    status = server.status()
    now = datetime.fromisoformat(str(status["now"]).replace("Z", "+00:00"))
    specs = bulk_series(case.series, case.meetings, now=now)
    ids = [spec.id for spec in specs]
    if sorted(ids) != sorted(status["series"]):
        raise RuntimeError("the fake server does not serve the expected bulk series")
    first = min(spec.first_start for spec in specs)
    # Meetings start hourly from `first`: the last starts at first + (meetings - 1) h.
    end = first + timedelta(hours=case.meetings)
    return Plan(
        api_url=server.api_url,
        series_ids=None if case.discover else ids,
        start=query_format(first),
        end=query_format(end),
    )


def tap_config(plan: Plan, max_workers: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "api_url": plan.api_url,
        "access_token": plan.token,
        "start_date": plan.start,
        "end_date": plan.end,
        "page_size": plan.page_size,
        "timezone": plan.timezone,
        "request_timeout": plan.request_timeout,
    }
    if plan.series_ids is not None:
        config["meeting_series_ids"] = plan.series_ids
    if max_workers is not None:
        config["max_workers"] = max_workers
    return config


# --- the baseline (runs as its own subprocess: ``--baseline-worker PLAN``) ---------------


def baseline_worker(plan_path: Path) -> int:
    """Fetch what the tap fetches, one request at a time, and write Singer RECORD lines."""
    plan = Plan(**json.loads(plan_path.read_text()))
    session = requests.Session()
    session.headers.update(
        {
            "Accept": "application/json",
            "timezone": plan.timezone,
            "Authorization": f"Bearer {plan.token}",
        }
    )
    out = sys.stdout
    counts = Counter[str]()

    def pages(url: str, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        response = session.get(url, params=params, timeout=plan.request_timeout)
        while True:
            response.raise_for_status()
            yield response.json().get("items") or []
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return
            response = session.get(next_url, timeout=plan.request_timeout)

    def write(stream: str, record: dict[str, Any]) -> None:
        out.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
        counts[stream] += 1

    meetings_url = f"{plan.api_url}/meetings"
    series_ids: list[str] = []
    if plan.series_ids is None:  # discovery, as the tap does it
        discovery = {
            "meetingType": "meetingSeries",
            "from": plan.start,
            "to": plan.end,
            "max": str(plan.page_size),
        }
        for items in pages(meetings_url, discovery):
            for item in items:
                series_ids.append(item["id"])
                write(SERIES_STREAM, item)
    else:  # one lookup per configured series, as the tap does it
        for series_id in plan.series_ids:
            response = session.get(f"{meetings_url}/{series_id}", timeout=plan.request_timeout)
            response.raise_for_status()
            series_ids.append(series_id)
            write(SERIES_STREAM, response.json())
    for series_id in series_ids:
        params = {
            "meetingSeriesId": series_id,
            "to": plan.end,
            "from": plan.start,
            "max": str(plan.page_size),
        }
        for items in pages(meetings_url, params):
            for item in items:
                write(STREAM, item)
    out.flush()
    print(json.dumps({"baseline_records": dict(counts)}), file=sys.stderr)
    return 0


# --- one case ------------------------------------------------------------------------------


def tap_records(stderr_text: str) -> int | None:
    """series_meetings records, from the SDK's ``record_count`` METRIC lines (summed)."""
    total, seen = 0, False
    for line in stderr_text.splitlines():
        _, marker, payload = line.partition("METRIC: ")
        if not marker:
            continue
        try:
            metric = json.loads(payload)
        except ValueError:
            continue
        if metric.get("metric") == "record_count" and metric.get("tags", {}).get("stream") == (
            STREAM
        ):
            total += int(metric.get("value", 0))
            seen = True
    return total if seen else None


def baseline_records(stderr_text: str) -> int | None:
    for line in reversed(stderr_text.splitlines()):
        if line.startswith('{"baseline_records"'):
            return int(json.loads(line)["baseline_records"].get(STREAM, 0))
    return None


def output_records(path: Path) -> int:
    """RECORD lines of the meetings stream in a kept output file."""
    needle = f'"stream": "{STREAM}"'.encode()
    compact = f'"stream":"{STREAM}"'.encode()
    with path.open("rb") as lines:
        return sum(
            1
            for line in lines
            if b'"RECORD"' in line[:40] and (needle in line[:80] or compact in line[:80])
        )


def classify(targets: list[tuple[str, int]], expected: Expected) -> dict[str, Any]:
    """Sort the logged requests of one run and compare them with ``expected``."""
    lookups = discovery = other = non_200 = 0
    windows: Counter[tuple[str, str, str]] = Counter()
    for target, status in targets:
        non_200 += status != 200
        parts = urlsplit(target)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        if parts.path.startswith("/v1/meetings/"):
            lookups += 1
        elif parts.path == "/v1/meetings" and "meetingSeriesId" in params:
            key = (params["meetingSeriesId"], params.get("from", ""), params.get("to", ""))
            windows[key] += 1
        elif parts.path == "/v1/meetings" and params.get("meetingType") == "meetingSeries":
            discovery += 1
        else:
            other += 1
            print(f"  unexpected request: {unquote(target)[:200]}", file=sys.stderr)
    pages = sorted(windows.values())
    problems = []
    if lookups != expected.lookups:
        problems.append(f"{lookups} lookups, expected {expected.lookups}")
    if discovery != expected.discovery:
        problems.append(f"{discovery} discovery requests, expected {expected.discovery}")
    if len(windows) != expected.windows:
        problems.append(f"{len(windows)} series windows, expected {expected.windows}")
    wrong = [n for n in pages if n != expected.pages_per_window]
    if wrong:
        problems.append(
            f"{len(wrong)} windows with page counts {sorted(set(wrong))[:5]}, "
            f"expected {expected.pages_per_window} each"
        )
    if other:
        problems.append(f"{other} other requests")
    if non_200:
        problems.append(f"{non_200} answers not 200")
    return {
        "lookups": lookups,
        "discovery": discovery,
        "page_requests": sum(pages),
        "windows": len(windows),
        "pages_per_window": sorted(set(pages)),
        "non_200": non_200,
        "other": other,
        "check": "; ".join(problems) or "ok",
    }


@dataclass
class CaseResult:
    case: Case
    plan: Plan
    expected: Expected
    rows: dict[str, Row]
    elapsed: float = 0.0  # seconds the whole case took, server start to stop

    def row(self, label: str) -> Row:
        return self.rows.setdefault(label, Row(label))


class Bench:
    """Runs the cases; everything a run writes goes to a temporary folder."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.timeout: float = args.timeout
        self.output_dir: Path | None = args.output
        self.tap_settings = self._tap_settings()

    def _tap_settings(self) -> set[str]:
        """The tap's known settings (``--about``); also warms the import caches."""
        result = subprocess.run(
            [str(TAP_COMMAND), "--about", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{TAP_COMMAND} --about failed: {result.stderr[-2000:]}")
        about = json.loads(result.stdout)
        return set(about.get("settings", {}).get("properties", {}))

    def sink(self, case: Case, label: str) -> Path:
        if self.output_dir is None:
            return Path(os.devnull)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
        return self.output_dir / f"{case.name}-{slug}.jsonl"

    def labels(self, case: Case) -> list[tuple[str, int | None]]:
        """``(label, max_workers)`` of the tap runs of a case (None: not passed)."""
        if not case.compare_workers:
            return [("tap", self.args.workers)]
        parallel = self.args.workers
        label = f"tap max_workers={parallel}" if parallel else "tap parallel (default)"
        return [("tap max_workers=1", 1), (label, parallel)]

    def run_case(self, case: Case) -> CaseResult:
        expected = Expected.of(case)
        log_path = self.folder / f"server-{case.name}.log"
        started = time.perf_counter()
        with Server(case, log_path, self.timeout) as server:
            plan = plan_for(case, server)
            result = CaseResult(case, plan, expected, {})
            plan_path = self.folder / f"plan-{case.name}.json"
            plan_path.write_text(json.dumps(asdict(plan)))
            commands: list[tuple[str, list[str]]] = []
            for label, workers in self.labels(case):
                config_path = self.folder / f"config-{case.name}-{workers}.json"
                config_path.write_text(json.dumps(tap_config(plan, workers), indent=2))
                commands.append((label, [str(TAP_COMMAND), "--config", str(config_path)]))
            baseline = [sys.executable, str(Path(__file__).resolve())]
            commands.append(("baseline", [*baseline, "--baseline-worker", str(plan_path)]))
            for repetition in range(self.args.repeat):
                for label, command in commands:  # alternate: tap(s), baseline, tap(s), ...
                    run = self.one_run(case, server, label, command, expected)
                    result.row(label).runs.append(run)
                    print(
                        f"  [{case.name} {repetition + 1}/{self.args.repeat}] {label:<24} "
                        f"{run.seconds:8.2f} s  {run.cpu_seconds:6.2f} s cpu  "
                        f"{run.peak_rss_mib:7.1f} MiB  "
                        f"{run.requests} requests  {run.check}",
                        file=sys.stderr,
                        flush=True,
                    )
                    if not run.ok:
                        return result
            if self.args.profile is not None:
                self.profile(case, commands[-2][1])
        result.elapsed = time.perf_counter() - started
        return result

    def one_run(
        self, case: Case, server: Server, label: str, command: list[str], expected: Expected
    ) -> Run:
        sink = self.sink(case, label)
        stderr_path = self.folder / "stderr.txt"
        before, offset = server.status()["requests"], server.log_size()
        server_cpu = server.cpu_seconds()
        measured = measure(command, sink, stderr_path, self.timeout)
        server_cpu_after = server.cpu_seconds()
        requests = int(server.status()["requests"]) - int(before)
        found = classify(server.request_targets(offset), expected)
        stderr_text = stderr_path.read_text(errors="replace")
        if self.output_dir is not None:
            records: int | None = output_records(sink)
        elif label == "baseline":
            records = baseline_records(stderr_text)
        else:
            records = tap_records(stderr_text)
        check = found.pop("check")
        logged = found["lookups"] + found["discovery"] + found["page_requests"] + found["other"]
        if logged != requests:
            check = f"{check}; log shows {logged} requests, status {requests}"
        if records != case.records:
            check = f"{check}; {records} records, expected {case.records}"
        if measured.timed_out:
            check = f"timed out after {self.timeout:g} s"
        elif measured.exit_code != 0:
            check = f"exit code {measured.exit_code}"
            print(stderr_text[-3000:], file=sys.stderr)
        check = check.removeprefix("ok; ")
        return Run(
            label=label,
            seconds=measured.seconds,
            cpu_seconds=measured.cpu_seconds,
            server_cpu_seconds=(
                None
                if server_cpu is None or server_cpu_after is None
                else server_cpu_after - server_cpu
            ),
            peak_rss_mib=measured.peak_rss_mib,
            exit_code=measured.exit_code,
            timed_out=measured.timed_out,
            records=records,
            requests=requests,
            check=check,
            **found,
        )

    def profile(self, case: Case, tap_command: list[str]) -> None:
        """One more tap run under cProfile (not measured); prints the top functions."""
        path: Path = self.args.profile
        if len(self.args.case) > 1:
            path = path.with_name(f"{path.stem}-{case.name}{path.suffix}")
        command = [sys.executable, "-m", "cProfile", "-o", str(path), *tap_command]
        measured = measure(command, Path(os.devnull), self.folder / "profile.txt", self.timeout)
        print(f"\ncProfile of one tap run, {case.name} ({measured.seconds:.1f} s): {path}")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)


# --- report --------------------------------------------------------------------------------


def format_table(results: list[CaseResult]) -> str:
    header = (
        f"{'case':<7} {'run':<24} {'records':>8} {'requests':>8} {'check':<5} "
        f"{'seconds':>8} {'rec/s':>8} {'ratio':>6} {'peak MiB':>9} {'cpu s':>7} {'srv cpu s':>9}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        baseline = result.rows.get("baseline")
        for row in result.rows.values():
            if not row.runs:
                continue
            is_base = row.label == "baseline"
            ratio = (
                f"{baseline.seconds / row.seconds:6.2f}"
                if baseline and baseline.runs and not is_base
                else f"{'':>6}"
            )
            rate = row.rate()
            server_cpu = "?" if row.server_cpu_seconds is None else f"{row.server_cpu_seconds:.2f}"
            lines.append(
                f"{result.case.name:<7} {row.label:<24} "
                f"{row.records if row.records is not None else '?':>8} {row.requests:>8} "
                f"{'ok' if row.check == 'ok' else 'FAIL':<5} {row.seconds:8.2f} "
                f"{f'{rate:,.0f}' if rate else '?':>8} {ratio} {row.peak_rss_mib:9.1f} "
                f"{row.cpu_seconds:7.2f} {server_cpu:>9}"
            )
    return "\n".join(lines)


def speedup(result: CaseResult) -> float | None:
    serial = result.rows.get("tap max_workers=1")
    parallel = [r for label, r in result.rows.items() if label.startswith("tap ") and r != serial]
    if serial is None or not parallel or not serial.runs or not parallel[0].runs:
        return None
    return serial.seconds / parallel[0].seconds


def targets(results: dict[str, CaseResult]) -> list[dict[str, Any]]:
    """The project's goals, each met / missed / n/a."""
    found: list[dict[str, Any]] = []

    def add(name: str, value: str, met: bool | None) -> None:
        found.append({"target": name, "value": value, "met": met})

    small = results.get("20k")
    if small and "tap" in small.rows and "baseline" in small.rows:
        ratio = small.rows["baseline"].seconds / small.rows["tap"].seconds
        add(f"20k ratio >= {MIN_RATIO_20K}", f"{ratio:.2f}", ratio >= MIN_RATIO_20K)
    else:
        add(f"20k ratio >= {MIN_RATIO_20K}", "not run", None)
    big = results.get("200k")
    if small and big and "tap" in small.rows and "tap" in big.rows:
        growth = (big.rows["tap"].peak_rss_mib - small.rows["tap"].peak_rss_mib) * MiB / 1e6
        add(
            f"200k peak RSS within {MAX_RSS_GROWTH_MB} MB of 20k",
            f"{growth:+.1f} MB",
            growth <= MAX_RSS_GROWTH_MB,
        )
    else:
        add(f"200k peak RSS within {MAX_RSS_GROWTH_MB} MB of 20k", "needs 20k and 200k", None)
    for result in results.values():
        tap_rows = [r for label, r in result.rows.items() if label != "baseline"]
        exact = all(row.check == "ok" for row in result.rows.values())
        detail = ", ".join(f"{row.label}: {row.requests}" for row in result.rows.values())
        add(
            f"{result.case.name} exact requests ({result.expected.total} a run)",
            detail,
            exact and bool(tap_rows),
        )
    parallel = results.get("200x50")
    factor = speedup(parallel) if parallel else None
    add(
        f"200x50 parallel >= {MIN_PARALLEL_SPEEDUP:g}x max_workers=1",
        "not run" if factor is None else f"{factor:.2f}x",
        None if factor is None else factor >= MIN_PARALLEL_SPEEDUP,
    )
    return found


def describe_expected(result: CaseResult) -> str:
    e, case = result.expected, result.case
    parts = []
    if e.lookups:
        parts.append(f"{e.lookups} lookup")
    if e.discovery:
        parts.append(f"{e.discovery} discovery (ceil({case.series}/{PAGE_SIZE}))")
    parts.append(
        f"{e.windows} series x 1 window x ceil({case.meetings}/{PAGE_SIZE}) = "
        f"{e.windows * e.pages_per_window} pages"
    )
    return f"expected {e.total} requests a run: " + " + ".join(parts)


def report(results: dict[str, CaseResult], bench: Bench) -> None:
    print()
    for result in results.values():
        took = f" (took {result.elapsed:.0f} s)" if result.elapsed else ""
        print(f"{result.case.name}: {result.case.describe()}{took}")
        print(f"  range {result.plan.start} .. {result.plan.end}; {describe_expected(result)}")
        for row in result.rows.values():
            run = row.runs[-1] if row.runs else None
            if run is not None:
                print(
                    f"  {row.label}: {run.lookups} lookups, {run.discovery} discovery, "
                    f"{run.page_requests} pages in {run.windows} windows "
                    f"(pages per window {run.pages_per_window}) -> {row.check}"
                )
        if result.case.compare_workers:
            factor = speedup(result)
            if "max_workers" not in bench.tap_settings:
                print(
                    "  note: max_workers is not a setting of this tap yet (it is passed and "
                    "ignored): both tap runs are one request at a time"
                )
            if factor is not None:
                print(f"  speed-up of parallel vs max_workers=1: {factor:.2f}x")
    print(f"\nmedians of {bench.args.repeat} runs; ratio = baseline seconds / tap seconds\n")
    print(format_table(list(results.values())))
    print("\ntargets:")
    for target in targets(results):
        mark = {True: "met", False: "MISSED", None: "n/a"}[target["met"]]
        print(f"  {mark:<6} {target['target']}: {target['value']}")


def to_json(results: dict[str, CaseResult], bench: Bench, seconds: float) -> dict[str, Any]:
    cases: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        cases[name] = {
            "description": result.case.describe(),
            "case": asdict(result.case),
            "range": {"start": result.plan.start, "end": result.plan.end},
            "elapsed_seconds": result.elapsed,
            "expected_requests": {**asdict(result.expected), "total": result.expected.total},
            "rows": {
                label: {
                    "records": row.records,
                    "requests": row.requests,
                    "check": row.check,
                    "seconds": row.seconds,
                    "records_per_second": row.rate(),
                    "peak_rss_mib": row.peak_rss_mib,
                    "cpu_seconds": row.cpu_seconds,
                    "server_cpu_seconds": row.server_cpu_seconds,
                    "runs": [asdict(run) for run in row.runs],
                }
                for label, row in result.rows.items()
                if row.runs
            },
        }
        base = result.rows.get("baseline")
        for label, row in result.rows.items():
            if base and base.runs and row.runs and label != "baseline":
                cases[name]["rows"][label]["ratio"] = base.seconds / row.seconds
        if result.case.compare_workers:
            cases[name]["speedup_parallel_vs_1"] = speedup(result)
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tap_command": str(TAP_COMMAND),
        "tap_knows_max_workers": "max_workers" in bench.tap_settings,
        "repeat": bench.args.repeat,
        "page_size": PAGE_SIZE,
        "total_seconds": seconds,
        "cases": cases,
        "targets": targets(results),
    }


# --- command line ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the installed tap-webex-meetings against the fake Webex.",
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=list(CASES),
        help="case to run (repeatable); default: all",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (median)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="max_workers of the parallel 200x50 run (default: the tap's own default)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before any subprocess is killed"
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="keep what the runs print (last run of each kind) in DIR instead of /dev/null",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="after the runs, profile one more tap run with cProfile and print the top",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--baseline-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    args.case = args.case or list(CASES)
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers stop


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.baseline_worker is not None:
        return baseline_worker(args.baseline_worker)
    if not TAP_COMMAND.exists():
        print(f"{TAP_COMMAND} not found: run with the venv's python", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    results: dict[str, CaseResult] = {}
    with tempfile.TemporaryDirectory(prefix="tap-webex-bench-") as folder:
        bench = Bench(args, Path(folder))
        for name in args.case:
            case = CASES[name]
            print(f"{name}: {case.describe()}", file=sys.stderr, flush=True)
            results[name] = bench.run_case(case)
            failed = [r for row in results[name].rows.values() for r in row.runs if not r.ok]
            if failed:
                print(f"{name}: a run failed ({failed[0].check}); stopping", file=sys.stderr)
                report(results, bench)
                return 2
    total = time.perf_counter() - started
    report(results, bench)
    print(f"\nwhole benchmark: {total:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(results, bench, total), indent=2) + "\n")
        print(f"results written to {args.json}")
    missed = [t for t in targets(results) if t["met"] is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers and runs were stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
