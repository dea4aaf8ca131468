"""Random faults (reproducible from a seed) and scripted answers."""

from __future__ import annotations

import time

import pytest
import requests
from fake_support import STANDUP, assert_webex_error, get, refresh
from fake_webex import FakeWebex, Faults
from fake_webex.faults import FaultInjector


def _statuses(fake: FakeWebex, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        try:
            statuses.append(get(fake, params={"meetingSeriesId": STANDUP}).status_code)
        except requests.ConnectionError:
            statuses.append(0)
    return statuses


def test_fault_decisions_are_reproducible(fake: FakeWebex) -> None:
    faults = Faults(seed=42, rate_429=0.2, rate_5xx=0.2, rate_reset=0.1, retry_after="mixed")
    fake.faults = faults
    first = _statuses(fake, 40)
    fake.faults = faults
    assert _statuses(fake, 40) == first
    assert {429, 0, 200} <= set(first)
    assert set(first) & {500, 502, 503, 504}
    fake.faults = Faults(seed=43, rate_429=0.2, rate_5xx=0.2, rate_reset=0.1)
    assert _statuses(fake, 40) != first
    assert [r.status for r in fake.requests[:40]] == first  # resets are recorded as 0


def test_retry_after_shapes_are_recorded(fake: FakeWebex) -> None:
    fake.faults = Faults(rate_429=1.0, retry_after="mixed", retry_after_seconds=3)
    headers = [get(fake).headers.get("Retry-After") for _ in range(4)]
    assert headers[0] == "3"
    assert headers[1] is not None
    assert headers[1].endswith("GMT")
    assert headers[2] is None
    assert headers[3] == "rand(30),add(30)"
    assert [r.retry_after for r in fake.requests] == [3.0, 3.0, None, None]
    assert all(r.status == 429 for r in fake.requests)


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        (Faults(rate_reset=1.0), requests.ConnectionError),
        (Faults(rate_truncated=1.0), requests.RequestException),
        (Faults(rate_non_json=1.0), ValueError),
    ],
)
def test_broken_responses(fake: FakeWebex, faults: Faults, error: type[Exception]) -> None:
    fake.faults = faults
    with pytest.raises(error):
        get(fake, params={"meetingSeriesId": STANDUP}).json()
    fake.faults = Faults()
    assert get(fake, params={"meetingSeriesId": STANDUP}).status_code == 200


def test_stalls_and_slowness_are_decided_per_request() -> None:
    """The delays a request is given, decided without sleeping."""
    stalling = FaultInjector(Faults(stall_after=2, stall_seconds=30))
    assert [stalling.decide(None).delay for _ in range(4)] == [0.0, 0.0, 30.0, 30.0]
    slow = FaultInjector(Faults(rate_slow=1.0, slow_seconds=0.2))
    assert {(d.kind, d.delay) for d in (slow.decide(None) for _ in range(5))} == {("ok", 0.2)}
    both = FaultInjector(Faults(stall_after=0, stall_seconds=30, rate_slow=1.0, slow_seconds=2))
    assert both.decide(None).delay == 32.0
    never = FaultInjector(Faults(rate_slow=0.0, slow_seconds=5))
    assert {never.decide(None).delay for _ in range(20)} == {0.0}


def test_a_page_larger_than_the_limit_gets_webexs_504(fake: FakeWebex) -> None:
    fake.faults = Faults(max_page_size=50)
    assert get(fake, params={"meetingSeriesId": STANDUP, "max": 50}).status_code == 200
    body = assert_webex_error(get(fake, params={"meetingSeriesId": STANDUP, "max": 100}), 504)
    assert "reduce" in body["message"]


def test_the_server_really_sleeps_the_delay(fake: FakeWebex) -> None:
    """Real time, a lower bound only: a sleep never ends early, a busy machine makes it late."""
    fake.faults = Faults(stall_after=1, stall_seconds=0.3)
    get(fake, params={"meetingSeriesId": STANDUP})
    began = time.monotonic()
    assert get(fake, params={"meetingSeriesId": STANDUP}).status_code == 200
    assert time.monotonic() - began >= 0.3


def test_faults_spare_oauth_and_control_endpoints(fake: FakeWebex) -> None:
    fake.faults = Faults(rate_429=1.0)
    assert get(fake).status_code == 429
    assert refresh(fake).status_code == 200
    assert requests.get(fake.api_url.removesuffix("/v1") + "/_sandbox/status").status_code == 200


def test_inject_scripts_the_next_answers(fake: FakeWebex) -> None:
    fake.inject(503, times=2)
    fake.inject(429, headers={"Retry-After": "7"})
    fake.inject(200, body={"items": [{"id": "x"}]}, match=lambda r: "max" in r.params)
    assert [get(fake).status_code for _ in range(4)] == [503, 503, 429, 200]
    assert get(fake, params={"max": "3"}).json() == {"items": [{"id": "x"}]}
    recorded = fake.requests
    assert [r.status for r in recorded] == [503, 503, 429, 200, 200]
    assert recorded[2].retry_after == 7.0
    assert recorded[4].items == 1
    fake.inject(400, match=lambda r: r.path == "/v1/access_token", body={"error": "invalid_grant"})
    assert refresh(fake).json() == {"error": "invalid_grant"}


def test_inject_status_zero_resets_the_connection(fake: FakeWebex) -> None:
    fake.inject(0)
    with pytest.raises(requests.ConnectionError):
        get(fake)
    assert get(fake).status_code == 200
    assert [r.status for r in fake.requests] == [0, 200]
