"""An interrupted run is a failure: Ctrl-C or a SIGTERM ends it with 130 or 143, after the
STATE of every finished series, so that Meltano and Airflow never report a partial load as
a success, and the next run resumes from there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fake_webex import FakeWebex, bulk_series

from tests.tap_runner import (
    TapOutput,
    config_for,
    lines_until_states,
    parse_messages,
    partition_bookmarks,
    run_cli,
    tap_command,
)

ALICE = "alice@example.com"
BULK_NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


def expected_ids(server: FakeWebex, start: datetime, end: datetime) -> set[str]:
    return {
        m["id"] for s in server.series_ids(ALICE) for m in server.expected_meetings(s, start, end)
    }


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_midway_exits_non_zero_after_the_state_of_finished_series(
    signum: signal.Signals, exit_code: int, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=60)
    with FakeWebex(now=now, latency_seconds=0.05) as server:
        config = config_for(
            server, start_date=start.isoformat(), end_date=now.isoformat(), page_size=10
        )
        stderr = tmp_path / "stderr.log"
        with stderr.open("w") as errors:
            process = subprocess.Popen(
                tap_command(tmp_path, config, None),
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            try:
                lines = lines_until_states(process, 1)  # a series is finished
                assert process.poll() is None, "the signal must come mid-run"
                process.send_signal(signum)
                # read() and not communicate(): the latter would skip what the loop above
                # buffered; a timer ends a tap that would not stop.
                watchdog = threading.Timer(30, process.kill)
                watchdog.start()
                assert process.stdout is not None
                rest = process.stdout.read()
                process.wait()
                watchdog.cancel()
            finally:
                if process.poll() is None:
                    process.kill()
                if process.stdout is not None:
                    process.stdout.close()
        interrupted = TapOutput(parse_messages("".join(lines) + rest), stderr.read_text())

        assert process.returncode == exit_code, interrupted.stderr
        errors_logged = [line for line in interrupted.stderr.splitlines() if "| ERROR" in line]
        assert len(errors_logged) == 1, interrupted.stderr
        assert f"Interrupted by {signum.name}: stopped" in errors_logged[0]
        finished = partition_bookmarks(interrupted.last_state)
        assert finished, "the STATE of the series finished before the signal"
        assert len(finished) < len(server.series_ids(ALICE)), "the signal came mid-run"

        server.latency_seconds = 0
        resumed = run_cli(config, state=interrupted.last_state)
        assert resumed.exit_code == 0, resumed.stderr
        assert set(interrupted.ids()) | set(resumed.ids()) >= expected_ids(server, start, now)
        assert resumed.duplicate_ids() == []


def wait_for_records(path: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the loader wrote a record (the run is under way), at most a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.stat().st_size > 0:
            return
        time.sleep(0.1)
    pytest.fail(f"no record reached {path} (meltano exited {process.poll()})")


def test_sigterm_while_blocked_on_a_slow_loader_exits_143_after_a_complete_state(
    tmp_path: Path,
) -> None:
    """The loader reads slowly: the tap is mostly blocked writing, and SIGTERM comes then.

    The STATE must not be written in the middle of a RECORD (singer-sdk's writer reuses
    one buffer: ``BufferError``, or a RECORD cut in two with the STATE glued to it), and it
    is the last message, after whatever RECORD was being written.
    """
    with FakeWebex(bulk_series(300, 3, now=BULK_NOW), now=BULK_NOW) as server:
        first = BULK_NOW.replace(hour=0) + timedelta(days=2)  # bulk series' whole range
        config = config_for(
            server, start_date=first.isoformat(), end_date=(first + timedelta(hours=3)).isoformat()
        )
        stderr = tmp_path / "stderr.log"
        with stderr.open("w") as errors:
            process = subprocess.Popen(
                tap_command(tmp_path, config, None), stdout=subprocess.PIPE, stderr=errors
            )
            watchdog = threading.Timer(60, process.kill)
            watchdog.start()
            printed = b""
            first_state_at: float | None = None
            signalled = False
            try:
                assert process.stdout is not None
                while chunk := os.read(process.stdout.fileno(), 4096):
                    printed += chunk
                    time.sleep(0.005)  # a slow loader: the pipe stays full
                    if first_state_at is None and b'"type":"STATE"' in printed:
                        first_state_at = time.monotonic()
                    if not signalled and first_state_at and time.monotonic() > first_state_at + 1:
                        assert process.poll() is None, "the signal must come mid-run"
                        process.send_signal(signal.SIGTERM)
                        signalled = True
                process.wait()
            finally:
                watchdog.cancel()
                if process.poll() is None:
                    process.kill()
                if process.stdout is not None:
                    process.stdout.close()

    log = stderr.read_text()
    assert process.returncode == 143, log
    messages = parse_messages(printed.decode())  # every line whole
    assert messages[-1]["type"] == "STATE", printed[-300:]
    errors_logged = [line for line in log.splitlines() if "| ERROR" in line]
    assert len(errors_logged) == 1, log
    assert "Interrupted by SIGTERM: stopped" in errors_logged[0]


def test_a_loader_that_dies_mid_run_is_one_line(tmp_path: Path) -> None:
    with FakeWebex() as server:
        stderr = tmp_path / "stderr.log"
        with stderr.open("w") as errors:
            process = subprocess.Popen(
                tap_command(tmp_path, config_for(server), None),
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            assert process.stdout is not None
            process.stdout.read(100_000)  # the loader reads a little, then exits
            process.stdout.close()
            process.wait(timeout=60)

    log = stderr.read_text()
    assert process.returncode == 1, log
    errors_logged = [line.split(" | ", 3)[-1] for line in log.splitlines() if "| ERROR" in line]
    assert errors_logged == [
        "The loader stopped reading (exit of the process downstream): stopping, nothing more "
        "is written; its own log says why it stopped"
    ], log
    assert "BrokenPipe" not in log
    assert "Exception ignored" not in log  # no second failure at exit, flushing stdout
