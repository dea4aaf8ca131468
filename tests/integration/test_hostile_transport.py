"""Hostile answers on the way in: the token endpoint, sizes, depths, waits, and no network.

Each test runs the installed command against a scripted server on 127.0.0.1
(tests/hostile.py), or against nothing at all, and asserts what a user sees: the exit code,
the one ERROR line naming the host, series or setting, the records, the requests, how long
it took, and for the big bodies the tap's peak memory.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tap_webex_meetings import retries
from tap_webex_meetings.auth import MAX_TOKEN_LIFETIME
from tap_webex_meetings.settings import CONFIG_SCHEMA
from tap_webex_meetings.transport import MAX_RESPONSE_BYTES
from tests.hostile import (
    Answer,
    FullServer,
    Received,
    Script,
    ScriptedServer,
    SilentServer,
    meeting,
    series_then,
)
from tests.integration.test_hostile import FAIL_FAST, START, levelled, scripted_config
from tests.tap_runner import RETRYING, TAP_COMMAND, run_cli

MEETING = meeting("S_20260610T090000Z", "2026-06-10T09:00:00Z")
MIB = 1024 * 1024


def oauth_config(server: ScriptedServer, **overrides: Any) -> dict[str, Any]:
    config = scripted_config(
        server, client_id="client", client_secret="cs-SECRET", refresh_token="rt-SECRET"
    )
    del config["access_token"]
    return config | overrides


def token(expires_in: str = "3600") -> Answer:
    """A token endpoint's answer, ``expires_in`` as raw JSON text."""
    return Answer(body=f'{{"access_token": "at-1", "expires_in": {expires_in}}}')


def with_token(token_answers: Callable[[int], Answer], pages: Script) -> Script:
    """A script: the ``n``-th token request (from 0) gets ``token_answers(n)``; else ``pages``."""
    count = itertools.count()
    listing = series_then(pages)

    def answer(request: Received) -> Answer:
        if request.path == "/v1/access_token":
            return token_answers(next(count))
        return listing(request)

    return answer


def one_page(request: Received) -> Answer:
    return Answer(body={"items": [MEETING]})


def token_requests(server: ScriptedServer) -> int:
    return sum(r.path == "/v1/access_token" for r in server.requests)


# The token endpoint ---------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["503", "a dropped connection"])
def test_a_token_endpoint_failing_once_is_retried_like_any_request(failure: str) -> None:
    first = Answer(503, body={"message": "Service Unavailable", "trackingId": "T-1"})
    if failure == "a dropped connection":
        first = Answer(drop=True)
    script = with_token(lambda n: first if n == 0 else token(), one_page)
    with ScriptedServer(script) as webex:
        output = run_cli(oauth_config(webex, retry_max_wait_seconds=0.1))

    assert output.exit_code == 0, output.stderr
    assert output.ids() == [MEETING["id"]]
    assert token_requests(webex) == 2
    (retry,) = levelled(output, "WARNING")
    assert retry.startswith("Retrying meeting_series, lookup of S in "), retry
    if failure == "503":
        assert retry.endswith(
            f"503 Service Unavailable (trackingId T-1), for the access token "
            f"({webex.api_url}/access_token)"
        ), retry
    assert levelled(output, "ERROR") == []


@pytest.mark.parametrize(
    ("answer", "advice"),
    [
        (Answer(503, body={"message": "down"}), False),
        (Answer(400, body={"error": "invalid_grant", "message": "expired"}), True),
        (Answer(400, body={"error": "invalid_request", "message": "no"}), False),
    ],
    ids=["503 every time", "400 invalid_grant", "400 invalid_request"],
)
def test_only_invalid_grant_asks_to_authorise_the_integration_again(
    answer: Answer, advice: bool
) -> None:
    with ScriptedServer(with_token(lambda n: answer, one_page)) as webex:
        output = run_cli(oauth_config(webex, **FAIL_FAST))

    assert output.exit_code == 1, output.stderr
    (line,) = levelled(output, "ERROR")
    assert ("authorise the integration again" in line) is advice, line
    if answer.status == 503:
        assert line.startswith("Webex kept failing, giving up after the last retry: 503 down")
        assert token_requests(webex) == FAIL_FAST["retry_max_tries"]
    assert output.records("meeting_series") == []


# expires_in ----------------------------------------------------------------------------

PAGES = 5


def five_pages(request: Received) -> Answer:
    """Five pages of one meeting each, linked: six API requests with the lookup."""
    page = int(request.params.get("cursor", ["0"])[0])
    day = 10 + page
    body = {"items": [meeting(f"S_202606{day}T090000Z", f"2026-06-{day}T09:00:00Z")]}
    if page + 1 == PAGES:
        return Answer(body=body)
    link = f"<{request.headers['host']}/v1/meetings?meetingSeriesId=S&cursor={page + 1}>"
    return Answer(body=body, headers={"Link": f'<http://{link[1:-1]}>; rel="next"'})


@pytest.mark.parametrize(
    ("expires_in", "warned"),
    [
        ("-1", "not a lifetime in seconds"),
        ("10", None),
        ("60", None),
        (str(10**30), f"longer than {MAX_TOKEN_LIFETIME.days} days"),
        ("1e999", f"longer than {MAX_TOKEN_LIFETIME.days} days"),
        ('"3600.5"', None),
    ],
)
def test_an_odd_expires_in_costs_one_token_request_and_is_said(
    expires_in: str, warned: str | None
) -> None:
    with ScriptedServer(with_token(lambda n: token(expires_in), five_pages)) as webex:
        output = run_cli(oauth_config(webex, max_workers=1))

    assert output.exit_code == 0, output.stderr
    assert len(output.ids()) == PAGES
    assert token_requests(webex) == 1  # one token for 6 API requests, all within seconds
    api = [r for r in webex.requests if r.path != "/v1/access_token"]
    assert len(api) == 1 + PAGES
    assert {r.headers["authorization"] for r in api} == {"Bearer at-1"}
    warnings = levelled(output, "WARNING")
    if warned is None:
        assert warnings == [], output.stderr
    else:
        (line,) = warnings
        assert line.startswith(
            f"The token endpoint {webex.api_url}/access_token answered expires_in "
        ), line
        assert warned in line, line
    assert "without an access token" not in output.stderr


# Response size --------------------------------------------------------------------------


@functools.cache
def gzip_of_zeros(gib: int) -> bytes:
    """A gzip body that inflates to ``gib`` GiB of zeros (1 GiB: about 1 MB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MIB)
    member = b"".join(compressor.compress(block) for _ in range(1024)) + compressor.flush()
    return member * gib  # gzip members in a row are one gzip body


PADDING = b'{"items": [], "padding": "'


def page_of_mib(count: int) -> Iterator[bytes]:
    yield PADDING
    for _ in range(count):
        yield b"x" * MIB


def endless() -> Iterator[bytes]:
    while True:
        yield b" " * (64 * 1024)


def in_pieces(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), MIB):
        yield body[start : start + MIB]


BIG_BODIES: dict[str, Callable[[], Answer]] = {
    "a 300 MB page": lambda: Answer(
        chunks=lambda: page_of_mib(300), length=len(PADDING) + 300 * MIB
    ),
    "1 MB of gzip to 1 GiB": lambda: Answer(
        chunks=lambda: in_pieces(gzip_of_zeros(1)),
        length=len(gzip_of_zeros(1)),
        headers={"Content-Encoding": "gzip"},
    ),
    "10 MB of gzip to 10 GiB": lambda: Answer(
        chunks=lambda: in_pieces(gzip_of_zeros(10)),
        length=len(gzip_of_zeros(10)),
        headers={"Content-Encoding": "gzip"},
    ),
    "an endless chunked body": lambda: Answer(chunks=endless),
}


@pytest.mark.parametrize("body", list(BIG_BODIES))
def test_a_huge_response_is_refused_at_the_cap_in_bounded_memory(body: str) -> None:
    answer = BIG_BODIES[body]()
    with ScriptedServer(series_then(lambda request: answer)) as webex:
        started = time.monotonic()
        output = run_cli(scripted_config(webex, **FAIL_FAST), measure_memory=True)
        elapsed = time.monotonic() - started

    assert output.exit_code == 1, output.stderr
    assert levelled(output, "ERROR") == [
        f"The response to {webex.api_url}/meetings, for series S, is larger than "
        f"{MAX_RESPONSE_BYTES // MIB} MiB once decoded (a Webex page is about 0.3 MB); "
        "stopped reading it. Something between the tap and Webex sent it: check api_url "
        "and any proxy."
    ], output.stderr
    assert output.peak_memory_mib is not None
    print(f"{body}: peak {output.peak_memory_mib:.0f} MiB in {elapsed:.1f} s")
    assert output.peak_memory_mib < 200, output.peak_memory_mib
    assert elapsed < 30


# Bodies nested too deep -----------------------------------------------------------------


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("where", ["a page, 2,000 levels", "a lookup, 5,000 levels"])
def test_json_nested_absurdly_deep_is_a_bad_body_retried_then_named(where: str) -> None:
    lookup = where.startswith("a lookup")
    deep = Answer(
        body=f'{{"id": "S", "start": "2026-06-10T09:00:00Z", "x": {nested(5000)}}}'
        if lookup
        else f'{{"items": [{nested(2000)}]}}'
    )

    def script(request: Received) -> Answer:
        if lookup and request.path == "/v1/meetings/S":
            return deep
        return series_then(lambda r: deep)(request)

    with ScriptedServer(script) as webex:
        output = run_cli(scripted_config(webex, **FAIL_FAST))

    assert output.exit_code == 1, output.stderr
    subject = "the lookup of S" if lookup else "series S"
    assert levelled(output, "ERROR") == [
        "Webex kept failing, giving up after the last retry: 200 with a bad body (response "
        f"body is JSON nested too deep), for {subject}"
    ], output.stderr
    (retry,) = levelled(output, "WARNING")
    assert retry.endswith(f"nested too deep), for {subject}"), retry


# Retry-After ----------------------------------------------------------------------------


def test_a_retry_after_of_unicode_digits_is_a_missing_one() -> None:
    answers = iter([Answer(429, body={"message": "slow down"}, headers={"Retry-After": "²"})])

    def pages(request: Received) -> Answer:
        return next(answers, Answer(body={"items": [MEETING]}))

    with ScriptedServer(series_then(pages)) as webex:
        output = run_cli(scripted_config(webex))

    assert output.exit_code == 0, output.stderr
    assert output.ids() == [MEETING["id"]]
    (retry,) = levelled(output, "WARNING")
    match = RETRYING.search(retry)
    assert match, retry
    assert 1 <= float(match["wait"]) <= 1.2  # the first exponential wait, with jitter


def largest_accepted(setting: str) -> float:
    """The largest value the settings accept (the schema's maximum), else an absurd one."""
    return float(CONFIG_SCHEMA["properties"][setting].get("maximum", 1e12))


def test_no_wait_is_longer_than_the_documented_maximum_whatever_retry_after_says() -> None:
    always = Answer(429, body={"message": "come back tomorrow"}, headers={"Retry-After": "86400"})
    with ScriptedServer(series_then(lambda request: always)) as webex:
        config = scripted_config(
            webex, retry_max_wait_seconds=largest_accepted("retry_max_wait_seconds")
        )
        with tempfile.TemporaryDirectory() as folder:
            config_path = Path(folder) / "config.json"
            config_path.write_text(json.dumps(config))
            process = subprocess.Popen(
                [TAP_COMMAND, "--config", str(config_path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ,
            )
            try:
                assert process.stderr is not None
                retry = next(line for line in process.stderr if "Retrying" in line)
            finally:
                process.kill()
                process.wait(timeout=10)
                if process.stderr is not None:
                    process.stderr.close()

    match = RETRYING.search(retry)
    assert match, retry
    assert float(match["wait"]) <= retries.MAX_WAIT_SECONDS, retry


# No network -----------------------------------------------------------------------------


def unreachable_config(api_url: str, **overrides: Any) -> dict[str, Any]:
    config = {"api_url": api_url, "access_token": "sandbox-token", "start_date": START.isoformat()}
    return config | overrides


@pytest.mark.parametrize("cause", ["DNS", "TLS", "connection timeout", "silence"])
def test_a_host_that_never_answers_is_named_with_the_cause_after_a_few_quick_tries(
    cause: str,
) -> None:
    with ScriptedServer(one_page) as plain, SilentServer() as silent, FullServer() as full:
        api_url, expected = {
            "DNS": (
                "https://webex.invalid/v1",
                "the host name webex.invalid does not resolve (DNS: ",
            ),
            "TLS": (plain.api_url.replace("http://", "https://"), "TLS with 127.0.0.1 failed ("),
            "connection timeout": (
                full.api_url,
                "no connection to 127.0.0.1 within 1 s (a firewall, or no network?)",
            ),
            "silence": (
                silent.api_url,
                "127.0.0.1 sent no answer within request_timeout (1 s); is api_url the Webex "
                "API, and is it reachable from here?",
            ),
        }[cause]
        started = time.monotonic()
        output = run_cli(unreachable_config(api_url, request_timeout=1), timeout=60)
        elapsed = time.monotonic() - started

    assert output.exit_code == 1, output.stderr
    (line,) = levelled(output, "ERROR")
    assert line.startswith(f"Could not connect to {api_url}/meetings: {expected}"), line
    retries_logged = levelled(output, "WARNING")
    assert len(retries_logged) == retries.UNREACHABLE_TRIES - 1, output.stderr
    assert all(expected in retry for retry in retries_logged), retries_logged
    assert "Traceback" not in output.stderr
    assert elapsed < 20  # three tries, waits of about 1 and 2 s, and the command's start
