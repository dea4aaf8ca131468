"""What a user reads when something is wrong: one line, in one style, and the exit code.

Each test runs the installed ``tap-webex-meetings`` command as a user does and asserts on
the lines it prints on stderr: ``setting: what is wrong (what is allowed)``, once, never a
traceback (that is for ``TAP_WEBEX_MEETINGS_LOGLEVEL=DEBUG``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fake_webex import FakeWebex

from tests.tap_runner import TAP_COMMAND, TapOutput, config_for, run_cli

ALICE = "alice@example.com"
UNKNOWN = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")


def levelled(stderr: str, level: str) -> list[str]:
    """The messages (after the logger's columns) of the lines logged at ``level``."""
    return [
        line.rsplit(" | ", 1)[-1] for line in stderr.splitlines() if f"| {level.ljust(8)} |" in line
    ]


def errors(output: TapOutput) -> list[str]:
    return levelled(output.stderr, "ERROR")


def run_command(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> TapOutput:
    """``tap-webex-meetings`` with these arguments and only the given settings variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TAP_WEBEX_MEETINGS_")}
    completed = subprocess.run(
        [TAP_COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        cwd=cwd,
        check=False,
    )
    return TapOutput([], completed.stderr, completed.returncode, completed.stdout)


# Point 7: the schema's errors, in the tap's style, once -----------------------------------

SCHEMA_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"page_size": 0}, "page_size: 0 is below the minimum 1 (1..100)"),
    ({"page_size": 101}, "page_size: 101 is above the maximum 100 (1..100)"),
    ({"page_size": "ten"}, "page_size: 'ten' is not an integer (1..100)"),
    ({"lookback_days": -1}, "lookback_days: -1 is below the minimum 0 (0..3650)"),
    ({"request_timeout": 0}, "request_timeout: 0 must be greater than 0"),
    (
        {"meeting_type": "webinar"},
        "meeting_type: 'webinar' is not one of scheduledMeeting, meeting",
    ),
    ({"host_emails": {"bob": 1}}, "host_emails: {'bob': 1} is not a list"),
    ({"start_date": None}, "start_date: required but not set"),
    ({"access_token": 12345}, "access_token: the value given is not a string"),
]


@pytest.mark.parametrize(
    ("overrides", "line"), SCHEMA_ERRORS, ids=[line.split(":")[0] for _, line in SCHEMA_ERRORS]
)
def test_a_schema_error_is_one_line_in_the_tap_style(
    server: FakeWebex, overrides: dict[str, Any], line: str
) -> None:
    output = run_cli(config_for(server, **overrides))

    assert output.exit_code == 1
    assert errors(output) == [line], output.stderr
    assert "Config validation failed" not in output.stderr
    assert "WARNING" not in output.stderr
    assert "Traceback" not in output.stderr
    assert "12345" not in output.stderr  # a secret's value is never echoed
    assert server.requests == []


# Values so large (or so far) that date arithmetic or a wait would overflow: refused, with
# the allowed range, before any request (as read from a JSON config file: Decimal numbers).
OUT_OF_RANGE: list[tuple[dict[str, Any], str]] = [
    ({"lookahead_days": 1e12}, "lookahead_days: 1000000000000 is above the maximum 3650 (0..3650)"),
    ({"lookback_days": 1e12}, "lookback_days: 1000000000000.0 is above the maximum 3650 (0..3650)"),
    (
        {"request_timeout": 1e12},
        "request_timeout: 1000000000000.0 is above the maximum 3600 (> 0, at most 3600)",
    ),
    (
        {"retry_max_wait_seconds": 1e12},
        "retry_max_wait_seconds: 1000000000000.0 is above the maximum 3600 (0..3600)",
    ),
    (
        {"start_date": "0001-01-01T00:00:00+05:00"},
        "start_date: '0001-01-01T00:00:00+05:00' is out of range (years 1970 to 8999)",
    ),
    (
        {"end_date": "9999-12-31T23:59:59Z"},
        "end_date: '9999-12-31T23:59:59Z' is out of range (years 1970 to 8999)",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "line"), OUT_OF_RANGE, ids=[line.split(":")[0] for _, line in OUT_OF_RANGE]
)
def test_a_value_out_of_range_is_one_line_with_the_allowed_range(
    server: FakeWebex, overrides: dict[str, Any], line: str
) -> None:
    output = run_cli(config_for(server, **overrides))

    assert output.exit_code == 1
    assert errors(output) == [line], output.stderr
    assert "Traceback" not in output.stderr
    assert server.requests == []


def test_every_bad_setting_is_reported_at_once_each_once(server: FakeWebex) -> None:
    config = config_for(server, page_size=0, meeting_type="webinar", timezone="Mars/Olympus")
    output = run_cli(config)
    assert output.exit_code == 1
    assert sorted(errors(output)) == [
        "meeting_type: 'webinar' is not one of scheduledMeeting, meeting",
        "page_size: 0 is below the minimum 1 (1..100)",
        "timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)",
    ], output.stderr


def test_discover_without_settings_is_quiet(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{}")
    output = run_command("--config", str(config), "--discover")
    assert output.exit_code == 0, output.stderr
    assert json.loads(output.stdout)["streams"]
    assert levelled(output.stderr, "WARNING") == []
    assert errors(output) == []


# Point 2: a setting from the environment that the SDK cannot convert ----------------------


def test_a_bad_integer_in_the_environment_names_the_setting(server: FakeWebex) -> None:
    env = {
        "TAP_WEBEX_MEETINGS_API_URL": server.api_url,
        "TAP_WEBEX_MEETINGS_ACCESS_TOKEN": "sandbox-token",
        "TAP_WEBEX_MEETINGS_START_DATE": "2025-06-01T00:00:00Z",
        "TAP_WEBEX_MEETINGS_PAGE_SIZE": "abc",
    }
    output = run_command("--config", "ENV", env=env)
    assert output.exit_code == 1
    assert errors(output) == ["page_size: 'abc' is not an integer (1..100)"], output.stderr
    assert "Traceback" not in output.stderr
    assert server.requests == []


# Point 8: a --config file that cannot be read ---------------------------------------------


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    output = run_command("--config", "does-not-exist.json", cwd=tmp_path)
    assert output.exit_code == 1
    assert errors(output) == ["--config: does-not-exist.json: no such file"], output.stderr
    assert "Traceback" not in output.stderr


def test_a_malformed_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"start_date": "2025-01-01",}')
    output = run_command("--config", str(config))
    assert output.exit_code == 1
    assert errors(output) == [
        f"--config: {config}: not valid JSON (Expecting property name enclosed in double "
        "quotes at line 1 column 29)"
    ], output.stderr
    assert "Traceback" not in output.stderr


def test_a_number_beyond_a_float_in_a_config_file_is_one_line(
    server: FakeWebex, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(server))[:-1] + ', "lookahead_days": 1e999}')
    output = run_command("--config", str(config))
    assert output.exit_code == 1
    # one line, though inf is both not an integer and above the maximum
    assert errors(output) == ["lookahead_days: inf is not an integer (0..3650)"], output.stderr
    assert server.requests == []


def test_infinity_or_nan_in_a_config_file_is_not_json(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"start_date": "2025-01-01", "lookahead_days": Infinity}')
    output = run_command("--config", str(config))
    assert output.exit_code == 1
    assert errors(output) == [
        f"--config: {config}: not valid JSON (Infinity is not a JSON number)"
    ], output.stderr
    assert "Traceback" not in output.stderr


# Point 3: a start_date after the end of the range ----------------------------------------


def test_start_date_after_the_range_end_is_named_before_any_request(server: FakeWebex) -> None:
    output = run_cli(config_for(server, start_date="2099-01-01T00:00:00Z"))
    assert output.exit_code == 1
    (line,) = errors(output)
    assert line.startswith(
        "start_date: 2099-01-01T00:00:00Z is not before the end of the range "
        "(run start + lookahead_days = "
    ), line
    assert line.endswith("); set end_date or an earlier start_date"), line
    assert server.requests == []


def test_a_future_start_date_with_an_end_date_is_fine(server: FakeWebex) -> None:
    output = run_cli(
        config_for(server, start_date="2099-01-01T00:00:00Z", end_date="2099-02-01T00:00:00Z")
    )
    assert output.exit_code == 0, output.stderr
    assert levelled(output.stderr, "WARNING") == [
        "No meeting series found for the token's user with meetings from 2099-01-01T00:00:00Z "
        "to 2099-02-01T00:00:00Z; nothing to extract (check start_date, end_date and "
        "lookahead_days, or set meeting_series_ids)"
    ], output.stderr


# Point 9: a timestamp without offset is UTC ----------------------------------------------


def test_a_naive_start_date_is_taken_as_utc(server: FakeWebex) -> None:
    """A timestamp without offset, with microseconds (what Meltano's date kind hands over)."""
    naive = run_cli(
        config_for(server, start_date="2026-06-10T00:00:00.000001", end_date="2026-06-20T00:00:00")
    )
    utc = run_cli(
        config_for(
            server, start_date="2026-06-10T00:00:00.000001Z", end_date="2026-06-20T00:00:00Z"
        )
    )
    assert naive.exit_code == utc.exit_code == 0, naive.stderr + utc.stderr
    assert naive.ids()
    assert naive.ids() == utc.ids()


# Point 4: configured series that do not exist; discovery that finds none ----------------


def test_no_configured_series_exists_fails_naming_them(server: FakeWebex) -> None:
    output = run_cli(config_for(server, meeting_series_ids=list(UNKNOWN)))
    assert output.exit_code == 1
    assert errors(output) == [
        "meeting_series_ids: none of the configured series exists (Webex answered 404 for "
        f"{UNKNOWN[0]}, {UNKNOWN[1]}); nothing to extract"
    ], output.stderr
    assert output.records() == []


def test_some_configured_series_missing_warns_and_goes_on(server: FakeWebex) -> None:
    known = server.series_ids(ALICE)[0]
    output = run_cli(
        config_for(server, meeting_series_ids=[UNKNOWN[0], known], end_date="2026-06-20T00:00:00Z")
    )
    assert output.exit_code == 0, output.stderr
    warnings = levelled(output.stderr, "WARNING")
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"Meeting series {UNKNOWN[0]} was not found;"), warnings
    assert {r["meetingSeriesId"] for r in output.records()} == {known}


def test_discovery_that_finds_nothing_says_for_whom_and_when(server: FakeWebex) -> None:
    config = config_for(
        server,
        start_date="2001-01-01T00:00:00Z",
        end_date="2001-02-01T00:00:00Z",
        host_emails=["bob@example.com"],
    )
    output = run_cli(config)
    assert output.exit_code == 0, output.stderr
    assert levelled(output.stderr, "WARNING") == [
        "No meeting series found for the token's user and bob@example.com with meetings from "
        "2001-01-01T00:00:00Z to 2001-02-01T00:00:00Z; nothing to extract (check start_date, "
        "end_date and lookahead_days, or set meeting_series_ids)"
    ], output.stderr


# Point 6: one line per retry, one when giving up -----------------------------------------


def is_series_query(request: Any) -> bool:
    return "meetingSeriesId" in request.params


def test_each_retry_is_one_line(server: FakeWebex) -> None:
    server.inject(503, times=2, match=is_series_query)
    output = run_cli(
        config_for(server, end_date="2026-06-20T00:00:00Z", retry_max_wait_seconds=0.1)
    )
    assert output.exit_code == 0, output.stderr
    retry_lines = [
        line for line in output.stderr.splitlines() if "503" in line and "METRIC" not in line
    ]
    assert len(retry_lines) == 2, retry_lines
    assert all(
        "| WARNING  |" in line and "Retrying series_meetings" in line for line in retry_lines
    )
    assert "Backing off" not in output.stderr


def test_giving_up_is_one_line(server: FakeWebex) -> None:
    server.inject(503, times=50, match=is_series_query)
    output = run_cli(config_for(server, retry_max_tries=2, retry_max_wait_seconds=0.1))
    assert output.exit_code == 1
    assert [line for line in output.stderr.splitlines() if "giving up" in line.lower()] == [
        line for line in output.stderr.splitlines() if "| ERROR" in line
    ]
    (line,) = errors(output)
    assert line.startswith("Webex kept failing, giving up after the last retry: 503"), line
    assert "Backing off" not in output.stderr


# Point 13: the sandbox on a port in use --------------------------------------------------


def test_sandbox_on_a_port_in_use_says_port_0_picks_a_free_one() -> None:
    sandbox = str(Path(TAP_COMMAND).with_name("tap-webex-meetings-sandbox"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sandbox, "--port", str(port)], capture_output=True, text=True, timeout=30, check=False
        )
    assert completed.returncode == 1
    assert completed.stderr.splitlines() == [
        f"tap-webex-meetings-sandbox: port {port} is in use; --port 0 picks a free one"
    ]
    assert completed.stdout == ""
