"""The ``meeting_participants`` stream against the fake Webex: records, cost, state, failures."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fake_webex import FakeWebex
from fake_webex.participants import UNDECLARED_FIELD

from tap_webex_meetings.tap import TapWebexMeetings
from tap_webex_meetings.timeutils import parse_api_timestamp
from tests.tap_runner import TapOutput, config_for, run_cli, sync

STREAM = "meeting_participants"
DELAY = timedelta(minutes=15)
DAY = timedelta(days=1)


def catalog_with_participants(server: FakeWebex) -> dict[str, Any]:
    """The discovered catalog with every stream selected (participants are not by default)."""
    catalog = TapWebexMeetings(config=config_for(server)).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
    return catalog


def run(server: FakeWebex, state: dict[str, Any] | None = None, **settings: Any) -> TapOutput:
    return sync(
        config_for(server, **settings),
        state=state,
        catalog=catalog_with_participants(server),
        run_start=server.now,
    )


def participant_requests(server: FakeWebex) -> list[str]:
    return [
        r.params["meetingId"][-1] for r in server.requests if r.path == "/v1/meetingParticipants"
    ]


def ended_instances(output: TapOutput, server: FakeWebex) -> list[dict[str, Any]]:
    """Instances the run emitted whose participants Webex shows at the run's start."""
    return [
        r
        for r in output.records("series_meetings")
        if r["meetingType"] == "meeting" and r["state"] == "ended"
    ]


def expected_rows(server: FakeWebex, instances: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """The fake's participants as the stream must emit them: schema fields, the series id."""
    rows = {}
    for instance in instances:
        for person in server.expected_participants(instance["id"]):
            row = {k: v for k, v in person.items() if k != UNDECLARED_FIELD}
            row["meetingSeriesId"] = instance["meetingSeriesId"]
            rows[person["meetingId"], person["id"]] = row
    return rows


def test_records_are_the_fakes_participants_of_every_ended_instance(server: FakeWebex) -> None:
    output = run(server)

    instances = ended_instances(output, server)
    assert len(instances) > 50
    records = output.records(STREAM)
    got = {(r["meetingId"], r["id"]): r for r in records}
    assert len(got) == len(records)  # one row per person per instance, however many joins
    assert got == expected_rows(server, instances)
    assert any(len(r["devices"]) > 1 for r in records)
    assert any(r.get("email") is None for r in records)  # phone-only
    schema = next(m for m in output.messages if m["type"] == "SCHEMA" and m["stream"] == STREAM)
    assert schema["key_properties"] == ["meetingId", "id"]
    # One listing per ended instance, and none for an instance still in progress.
    asked = participant_requests(server)
    assert sorted(asked) == sorted(i["id"] for i in instances)


def test_not_selected_by_default(server: FakeWebex) -> None:
    output = sync(config_for(server), run_start=server.now)
    assert output.records(STREAM) == []
    assert participant_requests(server) == []


def test_a_nightly_run_lists_only_the_instances_ended_since_the_last_run(
    server: FakeWebex,
) -> None:
    # No look-ahead: a weekly series' bookmark stays on its last instance, which the series
    # listing then re-reads every night; its participants must not be.
    first = run(server, lookahead_days=0)
    first_start = server.now
    server.advance(DAY)
    server.clear_requests()
    second = run(server, state=first.last_state, lookahead_days=0)
    relisted = {i["id"] for i in ended_instances(second, server)}

    # Due: details shown after the last run's start, by this run's start.
    due = {
        i["id"]
        for i in ended_instances(second, server)
        if first_start < parse_api_timestamp(i["end"]) + DELAY <= server.now
    }
    assert due
    assert relisted - due  # listed again, but read by the first run already
    assert sorted(participant_requests(server)) == sorted(due)
    assert {r["meetingId"] for r in second.records(STREAM)} == due


def test_state_stays_flat_over_many_nightly_runs(server: FakeWebex) -> None:
    state: dict[str, Any] | None = None
    sizes = []
    for _ in range(8):
        output = run(server, state=state)
        state = output.last_state
        stream_state = state["bookmarks"][STREAM]
        assert "partitions" not in stream_state
        sizes.append(len(json.dumps(stream_state)))
        server.advance(DAY)
    assert max(sizes) - min(sizes) <= 2, sizes  # one instant and one bookmark, whatever ran
    assert stream_state["last_run_start"] == (server.now - DAY).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_a_404_for_an_instance_is_a_warning_naming_it(server: FakeWebex, caplog: Any) -> None:
    server.inject(404, match=lambda r: r.path.endswith("Participants"))  # the first instance
    output = run(server)
    first = participant_requests(server)[0]
    warned = [r.getMessage() for r in caplog.records if "participants" in r.getMessage()]
    assert any(line.startswith(f"Meeting {first}: Webex has no participants") for line in warned)
    assert "nothing is deleted" in warned[0]
    assert first not in {r["meetingId"] for r in output.records(STREAM)}
    assert len(output.records(STREAM)) > 100  # the other instances are read


def test_a_403_stops_the_run_with_one_line_naming_the_scope(
    server: FakeWebex, tmp_path: Path
) -> None:
    server.inject(403, match=lambda r: r.path.endswith("Participants"))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(catalog_with_participants(server)))
    output = run_cli(
        config_for(server, start_date="2026-06-01T00:00:00Z"), args=("--catalog", str(catalog))
    )
    assert output.exit_code == 1
    errors = [line for line in output.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, output.stderr
    assert "Webex API error 403" in errors[0]
    assert "meeting:participants_read" in errors[0]
    assert "meeting:admin_participants_read" in errors[0]
    assert "select: ['!meeting_participants.*']" in errors[0]
    assert "the participants of meeting " in errors[0]


# docs/participants.md's recipe: emails hashed (a phone-only caller has none), names and the
# host's email dropped, before anything is written.
PRIVACY_MAP = {
    "meeting_participants": {
        "email": "md5(record['email']) if record.get('email') else None",
        "displayName": "__NULL__",
        "hostEmail": "__NULL__",  # the host's, on series_meetings too
    }
}


def test_the_privacy_recipe_hashes_emails_and_drops_names(server: FakeWebex) -> None:
    output = run(server, stream_maps=PRIVACY_MAP)

    records = output.records(STREAM)
    assert records
    assert all("displayName" not in r for r in records)
    assert "displayName" not in output.schema(STREAM)["properties"]
    truth = expected_rows(server, ended_instances(output, server))
    for record in records:
        email = truth[record["meetingId"], record["id"]].get("email")
        assert record["email"] == (hashlib.md5(email.encode()).hexdigest() if email else None)
    assert "@" not in json.dumps(records)
