"""A broken or hostile answer never leaks a credential, deletes a row, freezes a series or
hangs a run.

Each test runs the installed command against a fake Webex (the sandbox) or a scripted
server (tests/hostile.py) that answers what an attacker or a broken proxy would, and
asserts what a user sees: the request log of the other origin stays empty, no tombstone
without a 404, the exit code, one ERROR or WARNING line naming the thing, nothing extracted
before is lost, and a rerun is exact.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
from fake_webex import FakeWebex, RecordedRequest

from tap_webex_meetings.deletions import DELETED_AT
from tap_webex_meetings.timeutils import parse_api_timestamp
from tests.hostile import (
    Answer,
    Received,
    Script,
    ScriptedServer,
    meeting,
    series_then,
    trusting,
)
from tests.tap_runner import (
    TapOutput,
    config_for,
    finished_ids,
    partition_bookmarks,
    run_cli,
    series_in_state,
)

ALICE = "alice@example.com"
START = datetime(2025, 6, 1, tzinfo=timezone.utc)
END = datetime(2026, 6, 20, tzinfo=timezone.utc)
PASSWORD = "mp-SECRET-PASSWORD-41c7"
CLIENT_SECRET = "cs-SECRET-CLIENT-9e02"
REFRESH_TOKEN = "rt-SECRET-REFRESH-77d1"
# Quick failure: two tries, short waits.
FAIL_FAST = {"retry_max_tries": 2, "retry_max_wait_seconds": 0.1}


def levelled(output: TapOutput, level: str) -> list[str]:
    """The messages of the lines logged at ``level``."""
    return [
        line.rsplit(" | ", 1)[-1]
        for line in output.stderr.splitlines()
        if f"| {level.ljust(8)} |" in line
    ]


def of_series(series_id: str) -> Callable[[RecordedRequest], bool]:
    return lambda request: request.params.get("meetingSeriesId") == [series_id]


def is_lookup_of(meeting_id: str) -> Callable[[RecordedRequest], bool]:
    return lambda request: request.path == f"/v1/meetings/{meeting_id}"


def expected(server: FakeWebex, *series_ids: str) -> set[str]:
    return {m["id"] for s in series_ids for m in server.expected_meetings(s, START, END)}


def scripted_config(server: ScriptedServer, **overrides: Any) -> dict[str, Any]:
    """A config of series ``S`` on a scripted server."""
    config: dict[str, Any] = {
        "api_url": server.api_url,
        "access_token": "sandbox-token",
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "meeting_series_ids": ["S"],
    }
    return config | overrides


def port_of(server: FakeWebex) -> int:
    port = urlsplit(server.base_url).port
    assert port is not None
    return port


def two_series(server: FakeWebex, **overrides: Any) -> tuple[dict[str, Any], str, str]:
    """A config of the first two series (the first one extracted first) and their ids."""
    first, second = server.series_ids(ALICE)[:2]
    config = config_for(
        server,
        meeting_series_ids=[first, second],
        end_date=END.isoformat(),
        max_workers=1,
        meeting_password=PASSWORD,
        **FAIL_FAST,
        **overrides,
    )
    return config, first, second


@pytest.fixture
def elsewhere() -> Iterator[ScriptedServer]:
    """Another origin that would answer with meetings of its own: none may be read."""
    page = {"items": [meeting("FOREIGN_1"), meeting("FOREIGN_2")]}
    with ScriptedServer(lambda request: Answer(body=page)) as other:
        yield other


def assert_refused(output: TapOutput, url: str, origin: str) -> None:
    """Exit 1 with one ERROR line naming the refused URL (as it would have been sent)."""
    assert output.exit_code == 1, output.stderr
    (line,) = levelled(output, "ERROR")
    assert line.startswith(f"Refused to send a request to {url}"), line
    assert f"it is not on api_url's origin ({origin}), and the token, the meeting" in line, line
    assert not {"FOREIGN_1", "FOREIGN_2"} & set(output.ids())
    assert "Traceback" not in output.stderr


def origin_of(server: FakeWebex) -> str:
    return f"http://127.0.0.1:{port_of(server)}"


# Next links and redirects to another origin ---------------------------------------------


@pytest.mark.parametrize("where", ["another port", "another host name"])
def test_a_next_link_to_another_origin_is_refused_and_nothing_is_lost(
    server: FakeWebex, elsewhere: ScriptedServer, where: str
) -> None:
    config, first, second = two_series(server)
    origin = elsewhere.origin if where == "another port" else f"http://localhost:{port_of(server)}"
    foreign = f"{origin}/v1/meetings?meetingSeriesId={second}&cursor=Zm9yZWlnbg"
    server.inject(
        200,
        body={"items": []},
        headers={"Link": f'<{foreign}>; rel="next"'},
        match=of_series(second),
    )
    output = run_cli(config)

    assert_refused(output, foreign, origin_of(server))
    assert elsewhere.requests == []
    assert not [r for r in server.requests if r.headers.get("host", "").startswith("localhost")]
    # The first series was finished before: its meetings, and the STATE that covers them.
    assert set(output.ids()) == expected(server, first)
    assert list(partition_bookmarks(output.last_state)) == [first]

    server.clear_requests()
    rerun = run_cli(config, state=output.last_state)
    assert rerun.exit_code == 0, rerun.stderr
    assert set(rerun.ids()) >= expected(server, second)
    assert rerun.duplicate_ids() == []


def test_a_next_link_from_https_to_http_is_refused() -> None:
    with ScriptedServer(lambda request: Answer(body={"items": [meeting("FOREIGN_1")]})) as plain:
        downgrade = f"http://127.0.0.1:{plain.port}/v1/meetings?meetingSeriesId=S&cursor=Mg"
        first_page = Answer(
            body={"items": [meeting("S_20260610T090000Z")]},
            headers={"Link": f'<{downgrade}>; rel="next"'},
        )
        with ScriptedServer(series_then(lambda request: first_page), tls=True) as webex:
            config = scripted_config(webex, meeting_password=PASSWORD)
            output = run_cli(config, env=trusting(webex))

        assert_refused(output, downgrade, webex.origin)
        assert plain.requests == []
        assert any(r.headers.get("password") == PASSWORD for r in webex.requests)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_of_a_listing_to_another_origin_is_refused(
    server: FakeWebex, elsewhere: ScriptedServer, status: int
) -> None:
    config, first, second = two_series(server)
    foreign = f"{elsewhere.origin}/v1/meetings?meetingSeriesId={second}"
    server.inject(status, body="", headers={"Location": foreign}, match=of_series(second))
    output = run_cli(config)

    assert_refused(output, foreign, origin_of(server))
    assert elsewhere.requests == []  # neither the token nor the password went there
    assert set(output.ids()) == expected(server, first)


def test_a_redirect_of_a_lookup_to_another_origin_is_refused(
    server: FakeWebex, elsewhere: ScriptedServer
) -> None:
    config, first, _ = two_series(server)
    foreign = f"{elsewhere.origin}/v1/meetings/{first}"
    server.inject(302, body="", headers={"Location": foreign}, match=is_lookup_of(first))
    output = run_cli(config)

    assert_refused(output, foreign, origin_of(server))
    assert elsewhere.requests == []
    assert output.records("meeting_series") == []


def test_a_redirect_within_the_origin_is_followed(server: FakeWebex) -> None:
    config, first, second = two_series(server)
    here = f"{server.api_url}/meetings/{first}"
    server.inject(307, body="", headers={"Location": f"{here}?moved=1"}, match=is_lookup_of(first))
    output = run_cli(config)

    assert output.exit_code == 0, output.stderr
    assert set(output.ids()) == expected(server, first, second)


def test_a_redirect_of_the_token_request_to_another_origin_is_refused(
    server: FakeWebex, elsewhere: ScriptedServer
) -> None:
    server.refresh_tokens.add(REFRESH_TOKEN)
    server.oauth_clients["sandbox-client"] = CLIENT_SECRET
    foreign = f"{elsewhere.origin}/v1/access_token"
    server.inject(
        307,
        body="",
        headers={"Location": foreign},
        match=lambda request: request.path == "/v1/access_token",
    )
    config = config_for(
        server,
        access_token=None,
        client_id="sandbox-client",
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        end_date=END.isoformat(),
    )
    output = run_cli(config)

    assert_refused(output, foreign, origin_of(server))
    assert elsewhere.requests == []  # the form with the client secret stayed home
    assert output.records("meeting_series") == []
    assert CLIENT_SECRET not in output.stderr + output.stdout


# Only a 404 is a deletion -----------------------------------------------------------------

NOT_A_MEETING: dict[str, tuple[int, dict[str, Any] | str]] = {
    "204": (204, ""),
    "304": (304, ""),
    "200 {}": (200, {}),
    '200 {"items": []}': (200, {"items": []}),
    "empty 200": (200, ""),
}


@pytest.mark.parametrize("answer", list(NOT_A_MEETING))
def test_a_lookup_that_is_not_a_meeting_fails_and_deletes_nothing(answer: str) -> None:
    with FakeWebex(follow_wall_clock=True) as server:  # upcoming meetings are remembered
        series = server.series_ids(ALICE)[0]
        start_date = (server.now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = config_for(server, meeting_series_ids=[series], start_date=start_date, **FAIL_FAST)
        first = run_cli(config)
        assert first.exit_code == 0, first.stderr
        upcoming = [
            m
            for m in first.records()
            if m["meetingType"] == "scheduledMeeting"
            and parse_api_timestamp(m["start"]) > server.now
        ]
        assert upcoming
        hostile = True

        status, body = NOT_A_MEETING[answer]
        server.inject(200, body={"items": []}, match=of_series(series))  # the meetings "vanish"
        server.inject(
            status,
            body=body,
            times=1000,
            match=lambda request: hostile and request.path.startswith(f"/v1/meetings/{series}_"),
        )
        second = run_cli(config, state=first.last_state)

        assert second.exit_code == 1, second.stderr
        assert [r for r in second.records() if DELETED_AT in r] == []
        (line,) = levelled(second, "ERROR")
        assert line.startswith(f"Webex kept failing, giving up after the last retry: {status} ")
        assert "not a meeting" in line, line
        assert f"for the lookup of {series}_" in line, line

        # Webex answers properly again, and one meeting was really deleted: a 404, a tombstone.
        hostile = False
        deleted = upcoming[-1]["id"]
        server.delete(deleted)
        rerun = run_cli(config, state=first.last_state)
        assert rerun.exit_code == 0, rerun.stderr
        assert [r["id"] for r in rerun.records() if DELETED_AT in r] == [deleted]


# A listing is checked before it is believed ----------------------------------------------

NOT_A_LISTING: dict[str, dict[str, Any] | str] = {
    "{}": {},
    '{"items": null}': {"items": None},
    '{"items": "oops"}': {"items": "oops"},
    "a top-level array": '[{"id": "x", "start": "2026-06-10T09:00:00Z"}]',
    "an empty body": "",
}


@pytest.mark.parametrize("answer", list(NOT_A_LISTING))
def test_a_listing_that_is_not_a_listing_fails_naming_the_series(
    server: FakeWebex, answer: str
) -> None:
    config, first, second = two_series(server)
    server.inject(200, body=NOT_A_LISTING[answer], times=1000, match=of_series(second))
    output = run_cli(config)

    assert output.exit_code == 1, output.stderr
    (line,) = levelled(output, "ERROR")
    assert line.startswith(
        "Webex kept failing, giving up after the last retry: 200 that is not a page of meetings ("
    ), line
    assert line.endswith(f"), for series {second}"), line
    tries = [r for r in server.requests if of_series(second)(r)]
    assert len(tries) == 2  # retried (it may be a passing glitch of a proxy), then given up
    assert set(output.ids()) == expected(server, first)  # nothing before it lost


def test_a_listing_that_is_not_a_listing_once_is_retried_and_nothing_is_missing(
    server: FakeWebex,
) -> None:
    config, first, second = two_series(server)
    server.inject(200, body={"items": None}, match=of_series(second))
    output = run_cli(config)

    assert output.exit_code == 0, output.stderr
    assert set(output.ids()) == expected(server, first, second)
    (warning,) = levelled(output, "WARNING")
    assert "Retrying series_meetings" in warning
    assert warning.endswith(
        f"200 that is not a page of meetings (items is a JSON null, not a list), "
        f"for series {second}"
    )


def test_a_meeting_without_id_or_with_a_bad_start_is_skipped_with_a_warning(
    server: FakeWebex,
) -> None:
    config, first, second = two_series(server)
    good = [
        {"id": f"{second}_20260610T090000Z", "start": "2026-06-10T09:00:00Z"},
        {"id": f"{second}_20260611T090000Z", "start": "2026-06-11T09:00:00Z"},
    ]
    page = [good[0], {"title": "no id", "start": "2026-06-12T09:00:00Z"}, good[1]]
    page.append({"id": f"{second}_BAD", "start": "not-a-date"})
    server.inject(200, body={"items": page}, times=2, match=of_series(second))
    output = run_cli(config)

    assert output.exit_code == 0, output.stderr
    assert set(output.ids()) == expected(server, first) | {g["id"] for g in good}
    assert levelled(output, "WARNING") == [
        f"Skipping entry 2 of a page of series {second}, which is not a meeting: no id",
        f"Skipping meeting {second}_BAD of series {second}, which is not a meeting: start "
        "'not-a-date' is not a timestamp",
    ], output.stderr
    (summary,) = [line for line in levelled(output, "INFO") if line.startswith("Extracted")]
    assert "deleted, 2 skipped: not meetings)" in summary
    assert partition_bookmarks(output.last_state)[second] == "2026-06-11T09:00:00+00:00"

    rerun = run_cli(config, state=output.last_state)  # the bad record blocks no later run
    assert rerun.exit_code == 0, rerun.stderr


def test_the_same_meeting_on_two_pages_is_emitted_once() -> None:
    a, b, c = (meeting(f"S_2026061{day}T090000Z", f"2026-06-1{day}T09:00:00Z") for day in "123")

    def pages(request: Received) -> Answer:
        if "cursor" not in request.params:
            link = f'<{webex.api_url}/meetings?meetingSeriesId=S&cursor=Mg>; rel="next"'
            return Answer(body={"items": [a, b]}, headers={"Link": link})
        return Answer(body={"items": [b, c]})

    with ScriptedServer(series_then(pages)) as webex:
        output = run_cli(scripted_config(webex))

    assert output.exit_code == 0, output.stderr
    assert output.ids() == [a["id"], b["id"], c["id"]]
    (summary,) = [line for line in levelled(output, "INFO") if line.startswith("Extracted")]
    assert "3 meeting records (3 new, 0 updated, 0 deleted)" in summary


# Bounded time -----------------------------------------------------------------------------


@pytest.mark.parametrize("pages", ["the same meetings", "empty pages"])
def test_endless_next_links_stop_with_one_error(pages: str) -> None:
    meetings = [meeting(f"S_2026061{day}T090000Z", f"2026-06-1{day}T09:00:00Z") for day in "123"]
    cursors = iter(range(1_000_000))

    def endless(request: Received) -> Answer:
        link = f'<{webex.api_url}/meetings?meetingSeriesId=S&cursor={next(cursors)}>; rel="next"'
        first = "cursor" not in request.params
        items = meetings if first or pages == "the same meetings" else []
        return Answer(body={"items": items}, headers={"Link": link})

    with ScriptedServer(series_then(endless)) as webex:
        output = run_cli(scripted_config(webex), timeout=30)

    assert output.exit_code == 1, output.stderr
    assert levelled(output, "ERROR") == [
        "Webex returned 3 pages in a row without a new meeting for series S, each linking to "
        "another; stopping instead of paging forever"
    ], output.stderr
    assert len(webex.requests) == 1 + 4  # the lookup, the first page, three without progress
    assert all("S" not in partition_bookmarks(state) for state in output.states)


def test_request_timeout_bounds_the_whole_response_not_each_read() -> None:
    page = {"items": [meeting("S_20260610T090000Z")] * 3}
    trickled = Answer(body=page, trickle=0.2)  # about 40 s for the whole body

    with ScriptedServer(series_then(lambda request: trickled)) as webex:
        config = scripted_config(webex, request_timeout=1, **FAIL_FAST)
        started = time.monotonic()
        output = run_cli(config, timeout=60)
        elapsed = time.monotonic() - started

    assert output.exit_code == 1, output.stderr
    assert levelled(output, "ERROR") == [
        "Webex kept failing, giving up after the last retry: no complete response from "
        f"{webex.api_url}/meetings within request_timeout (1 s)"
    ], output.stderr
    (retry,) = levelled(output, "WARNING")
    assert retry.endswith(
        "(try 1 of 2): no complete response from "
        f"{webex.api_url}/meetings within request_timeout (1 s)"
    ), retry
    assert elapsed < 10  # two tries of 1 s, a short wait, and the command's start


def test_connection_refused_is_said_at_once_with_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    config = {
        "api_url": f"http://127.0.0.1:{port}/v1",
        "access_token": "sandbox-token",
        "start_date": START.isoformat(),
    }
    started = time.monotonic()
    output = run_cli(config)

    assert output.exit_code == 1
    assert levelled(output, "ERROR") == [
        f"Could not connect to http://127.0.0.1:{port}/v1/meetings: connection refused "
        "(check api_url)"
    ], output.stderr
    assert "Retrying" not in output.stderr
    assert time.monotonic() - started < 15  # the command's start; no retries


# Dates out of range -----------------------------------------------------------------------

ENDED = {"state": "ended", "end": "2026-06-20T10:00:00Z"}


def expired_series(series_end: str, items: list[dict[str, Any]]) -> Script:
    """Series ``S``, expired and ending at ``series_end``, whose page lists ``items``."""

    def answer(request: Received) -> Answer:
        if request.path.endswith("/meetings/S"):
            record = meeting("S", meetingType="meetingSeries", state="expired", end=series_end)
            return Answer(body=record)
        return Answer(body={"items": items})

    return answer


BAD_MOMENTS: dict[str, tuple[dict[str, str], str]] = {
    "start after 9999 in UTC": (
        {"start": "9999-12-31T23:00:00-05:00"},
        "start '9999-12-31T23:00:00-05:00' is outside the years 1970 to 8999",
    ),
    "start before year 1 in UTC": (
        {"start": "0001-01-01T00:30:00+05:00"},
        "start '0001-01-01T00:30:00+05:00' is outside the years 1970 to 8999",
    ),
    "end in 9999": (
        {"end": "9999-12-31T23:59:59Z"},
        "end '9999-12-31T23:59:59Z' is outside the years 1970 to 8999",
    ),
    "end garbage": ({"end": "garbage"}, "end 'garbage' is not a timestamp"),
}


@pytest.mark.parametrize("bad", list(BAD_MOMENTS))
def test_a_meeting_with_a_date_out_of_range_is_skipped_and_every_run_goes_on(bad: str) -> None:
    fields, problem = BAD_MOMENTS[bad]
    good = meeting("S_20260620T090000Z", **ENDED)
    wrong = meeting("S_BAD", **(ENDED | fields))
    with ScriptedServer(expired_series("2026-06-20T10:00:00Z", [good, wrong])) as webex:
        output = run_cli(scripted_config(webex))
        rerun = run_cli(scripted_config(webex), state=output.last_state if output.states else None)

    assert output.exit_code == 0, output.stderr
    assert output.ids() == [good["id"]]
    assert levelled(output, "WARNING") == [
        f"Skipping meeting S_BAD of series S, which is not a meeting: {problem}"
    ], output.stderr
    assert "S" in series_in_state(output.last_state)  # its bookmark, or finished
    assert rerun.exit_code == 0, rerun.stderr


@pytest.mark.parametrize(
    ("series_end", "trusted"),
    [("2026-06-20T10:00:00Z", True), ("9999-12-31T23:59:59Z", False), ("garbage", False)],
)
def test_an_expired_series_with_a_bad_end_is_read_but_not_trusted_to_be_finished(
    series_end: str, trusted: bool
) -> None:
    good = meeting("S_20260620T090000Z", **ENDED)
    with ScriptedServer(expired_series(series_end, [good])) as webex:
        output = run_cli(scripted_config(webex))

    assert output.exit_code == 0, output.stderr
    assert output.ids() == [good["id"]]
    assert [r["id"] for r in output.records("meeting_series")] == ["S"]
    assert ("S" in finished_ids(output.last_state)) is trusted


# stream_maps ------------------------------------------------------------------------------

MAP_FAILURES: dict[str, tuple[dict[str, str], str]] = {
    "does not parse": (
        {"title2": "title.upper("},
        "stream_maps.series_meetings.title2: 'title.upper(' is not an expression "
        "('(' was never closed)",
    ),
    "an unknown function": (
        {"title2": "nosuch(1)"},
        "stream_maps.series_meetings: the map failed on record 'S_20260620T090000Z': "
        "MapExpressionError: Failed to evaluate simpleeval expressions nosuch(1). "
        "(FunctionNotDefined: Function 'nosuch' not defined, for expression 'nosuch(1)'.)",
    ),
    "a missing key": (
        {"x": 'record["nokey"]'},
        "stream_maps.series_meetings: the map failed on record 'S_20260620T090000Z': "
        "KeyError: 'nokey'",
    ),
}


@pytest.mark.parametrize("failure", list(MAP_FAILURES))
def test_a_stream_map_that_fails_is_one_line_naming_the_map(failure: str) -> None:
    stream_map, line = MAP_FAILURES[failure]
    page = {"items": [meeting("S_20260620T090000Z")]}
    with ScriptedServer(series_then(lambda request: Answer(body=page))) as webex:
        output = run_cli(scripted_config(webex, stream_maps={"series_meetings": stream_map}))

    assert output.exit_code == 1
    assert levelled(output, "ERROR") == [line], output.stderr
    assert "Traceback" not in output.stderr
    assert output.records() == []
    if failure == "does not parse":
        assert webex.requests == []  # a bad setting: refused before any request


# Log lines cannot be forged ---------------------------------------------------------------

FORGED = "\n2026-12-07 14:00:00,000 | INFO     | tap-webex-meetings | Extracted 9 series\x1b[2J"
ESCAPED = FORGED.replace("\n", "\\n").replace("\x1b", "\\x1b")


def test_control_characters_from_webex_are_escaped_one_event_one_line() -> None:
    def script(request: Received) -> Answer:
        if request.path.endswith("/meetings/S"):
            return Answer(body=meeting("S", meetingType="meetingSeries"))
        if "cursor" in request.params:
            error = {"message": f"Bad cursor{FORGED}", "trackingId": f"T{FORGED}"}
            return Answer(status=400, body=error)
        link = f'<{webex.api_url}/meetings?meetingSeriesId=S&cursor=Mg>; rel="next"'
        stray = meeting("S_20260611T090000Z", meetingSeriesId=f"OTHER{FORGED}")
        items = [stray, meeting("S_20260610T090000Z")]
        return Answer(body={"items": items}, headers={"Link": link})

    with ScriptedServer(script) as webex:
        output = run_cli(scripted_config(webex, **FAIL_FAST))

    assert output.exit_code == 1
    assert "\x1b" not in output.stderr
    lines = [line.split(" | ", 3) for line in output.stderr.splitlines()]
    assert all(len(parts) == 4 for parts in lines), output.stderr  # every line a log line
    by_level = [(level.strip(), message) for _, level, _, message in lines]
    assert not [m for level, m in by_level if level == "INFO" and "Extracted 9" in m]
    assert [m for level, m in by_level if level == "WARNING"] == [
        f"Skipping meeting S_20260611T090000Z listed for series S: it belongs to series "
        f"OTHER{ESCAPED}"
    ], output.stderr
    assert [m for level, m in by_level if level == "ERROR"] == [
        f"Webex API error 400: Bad cursor{ESCAPED} (trackingId T{ESCAPED})"
    ], output.stderr
