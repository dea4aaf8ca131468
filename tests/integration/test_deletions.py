"""Meetings deleted in Webex: one tombstone each, never a false one, and a small memory."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fake_webex import FakeWebex, SeriesSpec

from tap_webex_meetings.deletions import Meeting, Memory, MemoryBuilder, remembered, stamp
from tests.tap_runner import TapOutput, config_for, parse_messages, run_cli, started_cli, sync

ALICE = "alice@example.com"
LOOKAHEAD = timedelta(days=30)


def standup(server: FakeWebex) -> SeriesSpec:
    return next(s for s in server.series if s.title == "Daily Standup")


def team_sync(server: FakeWebex) -> SeriesSpec:
    return next(s for s in server.series if s.title == "Team Sync")


def occurrence_id(spec: SeriesSpec, k: int) -> str:
    return f"{spec.id}_{spec.start_of(k):%Y%m%dT%H%M%SZ}"


def upcoming_ids(spec: SeriesSpec, now: datetime, count: int) -> list[str]:
    """The ids of the next ``count`` occurrences of ``spec`` that start after ``now``."""
    first = spec.first_index_from(now)
    first += spec.start_of(first) < now
    return [occurrence_id(spec, k) for k in range(first, first + count)]


def run(server: FakeWebex, saved: dict[str, Any] | None = None, **settings: Any) -> TapOutput:
    """One run from the ``saved`` state, as of the server's clock."""
    return sync(config_for(server, **settings), state=saved, run_start=server.now)


def tombstones(output: TapOutput, stream: str = "series_meetings") -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in output.records(stream) if r.get("_sdc_deleted_at")}


def memory(state: dict[str, Any], spec: SeriesSpec) -> Memory:
    """The meetings of ``spec`` a STATE value remembers (the ones a deletion is checked for)."""
    partitions = state["bookmarks"]["series_meetings"]["partitions"]
    partition = next(p for p in partitions if p["context"]["meetingSeriesId"] == spec.id)
    return remembered(partition, spec.id)


def series_requests(server: FakeWebex, series_id: str) -> list[str]:
    """Paths and series of the requests that concerned ``series_id``."""
    return [
        r.path
        for r in server.requests
        if series_id in r.path or r.params.get("meetingSeriesId") == [series_id]
    ]


def test_deleted_occurrences_are_tombstoned_once_with_what_was_last_seen(
    server: FakeWebex,
) -> None:
    first = run(server)
    spec = standup(server)
    deleted = upcoming_ids(spec, server.now, 3)[1:]
    seen = {r["id"]: r for r in first.records()}
    assert all(meeting_id in memory(first.last_state, spec) for meeting_id in deleted)
    for meeting_id in deleted:
        server.delete(meeting_id)
    server.advance(timedelta(hours=1))

    second = run(server, first.last_state)

    found = tombstones(second)
    assert sorted(found) == sorted(deleted)
    for meeting_id, record in found.items():
        assert record["meetingSeriesId"] == spec.id
        assert record["meetingType"] == "scheduledMeeting"
        assert datetime.fromisoformat(record["start"]) == datetime.fromisoformat(
            seen[meeting_id]["start"]
        )
        deleted_at = datetime.fromisoformat(record["_sdc_deleted_at"])
        assert deleted_at.utcoffset() == timedelta(0)
    live = [r for r in second.records() if r["id"] not in found]
    assert all("_sdc_deleted_at" not in r for r in live)
    assert second.duplicate_ids() == []

    third = run(server, second.last_state)
    assert tombstones(third) == {}, "a deletion is reported once"


def test_live_records_carry_no_deletion_marker_and_the_schema_declares_it(
    server: FakeWebex,
) -> None:
    output = run(server)
    assert tombstones(output) == {}
    for stream in ("meeting_series", "series_meetings"):
        marker = output.schema(stream)["properties"]["_sdc_deleted_at"]
        assert marker["format"] == "date-time"


def test_a_deleted_series_found_by_discovery_tombstones_itself_and_its_upcoming_meetings(
    server: FakeWebex,
) -> None:
    first = run(server)
    spec = team_sync(server)
    upcoming = {
        r["id"]
        for r in first.records()
        if r["meetingSeriesId"] == spec.id and datetime.fromisoformat(r["start"]) >= server.now
    }
    assert upcoming, "the series has upcoming meetings to forget"
    server.delete(spec.id)

    second = run(server, first.last_state)

    assert set(tombstones(second, "meeting_series")) == {spec.id}
    assert set(tombstones(second)) == upcoming
    assert spec.id not in {
        r["id"] for r in second.records("meeting_series") if not r.get("_sdc_deleted_at")
    }

    server.clear_requests()
    third = run(server, second.last_state)
    assert tombstones(third) == {}
    assert tombstones(third, "meeting_series") == {}
    assert series_requests(server, spec.id) == [], "a series known gone is not asked about again"


def test_a_deleted_configured_series_is_tombstoned_from_its_404(server: FakeWebex) -> None:
    spec, other = standup(server), team_sync(server)
    ids = [spec.id, other.id]
    first = run(server, meeting_series_ids=ids)
    upcoming = {r["id"] for r in first.records() if r["meetingSeriesId"] == spec.id} & set(
        upcoming_ids(spec, server.now, 30)
    )
    assert len(upcoming) == 30
    server.delete(spec.id)

    second = run(server, first.last_state, meeting_series_ids=ids)

    assert set(tombstones(second, "meeting_series")) == {spec.id}
    assert set(tombstones(second)) == upcoming
    assert {r["meetingSeriesId"] for r in second.records() if "_sdc_deleted_at" not in r} == {
        other.id
    }


def test_a_meeting_that_moved_is_not_deleted(server: FakeWebex) -> None:
    first = run(server)
    spec = standup(server)
    near, far = upcoming_ids(spec, server.now, 3)[1:]
    assert {near, far} <= {m.id for m in memory(first.last_state, spec)}, "both are checked"
    server.move(near, spec.start_of(spec.first_index_from(server.now)) + timedelta(days=1, hours=3))
    server.move(far, server.now + LOOKAHEAD + timedelta(days=10))  # out of the window

    second = run(server, first.last_state)

    assert tombstones(second) == {}
    moved = next(r for r in second.records() if r["id"] == near)
    assert moved["isModified"] is True
    assert far not in second.ids()
    assert far in memory(second.last_state, spec), "beyond the window: still remembered"
    server.delete(far)
    third = run(server, second.last_state, end_date=None)
    assert tombstones(third) == {}, "far is beyond the window now: it is remembered, not asked"


def test_a_meeting_beyond_a_shortened_end_date_is_not_deleted(server: FakeWebex) -> None:
    first = run(server)
    spec = standup(server)
    later = upcoming_ids(spec, server.now, 20)[-1]
    assert later in memory(first.last_state, spec)
    end_date = (server.now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    second = run(server, first.last_state, end_date=end_date)
    assert tombstones(second) == {}
    assert later in memory(second.last_state, spec), "beyond the short run's end: kept"

    server.delete(later)
    third = run(server, second.last_state)
    assert set(tombstones(third)) == {later}, "remembered through the short run"


@pytest.mark.parametrize(
    ("filters", "change"),
    [
        ({"state": "scheduled"}, "time passes"),
        ({"is_modified": False}, "moved"),
        ({"meeting_type": "scheduledMeeting"}, "time passes"),
    ],
)
def test_a_meeting_that_leaves_a_filter_is_not_deleted(
    server: FakeWebex, filters: dict[str, Any], change: str
) -> None:
    first = run(server, **filters)
    spec = standup(server)
    assert set(upcoming_ids(spec, server.now, 3)) <= {m.id for m in memory(first.last_state, spec)}
    if change == "moved":
        target = upcoming_ids(spec, server.now, 2)[1]
        server.move(
            target, spec.start_of(spec.first_index_from(server.now) + 1) + timedelta(hours=2)
        )
    server.advance(timedelta(days=3))

    second = run(server, first.last_state, **filters)

    assert tombstones(second) == {}
    if change == "time passes" and filters.get("state"):
        assert not any(r["state"] != "scheduled" for r in second.records())


def test_with_a_filter_a_deletion_is_confirmed_by_a_404(server: FakeWebex) -> None:
    first = run(server, state="scheduled")
    spec = standup(server)
    target = upcoming_ids(spec, server.now, 4)[-1]
    assert target in memory(first.last_state, spec)
    server.delete(target)
    server.clear_requests()

    second = run(server, first.last_state, state="scheduled")

    assert set(tombstones(second)) == {target}
    lookups = [r for r in server.requests if r.path.startswith("/v1/meetings/")]
    assert [(r.path, r.status) for r in lookups] == [(f"/v1/meetings/{target}", 404)]


def test_a_tombstone_lost_with_a_killed_run_comes_again(server: FakeWebex) -> None:
    """kill -9 after the tombstone was written, before the STATE that covers it."""
    first = run(server)
    target = upcoming_ids(standup(server), server.now, 2)[1]
    server.delete(target)
    second = run(server, first.last_state)
    position = next(
        i
        for i, m in enumerate(second.messages)
        if m["type"] == "RECORD" and m["record"]["id"] == target
    )
    saved = [m["value"] for m in second.messages[:position] if m["type"] == "STATE"][-1]

    third = run(server, saved)

    assert set(tombstones(third)) == {target}


def test_the_memory_of_upcoming_meetings_is_small(server: FakeWebex) -> None:
    output = run(server)
    partitions = output.last_state["bookmarks"]["series_meetings"]["partitions"]
    spec = standup(server)
    standup_state = next(p for p in partitions if p["context"]["meetingSeriesId"] == spec.id)
    # 30 daily meetings ahead: one repeating interval, not 30 ids.
    assert standup_state["upcoming"] == [
        f"R30/{upcoming_ids(spec, server.now, 1)[0].split('_')[1]}/PT86400S"
    ]
    sizes = [len(json.dumps(p, separators=(",", ":"))) for p in partitions]
    assert max(sizes) < 300, sizes


def test_kill_9_right_after_a_tombstone_and_the_next_run_emits_it_again() -> None:
    """The STATE that covers a tombstone comes seconds later: killed before it, the run's
    saved state still remembers the meeting, so the next run finds it gone again.
    """
    with FakeWebex(follow_wall_clock=True) as server:
        config = config_for(server, max_workers=1)
        first = run_cli(config)
        target = upcoming_ids(standup(server), server.now, 2)[1]
        server.delete(target)
        with started_cli(config, first.last_state) as process:
            assert process.stdout is not None
            lines: list[str] = []
            for line in process.stdout:
                lines.append(line)
                if target in line and "_sdc_deleted_at" in line:
                    break
            os.kill(process.pid, signal.SIGKILL)
        killed = TapOutput(parse_messages("".join(lines)))
        assert target in tombstones(killed)
        saved = killed.last_state  # what Meltano would have kept: written before the tombstone
        assert target in memory(saved, standup(server)), "the saved state still remembers it"

        again = run_cli(config, state=saved)

        assert again.exit_code == 0, again.stderr
        assert set(tombstones(again)) == {target}


def test_a_long_run_of_upcoming_meetings_stays_one_entry_and_is_read_by_arithmetic() -> None:
    """200,000 hourly meetings ahead: one string in the state, no object per meeting."""
    series_id = "0123456789abcdef" * 2
    first = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    builder = MemoryBuilder(series_id)
    for k in range(200_000):
        start = first + timedelta(hours=k)
        builder.add(Meeting(f"{series_id}_{stamp(start)}", "scheduledMeeting", start))
    moved = Meeting(
        f"{series_id}_{stamp(first)}", "scheduledMeeting", first + timedelta(minutes=30)
    )
    builder.add(moved)  # same id, new start: kept as it is, beside the run

    encoded = builder.encode()

    assert encoded[0] == "R200000/20261201T090000Z/PT3600S"
    memory = Memory.decode(series_id, encoded)
    assert f"{series_id}_{stamp(first + timedelta(hours=123_456))}" in memory
    assert f"{series_id}_{stamp(first + timedelta(hours=200_000))}" not in memory
    assert f"{series_id}_{stamp(first + timedelta(minutes=90))}" not in memory
    assert f"{series_id}_I_1234" not in memory
    assert sum(1 for _ in memory) == 200_001
