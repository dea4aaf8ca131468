"""Running the cases: one fake server per case, tap and baseline runs alternating."""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .cases import SERIES_STREAM, TAP_COMMAND, Case, Expected, Plan, plan_for, tap_config
from .measure import Measured, Output, measure, read_output
from .pipeline import REPO, Pipelines
from .server import Server, classify

# The entry point, which also runs the baseline worker (``--baseline-worker PLAN``).
BENCHMARK_SCRIPT = Path(__file__).resolve().parent.parent / "benchmark.py"


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
    records: int
    record_bytes: int  # RECORD lines on stdout, every stream
    state_bytes: int  # STATE lines on stdout
    state_messages: int
    last_state_bytes: int
    stdout_bytes: int
    requests: int
    lookups: int
    discovery: int
    page_requests: int
    windows: int
    pages_per_window: list[int]
    non_200: int
    other: int
    check: str  # "ok", or what was wrong
    loader: str | None = None  # a `meltano run` into this loader; None: the tap or baseline
    peak_by_role: dict[str, float] = field(default_factory=dict)  # of a pipeline, MiB

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def _median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Row:
    """Medians of one kind of run in one case."""

    label: str
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float:
        return _median([float(getattr(run, name)) for run in self.runs])

    @property
    def seconds(self) -> float:
        return self.median("seconds")

    @property
    def peak_rss_mib(self) -> float:
        return self.median("peak_rss_mib")

    @property
    def server_cpu_seconds(self) -> float | None:
        values = [r.server_cpu_seconds for r in self.runs]
        return None if None in values else _median([v or 0.0 for v in values])

    @property
    def records(self) -> int:
        return int(self.median("records"))

    @property
    def requests(self) -> int:
        return int(self.median("requests"))

    @property
    def check(self) -> str:
        bad = [f"run {i + 1}: {r.check}" for i, r in enumerate(self.runs) if r.check != "ok"]
        return "ok" if not bad else "; ".join(bad)

    def rate(self) -> float:
        return self.records / self.seconds


@dataclass
class CaseResult:
    case: Case
    plan: Plan
    expected: Expected
    rows: dict[str, Row]
    elapsed: float = 0.0  # seconds the whole case took, server start to stop
    profile: list[str] = field(default_factory=list)  # top cumulative entries, if profiled

    def row(self, label: str) -> Row:
        return self.rows.setdefault(label, Row(label))

    def ratio(self, label: str = "tap") -> float | None:
        """Baseline seconds / tap seconds."""
        base, tap = self.rows.get("baseline"), self.rows.get(label)
        if base is None or tap is None or not base.runs or not tap.runs:
            return None
        return base.seconds / tap.seconds


class Bench:
    """Runs the cases; everything a run writes goes to a temporary folder (or ``--output``)."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        self.timeout: float = args.timeout
        self.output_dir: Path = args.output or folder
        self.tap_settings = self._tap_settings()
        self.pipelines = Pipelines(list(args.pipeline or ()), folder / "pipeline")

    def __enter__(self) -> Bench:
        self.pipelines.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pipelines.__exit__(*exc)

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
        """Where a run's stdout goes: a file, as a user's would, read after the run."""
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
            plan = plan_for(case, server.api_url, server.status())
            result = CaseResult(case, plan, expected, {})
            plan_path = self.folder / f"plan-{case.name}.json"
            plan_path.write_text(json.dumps(asdict(plan)))
            commands: list[tuple[str, list[str]]] = []
            for label, workers in self.labels(case):
                config_path = self.folder / f"config-{case.name}-{workers}.json"
                config_path.write_text(json.dumps(tap_config(plan, workers), indent=2))
                commands.append((label, [str(TAP_COMMAND), "--config", str(config_path)]))
            profiled = commands[-1][1]
            baseline = [sys.executable, str(BENCHMARK_SCRIPT), "--baseline-worker", str(plan_path)]
            commands.append(("baseline", baseline))
            loaders = {Pipelines.label(loader): loader for loader in self.pipelines.loaders}
            commands += [(label, self.pipelines.command(lo)) for label, lo in loaders.items()]
            for repetition in range(self.args.repeat):
                for label, command in commands:  # alternate: tap(s), baseline, pipelines, ...
                    run = self.one_run(
                        case,
                        server,
                        label,
                        command,
                        expected=expected,
                        plan=plan,
                        loader=loaders.get(label),
                    )
                    result.row(label).runs.append(run)
                    print(
                        f"  [{case.name} {repetition + 1}/{self.args.repeat}] {label:<24} "
                        f"{run.seconds:8.2f} s  {run.cpu_seconds:6.2f} s cpu  "
                        f"{run.peak_rss_mib:7.1f} MiB  {run.requests} requests  "
                        f"RECORD {run.record_bytes / 1e6:.1f} MB  "
                        f"STATE {run.state_bytes / 1e6:.1f} MB  {run.check}",
                        file=sys.stderr,
                        flush=True,
                    )
                    if not run.ok:
                        return result
            if self.args.profile is not None:
                result.profile = self.profile(case, profiled)
        result.elapsed = time.perf_counter() - started
        return result

    def one_run(
        self,
        case: Case,
        server: Server,
        label: str,
        command: list[str],
        *,
        expected: Expected,
        plan: Plan,
        loader: str | None = None,
    ) -> Run:
        sink = self.sink(case, label)
        stderr_path = self.folder / "stderr.txt"
        before, offset = server.status()["requests"], server.log_size()
        server_cpu = server.cpu_seconds()
        measured = self._measure(command, sink, stderr_path, plan, loader)
        server_cpu_after = server.cpu_seconds()
        requests = int(server.status()["requests"]) - int(before)
        found = classify(server.request_targets(offset), expected)
        check = found.pop("check")
        logged = found["lookups"] + found["discovery"] + found["page_requests"] + found["other"]
        if logged != requests:
            check = f"{check}; log shows {logged} requests, status {requests}"
        if loader is None:
            output = read_output(sink)
            if output.records != case.records:
                check = f"{check}; {output.records} records, expected {case.records}"
        else:  # what the warehouse holds: every meeting once, every series
            output = Output()
            loaded = self.pipelines.loaded(loader)
            output.records = loaded.rows()
            if (loaded.rows(), loaded.distinct()) != (case.records, case.records):
                check = (
                    f"{check}; {loaded.rows()} rows ({loaded.distinct()} ids) loaded, "
                    f"expected {case.records}"
                )
            if loaded.rows(SERIES_STREAM) != case.series:
                check = f"{check}; {loaded.rows(SERIES_STREAM)} series rows, expected {case.series}"
        if measured.timed_out:
            check = f"timed out after {self.timeout:g} s"
        elif measured.exit_code != 0:
            check = f"exit code {measured.exit_code}"
            print(stderr_path.read_text(errors="replace")[-3000:], file=sys.stderr)
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
            records=output.records,
            record_bytes=output.record_bytes,
            state_bytes=output.state_bytes,
            state_messages=output.state_messages,
            last_state_bytes=output.last_state_bytes,
            stdout_bytes=sum(output.bytes_by_type.values()),
            requests=requests,
            check=check,
            loader=loader,
            peak_by_role=measured.peak_by_role,
            **found,
        )

    def _measure(
        self, command: list[str], sink: Path, stderr: Path, plan: Plan, loader: str | None
    ) -> Measured:
        if loader is None:
            return measure(command, sink, stderr, self.timeout)
        env = self.pipelines.env(plan, loader)
        self.pipelines.prepare(loader, env)
        return measure(command, sink, stderr, self.timeout, env=env, cwd=REPO, tree=True)

    def profile(self, case: Case, tap_command: list[str]) -> list[str]:
        """One more tap run under cProfile (not measured); prints the top functions and
        returns the top cumulative lines for the report."""
        path: Path = self.args.profile
        if len(self.args.case) > 1:
            path = path.with_name(f"{path.stem}-{case.name}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)  # output/, not the repository's root
        command = [sys.executable, "-m", "cProfile", "-o", str(path), *tap_command]
        sink = self.folder / f"profile-{case.name}.jsonl"
        measured = measure(command, sink, self.folder / "profile.txt", self.timeout)
        sink.unlink(missing_ok=True)
        print(f"\ncProfile of one tap run, {case.name} ({measured.seconds:.1f} s): {path}")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        return top_cumulative(path, 15)


# The command line and start-up frames that every profile starts with: not worth a line.
_ENTRY_FRAMES = re.compile(
    r"click/|importlib|/bin/tap-webex-meetings$|plugin_base\.py|tap(_base)?\.py"
)


def top_cumulative(path: Path, count: int) -> list[str]:
    """``cumulative s  tottime s  calls  function`` of the top entries of a profile, below
    the command line's own frames."""
    with Path(os.devnull).open("w") as null:
        stats = pstats.Stats(str(path), stream=null)
    entries = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)  # type: ignore[attr-defined]
    entries = [e for e in entries if e[0][1] and not _ENTRY_FRAMES.search(e[0][0])]
    lines = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in entries[:count]:
        where = f"{Path(filename).name}:{line}({name})" if line else name
        lines.append(f"{cumtime:8.2f} {tottime:8.2f} {calls:>9} {where}")
    return lines
