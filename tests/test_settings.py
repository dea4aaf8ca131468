"""Every bad setting stops the tap before its first request, naming the setting."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tap_webex_meetings.settings import CONFIG_SCHEMA, UNTYPED, Settings
from tests.tap_runner import config_for, run_cli

BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"page_size": 0}, "page_size"),
    ({"page_size": 101}, "page_size"),
    ({"start_date": "last tuesday"}, "start_date"),
    ({"start_date": None}, "start_date"),
    ({"end_date": "2025-13-45"}, "end_date"),
    ({"end_date": "2025-01-01T00:00:00Z"}, "end_date"),  # before start_date
    ({"meeting_type": "webinar"}, "meeting_type"),
    ({"state": "finished"}, "state"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"host_emails": ["bob@example.com", "not-an-email"]}, "host_emails"),
    ({"access_token": None}, "access_token"),
    ({"access_token": None, "client_id": "c", "client_secret": "s"}, "refresh_token"),
    ({"api_url": "http://webexapis.com/v1"}, "api_url"),
    ({"api_url": "ftp://127.0.0.1/v1"}, "api_url"),
    ({"api_url": "https://webexapis.com"}, "api_url"),
    ({"lookback_days": -1}, "lookback_days"),
    ({"secret_fields": ["pasword"]}, "secret_fields"),
]


@pytest.mark.parametrize(
    ("overrides", "setting"),
    BAD_SETTINGS,
    ids=[f"{s}-{i}" for i, (_, s) in enumerate(BAD_SETTINGS)],
)
def test_bad_setting_exits_before_any_request_naming_it(
    server: FakeWebex, overrides: dict[str, Any], setting: str
) -> None:
    output = run_cli(config_for(server, **overrides))

    assert output.exit_code != 0
    assert output.messages == []
    assert setting in output.stderr
    assert "Traceback" not in output.stderr
    assert server.requests == []


# A number of every numeric setting as a JSON config file may hold it: singer-sdk reads
# 0.5 and 30.0 as Decimal, which timedelta (and isinstance(x, float)) refuse.
NUMBERS_IN_A_FILE: dict[str, float] = {
    "lookahead_days": 30.0,
    "lookback_days": 0.5,
    "page_size": 50.0,
    "request_timeout": 30.5,
    "retry_max_tries": 3.0,
    "retry_max_wait_seconds": 0.5,
    "max_workers": 2.0,
    "shard_count": 1.0,
    "shard_index": 0.0,
}


def test_every_numeric_setting_is_read_from_a_config_file(server: FakeWebex) -> None:
    # singer-sdk adds its own flattening_* settings to the same dict once a tap object was
    # made in this process (another test's, under xdist): they are the SDK's, not the tap's.
    numeric = {
        name
        for name, spec in CONFIG_SCHEMA["properties"].items()
        if {"number", "integer"} & set(spec.get("type", [])) and not name.startswith("flattening_")
    }
    assert set(NUMBERS_IN_A_FILE) == numeric  # a new numeric setting is tested here too
    series = server.series_ids("alice@example.com")[0]
    config = config_for(server, meeting_series_ids=[series], **NUMBERS_IN_A_FILE)
    output = run_cli(config)  # the config goes in as a JSON file

    assert output.exit_code == 0, output.stderr
    assert output.ids()
    assert {str(r.params.get("max")) for r in server.requests if r.path == "/v1/meetings"} == {
        str(["50"])
    }

    shards = config | {"shard_count": 2.0, "shard_index": 3.0}
    refused = run_cli(shards)
    assert refused.exit_code == 1
    assert "shard_index: 3 must be below shard_count (2)" in refused.stderr


def test_good_settings_with_oauth_instead_of_a_token_run(server: FakeWebex) -> None:
    config = config_for(
        server,
        access_token=None,
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        refresh_token="sandbox-refresh",
        end_date="2026-06-20T00:00:00Z",
    )
    output = run_cli(config)
    assert output.exit_code == 0, output.stderr
    assert output.ids()
    assert server.requests[0].path == "/v1/access_token"


def test_http_is_allowed_for_loopback_only(server: FakeWebex) -> None:
    assert server.api_url.startswith("http://127.0.0.1:")
    localhost = server.api_url.replace("127.0.0.1", "localhost")
    output = run_cli(config_for(server, api_url=localhost, end_date="2026-06-20T00:00:00Z"))
    assert output.exit_code == 0, output.stderr


def test_an_api_url_without_v1_is_named_with_the_url_before_any_request(server: FakeWebex) -> None:
    base = server.api_url.removesuffix("/v1")
    output = run_cli(config_for(server, api_url=base))

    assert output.exit_code == 1
    named = [line for line in output.stderr.splitlines() if "api_url" in line]
    assert len(named) == 1, output.stderr
    assert named[0].endswith(
        f"api_url: {base!r} does not end in /v1 (Webex's API is at https://webexapis.com/v1)"
    ), named
    assert server.requests == []


def test_the_typed_view_is_the_schema_by_name_and_default() -> None:
    """Each setting is declared once, in the schema; Settings reads it by the same name."""
    typed = {field.name for field in fields(Settings)}
    assert typed == set(CONFIG_SCHEMA["properties"]) - UNTYPED
    assert set(CONFIG_SCHEMA["properties"]) >= UNTYPED
    read = Settings.from_config({"start_date": "2025-01-01T00:00:00Z"})
    for name in typed - {"start_date"}:
        value, default = getattr(read, name), CONFIG_SCHEMA["properties"][name].get("default")
        assert value == default if default is not None else value in ((), None), name
