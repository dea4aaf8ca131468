"""Full and incremental syncs against the fake Webex: what arrives, once, and the state."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import jsonschema
import pytest
import requests
from fake_webex import FakeWebex, SeriesSpec

from tap_webex_meetings import timeutils
from tap_webex_meetings.meetings import SeriesMeetingsStream
from tap_webex_meetings.tap import TapWebexMeetings
from tap_webex_meetings.webex import SENSITIVE_FIELDS
from tests.tap_runner import (
    TapOutput,
    config_for,
    finished_ids,
    partition_bookmarks,
    run_cli,
    sync,
)

START = datetime(2025, 6, 1, tzinfo=timezone.utc)
LOOKAHEAD = timedelta(days=30)


def expected_ids(server: FakeWebex, start: datetime, end: datetime, series: list[str]) -> set[str]:
    return {m["id"] for s in series for m in server.expected_meetings(s, start, end)}


def daily_series(
    series_id: str, first: datetime, *, count: int, restarted_every: int = 0
) -> SeriesSpec:
    return SeriesSpec(
        id=series_id,
        title="Daily",
        host_email="alice@example.com",
        host_name="Alice",
        first_start=first,
        interval=timedelta(days=1),
        count=count,
        duration=timedelta(minutes=30),
        restarted_every=restarted_every,
        password="pw",
    )


def full_sync(server: FakeWebex, **overrides: Any) -> TapOutput:
    return sync(config_for(server, **overrides), run_start=server.now)


def test_full_sync_emits_every_expected_meeting_exactly_once(server: FakeWebex) -> None:
    output = full_sync(server)

    series = server.series_ids("alice@example.com")
    assert sorted(output.ids("meeting_series")) == sorted(series)
    assert output.duplicate_ids() == []
    assert set(output.ids()) == expected_ids(server, START, server.now + LOOKAHEAD, series)
    assert len(output.ids()) > 300  # daily, weekly, scheduled and ended, missed, restarted


def test_every_record_is_valid_against_its_schema_and_names_its_series(server: FakeWebex) -> None:
    output = full_sync(server)
    for stream in ("meeting_series", "series_meetings"):
        validator = jsonschema.Draft7Validator(
            output.schema(stream), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )
        for record in output.records(stream):
            validator.validate(record)
    assert all(record["meetingSeriesId"] for record in output.records())
    kinds = {(r["meetingType"], r["state"]) for r in output.records()}
    assert {
        ("scheduledMeeting", "scheduled"),
        ("scheduledMeeting", "ended"),
        ("scheduledMeeting", "missed"),
        ("meeting", "ended"),
    } <= kinds


def test_sensitive_fields_are_left_out_unless_selected_and_named(server: FakeWebex) -> None:
    output = full_sync(server)
    leaked = {f for record in output.records() for f in SENSITIVE_FIELDS if f in record}
    assert leaked == set()
    assert not (set(SENSITIVE_FIELDS) & output.schema("series_meetings")["properties"].keys())

    catalog = TapWebexCatalog.with_selected(server, SENSITIVE_FIELDS)
    named = ["password", "hostKey", "phoneAndVideoSystemPassword"]
    selected = sync(config_for(server, secret_fields=named), catalog=catalog, run_start=server.now)
    present = {f for record in selected.records() for f in SENSITIVE_FIELDS if f in record}
    assert present == set(named)


def test_a_catalog_selecting_every_property_gets_no_secret_unless_a_setting_names_it(
    server: FakeWebex,
) -> None:
    """Meltano's default ``select`` (``*.*``) selects every property: still no password."""
    catalog = TapWebexCatalog.with_selected(server, everything=True)
    output = sync(config_for(server), catalog=catalog, run_start=server.now)
    assert len(output.records()) > 300
    for stream in ("meeting_series", "series_meetings"):
        assert not set(SENSITIVE_FIELDS) & output.schema(stream)["properties"].keys(), stream
        leaked = {f for record in output.records(stream) for f in SENSITIVE_FIELDS if f in record}
        assert leaked == set(), stream

    wanted = sync(
        config_for(server, secret_fields=["hostKey"]), catalog=catalog, run_start=server.now
    )
    present = {f for record in wanted.records() for f in SENSITIVE_FIELDS if f in record}
    assert present == {"hostKey"}


class TapWebexCatalog:
    """The discovered catalog, with chosen properties selected on purpose."""

    @staticmethod
    def with_selected(
        server: FakeWebex, fields: tuple[str, ...] = (), *, everything: bool = False
    ) -> dict[str, Any]:
        catalog = TapWebexMeetings(config=config_for(server)).catalog_dict
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                breadcrumb = entry["breadcrumb"]
                if everything or not breadcrumb or breadcrumb[-1] in fields:
                    entry["metadata"]["selected"] = True
        return catalog


def test_bookmarks_never_pass_run_start_though_upcoming_meetings_are_emitted(
    server: FakeWebex,
) -> None:
    output = full_sync(server)
    run_start = server.now
    upcoming = [
        r for r in output.records() if timeutils.parse_api_timestamp(r["start"]) > run_start
    ]
    assert upcoming, "the default series have scheduled meetings after the run's start"

    bookmarks = partition_bookmarks(output.last_state)
    finished = finished_ids(output.last_state)  # the expired incident review
    assert len(finished) == 1
    assert set(bookmarks) | finished == set(server.series_ids("alice@example.com"))
    for bookmark in bookmarks.values():
        assert timeutils.parse_datetime(bookmark) <= run_start
    for state in output.states:  # also every STATE emitted on the way
        for bookmark in partition_bookmarks(state).values():
            assert timeutils.parse_datetime(bookmark) <= run_start


def test_second_run_after_the_clock_moves_gets_new_and_changed_meetings(server: FakeWebex) -> None:
    config = config_for(server)
    first = sync(config, run_start=server.now)
    first_states = {r["id"]: r["state"] for r in first.records()}

    server.advance(timedelta(days=3))
    second = sync(config, state=first.last_state, run_start=server.now)

    assert second.duplicate_ids() == []
    new_ids = set(second.ids()) - set(first.ids())
    assert any(r["meetingType"] == "meeting" for r in second.records() if r["id"] in new_ids)
    changed = {
        r["id"] for r in second.records() if first_states.get(r["id"]) not in (None, r["state"])
    }
    assert changed, "scheduled meetings of the last three days have ended or been missed"

    # Each series is re-read from its bookmark minus lookback_days, up to the new lookahead.
    bookmarks = partition_bookmarks(first.last_state)
    expected = set()
    for series_id, bookmark in bookmarks.items():
        since = timeutils.parse_datetime(bookmark) - timedelta(days=1)
        expected |= expected_ids(server, since, server.now + LOOKAHEAD, [series_id])
    assert set(second.ids()) == expected
    for bookmark in partition_bookmarks(second.last_state).values():
        assert timeutils.parse_datetime(bookmark) <= server.now

    # Together the two runs hold the final truth: every meeting, in its latest state.
    latest = {r["id"]: r for r in first.records()} | {r["id"]: r for r in second.records()}
    series = server.series_ids("alice@example.com")
    truth = {
        m["id"]: m["state"]
        for s in series
        for m in server.expected_meetings(s, START, server.now + LOOKAHEAD)
    }
    assert {key: latest[key]["state"] for key in truth} == truth


def test_from_is_bookmark_minus_lookback_and_to_is_lookahead(server: FakeWebex) -> None:
    first = full_sync(server)
    server.clear_requests()
    second = sync(
        config_for(server, lookback_days=2, lookahead_days=10),
        state=first.last_state,
        run_start=server.now,
    )
    assert second.exit_code == 0
    bookmarks = partition_bookmarks(first.last_state)
    queries = [
        r.params
        for r in server.requests
        if "meetingSeriesId" in r.params and "cursor" not in r.params
    ]
    assert {q["meetingSeriesId"][0] for q in queries} == set(bookmarks)
    for query in queries:
        bookmark = timeutils.parse_datetime(bookmarks[query["meetingSeriesId"][0]])
        assert timeutils.parse_datetime(query["from"][0]) == bookmark - timedelta(days=2)
        assert timeutils.parse_datetime(query["to"][0]) == server.now + timedelta(days=10)
        assert "isModified" not in query


def test_start_and_end_are_utc_whatever_the_timezone_which_the_record_still_names(
    server: FakeWebex,
) -> None:
    """Loaders that store an offset's local time (target-postgres with COPY, target-duckdb on
    DuckDB 2) get the same instants whatever ``timezone`` is."""
    utc_run = full_sync(server)
    shanghai = full_sync(server, timezone="Asia/Shanghai")

    def moments(output: TapOutput) -> dict[str, tuple[str, str]]:
        return {r["id"]: (r["start"], r["end"]) for r in output.records()}

    assert moments(shanghai) == moments(utc_run)
    assert all(r["start"].endswith("Z") and r["end"].endswith("Z") for r in shanghai.records())
    assert all(r["timezone"] == "Asia/Shanghai" for r in shanghai.records())
    assert all(r["timezone"] == "Asia/Shanghai" for r in shanghai.records("meeting_series"))
    assert partition_bookmarks(shanghai.last_state) == partition_bookmarks(utc_run.last_state)


def test_new_york_across_dst_still_utc_and_bookmarks_capped(server: FakeWebex) -> None:
    output = full_sync(server, timezone="America/New_York")
    assert {r["start"][-1] for r in output.records()} == {"Z"}
    assert {r["start"][-1] for r in output.records("meeting_series")} == {"Z"}
    for bookmark in partition_bookmarks(output.last_state).values():
        assert timeutils.parse_datetime(bookmark) <= server.now


def test_configured_series_ids_only_those_and_unknown_one_warned(
    server: FakeWebex, caplog: pytest.LogCaptureFixture
) -> None:
    alice = server.series_ids("alice@example.com")
    wanted = [alice[0], "0123456789abcdef0123456789abcdef", alice[1]]
    output = full_sync(server, meeting_series_ids=wanted)

    assert output.ids("meeting_series") == [alice[0], alice[1]]
    assert {r["meetingSeriesId"] for r in output.records()} == {alice[0], alice[1]}
    assert set(output.ids()) == expected_ids(server, START, server.now + LOOKAHEAD, alice[:2])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("0123456789abcdef0123456789abcdef" in w and "not found" in w for w in warnings)


def test_host_emails_discover_other_hosts_series_through_host_email(server: FakeWebex) -> None:
    output = full_sync(server, host_emails=["bob@example.com"])
    bob = set(server.series_ids("bob@example.com"))
    assert bob, "the default data has a series hosted by bob"
    assert bob <= set(output.ids("meeting_series"))
    assert output.duplicate_ids("meeting_series") == []
    series_queries = [
        r.params for r in server.requests if r.params.get("meetingSeriesId", [""])[0] in bob
    ]
    assert series_queries
    assert all(q.get("hostEmail") == ["bob@example.com"] for q in series_queries)
    assert set(output.ids()) >= expected_ids(server, START, server.now + LOOKAHEAD, sorted(bob))


@pytest.mark.parametrize("quirk", ["drop_params", "max_null"])
def test_paging_survives_link_quirks(server: FakeWebex, quirk: str) -> None:
    plain = full_sync(server, page_size=7)
    server.link_quirks = {quirk}
    quirky = full_sync(server, page_size=7)
    assert quirky.duplicate_ids() == []
    assert sorted(quirky.ids()) == sorted(plain.ids())


def test_literal_link_string_stops_paging_cleanly(server: FakeWebex) -> None:
    server.link_quirks = {"literal_string"}
    output = full_sync(server, page_size=5)
    assert output.duplicate_ids() == []
    assert 0 < len(output.ids()) <= 5 * len(server.series_ids("alice@example.com"))


def test_requests_are_one_per_page_and_never_repeated(server: FakeWebex) -> None:
    output = full_sync(server, page_size=25)
    series_requests = [r for r in server.requests if "meetingSeriesId" in r.params]
    per_series: dict[str, int] = {}
    for record in output.records():
        per_series[record["meetingSeriesId"]] = per_series.get(record["meetingSeriesId"], 0) + 1
    assert len(series_requests) == sum(math.ceil(n / 25) for n in per_series.values())
    urls = [
        (r.path, tuple(sorted((k, tuple(v)) for k, v in r.params.items()))) for r in series_requests
    ]
    assert len(urls) == len(set(urls))


def test_a_daily_series_over_a_year_takes_a_handful_of_requests() -> None:
    now = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
    daily = daily_series("d" * 32, now - timedelta(days=365), count=395)
    with FakeWebex(series=[daily], now=now) as fake:
        output = sync(config_for(fake, start_date="2025-06-01T00:00:00Z"), run_start=now)
        meetings = len(output.ids())
        assert meetings > 700
        series_requests = [r for r in fake.requests if "meetingSeriesId" in r.params]
        assert len(series_requests) == math.ceil(meetings / 100)


def test_instance_cap_is_passed_with_a_new_window_and_nothing_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SeriesMeetingsStream, "instance_cap", 120)

    now = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
    daily = daily_series("c" * 32, now - timedelta(days=300), count=310, restarted_every=3)
    with FakeWebex(series=[daily], now=now) as fake:
        fake.instance_cap = 120
        output = sync(config_for(fake, start_date="2025-06-01T00:00:00Z"), run_start=now)
        expected = expected_ids(fake, START, now + LOOKAHEAD, [daily.id])
        instances = [
            m
            for m in fake.expected_meetings(daily.id, START, now + LOOKAHEAD)
            if m["meetingType"] == "meeting"
        ]
        assert len(instances) > 2 * 120
        assert output.duplicate_ids() == []
        assert set(output.ids()) == expected
        windows = {r.params["from"][0] for r in fake.requests if "meetingSeriesId" in r.params}
        assert len(windows) >= 3


@pytest.mark.parametrize(("is_modified", "sent"), [(True, ["true"]), (False, ["false"])])
def test_is_modified_is_sent_only_when_set(
    server: FakeWebex, is_modified: bool, sent: list[str]
) -> None:
    output = full_sync(server, is_modified=is_modified)
    queries = [r.params for r in server.requests if "meetingSeriesId" in r.params]
    assert queries
    assert all(q["isModified"] == sent for q in queries)
    assert {r["meetingType"] for r in output.records()} == {"scheduledMeeting"}
    assert {r["isModified"] for r in output.records()} == {is_modified}


def test_has_summary_which_webex_sends_on_instances_is_kept_without_a_notice(
    server: FakeWebex,
) -> None:
    output = run_cli(config_for(server, end_date=server.now.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert output.exit_code == 0, output.stderr
    instances = [r for r in output.records() if r["meetingType"] == "meeting"]
    assert instances
    assert all(isinstance(r["hasSummary"], bool) for r in instances)
    assert "hasSummary" not in output.stderr
    assert "Ignoring fields" not in output.stderr


def test_a_field_the_schema_does_not_know_is_dropped_and_named_once(server: FakeWebex) -> None:
    """A field Webex adds one day must not break a target that validates records."""
    series = server.series_ids("alice@example.com")[0]
    page = requests.get(
        f"{server.api_url}/meetings",
        params={"meetingSeriesId": series, "from": "2026-06-01T00:00:00Z", "max": "100"},
        headers={"Authorization": "Bearer sandbox-token"},
        timeout=10,
    ).json()
    for item in page["items"]:
        item["aiNotes"] = "new"
    server.inject(
        200, times=2, body=page, match=lambda r: r.params.get("meetingSeriesId") == [series]
    )
    output = run_cli(
        config_for(server, meeting_series_ids=[series], end_date="2026-06-20T00:00:00Z")
    )
    assert output.exit_code == 0, output.stderr
    assert output.records()
    assert all("aiNotes" not in r for r in output.records())
    named = [line for line in output.stderr.splitlines() if "aiNotes" in line]
    assert len(named) == 1, named
    assert "INFO" in named[0]
    assert named[0].endswith("Ignoring fields not in the series_meetings schema: ['aiNotes']")


def test_each_stream_sends_its_schema_once_however_many_series(server: FakeWebex) -> None:
    """singer-sdk would send the 30 KB schema again before every series (partition)."""
    output = full_sync(server)
    schemas = [m["stream"] for m in output.messages if m["type"] == "SCHEMA"]
    assert len(output.ids("meeting_series")) > 1
    assert sorted(schemas) == ["meeting_series", "series_meetings"]
