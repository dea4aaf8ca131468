"""The server itself: the request log, HTTP/1.1, the control endpoints, loopback only."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from fake_support import STANDUP, TOKEN, UTC, get
from fake_webex import FakeWebex, Faults


def test_requests_are_recorded(fake: FakeWebex) -> None:
    get(fake, params={"meetingSeriesId": STANDUP, "max": "4"}, headers={"timezone": "UTC"})
    get(fake, token=None)
    first, second = fake.requests
    assert (first.method, first.path, first.status, first.items) == ("GET", "/v1/meetings", 200, 4)
    assert first.params == {"meetingSeriesId": [STANDUP], "max": ["4"]}
    assert first.headers["timezone"] == "UTC"
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert second.status == 401
    assert second.time >= first.time
    fake.clear_requests()
    assert fake.requests == []


def test_keep_alive_and_content_length(fake: FakeWebex) -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        for _ in range(3):
            response = session.get(fake.api_url + "/meetings", params={"meetingSeriesId": STANDUP})
            assert response.raw.version == 11
            assert int(response.headers["Content-Length"]) == len(response.content)


def test_control_endpoints(fake: FakeWebex) -> None:
    base = fake.api_url.removesuffix("/v1") + "/_sandbox"
    status = requests.get(base + "/status").json()
    assert status["now"] == "2026-06-15T12:00:00Z"
    assert status["api_url"] == fake.api_url
    assert status["series"] == fake.series_ids()
    moved = requests.post(base + "/clock", json={"advance_hours": 1.5}).json()
    assert moved["now"] == "2026-06-15T13:30:00Z" == fake.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    requests.post(base + "/clock", json={"now": "2026-07-01T08:00:00+02:00"})
    assert fake.now == datetime(2026, 7, 1, 6, tzinfo=UTC)
    assert requests.post(base + "/faults", json={"rate_429": 0.5, "seed": 3}).ok
    assert fake.faults == Faults(seed=3, rate_429=0.5)
    assert requests.post(base + "/faults", json={"rate_429": 3}).status_code == 400
    assert requests.post(base + "/clock", data="not json").status_code == 400


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_only_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeWebex(host=host)
