"""No credential is ever printed: not in records, logs or errors, at any log level."""

from __future__ import annotations

from typing import Any

from fake_webex import FakeWebex, RecordedRequest, Token

from tests.hostile import Answer, Received, ScriptedServer
from tests.tap_runner import config_for, run_cli

ACCESS_TOKEN = "pat-SECRET-ACCESS-7f3a9c"
CLIENT_SECRET = "cs-SECRET-CLIENT-51d0"
REFRESH_TOKEN = "rt-SECRET-REFRESH-a8e2"
MEETING_PASSWORD = "mp-SECRET-MEETING-93b1"
DEBUG = {"TAP_WEBEX_MEETINGS_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}


def is_series_query(request: RecordedRequest) -> bool:
    return "meetingSeriesId" in request.params


def oauth_config(server: FakeWebex) -> dict[str, Any]:
    return config_for(
        server,
        access_token=None,
        client_id="sandbox-client",
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        end_date="2026-06-20T00:00:00Z",
    )


def assert_never_printed(printed: str, secrets: list[str]) -> None:
    leaked = [secret for secret in secrets if secret in printed]
    assert leaked == [], f"printed: {leaked}"


def test_access_token_and_meeting_password_never_printed_at_debug(server: FakeWebex) -> None:
    server.tokens[ACCESS_TOKEN] = Token(email="alice@example.com", admin=True)
    server.inject(429, headers={"Retry-After": "1"}, match=is_series_query)
    server.inject(500, match=is_series_query)
    server.inject(400, match=lambda r: is_series_query(r) and "cursor" in r.params)
    output = run_cli(
        config_for(
            server, access_token=ACCESS_TOKEN, meeting_password=MEETING_PASSWORD, page_size=20
        ),
        env=DEBUG,
    )

    assert output.exit_code == 1  # the 400 is fatal: the error path is covered too
    assert "| DEBUG" in output.stderr
    assert any(r.headers.get("authorization") == f"Bearer {ACCESS_TOKEN}" for r in server.requests)
    assert any(r.headers.get("password") == MEETING_PASSWORD for r in server.requests)
    assert_never_printed(output.stdout + output.stderr, [ACCESS_TOKEN, MEETING_PASSWORD])


def test_oauth_secrets_and_issued_tokens_never_printed_at_debug(server: FakeWebex) -> None:
    server.refresh_tokens.add(REFRESH_TOKEN)
    server.oauth_clients["sandbox-client"] = CLIENT_SECRET
    server.rotate_refresh_tokens = True
    server.inject(401, match=is_series_query)
    output = run_cli(oauth_config(server), env=DEBUG)

    assert output.exit_code == 0, output.stderr[-2000:]
    issued = [token for token in server.tokens if token != "sandbox-token"]
    rotated = [t for t in server.refresh_tokens if t not in (REFRESH_TOKEN, "sandbox-refresh")]
    assert issued
    assert rotated
    assert_never_printed(
        output.stdout + output.stderr, [CLIENT_SECRET, REFRESH_TOKEN, *issued, *rotated]
    )


def test_bad_credentials_errors_do_not_echo_them(server: FakeWebex) -> None:
    output = run_cli(oauth_config(server), env=DEBUG)
    assert output.exit_code == 1
    assert_never_printed(output.stdout + output.stderr, [CLIENT_SECRET, REFRESH_TOKEN])

    refused = run_cli(config_for(server, access_token=ACCESS_TOKEN), env=DEBUG)
    assert refused.exit_code == 1
    assert "refused the access token" in refused.stderr
    assert_never_printed(refused.stdout + refused.stderr, [ACCESS_TOKEN])


# Credentials as pasted --------------------------------------------------------------------


def test_a_token_with_a_trailing_newline_or_a_bearer_prefix_works(server: FakeWebex) -> None:
    server.tokens[ACCESS_TOKEN] = Token(email="alice@example.com", admin=True)
    for pasted in (f"{ACCESS_TOKEN}\n", f"Bearer {ACCESS_TOKEN}", f"  bearer {ACCESS_TOKEN} \r\n"):
        output = run_cli(
            config_for(
                server,
                access_token=pasted,
                meeting_password=f"{MEETING_PASSWORD}\n",
                end_date="2026-06-20T00:00:00Z",
            ),
            env=DEBUG,
        )
        assert output.exit_code == 0, output.stderr[-2000:]
        assert output.records()
        assert_never_printed(output.stdout + output.stderr, [ACCESS_TOKEN, MEETING_PASSWORD])
    sent = {(r.headers.get("authorization"), r.headers.get("password")) for r in server.requests}
    assert sent == {(f"Bearer {ACCESS_TOKEN}", MEETING_PASSWORD)}


def test_a_token_broken_inside_is_one_line_naming_the_setting(server: FakeWebex) -> None:
    broken = f"{ACCESS_TOKEN[:8]}\n{ACCESS_TOKEN[8:]}"
    output = run_cli(config_for(server, access_token=broken), env=DEBUG)
    assert output.exit_code == 1
    errors = [line.rsplit(" | ", 1)[-1] for line in output.stderr.splitlines() if "| ERROR" in line]
    assert errors == [
        "access_token: has a space, line break or non-ASCII character inside, which no Webex "
        "credential has (paste it again, alone)"
    ], output.stderr
    assert server.requests == []
    assert_never_printed(output.stdout + output.stderr, [ACCESS_TOKEN[:8], ACCESS_TOKEN[8:]])


def test_an_oauth_error_that_echoes_the_form_is_shown_without_it() -> None:
    def echo(request: Received) -> Answer:
        return Answer(
            400,
            {"error": "invalid_client", "message": f"Bad request: {request.body.decode()}"},
        )

    with ScriptedServer(echo) as oauth:
        output = run_cli(
            {
                "api_url": oauth.api_url,
                "client_id": "sandbox-client",
                "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN,
                "start_date": "2026-06-01T00:00:00Z",
            },
            env=DEBUG,
        )
    assert output.exit_code == 1
    assert [r.path for r in oauth.requests] == ["/v1/access_token"]
    assert CLIENT_SECRET in oauth.requests[0].body.decode()  # it was echoed back
    refused = "refused the client_id or client_secret (400: invalid_client: Bad request:"
    assert refused in output.stderr
    assert "<redacted>" in output.stderr
    assert_never_printed(output.stdout + output.stderr, [CLIENT_SECRET, REFRESH_TOKEN])
