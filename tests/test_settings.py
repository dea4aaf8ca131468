"""Every bad setting stops the tap before its first request, naming the setting."""

from __future__ import annotations

from typing import Any

import pytest

from tap_webex_meetings.sandbox import FakeWebex
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
