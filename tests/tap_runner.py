"""Run the tap the way a user does and read what it printed.

``sync`` runs it in-process, with the run's start pinned to the fake server's clock (so
bookmarks and the server agree on "now"); ``run_cli`` runs the installed command as a
subprocess, for exit codes, log lines and signals.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fake_webex import FakeWebex

from tap_webex_meetings.tap import TapWebexMeetings

TAP_COMMAND = str(Path(sys.executable).with_name("tap-webex-meetings"))


@dataclass
class TapOutput:
    """Singer messages printed on stdout, plus what went to stderr and the exit code."""

    messages: list[dict[str, Any]]
    stderr: str = ""
    exit_code: int = 0
    stdout: str = field(default="", repr=False)
    peak_memory_mib: float | None = None  # run_cli(measure_memory=True) only

    def records(self, stream: str = "series_meetings") -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str = "series_meetings") -> list[str]:
        return [record["id"] for record in self.records(stream)]

    def duplicate_ids(self, stream: str = "series_meetings") -> list[str]:
        return [key for key, count in Counter(self.ids(stream)).items() if count > 1]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any]:
        return self.states[-1]

    def schema(self, stream: str) -> dict[str, Any]:
        return next(
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        )


def parse_messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def config_for(server: FakeWebex, **overrides: Any) -> dict[str, Any]:
    """A working config against ``server``: the sandbox token, a year back from its clock."""
    config: dict[str, Any] = {
        "api_url": server.api_url,
        "access_token": "sandbox-token",
        "start_date": "2025-06-01T00:00:00Z",
        "retry_max_wait_seconds": 5,
    }
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


RETRYING = re.compile(
    r"Retrying \S+(?: of series (?P<series>\w+)|, .*?)? in (?P<wait>[\d.]+) s "
    r"\(try (?P<tries>\d+) of (?P<of>\d+)\): (?P<reason>.*)"
)


@dataclass(frozen=True)
class LoggedRetry:
    """One "Retrying ..." WARNING: the wait the tap chose, which try, and why."""

    series: str | None
    wait: float
    tries: int
    of: int
    reason: str


def logged_retries(records: Iterable[logging.LogRecord]) -> list[LoggedRetry]:
    """The retries an in-process run logged (``caplog.records``), in order."""
    found = []
    for record in records:
        if match := RETRYING.search(record.getMessage()):
            found.append(
                LoggedRetry(
                    match["series"],
                    float(match["wait"]),
                    int(match["tries"]),
                    int(match["of"]),
                    match["reason"],
                )
            )
    return found


def partition_bookmarks(state: dict[str, Any]) -> dict[str, str]:
    """``meetingSeriesId`` -> bookmark of every finished series in a STATE value."""
    partitions = state.get("bookmarks", {}).get("series_meetings", {}).get("partitions", [])
    return {
        p["context"]["meetingSeriesId"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }


def finished_ids(state: dict[str, Any]) -> set[str]:
    """The series a STATE value keeps as finished (not listed again while over)."""
    groups = state.get("bookmarks", {}).get("series_meetings", {}).get("finished", {})
    return {series_id for ids in groups.values() for series_id in ids}


def series_in_state(state: dict[str, Any]) -> set[str]:
    """The live series a STATE value knows: a partition each, or kept as finished."""
    partitions = state.get("bookmarks", {}).get("series_meetings", {}).get("partitions", [])
    live = {p["context"]["meetingSeriesId"] for p in partitions if "series_deleted_at" not in p}
    return live | finished_ids(state)


def sync(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    run_start: datetime | None = None,
) -> TapOutput:
    """One in-process run; ``run_start`` pins the tap's "now" (default: the wall clock)."""
    tap = TapWebexMeetings(
        config=config, state=copy.deepcopy(state), catalog=catalog, run_start=run_start
    )
    return sync_tap(tap)


def sync_tap(tap: TapWebexMeetings) -> TapOutput:
    """Run a tap made (and changed, e.g. its clock) by the test, in-process."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # the msgspec writer writes bytes
    with contextlib.redirect_stdout(stdout):
        tap.sync_all()
    stdout.flush()
    printed = stdout.buffer.getvalue().decode("utf-8")
    return TapOutput(parse_messages(printed), stdout=printed)


def tap_command(folder: Path, config: dict[str, Any], state: dict[str, Any] | None) -> list[str]:
    """The command line, with the config (and state) written as files into ``folder``."""
    config_path = folder / "config.json"
    config_path.write_text(json.dumps(config))
    command = [TAP_COMMAND, "--config", str(config_path)]
    if state is not None:
        state_path = folder / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    return command


# Runs the command given and prints its peak resident memory (KiB, Linux) as the last line.
_MEASURED = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
    "print(f'peak_rss_kib={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', "
    "file=sys.stderr); sys.exit(code)"
)


def run_cli(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
    measure_memory: bool = False,
) -> TapOutput:
    """The installed ``tap-webex-meetings`` command, as Meltano would run it.

    ``measure_memory``: also its peak resident memory (``TapOutput.peak_memory_mib``).
    """
    measured = [sys.executable, "-c", _MEASURED] if measure_memory else []
    with tempfile.TemporaryDirectory() as folder:
        completed = subprocess.run(
            [*measured, *tap_command(Path(folder), config, state), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    messages = parse_messages(completed.stdout) if completed.stdout.startswith("{") else []
    stderr, peak = completed.stderr, None
    if measure_memory:
        stderr, _, last = stderr.rstrip("\n").rpartition("\n")
        peak = int(last.removeprefix("peak_rss_kib=")) / 1024
    return TapOutput(messages, stderr, completed.returncode, completed.stdout, peak)


@contextlib.contextmanager
def started_cli(
    config: dict[str, Any], state: dict[str, Any] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """The installed command running in the background, its stdout a pipe (to kill it)."""
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            tap_command(Path(folder), config, state),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()  # what the test did not read


def lines_until_states(process: subprocess.Popen[str], count: int) -> list[str]:
    """What the process printed until its ``count``-th STATE message (or its end)."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if sum('"type":"STATE"' in seen.replace(" ", "") for seen in lines) >= count:
            break
    return lines


@functools.cache
def every_stream_selected() -> dict[str, Any]:
    """The discovered catalog with every stream selected, participants included."""
    catalog = TapWebexMeetings(config={}, validate_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
    return catalog
