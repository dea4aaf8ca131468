"""The ``history`` case: 50 recurring series plus H one-off meetings over the past year.

An organisation's nightly run, three runs a day apart: the first discovers everything, the
next two should cost only what can still change. The fake Webex follows the wall clock and
is moved a day ahead between runs (``/_sandbox/clock``); the tap, the installed package run
through its own command-line entry, gets the same day ahead by a shifted ``time.time``
(the source of its run start), as a machine whose clock says a day later would.

Per run: wall time, requests (and of which for series finished before the previous run),
the requests' floor, and the size of the last STATE. Every stream is selected, so
``meeting_participants`` too: its requests are counted apart, against the instances whose
details appeared since the previous run (the issue's target: equal).

The floor of a later run is what the issue allows: one discovery page per 100 series
overlapping the narrowed window plus one query per series in it that was not finished before
(recurring ones, and one-offs that ended within the lookback).
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from typing_extensions import override

from .cases import PAGE_SIZE, TOKEN, Case
from .measure import measure, read_output
from .server import Server

RECURRING = (50, 48)  # 50 series of 48 hourly meetings, all ahead (the sandbox's --bulk)
SIZES = (0, 20_000)
BIG_SIZES = (100_000,)
DAYS = 3
LOOKBACK = timedelta(days=1)
DETAILS_DELAY = timedelta(minutes=15)
# The tap with its clock ``argv[1]`` seconds ahead, then its own command line.
TAP_BOOTSTRAP = """
import sys, time
ahead = float(sys.argv.pop(1))
wall = time.time
time.time = lambda: wall() + ahead
from tap_webex_meetings.tap import TapWebexMeetings
sys.argv[0] = "tap-webex-meetings"
TapWebexMeetings.cli()
"""


class HistoryServer(Server):
    """The sandbox with the recurring series and ``history`` one-offs, on the wall clock."""

    def __init__(self, history: int, log_path: Path, timeout: float) -> None:
        super().__init__(Case(f"history-{history}", *RECURRING), log_path, timeout)
        self.history = history

    @override
    def arguments(self) -> list[str]:
        return ["--bulk", f"{RECURRING[0]}x{RECURRING[1]}", "--history", str(self.history)]


@dataclass
class HistoryRun:
    history: int
    day: int
    seconds: float
    exit_code: int
    requests: int
    discovery: int
    queries: int
    lookups: int
    finished_before_requests: int  # for series finished by the previous run (or before)
    floor: int | None
    participants: int  # /meetingParticipants requests (not in ``requests``)
    newly_ended: int | None  # instances whose details appeared since the previous run
    records: int
    last_state_bytes: int
    finished: int


def run_history(timeout: float, folder: Path, *, big: bool) -> list[HistoryRun]:
    runs: list[HistoryRun] = []
    for history in (*SIZES, *(BIG_SIZES if big else ())):
        print(f"history: 50 recurring series + {history:,} one-offs", file=sys.stderr)
        with HistoryServer(history, folder / f"server-history-{history}.log", timeout) as server:
            runs += _three_runs(server, history, folder, timeout)
    return runs


def _three_runs(server: Server, history: int, folder: Path, timeout: float) -> list[HistoryRun]:
    from fake_webex import bulk_series, history_series  # noqa: PLC0415

    status = server.status()
    anchor = _instant(status["now"])
    specs = bulk_series(*RECURRING, now=anchor) + history_series(history, now=anchor)
    config = {
        "api_url": server.api_url,
        "access_token": TOKEN,
        "start_date": (anchor - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "page_size": PAGE_SIZE,
    }
    config_path = folder / "history-config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = folder / "history-catalog.json"
    catalog_path.write_text(json.dumps(_every_stream_selected()))
    state_path = folder / "history-state.json"
    state_path.unlink(missing_ok=True)
    runs: list[HistoryRun] = []
    finished_by_run: list[set[str]] = []
    starts: list[datetime] = []
    for day in range(DAYS):
        if day:
            _advance_a_day(server)
        command = [
            sys.executable,
            "-c",
            TAP_BOOTSTRAP,
            str(day * 86_400),
            "--config",
            str(config_path),
            "--catalog",
            str(catalog_path),
        ]
        if state_path.exists():
            command += ["--state", str(state_path)]
        sink = folder / "history-out.jsonl"
        offset = server.log_size()
        starts.append(datetime.now(timezone.utc) + timedelta(days=day))
        measured = measure(command, sink, folder / "history-stderr.txt", timeout)
        if measured.exit_code != 0:
            print((folder / "history-stderr.txt").read_text()[-3000:], file=sys.stderr)
        output = read_output(sink)
        state = _last_state(sink)
        state_path.write_text(json.dumps(state))
        sink.unlink()
        finished = _finished(state)
        finished_by_run.append(finished)
        before = finished_by_run[day - 1] if day else set()
        counts = _classify(server.request_targets(offset), before)
        floor = newly_ended = None
        if day:
            floor = _floor(specs, starts[day - 1], starts[day], finished_by_run[day - 1])
            newly_ended = _newly_ended(specs, starts[day - 1], starts[day])
        runs.append(
            HistoryRun(
                history=history,
                day=day + 1,
                seconds=measured.seconds,
                exit_code=measured.exit_code,
                floor=floor,
                newly_ended=newly_ended,
                records=output.records,
                last_state_bytes=output.last_state_bytes,
                finished=len(finished),
                **counts,
            )
        )
        run = runs[-1]
        print(
            f"  [history {history:,} run {run.day}] {run.seconds:7.2f} s  {run.requests} requests "
            f"(floor {run.floor}, {run.discovery} discovery, {run.queries} queries, "
            f"{run.lookups} lookups, {run.finished_before_requests} for series finished "
            f"before)  {run.participants} participants requests (newly ended "
            f"{run.newly_ended})  {run.records} records  "
            f"STATE {run.last_state_bytes / 1e6:.2f} MB  "
            f"{run.finished} finished",
            file=sys.stderr,
            flush=True,
        )
    return runs


def _advance_a_day(server: Server) -> None:
    request = urllib.request.Request(
        f"{server.base_url}/_sandbox/clock", data=b'{"advance_hours": 24}', method="POST"
    )
    with urllib.request.urlopen(request, timeout=server.timeout):  # loopback only
        pass


def _floor(specs: list[Any], previous: datetime, now: datetime, finished: set[str]) -> int:
    """Discovery pages over the narrowed window plus one query per series not finished."""
    start, end = previous - LOOKBACK - DETAILS_DELAY, now + timedelta(days=30)
    window = [s for s in specs if s.first_start < end and s.last_end > start]
    return math.ceil(len(window) / PAGE_SIZE) + sum(s.id not in finished for s in window)


def _newly_ended(specs: list[Any], previous: datetime, now: datetime) -> int:
    """Instances whose details appeared (end + 15 minutes) after ``previous``, by ``now``."""
    return sum(
        previous < end + DETAILS_DELAY <= now
        for spec in specs
        for k in range(spec.first_index_from(previous - timedelta(days=2)), spec.count)
        if spec.start_of(k) < now
        for _, end in spec.instance_times(k)
    )


def _every_stream_selected() -> dict[str, Any]:
    """The tap's catalog with every stream selected: meeting_participants too."""
    from tap_webex_meetings.tap import TapWebexMeetings  # noqa: PLC0415

    catalog: dict[str, Any] = TapWebexMeetings(config={}, validate_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
    return catalog


def _classify(targets: list[tuple[str, int]], finished_before: set[str]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    touched = 0
    for target, _status in targets:
        parts = urlsplit(target)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        series = params.get("meetingSeriesId")
        if parts.path == "/v1/meetingParticipants":
            kinds["participants"] += 1
            continue
        if parts.path.startswith("/v1/meetings/"):
            kinds["lookups"] += 1
            series = parts.path.rsplit("/", 1)[1].partition("_")[0]
        elif series:
            kinds["queries"] += 1
        else:
            kinds["discovery"] += 1
        touched += series in finished_before
    return {
        "requests": sum(kinds.values()) - kinds["participants"],
        "participants": kinds["participants"],
        "discovery": kinds["discovery"],
        "queries": kinds["queries"],
        "lookups": kinds["lookups"],
        "finished_before_requests": touched,
    }


def _last_state(path: Path) -> dict[str, Any]:
    last = "{}"
    with path.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"STATE"'):
                last = line.decode()
    value: dict[str, Any] = json.loads(last).get("value", {})
    return value


def _finished(state: dict[str, Any]) -> set[str]:
    groups = state.get("bookmarks", {}).get("series_meetings", {}).get("finished", {})
    return {series_id for ids in groups.values() for series_id in ids}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def history_targets(runs: list[HistoryRun]) -> list[dict[str, Any]]:
    """The issue's targets, each ``{"target", "value", "met"}``."""
    found: list[dict[str, Any]] = []
    later = [r for r in runs if r.day > 1]
    for run in later:
        label = f"history {run.history:,} run {run.day}"
        found.append(
            {
                "target": f"{label}: no request for a series finished before the previous run",
                "value": run.finished_before_requests,
                "met": run.finished_before_requests == 0,
            }
        )
        if run.newly_ended is not None:
            found.append(
                {
                    "target": f"{label}: participants requests = newly ended instances "
                    f"({run.newly_ended})",
                    "value": run.participants,
                    "met": run.participants == run.newly_ended,
                }
            )
        if run.floor:
            found.append(
                {
                    "target": f"{label}: requests <= 1.05 x floor ({run.floor})",
                    "value": run.requests,
                    "met": run.requests <= 1.05 * run.floor,
                }
            )
    seconds = {(r.history, r.day): r.seconds for r in runs}
    for day in range(2, DAYS + 1):
        if (0, day) in seconds and (20_000, day) in seconds:
            ratio = seconds[(20_000, day)] / seconds[(0, day)]
            found.append(
                {
                    "target": f"history run {day}: seconds at 20,000 one-offs <= 1.5x at 0",
                    "value": round(ratio, 2),
                    "met": ratio <= 1.5,
                }
            )
    for run in runs:
        if run.history == 100_000 and run.day == DAYS:
            found.append(
                {
                    "target": "history 100,000: STATE of the finished series < 5 MB",
                    "value": run.last_state_bytes,
                    "met": run.last_state_bytes < 5_000_000,
                }
            )
    found += [
        {
            "target": f"history {r.history:,} run {r.day}: exit code 0",
            "value": r.exit_code,
            "met": r.exit_code == 0,
        }
        for r in runs
        if r.exit_code
    ]
    return found


def history_report(runs: list[HistoryRun]) -> None:
    print(
        "\nhistory: 50 recurring series + H one-off meetings over the past year, 3 runs a day apart"
    )
    print(
        f"{'H':>8} {'run':>4} {'seconds':>8} {'requests':>9} {'floor':>6} {'discovery':>9} "
        f"{'queries':>8} {'lookups':>8} {'finished-before':>15} {'particip.':>9} "
        f"{'new-ended':>9} {'records':>8} {'STATE MB':>9}"
    )
    for r in runs:
        print(
            f"{r.history:>8,} {r.day:>4} {r.seconds:>8.2f} {r.requests:>9} {r.floor or '':>6} "
            f"{r.discovery:>9} {r.queries:>8} {r.lookups:>8} {r.finished_before_requests:>15} "
            f"{r.participants:>9} {r.newly_ended if r.newly_ended is not None else '':>9} "
            f"{r.records:>8} {r.last_state_bytes / 1e6:>9.3f}"
        )
    for target in history_targets(runs):
        print(f"  {'ok  ' if target['met'] else 'MISS'} {target['target']}: {target['value']}")


def history_json(runs: list[HistoryRun]) -> dict[str, Any]:
    return {"runs": [asdict(r) for r in runs], "targets": history_targets(runs), "at": time.time()}
