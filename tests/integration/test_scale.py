"""Many series: few STATE messages, each complete; kill -9 loses nothing; no shared session.

Not timed: the benchmark (scripts/benchmark.py) measures speed. These tests check what
makes the tap's cost linear in the number of series and keeps it correct while it is.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, cast

import pytest
import requests
from fake_webex import FakeWebex, bulk_series

from tap_webex_meetings import state as state_module
from tap_webex_meetings.tap import TapWebexMeetings
from tests.fake_clock import StepClock
from tests.tap_runner import (
    TapOutput,
    config_for,
    lines_until_states,
    parse_messages,
    partition_bookmarks,
    run_cli,
    started_cli,
    sync,
    sync_tap,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import TapState

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)


def bulk_config(server: FakeWebex, meetings: int, **overrides: Any) -> dict[str, Any]:
    """The bulk series' whole range: every meeting of every series is extracted."""
    first = NOW.replace(hour=0) + timedelta(days=2)
    return config_for(
        server,
        start_date=first.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_date=(first + timedelta(hours=meetings)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **overrides,
    )


def finished_before_each_state(output: TapOutput) -> list[tuple[set[str], dict[str, str]]]:
    """For each STATE: the series whose records all came before it, and its bookmarks."""
    last_record_at: dict[str, int] = {}
    for position, message in enumerate(output.messages):
        if message["type"] == "RECORD" and message["stream"] == "series_meetings":
            last_record_at[message["record"]["meetingSeriesId"]] = position
    pairs = []
    started: set[str] = set()
    for position, message in enumerate(output.messages):
        if message["type"] == "RECORD" and message["stream"] == "series_meetings":
            started.add(message["record"]["meetingSeriesId"])
        if message["type"] == "STATE":
            # A series is finished once a later series has begun (series come one by one).
            finished = {s for s in started if last_record_at[s] < position} - {
                max(started, key=lambda s: last_record_at[s], default=None)
            }
            pairs.append((finished, partition_bookmarks(message["value"])))
    return pairs


def test_many_series_emit_few_states_each_with_every_finished_bookmark() -> None:
    series = bulk_series(300, 3, now=NOW)
    with FakeWebex(series, now=NOW) as server:
        tap = TapWebexMeetings(config=bulk_config(server, 3, max_workers=2), run_start=NOW)
        # The run's STATE writer with a clock that moves 1 s per reading, the interval 5 s.
        clock = StepClock(1.0)
        writer = state_module.ThrottledStateWriter(tap.message_writer, clock=clock)
        tap._throttled_state_writer = writer  # noqa: SLF001  (the tap's writer, timed by the test)
        output = sync_tap(tap)

    assert len(output.ids("meeting_series")) == 300
    assert len(output.ids()) == 900
    assert output.duplicate_ids() == []
    # Each write_state reads the clock once, each STATE written once more: about one STATE
    # in six state changes, and the last one at the end.
    assert 300 / 7 <= len(output.states) <= clock.now / 5 + 1, (len(output.states), clock.now)
    for finished, bookmarks in finished_before_each_state(output):
        assert finished <= bookmarks.keys()
    assert partition_bookmarks(output.last_state).keys() == {s.id for s in series}


def test_a_state_waits_for_the_interval_then_goes_out_whole() -> None:
    written: list[dict[str, Any]] = []

    class Writer:
        def write_message(self, message: Any) -> None:
            written.append(json.loads(json.dumps(message.to_dict())))

    now = [0.0]
    writer = state_module.ThrottledStateWriter(Writer(), interval=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    state = cast("TapState", {"bookmarks": {"s": {"n": 0}}})
    for n, at in enumerate([0.0, 1.0, 2.0, 6.0, 7.0], start=1):
        now[0] = at
        state["bookmarks"]["s"]["n"] = n
        writer.write_state(state)
    assert [m["value"]["bookmarks"]["s"]["n"] for m in written] == [1, 4]
    writer.flush()
    assert [m["value"]["bookmarks"]["s"]["n"] for m in written] == [1, 4, 5]
    writer.flush()
    assert len(written) == 3, "nothing new: nothing written"


def test_kill_9_midway_through_many_series_resumes_with_nothing_lost() -> None:
    series = bulk_series(120, 2, now=NOW)
    with FakeWebex(series, now=NOW, latency_seconds=0.1) as server:
        config = bulk_config(server, 2, max_workers=1, lookback_days=0)
        with started_cli(config) as process:
            lines = lines_until_states(process, 2)  # the second comes after the interval
            assert process.poll() is None, "the kill must come mid-run"
            os.kill(process.pid, signal.SIGKILL)
        first = TapOutput(parse_messages("".join(lines)))
        saved = partition_bookmarks(first.last_state)
        assert 0 < len(saved) < len(series)

        server.latency_seconds = 0
        server.clear_requests()
        second = run_cli(config, state=first.last_state)
        assert second.exit_code == 0, second.stderr

        every_id = {
            m["id"]
            for s in series
            for m in server.expected_meetings(s.id, NOW, NOW + timedelta(days=4))
        }
        assert set(first.ids()) | set(second.ids()) == every_id
        assert second.duplicate_ids() == []
        # Series with a bookmark start from it; only the others are read from start_date.
        from_start = [
            r.params["meetingSeriesId"][0]
            for r in server.requests
            if "meetingSeriesId" in r.params and r.params["from"] == [config["start_date"]]
        ]
        assert set(from_start) == {s.id for s in series} - saved.keys()


def test_each_worker_thread_sends_through_its_own_session(
    server: FakeWebex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """singer-sdk keeps one session per stream and reassigns its auth per request."""
    used: list[tuple[int, int]] = []
    lock = threading.Lock()
    send = requests.Session.send

    def recording_send(session: requests.Session, request: Any, **kwargs: Any) -> Any:
        with lock:
            used.append((id(session), threading.get_ident()))
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    server.latency_seconds = 0.02
    output = sync(config_for(server, max_workers=4, page_size=10), run_start=server.now)

    assert output.duplicate_ids() == []
    threads_of_session: dict[int, set[int]] = {}
    for session, thread in used:
        threads_of_session.setdefault(session, set()).add(thread)
    assert len({thread for _, thread in used}) >= 3, "several workers sent requests"
    assert all(len(threads) == 1 for threads in threads_of_session.values()), threads_of_session
