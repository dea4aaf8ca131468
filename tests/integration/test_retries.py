"""The retry policy: what is tried again, how long the tap waits, when it gives up.

The policy's arithmetic is checked on its own (no clock: the waits are returned, not slept);
which answers retry and how often is checked on the running tap against the fake Webex, with
``retry_max_wait_seconds`` tiny so nothing really waits.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
from fake_webex import FakeWebex, RecordedRequest
from singer_sdk.exceptions import RetriableAPIError

from tap_webex_meetings import retries
from tap_webex_meetings.errors import AccessTokenExpiredError, WebexAPIError
from tap_webex_meetings.reachability import UnreachableError
from tests.tap_runner import config_for, logged_retries, sync

NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)


def throttled(retry_after: str | None) -> RetriableAPIError:
    response = requests.Response()
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return RetriableAPIError("429", response)


# The policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),  # already past
        ("rand(30),add(30)", None),
        ("²", None),  # str.isdigit() says yes; float() says no
        ("٣", None),  # an Arabic-Indic 3: int() would accept it
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    value: str | None, seconds: float | None
) -> None:
    assert retries.parse_retry_after(value, now=NOW) == seconds


def test_retry_after_is_honoured_up_to_the_bound() -> None:
    assert retries.wait_before_retry(throttled("3"), attempt=1, max_wait=10) == 3.0
    assert retries.wait_before_retry(throttled("3"), attempt=5, max_wait=10) == 3.0
    assert retries.wait_before_retry(throttled("3600"), attempt=1, max_wait=10) == 10.0


@pytest.mark.parametrize("exception", [throttled(None), throttled("soon"), None])
def test_without_a_usable_retry_after_the_waits_double_up_to_the_bound(
    exception: Exception | None,
) -> None:
    waits = [retries.wait_before_retry(exception, attempt, max_wait=10) for attempt in range(1, 7)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_an_expired_oauth_token_is_retried_at_once() -> None:
    expired = AccessTokenExpiredError("401", requests.Response())
    assert retries.wait_before_retry(expired, attempt=3, max_wait=10) == 0.0


@pytest.mark.parametrize(("value", "max_wait"), [(1.0, 10.0), (8.0, 10.0), (10.0, 10.0)])
def test_jitter_adds_at_most_a_fifth_never_less_and_never_past_the_bound(
    value: float, max_wait: float
) -> None:
    waits = [retries.jittered(value, max_wait) for _ in range(500)]
    assert min(waits) >= value
    assert max(waits) <= min(value * 1.2, max(value, max_wait))
    if value < max_wait:
        assert max(waits) > value, "the waits are spread"


def test_no_wait_is_longer_than_an_hour_whatever_the_setting() -> None:
    wait = retries.wait_before_retry(throttled("86400"), attempt=1, max_wait=1e12)
    assert wait == retries.MAX_WAIT_SECONDS == 3600
    assert retries.wait_before_retry(None, attempt=60, max_wait=1e12) == 3600
    assert max(retries.jittered(wait, max_wait=1e12) for _ in range(100)) == 3600


def unreachable(
    *, refused: bool = False, answered_before: bool = False, failures: int = 1
) -> UnreachableError:
    return UnreachableError(
        "http://x/v1", "why", refused=refused, answered_before=answered_before, failures=failures
    )


def test_a_host_that_never_answered_is_given_a_few_tries() -> None:
    assert [retries.give_up(unreachable(failures=n)) for n in (1, 2, 3)] == [False, False, True]
    assert retries.give_up(unreachable(refused=True))  # nothing listens: at once
    assert not retries.give_up(unreachable(answered_before=True, failures=0))
    assert not retries.give_up(unreachable(answered_before=True, refused=True, failures=0))
    assert not retries.give_up(requests.ConnectionError("reset"))


def test_a_retry_after_beyond_the_bound_is_not_cut_by_jitter() -> None:
    """Jitter never shortens what Webex asked for (a bound below it is applied before)."""
    assert retries.jittered(30.0, max_wait=10.0) == 30.0


def test_a_repeated_504_halves_the_page_down_to_the_smallest() -> None:
    request = requests.Request("GET", "https://x.test/v1/meetings?max=100&from=a").prepare()
    assert retries.shrink_page_size(request) == "page size reduced to 50"
    assert request.url == "https://x.test/v1/meetings?max=50&from=a"
    for _ in range(3):
        retries.shrink_page_size(request)
    assert "max=10" in (request.url or "")
    assert retries.shrink_page_size(request) == "page size already 10"


# The running tap --------------------------------------------------------------------


def tries_of(server: FakeWebex, series_id: str) -> list[int]:
    """The answers to the series' first query, until the first 200 (later pages follow)."""
    statuses = [r.status for r in server.requests if of_request(r, series_id)]
    return statuses[: statuses.index(200) + 1] if 200 in statuses else statuses


def first_series(server: FakeWebex) -> str:
    return server.series_ids("alice@example.com")[0]


@pytest.mark.parametrize("status", [429, 423, 500, 502, 503, 504])
def test_statuses_that_may_pass_are_tried_again(
    server: FakeWebex, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    series = first_series(server)
    server.inject(status, match=lambda r: of_request(r, series))
    caplog.set_level(logging.WARNING)
    output = sync(
        config_for(server, retry_max_wait_seconds=0.01, end_date="2026-06-20"), run_start=NOW
    )
    assert tries_of(server, series) == [status, 200]
    assert series in {r["meetingSeriesId"] for r in output.records()}
    assert [(r.series, r.tries) for r in logged_retries(caplog.records)] == [(series, 1)]


@pytest.mark.parametrize("status", [400, 403, 409])
def test_statuses_that_will_not_pass_stop_at_the_first_try(server: FakeWebex, status: int) -> None:
    series = first_series(server)
    server.inject(status, match=lambda r: of_request(r, series))
    with pytest.raises(WebexAPIError, match=str(status)):
        sync(config_for(server, retry_max_wait_seconds=0.01, end_date="2026-06-20"), run_start=NOW)
    assert tries_of(server, series) == [status]


def test_a_404_is_not_retried(server: FakeWebex) -> None:
    series = first_series(server)
    server.inject(404, match=lambda r: of_request(r, series))
    sync(config_for(server, retry_max_wait_seconds=0.01, end_date="2026-06-20"), run_start=NOW)
    assert tries_of(server, series) == [404]


@pytest.mark.parametrize("max_tries", [1, 3])
def test_the_tap_gives_up_after_retry_max_tries(
    server: FakeWebex, caplog: pytest.LogCaptureFixture, max_tries: int
) -> None:
    series = first_series(server)
    server.inject(503, times=50, match=lambda r: of_request(r, series))
    caplog.set_level(logging.WARNING)
    config = config_for(
        server, retry_max_tries=max_tries, retry_max_wait_seconds=0.01, end_date="2026-06-20"
    )
    with pytest.raises(RetriableAPIError, match="503"):
        sync(config, run_start=NOW)
    assert tries_of(server, series) == [503] * max_tries
    assert [(r.tries, r.of) for r in logged_retries(caplog.records)] == [
        (n, max_tries) for n in range(1, max_tries)
    ]


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [
        ("0", [0.0, 0.0]),  # honoured: no wait at all
        ("3600", [0.3, 0.3]),  # honoured up to retry_max_wait_seconds
        (None, [0.3, 0.3]),  # missing: backoff (1 s, 2 s) within the bound
        ("rand(30),add(30)", [0.3, 0.3]),  # garbage: backoff too
    ],
)
def test_the_tap_waits_what_the_policy_says(
    server: FakeWebex,
    caplog: pytest.LogCaptureFixture,
    retry_after: str | None,
    waits: list[float],
) -> None:
    series = first_series(server)
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    server.inject(429, times=2, headers=headers, match=lambda r: of_request(r, series))
    caplog.set_level(logging.WARNING)
    sync(config_for(server, retry_max_wait_seconds=0.3, end_date="2026-06-20"), run_start=NOW)
    assert tries_of(server, series) == [429, 429, 200]
    assert [r.wait for r in logged_retries(caplog.records)] == waits


def of_request(request: RecordedRequest, series_id: str) -> bool:
    return request.params.get("meetingSeriesId") == [series_id]
