"""Faults Webex produces: passing ones are ridden through, fatal ones stop clearly.

Nothing is lost or duplicated (checked against the fake's own answer key,
``FakeWebex.expected_meetings``), waits honour Retry-After and stay within the bound, and
the messages a user reads name the status, Webex's message and the trackingId. The retry
policy's arithmetic and the rate gate's timing are tested without waiting in
tests/integration/test_retries.py and tests/unit/test_ratelimit.py; the waits here are real,
because that
the tap really holds back is what they show.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fake_webex import FakeWebex, Faults, RecordedRequest, Token

from tap_webex_meetings import timeutils
from tap_webex_meetings.retries import RateGate
from tap_webex_meetings.tap import TapWebexMeetings
from tests.tap_runner import (
    TapOutput,
    config_for,
    lines_until_states,
    logged_retries,
    parse_messages,
    partition_bookmarks,
    run_cli,
    started_cli,
    sync,
    sync_tap,
)

START = datetime(2025, 6, 1, tzinfo=timezone.utc)
ALICE = "alice@example.com"


def expected_ids(server: FakeWebex, end: datetime, start: datetime = START) -> set[str]:
    return {
        m["id"] for s in server.series_ids(ALICE) for m in server.expected_meetings(s, start, end)
    }


def is_series_query(request: RecordedRequest) -> bool:
    return "meetingSeriesId" in request.params


def of_series(series_id: str) -> Callable[[RecordedRequest], bool]:
    return lambda request: request.params.get("meetingSeriesId") == [series_id]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


# Passing failures -------------------------------------------------------------------


def test_flaky_server_still_delivers_every_meeting_exactly_once(
    server: FakeWebex, caplog: pytest.LogCaptureFixture
) -> None:
    server.faults = Faults(
        seed=11,
        rate_429=0.2,
        retry_after="mixed",
        retry_after_seconds=1,
        rate_5xx=0.1,
        rate_reset=0.05,
    )
    output = sync(
        config_for(server, page_size=25, retry_max_tries=12, retry_max_wait_seconds=1),
        run_start=server.now,
    )

    assert output.duplicate_ids() == []
    assert set(output.ids()) == expected_ids(server, server.now + timedelta(days=30))
    statuses = [r.status for r in server.requests]
    assert statuses.count(429) >= 3
    assert any(s >= 500 for s in statuses)
    assert 0 in statuses  # connection resets

    assert_retries_waited_for_retry_after(server.requests)
    # Retry-After 1 (or backoff from 1 s) within a bound of 1 s: every wait exactly 1 s.
    waits = [retry.wait for retry in logged_retries(caplog.records)]
    assert len(waits) >= statuses.count(429)
    assert set(waits) == {1.0}


def same_query(request: RecordedRequest) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    return request.path, tuple(
        sorted((key, tuple(values)) for key, values in request.params.items())
    )


def assert_retries_waited_for_retry_after(requests: list[RecordedRequest]) -> None:
    """Each retry of a throttled request came at least Retry-After seconds later."""
    in_order = sorted(requests, key=lambda r: r.time)
    checked = 0
    for position, throttled in enumerate(in_order):
        if throttled.status != 429 or throttled.retry_after is None:
            continue
        retry = next(r for r in in_order[position + 1 :] if same_query(r) == same_query(throttled))
        assert retry.time - throttled.time >= throttled.retry_after
        checked += 1
    assert checked >= 1


def test_a_429_holds_back_every_worker(server: FakeWebex) -> None:
    """Real time: the other workers really stop sending, for Retry-After and no longer."""
    server.inject(429, headers={"Retry-After": "2"}, match=is_series_query)
    held: list[float] = []

    def sleep(seconds: float) -> None:
        held.append(seconds)
        time.sleep(seconds)

    tap = TapWebexMeetings(
        config=config_for(server, max_workers=4, page_size=20), run_start=server.now
    )
    tap.rate_gate = RateGate(sleep=sleep)
    output = sync_tap(tap)
    assert set(output.ids()) == expected_ids(server, server.now + timedelta(days=30))

    throttled = next(r for r in server.requests if r.status == 429)
    # 0.5 s for requests already on their way when the 429 came back.
    during_hold = [r for r in server.requests if throttled.time + 0.5 < r.time < throttled.time + 2]
    assert during_hold == []
    assert_retries_waited_for_retry_after(server.requests)
    assert held, "other workers waited at the gate"
    assert all(0 < seconds <= 2.4 for seconds in held), held  # Retry-After plus jitter at most


def test_a_missing_retry_after_falls_back_to_backoff(
    server: FakeWebex, caplog: pytest.LogCaptureFixture
) -> None:
    """Real time: the tap sleeps 1 s, then 2 s (plus jitter). A garbage Retry-After takes the
    same path: tests/integration/test_retries.py, without the waiting."""
    server.inject(429, times=2, match=of_series(server.series_ids(ALICE)[0]))
    output = sync(config_for(server, end_date="2026-06-20T00:00:00Z"), run_start=server.now)
    assert set(output.ids()) == expected_ids(server, datetime(2026, 6, 20, tzinfo=timezone.utc))
    first = next(r for r in server.requests if r.status == 429)
    tries = sorted(
        (r for r in server.requests if same_query(r) == same_query(first)), key=lambda r: r.time
    )
    assert [r.status for r in tries] == [429, 429, 200]
    first_wait, second_wait = (retry.wait for retry in logged_retries(caplog.records))
    assert 1.0 <= first_wait <= 1.2
    assert 2.0 <= second_wait <= 2.4
    assert tries[1].time - tries[0].time >= first_wait - 0.05  # logged rounded to 0.1 s
    assert tries[2].time - tries[1].time >= second_wait - 0.05


def test_retry_after_longer_than_the_bound_is_capped(
    server: FakeWebex, caplog: pytest.LogCaptureFixture
) -> None:
    server.inject(429, headers={"Retry-After": "3600"}, match=is_series_query)
    started = time.monotonic()
    output = sync(
        config_for(server, retry_max_wait_seconds=0.5, end_date="2026-06-20T00:00:00Z"),
        run_start=server.now,
    )
    assert set(output.ids()) == expected_ids(server, datetime(2026, 6, 20, tzinfo=timezone.utc))
    assert [retry.wait for retry in logged_retries(caplog.records)] == [0.5]
    assert time.monotonic() - started < 30  # not an hour


def test_truncated_and_non_json_bodies_are_retried(server: FakeWebex) -> None:
    server.faults = Faults(seed=5, rate_truncated=0.15, rate_non_json=0.15)
    output = sync(
        config_for(server, page_size=30, retry_max_tries=12, retry_max_wait_seconds=0.2),
        run_start=server.now,
    )
    assert output.duplicate_ids() == []
    assert set(output.ids()) == expected_ids(server, server.now + timedelta(days=30))
    assert sum(1 for r in server.requests if r.status == 200 and r.items == 0) >= 2


def test_repeated_504_shrinks_the_page_size_and_goes_on(server: FakeWebex) -> None:
    server.faults = Faults(max_page_size=25)
    output = sync(config_for(server, retry_max_wait_seconds=0.1), run_start=server.now)
    assert set(output.ids()) == expected_ids(server, server.now + timedelta(days=30))
    for series in server.series_ids(ALICE):
        tries = sorted(
            (r for r in server.requests if r.params.get("meetingSeriesId") == [series]),
            key=lambda r: r.time,
        )
        sizes = [r.params["max"][0] for r in tries]
        assert sizes[:4] == [
            "100",
            "100",
            "50",
            "25",
        ]  # a single 504 may pass; repeated ones shrink
    assert {r.status for r in server.requests if r.params.get("max") == ["25"]} == {200}


def test_slow_responses_time_out_and_are_retried(server: FakeWebex) -> None:
    server.faults = Faults(seed=3, rate_slow=0.3, slow_seconds=3)
    output = sync(
        config_for(server, request_timeout=1, retry_max_wait_seconds=0.1, end_date="2026-06-20"),
        run_start=server.now,
    )
    assert set(output.ids()) == expected_ids(server, datetime(2026, 6, 20, tzinfo=timezone.utc))


def test_odd_but_valid_responses_lose_no_record(server: FakeWebex) -> None:
    series = server.series_ids(ALICE)[0]
    end = datetime(2026, 6, 20, tzinfo=timezone.utc)
    real_first_page = (
        f"{server.api_url}/meetings?meetingSeriesId={series}&from=2025-06-01T00:00:00Z"
        f"&to=2026-06-20T00:00:00Z&max=100&timezone=UTC"
    )
    odd = [
        {"id": f"{series}_odd1", "meetingSeriesId": series, "start": "2026-01-05T10:00:00Z"},
        {
            "id": f"{series}_odd2",
            "meetingSeriesId": series,
            "start": "2026-01-06T10:00:00Z",
            "brandNewField": {"x": 1},
            "telephony": None,
            "meetingOptions": None,
        },
    ]
    # A first page of odd entries, linking to the series' real pages.
    server.inject(
        200,
        body={"items": odd},
        headers={"Link": f'<{real_first_page}>; rel="next"'},
        match=of_series(series),
    )
    output = sync(config_for(server, end_date="2026-06-20T00:00:00Z"), run_start=server.now)

    real = {m["id"] for m in server.expected_meetings(series, START, end)}
    assert real, "the series has meetings of its own to lose"
    delivered = [r["id"] for r in output.records() if r["meetingSeriesId"] == series]
    assert sorted(delivered) == sorted(real | {f"{series}_odd1", f"{series}_odd2"})
    assert output.duplicate_ids() == []
    assert set(output.ids()) >= expected_ids(server, end)
    assert "brandNewField" not in next(r for r in output.records() if r["id"] == f"{series}_odd2")


def test_empty_page_with_a_next_link_is_followed(server: FakeWebex) -> None:
    series = server.series_ids(ALICE)[0]
    end = datetime(2026, 6, 20, tzinfo=timezone.utc)
    real_first_page = (
        f"{server.api_url}/meetings?meetingSeriesId={series}&from=2025-06-01T00:00:00Z"
        f"&to=2026-06-20T00:00:00Z&max=100&timezone=UTC"
    )
    server.inject(
        200,
        body={"items": []},
        headers={"Link": f'<{real_first_page}>; rel="next"'},
        match=lambda r: r.params.get("meetingSeriesId") == [series],
    )
    output = sync(config_for(server, end_date="2026-06-20T00:00:00Z"), run_start=server.now)
    assert {r["id"] for r in output.records() if r["meetingSeriesId"] == series} == {
        m["id"] for m in server.expected_meetings(series, START, end)
    }


# Tokens -----------------------------------------------------------------------------


def oauth_config(server: FakeWebex, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "access_token": None,
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "refresh_token": "sandbox-refresh",
        "end_date": "2026-06-20T00:00:00Z",
    }
    return config_for(server, **(settings | overrides))


def test_oauth_token_refused_midway_is_refreshed_once_and_the_run_goes_on(
    server: FakeWebex,
) -> None:
    server.inject(401, match=is_series_query)
    output = run_cli(oauth_config(server))

    assert output.exit_code == 0, output.stderr
    assert set(output.ids()) == expected_ids(server, datetime(2026, 6, 20, tzinfo=timezone.utc))
    assert [r.path for r in server.requests].count("/v1/access_token") == 2


def test_rotated_refresh_token_is_used_and_the_user_told(server: FakeWebex) -> None:
    server.rotate_refresh_tokens = True
    server.inject(401, match=is_series_query)
    output = run_cli(oauth_config(server))

    assert output.exit_code == 0, output.stderr
    refreshes = [r for r in server.requests if r.path == "/v1/access_token"]
    assert refreshes[0].params["refresh_token"] == ["sandbox-refresh"]
    assert refreshes[1].params["refresh_token"] != ["sandbox-refresh"]  # the rotated one
    assert "Replace the configured refresh_token" in output.stderr
    assert refreshes[1].params["refresh_token"][0] not in output.stderr + output.stdout


def test_token_refused_with_a_personal_token_stops_with_advice(server: FakeWebex) -> None:
    server.tokens["expiring-token"] = Token(email=ALICE, expires_after_requests=5)
    output = run_cli(config_for(server, access_token="expiring-token", max_workers=1))

    assert output.exit_code == 1
    lines = error_lines(output.stderr)
    assert any(
        "refused the access token" in line and "12 hours" in line and "trackingId" in line
        for line in lines
    )
    assert "Traceback" not in output.stderr
    assert output.records(), "what was extracted before the failure was emitted"
    assert output.states, "with the STATE that covers it"


def test_expired_refresh_token_stops_before_any_record(server: FakeWebex) -> None:
    output = run_cli(oauth_config(server, refresh_token="expired-refresh"))
    assert output.exit_code == 1
    assert output.records("meeting_series") == []
    assert any(
        "refused the refresh token" in line and "invalid_grant" in line
        for line in error_lines(output.stderr)
    ), output.stderr
    assert "expired-refresh" not in output.stderr


def test_403_names_the_scope_needed(server: FakeWebex) -> None:
    server.tokens["user-token"] = Token(email=ALICE, admin=False)
    output = run_cli(config_for(server, access_token="user-token", host_emails=["bob@example.com"]))
    assert output.exit_code == 1
    assert any(
        "403" in line and "meeting:admin_schedule_read" in line
        for line in error_lines(output.stderr)
    )


# Other errors -----------------------------------------------------------------------


def test_404_for_one_series_warns_and_the_others_go_on(
    server: FakeWebex, caplog: pytest.LogCaptureFixture
) -> None:
    missing, *others = server.series_ids(ALICE)
    server.inject(404, match=lambda r: r.params.get("meetingSeriesId") == [missing])
    output = sync(config_for(server), run_start=server.now)

    assert {r["meetingSeriesId"] for r in output.records()} == set(others)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(missing in w and "not found" in w for w in warnings)


def test_400_stops_with_status_webex_message_and_tracking_id(server: FakeWebex) -> None:
    server.inject(
        400,
        match=is_series_query,
        body={"message": "Invalid meetingSeriesId.", "errors": [], "trackingId": "ROUTER_TEST_400"},
    )
    output = run_cli(config_for(server))

    assert output.exit_code == 1
    lines = error_lines(output.stderr)
    assert any(
        "400" in line and "Invalid meetingSeriesId." in line and "ROUTER_TEST_400" in line
        for line in lines
    ), output.stderr
    assert len(lines) == 1, lines  # one readable line; the traceback only at DEBUG
    assert "Traceback" not in output.stderr


def test_retries_exhausted_stop_with_a_clear_line(server: FakeWebex) -> None:
    server.inject(503, times=50, match=is_series_query)
    output = run_cli(config_for(server, retry_max_tries=2, retry_max_wait_seconds=0.1))
    assert output.exit_code == 1
    assert any("503" in line and "giving up" in line for line in error_lines(output.stderr)), (
        output.stderr
    )


# Kill -9 and resume -----------------------------------------------------------------


def test_kill_9_midway_then_restart_from_last_state_loses_nothing() -> None:
    now = datetime.now(timezone.utc)
    with FakeWebex(now=now, latency_seconds=0.05) as server:
        config = config_for(server, page_size=10)
        with started_cli(config) as process:
            # The first STATE goes out when the first series is finished; others follow.
            lines = lines_until_states(process, 1)
            assert process.poll() is None, "the kill must come mid-run"
            os.kill(process.pid, signal.SIGKILL)
        first = TapOutput(parse_messages("".join(lines)))
        assert first.states
        assert partition_bookmarks(first.last_state), "a series was finished before the kill"

        server.latency_seconds = 0
        server.clear_requests()
        second = run_cli(config, state=first.last_state)
        assert second.exit_code == 0, second.stderr

        query_end = timeutils.parse_datetime(
            next(r.params["to"][0] for r in server.requests if is_series_query(r))
        )
        delivered = set(first.ids()) | set(second.ids())
        assert delivered >= expected_ids(server, query_end)
        assert second.duplicate_ids() == []


def test_a_link_back_to_a_page_already_read_stops_the_run_instead_of_looping(
    server: FakeWebex,
) -> None:
    series = server.series_ids(ALICE)[0]
    loop = f"{server.api_url}/meetings?meetingSeriesId={series}&cursor=c2FtZQ"
    server.inject(
        200,
        times=5,
        body={"items": []},
        headers={"Link": f'<{loop}>; rel="next"'},
        match=of_series(series),
    )
    output = run_cli(config_for(server, max_workers=1))
    assert output.exit_code == 1
    assert any("already followed" in line for line in error_lines(output.stderr)), output.stderr
    assert len([r for r in server.requests if r.params.get("meetingSeriesId") == [series]]) == 2


def test_oauth_token_is_refreshed_before_it_expires(server: FakeWebex) -> None:
    server.token_lifetime_seconds = 2  # used for 1.8 s: the margin is a tenth of a short life
    server.latency_seconds = 0.3
    output = run_cli(oauth_config(server, page_size=50, max_workers=1))
    assert output.exit_code == 0, output.stderr
    assert [r.path for r in server.requests].count("/v1/access_token") >= 2
    assert {r.status for r in server.requests} == {200}  # refreshed ahead: never a 401


def test_a_stalled_server_fails_the_run_and_a_restart_loses_nothing() -> None:
    now = datetime.now(timezone.utc)
    with FakeWebex(now=now) as server:
        server.faults = Faults(stall_after=4, stall_seconds=30)
        config = config_for(
            server,
            request_timeout=0.5,
            retry_max_tries=2,
            retry_max_wait_seconds=0.1,
            max_workers=1,
        )
        stalled = run_cli(config, timeout=60)
        assert stalled.exit_code == 1
        assert any("giving up" in line for line in error_lines(stalled.stderr)), stalled.stderr

        server.faults = Faults()
        state = stalled.last_state if stalled.states else None
        resumed = run_cli(config, state=state)
        assert resumed.exit_code == 0, resumed.stderr
        query_end = timeutils.parse_datetime(
            next(r.params["to"][0] for r in server.requests if is_series_query(r))
        )
        assert set(stalled.ids()) | set(resumed.ids()) >= expected_ids(server, query_end)
