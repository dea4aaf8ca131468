"""Nothing lost or deleted in silence where the tap's features meet (issue 31): a state of
finished series is no first run, a 404 that is not Webex's deletes nothing, the instance cap
read either way loses nothing, and an answer about something else is not believed.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fake_webex import DEFAULT_NOW, FakeWebex, RecordedRequest, SeriesSpec

from tap_webex_meetings import history
from tap_webex_meetings.deletions import DELETED_AT
from tap_webex_meetings.meetings import SeriesMeetingsStream
from tap_webex_meetings.timeutils import parse_api_timestamp
from tests.hostile import Answer, Received, ScriptedServer, meeting, series_then
from tests.integration.test_history import one_off
from tests.integration.test_hostile import ALICE, FAIL_FAST, levelled, of_series, scripted_config
from tests.tap_runner import TapOutput, config_for, finished_ids, run_cli, sync

DAY = timedelta(days=1)
TARGET_DUCKDB = str(Path(sys.executable).with_name("target-webex-duckdb"))


def run(server: FakeWebex, state: dict[str, Any] | None = None, **settings: Any) -> TapOutput:
    return sync(config_for(server, **settings), state=state, run_start=server.now)


def activations(output: TapOutput) -> list[dict[str, Any]]:
    return [m for m in output.messages if m["type"] == "ACTIVATE_VERSION"]


def load_duckdb(folder: Path, output: TapOutput) -> None:
    """``target-webex-duckdb`` as meltano.yml configures it (``hard_delete: true``)."""
    config = folder / "target.json"
    config.write_text(
        json.dumps(
            {
                "filepath": str(folder / "warehouse.duckdb"),
                "default_target_schema": "webex",
                "hard_delete": True,
            }
        )
    )
    completed = subprocess.run(
        [TARGET_DUCKDB, "--config", str(config)],
        input=output.stdout,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def live_rows(folder: Path) -> set[str]:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        found = connection.execute(
            "SELECT id FROM webex.series_meetings WHERE _sdc_deleted_at IS NULL"
        ).fetchall()
    return {meeting_id for (meeting_id,) in found}


# 1. A false full extract


def test_a_state_of_finished_series_only_is_no_first_run_and_keeps_their_rows(
    tmp_path: Path,
) -> None:
    """Every known series finished (a quiet week): the next run finds a new meeting, sends
    no ACTIVATE_VERSION, and the finished series' rows stay in the warehouse."""
    now = DEFAULT_NOW
    past = one_off("over", now - 10 * DAY)
    later = one_off("new", now + 40 * DAY)  # beyond the first run's lookahead_days
    with FakeWebex(series=[past, later], now=now) as server:
        first = run(server)
        assert activations(first), "a first run is a full extract"
        assert finished_ids(first.last_state) == {past.id}
        assert not first.last_state["bookmarks"]["series_meetings"]["partitions"]
        load_duckdb(tmp_path, first)
        over = live_rows(tmp_path)
        assert {r["id"] for r in first.records() if r["meetingSeriesId"] == past.id} == over

        server.advance(15 * DAY)
        second = run(server, first.last_state)

    assert {r["meetingSeriesId"] for r in second.records()} == {later.id}
    assert activations(second) == []
    assert all("version" not in m for m in second.messages if m["type"] == "RECORD")
    load_duckdb(tmp_path, second)
    assert live_rows(tmp_path) == over | set(second.ids())


@pytest.mark.parametrize(
    ("stream", "written"),
    [
        ("series_meetings", {"partitions": [{"context": {"meetingSeriesId": "S"}}]}),
        ("series_meetings", {"finished": {"20260605T120000Z": ["S"]}}),
        ("series_meetings", {"finished": {"20260605T120000Z": []}}),  # reopened since
        ("series_meetings", {"start_date": "2025-06-01T00:00:00+00:00"}),
        ("meeting_series", {"discovered": {"start_date": "2025-06-01T00:00:00Z"}}),
    ],
)
def test_anything_an_earlier_run_wrote_makes_a_run_incremental(
    stream: str, written: dict[str, Any]
) -> None:
    state = {"bookmarks": {stream: written}}
    assert history.table_version(state, shard_count=1, started_ms=5000) is None
    empty: dict[str, Any] = {"bookmarks": {"series_meetings": {"partitions": [], "finished": {}}}}
    assert history.table_version(empty, shard_count=1, started_ms=5000) == 5
    assert history.table_version({}, shard_count=2, started_ms=5000) is None


# 2. A 404 that is not Webex's is not a deletion


def is_lookup_in(series_id: str) -> Callable[[RecordedRequest], bool]:
    return lambda request: request.path.startswith(f"/v1/meetings/{series_id}_")


FOREIGN_404: dict[str, tuple[str | dict[str, Any], dict[str, str]]] = {
    "html": ("<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html"}),
    "json without trackingId": ({"message": "Not Found"}, {}),
}


@pytest.mark.parametrize("asked", ["lookup", "listing"])
@pytest.mark.parametrize("body", list(FOREIGN_404))
def test_a_404_that_is_not_webex_s_is_retried_then_stops_and_deletes_nothing(
    asked: str, body: str
) -> None:
    """A proxy's 404 to a lookup of a remembered meeting, or to the listing of a known
    series whose lookup just answered 200: retried, then one ERROR line; no tombstone."""
    with FakeWebex(follow_wall_clock=True) as server:  # upcoming meetings are remembered
        series = server.series_ids(ALICE)[0]
        start_date = (server.now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = config_for(server, meeting_series_ids=[series], start_date=start_date, **FAIL_FAST)
        first = run_cli(config)
        assert first.exit_code == 0, first.stderr
        assert any(parse_api_timestamp(m["start"]) > server.now for m in first.records())

        server.clear_requests()
        text, headers = FOREIGN_404[body]
        listing = of_series(series)
        hit = listing if asked == "listing" else is_lookup_in(series)
        if asked == "lookup":
            server.inject(200, body={"items": []}, match=listing)  # the meetings "vanish"
        server.inject(404, body=text, headers=headers, times=1000, match=hit)
        second = run_cli(config, state=first.last_state)
        api_url = server.api_url

    assert second.exit_code == 1, second.stderr
    assert [r for r in second.records() if DELETED_AT in r] == []
    assert [r for r in second.records("meeting_series") if DELETED_AT in r] == []
    assert len([r for r in server.requests if hit(r)]) == 2, "retried, then given up"
    (line,) = levelled(second, "ERROR")
    assert line.startswith("Webex kept failing, giving up after the last retry: 404 "), line
    assert "not Webex's" in line, line
    assert ("text/html: '<html>" if body == "html" else '\'{"message": "Not Found"}\'') in line
    if asked == "lookup":
        assert f"{api_url}/meetings/{series}_" in line, line
        assert f"for the lookup of {series}_" in line, line
    else:
        assert f"from {api_url}/meetings, for series {series}" in line, line


# 3. Webex's instance cap, read either way


def big_daily_series(now: datetime) -> SeriesSpec:
    """300 days behind, 60 ahead, every third meeting restarted: about 400 instances."""
    return SeriesSpec(
        id="c" * 32,
        title="Daily",
        host_email=ALICE,
        host_name="Alice",
        first_start=now - 300 * DAY,
        interval=DAY,
        count=360,
        duration=timedelta(minutes=30),
        restarted_every=3,
    )


@pytest.mark.parametrize(
    ("server_cap", "cap_ends_listing", "continued_with"),
    [
        (50, False, ["meeting"]),  # only the instances past the cap are dropped
        (50, True, [None]),  # the listing ends at the cap's last instance
        (100_000, False, ["meeting"]),  # a server that lists more than the cap
    ],
    ids=["instances-cut", "listing-ends", "more-than-the-cap"],
)
def test_a_big_series_arrives_whole_and_once_whatever_the_cap_does(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    server_cap: int,
    cap_ends_listing: bool,
    continued_with: list[str | None],
) -> None:
    monkeypatch.setattr(SeriesMeetingsStream, "instance_cap", 50)
    now = DEFAULT_NOW
    spec = big_daily_series(now)
    caplog.set_level(logging.INFO)
    with FakeWebex(
        series=[spec], now=now, instance_cap=server_cap, cap_ends_listing=cap_ends_listing
    ) as server:
        output = run(server, meeting_series_ids=[spec.id], start_date=spec.first_start.isoformat())
        everything = server.expected_meetings(spec.id, spec.first_start, now + 30 * DAY)
        queries = [r.params for r in server.requests if "meetingSeriesId" in r.params]

    instances = [m for m in everything if m["meetingType"] == "meeting"]
    assert len(instances) > 6 * 50
    assert len(everything) > len(instances) + 300
    assert output.duplicate_ids() == []
    assert sorted(output.ids()) == sorted(m["id"] for m in everything)
    firsts = [q for q in queries if "cursor" not in q]
    assert len(firsts) >= (2 if server_cap > 50 else 7)
    assert {q.get("meetingType", [None])[0] for q in firsts[1:]} == set(continued_with)
    said = [r.getMessage() for r in caplog.records if "documented cap" in r.getMessage()]
    assert len(said) == (1 if server_cap > 50 else 0), said


# 4. Answers about something else are not believed

REMEMBERED = "S_20260619T090000Z"  # an upcoming meeting of S the state remembers


def state_of_s(*remembered: list[str], series: str = "S") -> dict[str, Any]:
    """A state in which series ``series`` was read up to June 2026 and remembers meetings."""
    partition = {
        "context": {"meetingSeriesId": series},
        "replication_key": "start",
        "replication_key_value": "2026-06-10T09:00:00+00:00",
        "upcoming": list(remembered),
    }
    return {"bookmarks": {"series_meetings": {"partitions": [partition]}}}


def test_a_listing_entry_of_another_series_is_skipped_with_a_warning() -> None:
    page = [
        meeting("S_20260615T090000Z"),
        {**meeting("T_20260616T090000Z"), "meetingSeriesId": "T"},
        meeting("S_20260617T090000Z"),
    ]
    with ScriptedServer(series_then(lambda request: Answer(body={"items": page}))) as server:
        output = run_cli(scripted_config(server))

    assert output.exit_code == 0, output.stderr
    assert output.ids() == ["S_20260615T090000Z", "S_20260617T090000Z"]
    assert levelled(output, "WARNING") == [
        "Skipping meeting T_20260616T090000Z listed for series S: it belongs to series T"
    ], output.stderr


def test_a_lookup_answered_with_another_meeting_is_retried_then_stops_deleting_nothing() -> None:
    def answer(request: Received) -> Answer:
        if request.path.endswith(f"/meetings/{REMEMBERED}"):
            return Answer(body=meeting("S_20260618T090000Z"))  # a meeting, not the one asked
        return Answer(body={"items": []})  # the remembered meeting is missing

    with ScriptedServer(series_then(answer)) as server:
        state = state_of_s([REMEMBERED, "20260619T090000Z", "scheduledMeeting"])
        output = run_cli(scripted_config(server, **FAIL_FAST), state=state)

    assert output.exit_code == 1, output.stderr
    assert [r for r in output.records() if DELETED_AT in r] == []
    assert output.ids() == []
    lookups = [r for r in server.requests if r.path.endswith(f"/meetings/{REMEMBERED}")]
    assert len(lookups) == 2, "retried as a bad body, then given up"
    (line,) = levelled(output, "ERROR")
    assert line == (
        "Webex kept failing, giving up after the last retry: 200 that is not a meeting (the "
        f"meeting S_20260618T090000Z, not the one asked for), for the lookup of {REMEMBERED}"
    ), line


UNUSABLE_IDS = [".", "..", "", "a/b", "S?x=1", "S#x", "S\\x", "S\x01x", "S\nx"]


@pytest.mark.parametrize("bad_id", UNUSABLE_IDS, ids=repr)
def test_an_id_that_cannot_go_into_a_url_is_never_sent_nor_tombstoned(bad_id: str) -> None:
    """Listed, it is skipped with a warning; remembered, it is neither looked up nor deleted.
    (``..`` became ``GET /v1/``, whose 404 tombstoned meeting ``..``.)"""
    page = [meeting("S_20260615T090000Z"), meeting(bad_id, "2026-06-16T09:00:00Z")]

    def answer(request: Received) -> Answer:
        if request.path == "/v1/meetings":
            return Answer(body={"items": page})
        return Answer(status=404, body={"message": "Not found.", "trackingId": "ROUTER_X"})

    with ScriptedServer(series_then(answer)) as server:
        state = state_of_s([bad_id, "20260619T090000Z", "scheduledMeeting"])
        output = run_cli(scripted_config(server), state=state)

    assert output.exit_code == 0, output.stderr
    assert output.ids() == ["S_20260615T090000Z"]
    assert [r for r in output.records() if DELETED_AT in r] == []
    assert {r.path for r in server.requests} == {"/v1/meetings", "/v1/meetings/S"}
    shown = repr(bad_id)
    entry = f"meeting {shown}" if bad_id else "entry 2 of a page"
    listed, remembered = levelled(output, "WARNING")
    assert listed.startswith(f"Skipping {entry} of series S, which is not a meeting: an id that ")
    assert "cannot go into a URL" in listed
    assert remembered.startswith(f"Series S remembers meeting {shown}, whose id cannot go into")
    assert remembered.endswith("not looked up, not deleted, forgotten")


def test_a_known_series_whose_id_cannot_go_into_a_url_is_not_looked_up_nor_tombstoned() -> None:
    def answer(request: Received) -> Answer:
        if request.path == "/v1/meetings":
            return Answer(body={"items": []})  # discovery finds nothing
        return Answer(status=404, body={"message": "Not found.", "trackingId": "ROUTER_X"})

    with ScriptedServer(answer) as server:
        config = scripted_config(server)
        del config["meeting_series_ids"]
        output = run_cli(config, state=state_of_s(series=".."))

    assert output.exit_code == 0, output.stderr
    assert [r for r in output.records("meeting_series") if DELETED_AT in r] == []
    assert {r.path for r in server.requests} == {"/v1/meetings"}
    assert (
        "The state holds series '..', whose id cannot go into a URL (a dot segment); ignoring it"
        in levelled(output, "WARNING")
    ), output.stderr


def test_a_configured_series_id_that_cannot_go_into_a_url_is_a_bad_setting() -> None:
    with ScriptedServer(series_then(lambda request: Answer(body={"items": []}))) as server:
        output = run_cli(scripted_config(server, meeting_series_ids=["S", ".."]))

    assert output.exit_code == 1, output.stderr
    assert server.requests == []
    assert levelled(output, "ERROR") == ["meeting_series_ids: '..' is not a series id"]
