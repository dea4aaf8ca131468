"""An organisation's history costs nothing every night: finished series, narrowed discovery.

Every test runs the tap against the fake Webex and checks what a user sees: records, the
STATE, and the requests Webex received. "Exact" means the union of the runs' records equals
one full extraction at the end (every meeting, in its last state).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fake_webex import (
    DEFAULT_NOW,
    FakeWebex,
    SeriesSpec,
    default_series,
    history_series,
)
from fake_webex.series import stable_hex

from tests.tap_runner import (
    TAP_COMMAND,
    TapOutput,
    config_for,
    finished_ids,
    lines_until_states,
    parse_messages,
    partition_bookmarks,
    run_cli,
    started_cli,
    sync,
)

DAY = timedelta(days=1)
OLD_STATE = Path(__file__).parent.parent / "data" / "state-875f81e.json"
INCIDENT_REVIEW = "264010ccb6103b190e24ced7df74f7cf"  # the default series that has expired


def one_off(name: str, start: datetime, minutes: int = 30) -> SeriesSpec:
    """A one-off meeting as Webex has it: a series of one occurrence, no recurrence."""
    return SeriesSpec(
        id=stable_hex("test-one-off", name),
        title=name,
        host_email="alice@example.com",
        host_name="Alice Smith",
        first_start=start,
        interval=DAY,
        count=1,
        duration=timedelta(minutes=minutes),
        recurring=False,
    )


def run(server: FakeWebex, state: dict[str, Any] | None = None, **settings: Any) -> TapOutput:
    return sync(config_for(server, **settings), state=state, run_start=server.now)


def queried(server: FakeWebex) -> set[str]:
    """Series whose meetings were listed or that were looked up."""
    series = {
        r.params["meetingSeriesId"][0] for r in server.requests if "meetingSeriesId" in r.params
    }
    looked_up = {
        r.path.rsplit("/", 1)[1].partition("_")[0]
        for r in server.requests
        if r.path.count("/") == 3
    }
    return series | looked_up


def discovery_from(server: FakeWebex) -> set[str]:
    return {
        r.params["from"][0]
        for r in server.requests
        if r.params.get("meetingType") == ["meetingSeries"] and "from" in r.params
    }


def latest(outputs: list[TapOutput]) -> dict[str, dict[str, Any]]:
    """Every meeting the runs emitted, as last seen (what an upserting target holds)."""
    rows: dict[str, dict[str, Any]] = {}
    for output in outputs:
        for record in output.records():
            if record.get("_sdc_deleted_at"):
                rows.pop(record["id"], None)
            else:
                rows[record["id"]] = record
    return rows


def essence(rows: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {i: (r["state"], r["start"], r.get("end")) for i, r in rows.items()}


def test_finished_series_are_not_listed_again_and_the_runs_add_up_to_a_full_extraction() -> None:
    now = DEFAULT_NOW
    series = default_series(now) + history_series(200, now=now)
    with FakeWebex(series=series, now=now) as server:
        outputs = [run(server)]
        first_finished = finished_ids(outputs[0].last_state)
        assert INCIDENT_REVIEW in first_finished
        assert len(first_finished) == 201, "every one-off of the past year, and the expired one"
        assert discovery_from(server) == {"2025-06-01T00:00:00Z"}
        for day in (1, 2):
            server.advance(DAY)
            server.clear_requests()
            outputs.append(run(server, outputs[-1].last_state))
            assert queried(server).isdisjoint(first_finished), "no request for finished series"
            # Discovery from the last complete run's start minus lookback_days and 15 minutes.
            last_start = now + (day - 1) * DAY
            assert discovery_from(server) == {
                f"{last_start - DAY - timedelta(minutes=15):%Y-%m-%dT%H:%M:%SZ}"
            }
            assert len(server.requests) == 1 + 3, "one discovery page, one query per live series"
        full = run(server)  # one full extraction at the end, from an empty state

    assert essence(latest(outputs)) == essence(latest([full]))
    state = outputs[-1].last_state
    assert set(partition_bookmarks(state)) | finished_ids(state) == {
        s.id for s in series if s.host_email == "alice@example.com"
    }
    assert len(json.dumps(state["bookmarks"]["series_meetings"]["finished"])) < 40 * 201


def test_an_instance_whose_details_appear_15_minutes_after_the_end_is_still_read() -> None:
    """A 5-minute one-off: right after its end Webex shows it `ended`, but not its instance
    yet; everything listed has settled, and only the 15 minutes keep it from finishing.
    """
    spec = one_off("late-details", DEFAULT_NOW - timedelta(hours=2), minutes=5)
    ((_, actual_end),) = spec.instance_times(0)
    end = spec.first_start + spec.duration
    settings: dict[str, Any] = {"lookback_days": 0}
    with FakeWebex(series=[spec], now=end + timedelta(minutes=1)) as server:
        first = run(server, **settings)
        assert [r["state"] for r in first.records()] == ["ended"], "no instance yet"
        assert spec.id not in finished_ids(first.last_state)

        server.set_now(max(end, actual_end) + timedelta(minutes=16))  # the details are out
        second = run(server, first.last_state, **settings)
        instances = [r for r in second.records() if r["meetingType"] == "meeting"]
        assert [r["state"] for r in instances] == ["ended"]
        assert spec.id in finished_ids(second.last_state)

        server.advance(DAY)
        server.clear_requests()
        third = run(server, second.last_state, **settings)
        assert third.records() == []
        assert spec.id not in queried(server)


def test_a_meeting_that_ran_past_its_schedule_is_read_until_its_instance_has_ended() -> None:
    """15 minutes after the scheduled end the instance (it started late) is still running."""
    spec = one_off("overrun-0", DEFAULT_NOW - timedelta(hours=3), minutes=60)
    ((_, actual_end),) = spec.instance_times(0)
    end = spec.first_start + spec.duration
    assert actual_end > end + timedelta(minutes=3)
    settings: dict[str, Any] = {"lookback_days": 0}
    with FakeWebex(series=[spec], now=end + timedelta(minutes=16)) as server:
        first = run(server, **settings)
        instances = [r for r in first.records() if r["meetingType"] == "meeting"]
        assert [r["state"] for r in instances] == ["inProgress"]
        assert spec.id not in finished_ids(first.last_state)

        server.set_now(actual_end + timedelta(minutes=16))
        second = run(server, first.last_state, **settings)
        instances = [r for r in second.records() if r["meetingType"] == "meeting"]
        assert [r["state"] for r in instances] == ["ended"]
        assert spec.id in finished_ids(second.last_state)


def test_a_finished_series_that_becomes_active_again_is_read_again() -> None:
    now = DEFAULT_NOW
    short = SeriesSpec(
        id=stable_hex("test", "extended"),
        title="Extended Later",
        host_email="alice@example.com",
        host_name="Alice Smith",
        first_start=now - 10 * DAY,
        interval=DAY,
        count=3,
        duration=timedelta(minutes=30),
    )
    with FakeWebex(series=[short], now=now) as server:
        first = run(server)
    assert short.id in finished_ids(first.last_state)

    extended = replace(short, count=20)  # the host added occurrences
    later = now + DAY
    with FakeWebex(series=[extended], now=later) as server:
        second = run(server, first.last_state)
        listed = [r.params["from"][0] for r in server.requests if "meetingSeriesId" in r.params]

    assert short.id not in finished_ids(second.last_state)
    assert short.id in partition_bookmarks(second.last_state)
    # Read from the instant that finished it minus lookback_days, not from start_date.
    assert listed == [f"{now - DAY:%Y-%m-%dT%H:%M:%SZ}"]
    starts = {datetime.fromisoformat(r["start"]) for r in second.records()}
    assert {
        extended.start_of(k) for k in range(10, 20) if extended.start_of(k) < later + 30 * DAY
    } <= starts


def test_a_one_off_cancelled_before_it_happened_gets_its_tombstone() -> None:
    now = DEFAULT_NOW
    future = one_off("cancelled", now + 3 * DAY)
    past = one_off("long-ago", now - 100 * DAY)
    with FakeWebex(series=[future, past, *default_series(now)], now=now) as server:
        first = run(server)
        assert past.id in finished_ids(first.last_state)
        server.delete(future.id)  # a one-off meeting is cancelled by deleting its series
        server.advance(DAY)
        server.clear_requests()
        second = run(server, first.last_state)

    assert [r["id"] for r in second.records("meeting_series") if r.get("_sdc_deleted_at")] == [
        future.id
    ]
    tombstones = [r for r in second.records() if r.get("_sdc_deleted_at")]
    assert [r["id"] for r in tombstones] == [f"{future.id}_{future.first_start:%Y%m%dT%H%M%SZ}"]
    assert past.id not in queried(server), "nothing over before the last run is looked up"


def test_kill_9_mid_run_and_a_resume_lose_nothing() -> None:
    now = datetime.now(timezone.utc)
    series = default_series(now) + history_series(400, now=now)
    with FakeWebex(series=series, follow_wall_clock=True, latency_seconds=0.02) as server:
        config = config_for(server, max_workers=1)
        with started_cli(config) as process:
            lines = lines_until_states(process, 2)  # the second STATE comes 5 s after the first
            os.kill(process.pid, signal.SIGKILL)
        server.latency_seconds = 0  # only the killed run needed to be slow
        killed = TapOutput(parse_messages("".join(lines)))
        saved = killed.last_state
        emitted = {r["meetingSeriesId"] for r in killed.records()}
        assert finished_ids(saved), "the run was killed after finishing some series"
        assert finished_ids(saved) <= emitted, "finished only after its meetings were emitted"
        assert len(finished_ids(saved)) < 400, "and before it finished them all"

        resumed = run_cli(config, state=saved)
        assert resumed.exit_code == 0, resumed.stderr
        server.clear_requests()
        full = run_cli(config)

    # The one-offs lie in the past: nothing about them changes while the runs go on.
    history = {spec.id for spec in series[6:]}
    union, whole = latest([killed, resumed]), latest([full])
    assert {i for i in union if i[:32] in history} == {i for i in whole if i[:32] in history}
    assert finished_ids(resumed.last_state) == finished_ids(full.last_state) >= history


def test_shards_still_split_the_series_exactly_once() -> None:
    now = DEFAULT_NOW
    series = default_series(now) + history_series(100, now=now)
    with FakeWebex(series=series, now=now) as server:
        states: list[dict[str, Any] | None] = [None, None]
        outputs: list[list[TapOutput]] = [[], []]
        for day in range(3):
            server.advance(DAY if day else timedelta(0))
            for shard in (0, 1):
                server.clear_requests()
                output = run(server, states[shard], shard_count=2, shard_index=shard)
                states[shard] = output.last_state
                outputs[shard].append(output)
                if day:
                    assert queried(server).isdisjoint(finished_ids(outputs[shard][0].last_state))
        full = run(server)

    finished = [finished_ids(state or {}) for state in states]
    assert finished[0].isdisjoint(finished[1])
    union = {**latest(outputs[0]), **latest(outputs[1])}
    assert set(latest(outputs[0])).isdisjoint(latest(outputs[1]))
    assert set(union) == set(latest([full]))

    # Another split discovers over the whole range again.
    with FakeWebex(series=series, now=now + 3 * DAY) as server:
        run(server, states[0], shard_count=3, shard_index=0)
        assert discovery_from(server) == {"2025-06-01T00:00:00Z"}


def test_a_state_written_by_the_version_before_is_converted_in_place() -> None:
    old = json.loads(OLD_STATE.read_text())
    assert "finished" not in json.dumps(old)
    old_bookmarks = partition_bookmarks(old)
    with FakeWebex(now=DEFAULT_NOW + DAY) as server:
        first = run(server, old, host_emails=["bob@example.com"])
        assert discovery_from(server) == {"2025-06-01T00:00:00Z"}, "no marker yet: full"
        from_of = {
            r.params["meetingSeriesId"][0]: r.params["from"][0]
            for r in server.requests
            if "meetingSeriesId" in r.params
        }
        state = first.last_state
        assert finished_ids(state) == {INCIDENT_REVIEW}
        assert set(partition_bookmarks(state)) == set(old_bookmarks) - {INCIDENT_REVIEW}
        for series_id, bookmark in old_bookmarks.items():  # each read from its bookmark
            expected = datetime.fromisoformat(bookmark) - DAY
            assert from_of[series_id] == f"{expected:%Y-%m-%dT%H:%M:%SZ}"
        bob = [
            p
            for p in state["bookmarks"]["series_meetings"]["partitions"]
            if p["context"].get("hostEmail")
        ]
        assert len(bob) == 1

        server.advance(DAY)
        server.clear_requests()
        run(server, state, host_emails=["bob@example.com"])
        assert discovery_from(server) == {
            f"{DEFAULT_NOW + DAY - DAY - timedelta(minutes=15):%Y-%m-%dT%H:%M:%SZ}"
        }
        assert INCIDENT_REVIEW not in queried(server)


def test_a_new_host_or_an_earlier_start_date_discovers_everything_again() -> None:
    with FakeWebex() as server:
        first = run(server)
        server.advance(DAY)
        server.clear_requests()
        run(server, first.last_state, host_emails=["bob@example.com"])
        froms = {
            r.params.get("hostEmail", [""])[0]: r.params["from"][0]
            for r in server.requests
            if r.params.get("meetingType") == ["meetingSeries"]
        }
        assert froms["bob@example.com"] == "2025-06-01T00:00:00Z"
        assert froms[""] != "2025-06-01T00:00:00Z"

        server.clear_requests()
        again = run(server, first.last_state, start_date="2025-01-01T00:00:00Z")
        assert discovery_from(server) == {"2025-01-01T00:00:00Z"}
        assert INCIDENT_REVIEW in again.ids("meeting_series")
        assert INCIDENT_REVIEW in finished_ids(again.last_state)


def test_an_earlier_start_date_reads_every_known_series_from_it_once() -> None:
    """A backfill: every known series, the finished one included, is listed from the new
    ``start_date``; the next run with it goes on from the bookmarks, at no extra request.
    """
    earlier = "2025-01-01T00:00:00Z"
    with FakeWebex() as server:
        first = run(server)
        assert INCIDENT_REVIEW in finished_ids(first.last_state)
        server.advance(DAY)
        server.clear_requests()
        backfill = run(server, first.last_state, start_date=earlier)
        listed = {
            r.params["meetingSeriesId"][0]: r.params["from"][0]
            for r in server.requests
            if "meetingSeriesId" in r.params and "from" in r.params
        }
        assert INCIDENT_REVIEW in listed
        assert set(listed.values()) == {earlier}
        assert INCIDENT_REVIEW in finished_ids(backfill.last_state)  # over: finished again
        recorded = backfill.last_state["bookmarks"]["series_meetings"]["start_date"]
        assert datetime.fromisoformat(recorded) == datetime.fromisoformat(earlier)

        server.advance(DAY)
        nightly: list[list[tuple[str, list[tuple[str, list[str]]]]]] = []
        for state in (backfill.last_state, _without_read_from(backfill.last_state)):
            server.clear_requests()
            run(server, state, start_date=earlier)
            nightly.append(sorted((r.path, sorted(r.params.items())) for r in server.requests))
        assert nightly[0] == nightly[1], "the recorded start_date adds no request"
        assert not any(INCIDENT_REVIEW in str(request) for request in nightly[0])


def _without_read_from(state: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(state))
    del copied["bookmarks"]["series_meetings"]["start_date"]
    return copied


def test_a_failed_run_leaves_the_old_discovery_marker() -> None:
    with FakeWebex() as server:
        first = run(server)
        marker = first.last_state["bookmarks"]["meeting_series"]["discovered"]
        server.advance(DAY)
        standup = next(s for s in server.series if s.title == "Daily Standup")
        server.inject(403, times=1, match=lambda r: r.params.get("meetingSeriesId") == [standup.id])
        failed = run_cli(config_for(server, max_workers=1), state=first.last_state)
        assert failed.exit_code == 1
        assert all(
            s["bookmarks"]["meeting_series"].get("discovered") == marker for s in failed.states
        )


def test_a_bookmark_later_than_the_run_start_is_not_believed() -> None:
    with FakeWebex(follow_wall_clock=True) as server:
        config = config_for(server)
        first = run_cli(config)
        standup = next(s for s in server.series if s.title == "Daily Standup")
        state = json.loads(json.dumps(first.last_state))
        for partition in state["bookmarks"]["series_meetings"]["partitions"]:
            if partition["context"]["meetingSeriesId"] == standup.id:
                partition["replication_key_value"] = "2099-01-01T00:00:00+00:00"

        second = run_cli(config, state=state)

    assert second.exit_code == 0, second.stderr
    warnings = [line for line in second.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, second.stderr
    assert standup.id in warnings[0]
    assert "2099" in warnings[0]
    read = {i for i in second.ids() if i.startswith(standup.id)}
    assert read >= {i for i in first.ids() if i.startswith(standup.id)}, "read from start_date"
    assert all("2099" not in json.dumps(s) for s in second.states), "never written back"
    assert partition_bookmarks(second.last_state)[standup.id] < "2099"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ('{"bookmarks": ', "not valid JSON"),
        ("[]", "a state is a JSON object, not a list"),
        (
            '{"bookmarks": {"series_meetings": {"partitions": {}}}}',
            "partitions is an object, not a list",
        ),
        (
            '{"bookmarks": {"series_meetings": {"partitions": [{"context": '
            '{"meetingSeriesId": "s1"}, "replication_key_value": "not-a-date"}]}}}',
            "(series s1): bookmark 'not-a-date' is not a date-time",
        ),
        (
            '{"bookmarks": {"series_meetings": {"finished": {"yesterday": ["s1"]}}}}',
            "'yesterday' is not an instant",
        ),
    ],
)
def test_a_state_file_that_cannot_be_right_is_one_error_line_before_any_request(
    server: FakeWebex, tmp_path: Path, text: str, problem: str
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(text)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config_for(server)))

    done = subprocess.run(
        [TAP_COMMAND, "--config", str(config_file), "--state", str(state_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert f"--state: {state_file}: " in errors[0]
    assert problem in errors[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert server.requests == []


def test_a_configured_finished_series_is_looked_up_but_its_meetings_are_not_listed() -> None:
    with FakeWebex() as server:
        standup = next(s for s in server.series if s.title == "Daily Standup")
        ids = [INCIDENT_REVIEW, standup.id]
        first = run(server, meeting_series_ids=ids)
        assert INCIDENT_REVIEW in finished_ids(first.last_state)
        assert "discovered" not in first.last_state["bookmarks"]["meeting_series"]
        server.advance(DAY)
        server.clear_requests()

        second = run(server, first.last_state, meeting_series_ids=ids)

    lookups = [r.path for r in server.requests if r.path.startswith("/v1/meetings/")]
    assert sorted(lookups) == sorted(f"/v1/meetings/{i}" for i in ids)
    listed = {
        r.params["meetingSeriesId"][0] for r in server.requests if "meetingSeriesId" in r.params
    }
    assert listed == {standup.id}
    assert INCIDENT_REVIEW in second.ids("meeting_series")
