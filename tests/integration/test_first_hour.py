"""What a new user trips over in the first hour: typos, dates, ids, secrets.

Each test runs the installed ``tap-webex-meetings`` command as a user does, against the
fake Webex, and asserts what they read: the exit code, the one line, what was extracted.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_webex import FakeWebex

from tests.integration.test_cli_messages import errors, levelled
from tests.tap_runner import config_for, run_cli

ALICE = "alice@example.com"
WEEK = {"end_date": "2026-06-20T00:00:00Z"}


# 1. A misspelt setting is named, with the setting it most likely meant --------------------

TYPOS: list[tuple[dict[str, Any], str]] = [
    (
        {"meeting_serie_ids": ["x"]},
        "meeting_serie_ids: not a setting of this tap; did you mean meeting_series_ids?",
    ),
    ({"pagesize": 10}, "pagesize: not a setting of this tap; did you mean page_size?"),
    (
        {"colour": "red"},
        "colour: not a setting of this tap (tap-webex-meetings --about lists them)",
    ),
]


@pytest.mark.parametrize(("extra", "line"), TYPOS, ids=[line.split(":")[0] for _, line in TYPOS])
def test_an_unknown_setting_is_one_line_naming_it_before_any_request(
    server: FakeWebex, extra: dict[str, Any], line: str
) -> None:
    output = run_cli({**config_for(server), **extra})
    assert output.exit_code == 1
    assert errors(output) == [line], output.stderr
    assert output.records() == []
    assert server.requests == []


def test_a_misspelt_required_setting_names_the_typo_not_the_missing_setting(
    server: FakeWebex,
) -> None:
    config = config_for(server)
    config["start_data"] = config.pop("start_date")
    output = run_cli(config)
    assert output.exit_code == 1
    assert errors(output) == ["start_data: not a setting of this tap; did you mean start_date?"], (
        output.stderr
    )
    assert server.requests == []


def test_the_sdks_own_settings_still_pass(server: FakeWebex) -> None:
    config = config_for(
        server,
        **WEEK,
        stream_maps={"meeting_series": {"title": None}},
        stream_map_config={"salt": "x"},
        flattening_enabled=False,
        flattening_max_depth=1,
    )
    output = run_cli(config)
    assert output.exit_code == 0, output.stderr
    assert errors(output) == []
    assert output.records()
    assert all("title" not in record for record in output.records("meeting_series"))


# 2. A date that is not ISO 8601 is refused, not guessed -----------------------------------


@pytest.mark.parametrize("setting", ["start_date", "end_date"])
@pytest.mark.parametrize("value", ["02.01.2025", "01/02/2025", "Jan 2 2025"])
def test_a_date_that_is_not_iso_8601_is_refused_naming_the_setting(
    server: FakeWebex, setting: str, value: str
) -> None:
    output = run_cli(config_for(server, **{setting: value}))
    assert output.exit_code == 1
    assert errors(output) == [
        f"{setting}: {value!r} is not an ISO 8601 date or date-time "
        "(e.g. 2025-01-01 or 2025-01-01T00:00:00Z)"
    ], output.stderr
    assert server.requests == []


@pytest.mark.parametrize(
    "value", ["2026-06-10", "2026-06-10T00:00:00Z", "2026-06-10T02:00:00+02:00", "20260610"]
)
def test_iso_8601_dates_in_every_form_are_the_same_instant(server: FakeWebex, value: str) -> None:
    output = run_cli(config_for(server, start_date=value, **WEEK))
    assert output.exit_code == 0, output.stderr
    assert output.records()
    assert min(r["start"] for r in output.records()) >= "2026-06-10T00:00:00Z"


# 3. The id of one meeting in meeting_series_ids -------------------------------------------


def test_a_meeting_id_among_series_ids_is_named_with_its_series_and_skipped(
    server: FakeWebex,
) -> None:
    series, other = server.series_ids(ALICE)[:2]
    scheduled = f"{other}_20260615T090000Z"
    output = run_cli(config_for(server, meeting_series_ids=[scheduled, series], **WEEK))
    assert output.exit_code == 0, output.stderr
    assert levelled(output.stderr, "WARNING") == [
        f"meeting_series_ids: {scheduled!r} is a scheduled meeting of the series {other}, "
        f"not a series (its series id is {other}); extracting the other series"
    ], output.stderr
    assert output.ids("meeting_series") == [series]
    assert {r["meetingSeriesId"] for r in output.records()} == {series}
    assert not any(scheduled in request.path for request in server.requests)


def test_only_meeting_ids_in_series_ids_fails_before_any_request(server: FakeWebex) -> None:
    series = server.series_ids(ALICE)[0]
    instance = f"{series}_I_167427437874906709"
    output = run_cli(config_for(server, meeting_series_ids=[instance]))
    assert output.exit_code == 1
    assert errors(output) == [
        f"meeting_series_ids: {instance!r} is a meeting instance of the series {series}, "
        f"not a series (its series id is {series}); no series left to extract"
    ], output.stderr
    assert server.requests == []


def test_meeting_type_meeting_series_is_refused(server: FakeWebex) -> None:
    output = run_cli(config_for(server, meeting_type="meetingSeries"))
    assert output.exit_code == 1
    assert errors(output) == [
        "meeting_type: 'meetingSeries' is not one of scheduledMeeting, meeting"
    ], output.stderr
    assert server.requests == []


# 9. A wrong client secret is not blamed on the refresh token ------------------------------


def test_a_wrong_client_secret_is_named_as_such(server: FakeWebex) -> None:
    config = config_for(
        server,
        access_token=None,
        client_id="sandbox-client",
        client_secret="not-the-secret",
        refresh_token="sandbox-refresh",
    )
    output = run_cli(config)
    assert output.exit_code == 1
    (line,) = errors(output)
    assert line.startswith(
        "Webex refused the client_id or client_secret (401: invalid_client: Invalid client_id "
        "or client_secret."
    ), line
    assert "trackingId ROUTER_" in line
    assert line.endswith("Copy both from your integration's page on developer.webex.com."), line
    assert "refresh token" not in line
    assert "not-the-secret" not in output.stderr
    assert output.records() == []


# 7. Lists and numbers as text (what Meltano passes on for its kind: string) ----------------


def test_a_list_and_a_number_given_as_text_are_read_as_typed(server: FakeWebex) -> None:
    a, b = server.series_ids(ALICE)[:2]
    output = run_cli(
        config_for(server, meeting_series_ids=f"{a}, {b}", lookback_days="0.5", **WEEK)
    )
    assert output.exit_code == 0, output.stderr
    assert {r["meetingSeriesId"] for r in output.records()} == {a, b}
    json_list = run_cli(config_for(server, meeting_series_ids=f'["{a}"]', **WEEK))
    assert {r["meetingSeriesId"] for r in json_list.records()} == {a}
