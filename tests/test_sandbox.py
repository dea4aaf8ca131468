"""Tests of the fake Webex itself: it must behave like the API the tap is written against.

Plain HTTP with ``requests``, no tap code, so a failure here is a bug of the fake.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import tap_webex_meetings
from tap_webex_meetings.sandbox import (
    DEFAULT_NOW,
    FakeWebex,
    Faults,
    SeriesSpec,
    Token,
    bulk_series,
    default_series,
)

UTC = timezone.utc
TOKEN = "sandbox-token"
CAROL = "carol-token"
FROM, TO = "2025-01-01T00:00:00Z", "2027-06-01T00:00:00Z"
WIDE_START, WIDE_END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
SERIES = {spec.title: spec for spec in default_series(DEFAULT_NOW)}
STANDUP = SERIES["Daily Standup"].id
SYNC = SERIES["Team Sync"]
Item = dict[str, Any]


def _reset(fake: FakeWebex) -> None:
    fake.set_now(DEFAULT_NOW)
    fake.faults = Faults()
    fake.link_quirks = set()
    fake.instance_cap = 10_000
    fake.rotate_refresh_tokens = False
    fake.clear_requests()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeWebex]:
    tokens = {
        TOKEN: Token("alice@example.com", admin=True),
        CAROL: Token("carol@example.com"),
        "short-lived": Token("alice@example.com", expires_after_requests=2),
    }
    with FakeWebex(tokens=tokens) as fake:
        yield fake


@pytest.fixture
def fake(shared_server: FakeWebex) -> Iterator[FakeWebex]:
    """The module's one server, in its default state (clock, faults, quirks, cap)."""
    _reset(shared_server)
    yield shared_server
    _reset(shared_server)


def get(
    fake: FakeWebex, path: str = "/meetings", *, token: str | None = TOKEN, **kw: Any
) -> requests.Response:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(fake.api_url + path, headers=headers, timeout=10, **kw)


def page_verbatim(fake: FakeWebex, params: dict[str, Any]) -> tuple[list[Item], int]:
    """A naive client: follows each next link exactly as given."""
    response = get(fake, params=params)
    items, pages = [], 1
    while True:
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        if "next" not in response.links:
            return items, pages
        response = requests.get(
            response.links["next"]["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        pages += 1


def page_correctly(
    fake: FakeWebex, params: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[list[Item], int]:
    """A correct client: takes only the cursor from a next link and re-sends its params."""
    query = dict(params)
    items, pages = [], 0
    while True:
        response = get(fake, params=query, headers=headers or {})
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        pages += 1
        if "next" not in response.links:
            return items, pages
        cursor = parse_qs(urlsplit(response.links["next"]["url"]).query)["cursor"][-1]
        query = {**params, "cursor": cursor}


def assert_webex_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["message"]
    assert body["errors"][0]["description"]
    assert body["trackingId"].startswith("ROUTER_")
    assert response.headers["TrackingID"] == body["trackingId"]
    return body


# --- paging ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [7, 10, 100])
def test_paging_gives_ceil_pages_and_every_id_once(fake: FakeWebex, size: int) -> None:
    expected = fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)
    params = {"meetingSeriesId": STANDUP, "from": FROM, "to": TO, "max": size}
    items, pages = page_verbatim(fake, params)
    assert pages == math.ceil(len(expected) / size)
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids)
    assert ids == [item["id"] for item in expected]


def test_a_full_last_page_has_no_next_link(fake: FakeWebex) -> None:
    series = SERIES["Incident Review Sprint"].id  # 10 held occurrences: 20 records
    items, pages = page_verbatim(
        fake, {"meetingSeriesId": series, "from": FROM, "to": TO, "max": 5}
    )
    assert (len(items), pages) == (20, 4)
    response = get(fake, params={"meetingSeriesId": series, "from": FROM, "to": TO, "max": 20})
    assert len(response.json()["items"]) == 20
    assert "Link" not in response.headers


def test_order_is_by_start_with_scheduled_before_its_instances(fake: FakeWebex) -> None:
    items = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END)
    starts = [item["start"] for item in items]
    assert starts == sorted(starts)
    first_instance = next(i for i, item in enumerate(items) if item["meetingType"] == "meeting")
    parent = items[first_instance]["scheduledMeetingId"]
    assert [item["id"] for item in items].index(parent) < first_instance


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"meetingType": "meeting"},
        {"meetingType": "scheduledMeeting", "state": "missed"},
        {"state": "ended"},
        {"isModified": "true"},
        {"isModified": "false"},
    ],
)
def test_expected_meetings_is_what_a_correct_client_gets(
    fake: FakeWebex, filters: dict[str, str]
) -> None:
    keywords: dict[str, Any] = {
        "meeting_type": filters.get("meetingType"),
        "state": filters.get("state"),
        "is_modified": {"true": True, "false": False}.get(filters.get("isModified", "")),
    }
    for spec in SERIES.values():  # as an admin, so every host's series is reachable
        series_id = spec.id
        params = {"meetingSeriesId": series_id, "from": FROM, "to": TO, "max": 100, **filters}
        items, _ = page_correctly(fake, {**params, "hostEmail": spec.host_email})
        assert items == fake.expected_meetings(series_id, WIDE_START, WIDE_END, **keywords)


def test_is_modified_returns_only_scheduled_meetings(fake: FakeWebex) -> None:
    modified = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END, is_modified=True)
    unmodified = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END, is_modified=False)
    scheduled = fake.expected_meetings(
        SYNC.id, WIDE_START, WIDE_END, meeting_type="scheduledMeeting"
    )
    assert modified
    assert all(item["isModified"] for item in modified)
    assert len(modified) + len(unmodified) == len(scheduled) == SYNC.count


def test_from_is_inclusive_and_to_exclusive(fake: FakeWebex) -> None:
    start = SYNC.start_of(10).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = get(fake, params={"meetingSeriesId": SYNC.id, "from": start, "to": TO}).json()
    before = get(fake, params={"meetingSeriesId": SYNC.id, "from": FROM, "to": start, "max": 100})
    assert after["items"][0]["start"] == start
    assert all(item["start"] < start for item in before.json()["items"])


def test_missing_from_and_to_default_to_a_week_around_now(fake: FakeWebex) -> None:
    week = timedelta(days=7)
    params = {"meetingSeriesId": STANDUP, "max": 100}
    upcoming = get(fake, params=params).json()["items"]
    assert upcoming == fake.expected_meetings(STANDUP, DEFAULT_NOW, DEFAULT_NOW + week)
    past = get(fake, params={**params, "meetingType": "meeting"}).json()["items"]
    assert past == fake.expected_meetings(
        STANDUP, DEFAULT_NOW - week, DEFAULT_NOW, meeting_type="meeting"
    )


def test_cursor_with_params_continues_correctly(fake: FakeWebex) -> None:
    params = {"meetingSeriesId": SYNC.id, "from": FROM, "to": TO, "max": 3}
    first = get(fake, params=params)
    cursor = parse_qs(urlsplit(first.links["next"]["url"]).query)["cursor"][-1]
    second = get(fake, params={**params, "cursor": cursor}).json()["items"]
    assert (
        first.json()["items"] + second == fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END)[:6]
    )
    assert_webex_error(get(fake, params={**params, "cursor": "not a cursor"}), 400)


# --- link quirks -------------------------------------------------------------------------


def test_quirk_drop_params_breaks_naive_clients_only(fake: FakeWebex) -> None:
    fake.link_quirks = {"drop_params"}
    params = {"meetingSeriesId": STANDUP, "from": FROM, "to": TO, "max": 50}
    first = get(fake, params=params)
    assert set(parse_qs(urlsplit(first.links["next"]["url"]).query)) == {"cursor", "max"}
    expected = fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)
    naive, _ = page_verbatim(fake, params)
    assert [item["id"] for item in naive] != [item["id"] for item in expected]
    assert page_correctly(fake, params)[0] == expected


def test_quirk_max_null_gets_400_unless_stripped(fake: FakeWebex) -> None:
    fake.link_quirks = {"max_null"}
    params = {"meetingSeriesId": STANDUP, "from": FROM, "to": TO, "max": 50}
    link = get(fake, params=params).links["next"]["url"]
    assert parse_qs(urlsplit(link).query)["max"] == ["null"]
    assert_webex_error(requests.get(link, headers={"Authorization": f"Bearer {TOKEN}"}), 400)
    items, _ = page_correctly(fake, params)
    assert items == fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)


def test_quirk_literal_string(fake: FakeWebex) -> None:
    fake.link_quirks = {"literal_string"}
    response = get(fake, params={"meetingSeriesId": STANDUP, "from": FROM, "to": TO})
    assert response.headers["Link"] == "string"
    assert "next" not in response.links


# --- the instance cap --------------------------------------------------------------------


def test_instance_cap_limits_instances_across_pages_only(fake: FakeWebex) -> None:
    fake.instance_cap = 5
    base = {"meetingSeriesId": STANDUP, "from": FROM, "to": TO}
    instances, pages = page_verbatim(fake, {**base, "meetingType": "meeting", "max": 2})
    assert (len(instances), pages) == (5, 3)
    everything, _ = page_verbatim(fake, {**base, "max": 100})
    scheduled = [item for item in everything if item["meetingType"] == "scheduledMeeting"]
    assert len(scheduled) == SERIES["Daily Standup"].count
    assert len(everything) - len(scheduled) == 5
    assert everything == fake.expected_meetings(STANDUP, WIDE_START, WIDE_END, apply_cap=True)
    uncapped = fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)
    assert len(uncapped) > len(everything)


# --- the clock ---------------------------------------------------------------------------


def test_advancing_the_clock_ends_meetings_and_adds_instances(fake: FakeWebex) -> None:
    # Team Sync occurrences 53..55 are all after DEFAULT_NOW: 54 is restarted, 55 missed.
    start, end = SYNC.start_of(53), SYNC.start_of(56)
    before = fake.expected_meetings(SYNC.id, start, end)
    assert [(m["meetingType"], m["state"]) for m in before] == [
        ("scheduledMeeting", "scheduled")
    ] * 3

    first_start, first_end = SYNC.instance_times(53)[0]
    fake.set_now(first_start + timedelta(minutes=20))
    running = [
        m for m in fake.expected_meetings(SYNC.id, start, end) if m["meetingType"] == "meeting"
    ]
    assert [m["state"] for m in running] == ["inProgress"]
    assert running[0]["end"] is None  # "if a meeting instance is in progress, end is not available"

    fake.set_now(SYNC.start_of(55) + timedelta(hours=2))
    params = {"meetingSeriesId": SYNC.id, "from": start.isoformat(), "to": end.isoformat()}
    after = get(fake, params=params).json()["items"]
    assert [(m["meetingType"], m["state"]) for m in after] == [
        ("scheduledMeeting", "ended"),
        ("meeting", "ended"),
        ("scheduledMeeting", "ended"),
        ("meeting", "ended"),
        ("meeting", "ended"),
        ("scheduledMeeting", "missed"),
    ]
    assert after[1]["id"] == running[0]["id"]
    assert after[1]["end"] == first_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {after[3]["scheduledMeetingId"], after[4]["scheduledMeetingId"]} == {after[2]["id"]}


def test_ready_state_before_start(fake: FakeWebex) -> None:
    occurrence = SYNC.start_of(60)
    fake.set_now(occurrence - timedelta(minutes=5))
    [item] = fake.expected_meetings(SYNC.id, occurrence, occurrence + timedelta(seconds=1))
    assert item["state"] == "ready"


def test_huge_series_is_generated_lazily(fake: FakeWebex) -> None:
    spec = SeriesSpec(
        id="ab" * 16,
        title="Forever",
        host_email="alice@example.com",
        host_name="Alice Smith",
        first_start=datetime(2000, 1, 1, 8, tzinfo=UTC),
        interval=timedelta(days=1),
        count=200_000,
        duration=timedelta(minutes=30),
    )
    with FakeWebex(series=[spec], now=datetime(2400, 1, 1, tzinfo=UTC)) as big:
        began = time.monotonic()
        response = get(
            big, params={"meetingSeriesId": spec.id, "from": "2399-12-01T00:00:00Z", "max": 100}
        )
        assert time.monotonic() - began < 1.0
    assert len(response.json()["items"]) == 14  # 7 days: 7 scheduled + 7 instances


# --- headers, errors, auth ---------------------------------------------------------------


def test_timezone_header_renders_offsets(fake: FakeWebex) -> None:
    params = {"meetingSeriesId": SYNC.id, "from": FROM, "to": TO, "max": 5}
    utc = get(fake, params=params).json()["items"]
    shanghai = get(fake, params=params, headers={"timezone": "Asia/Shanghai"}).json()["items"]
    assert utc[0]["start"].endswith("Z")
    assert utc[0]["timezone"] == "UTC"
    assert shanghai[0]["start"].endswith("+08:00")
    assert shanghai[0]["timezone"] == "Asia/Shanghai"
    for a, b in zip(utc, shanghai, strict=True):
        assert datetime.fromisoformat(a["start"].replace("Z", "+00:00")) == datetime.fromisoformat(
            b["start"]
        )
    new_york = get(fake, params=params, headers={"timezone": "America/New_York"}).json()
    assert new_york["items"][0]["start"].endswith(("-04:00", "-05:00"))
    assert_webex_error(get(fake, params=params, headers={"timezone": "Mars/Olympus"}), 400)


@pytest.mark.parametrize(
    ("token", "params", "status"),
    [
        (None, {}, 401),
        ("wrong", {}, 401),
        (CAROL, {"hostEmail": "alice@example.com"}, 403),
        (TOKEN, {"meetingSeriesId": "0" * 32}, 404),
        (CAROL, {"meetingSeriesId": STANDUP}, 404),  # carol is not invited
        (TOKEN, {"meetingSeriesId": STANDUP, "from": TO, "to": FROM}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "from": "yesterday"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "max": "0"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "max": "101"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "max": "null"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "meetingType": "webinar"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "state": "done"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "isModified": "maybe"}, 400),
    ],
)
def test_errors_carry_a_webex_error_body(
    fake: FakeWebex, token: str | None, params: dict[str, str], status: int
) -> None:
    body = assert_webex_error(get(fake, token=token, params=params), status)
    if status == 403:
        assert "meeting:admin_schedule_read" in body["message"]


def test_token_expires_after_its_requests(fake: FakeWebex) -> None:
    params = {"meetingSeriesId": STANDUP}
    assert [get(fake, token="short-lived", params=params).status_code for _ in range(2)] == [
        200
    ] * 2
    assert_webex_error(get(fake, token="short-lived", params=params), 401)


def test_admin_host_email_sees_as_that_user(fake: FakeWebex) -> None:
    params = {"meetingType": "meetingSeries", "from": FROM, "to": TO, "max": 100}
    as_carol = get(fake, token=CAROL, params=params).json()["items"]
    for_carol = get(fake, params={**params, "hostEmail": "carol@example.com"}).json()["items"]
    assert [s["id"] for s in as_carol] == [s["id"] for s in for_carol]
    assert sorted(s["id"] for s in as_carol) == sorted(fake.series_ids("carol@example.com"))
    design = SERIES["Design Review"].id
    assert get(fake, params={"meetingSeriesId": design}).status_code == 404
    hosted = get(fake, params={"meetingSeriesId": design, "hostEmail": "carol@example.com"})
    assert hosted.status_code == 200


def test_discovery_lists_overlapping_series_with_paging(fake: FakeWebex) -> None:
    params = {"meetingType": "meetingSeries", "from": FROM, "to": TO, "max": 2}
    items, pages = page_verbatim(fake, params)
    assert sorted(s["id"] for s in items) == sorted(fake.series_ids("alice@example.com"))
    assert pages == math.ceil(len(items) / 2) > 1
    assert all(s["meetingSeriesId"] is None and s["recurrence"].startswith("FREQ=") for s in items)
    states = {s["title"]: s["state"] for s in items}
    assert states["Incident Review Sprint"] == "expired"
    assert states["Daily Standup"] == "active"
    recent = {"meetingType": "meetingSeries", "from": "2026-06-01T00:00:00Z", "to": TO}
    titles = {s["title"] for s in get(fake, params=recent).json()["items"]}
    assert "Incident Review Sprint" not in titles


def test_get_one_meeting(fake: FakeWebex) -> None:
    series = get(fake, f"/meetings/{SYNC.id}").json()
    assert series["meetingType"] == "meetingSeries"
    assert series["id"] == SYNC.id
    scheduled_id = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END)[0]["id"]
    assert get(fake, f"/meetings/{scheduled_id}").json()["id"] == scheduled_id
    assert_webex_error(get(fake, "/meetings/" + "f" * 32), 404)


def test_records_have_the_api_fields(fake: FakeWebex) -> None:
    items = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END)
    scheduled = next(m for m in items if m["meetingType"] == "scheduledMeeting")
    instance = next(m for m in items if m["meetingType"] == "meeting")
    for name in ("meetingNumber", "password", "hostKey", "telephony", "sipAddress", "isModified"):
        assert name in scheduled
    assert scheduled["id"] == f"{SYNC.id}_{SYNC.start_of(0).strftime('%Y%m%dT%H%M%SZ')}"
    assert scheduled["telephony"]["callInNumbers"][0]["tollType"] in ("toll", "tollFree")
    for name in ("password", "hostKey", "meetingNumber", "isModified"):
        assert instance[name] is None  # they do not apply to ended instances
    assert instance["id"].startswith(f"{SYNC.id}_I_")
    assert len(instance["id"].split("_I_")[1]) == 18
    webinar = SERIES["All-Hands Webinar"].id
    first = fake.expected_meetings(webinar, WIDE_START, WIDE_END)[0]
    assert first["scheduledType"] == "webinar"
    assert "panelistPassword" in first


# --- faults ------------------------------------------------------------------------------


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


def test_slowness_stalls_and_page_size_limit(fake: FakeWebex) -> None:
    fake.faults = Faults(stall_after=1, stall_seconds=0.3, max_page_size=50)
    began = time.monotonic()
    assert get(fake, params={"meetingSeriesId": STANDUP}).status_code == 200
    assert time.monotonic() - began < 0.3
    body = assert_webex_error(get(fake, params={"meetingSeriesId": STANDUP, "max": 100}), 504)
    assert "reduce" in body["message"]
    assert time.monotonic() - began >= 0.3
    fake.faults = Faults(rate_slow=1.0, slow_seconds=0.2)
    began = time.monotonic()
    get(fake)
    assert time.monotonic() - began >= 0.2


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


def test_unknown_link_quirks_are_refused(fake: FakeWebex) -> None:
    with pytest.raises(ValueError, match="quirk"):
        fake.link_quirks = {"drop_parameters"}


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


# --- OAuth -------------------------------------------------------------------------------


def refresh(
    fake: FakeWebex, token: str = "sandbox-refresh", secret: str = "sandbox-secret"
) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client",
        "client_secret": secret,
        "refresh_token": token,
    }
    return requests.post(fake.api_url + "/access_token", data=form, timeout=10)


def test_oauth_refresh_and_rotation(fake: FakeWebex) -> None:
    answer = refresh(fake).json()
    assert answer["refresh_token"] == "sandbox-refresh"
    assert answer["expires_in"] == fake.token_lifetime_seconds
    assert answer["refresh_token_expires_in"] == 7_776_000
    assert answer["token_type"] == "Bearer"
    assert get(fake, token=answer["access_token"], params={"meetingSeriesId": STANDUP}).ok

    fake.rotate_refresh_tokens = True
    rotated = refresh(fake).json()["refresh_token"]
    assert rotated != "sandbox-refresh"
    try:
        body = refresh(fake).json()  # the old refresh token is gone
        assert body["error"] == "invalid_grant"
        assert body["trackingId"]
        assert refresh(fake, rotated).status_code == 200
    finally:
        fake.refresh_tokens.clear()
        fake.refresh_tokens.add("sandbox-refresh")


def test_oauth_errors(fake: FakeWebex) -> None:
    assert refresh(fake, secret="wrong").status_code == 401
    response = refresh(fake, token="expired")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# --- control endpoints, construction, datasets -------------------------------------------


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


def test_series_spec_validation() -> None:
    good = SYNC
    with pytest.raises(ValueError, match="hex"):
        SeriesSpec(**{**good.__dict__, "id": "not-hex"})
    with pytest.raises(ValueError, match="interval"):
        SeriesSpec(**{**good.__dict__, "interval": timedelta(minutes=30)})


def test_default_series_are_deterministic() -> None:
    assert default_series(DEFAULT_NOW) == default_series(DEFAULT_NOW)
    later = default_series(DEFAULT_NOW + timedelta(days=3))
    assert [s.id for s in later] == [s.id for s in default_series(DEFAULT_NOW)]


def test_bulk_series_record_counts_are_exact() -> None:
    specs = bulk_series(3, 25, now=DEFAULT_NOW)
    first = datetime(2026, 6, 17, tzinfo=UTC)
    with FakeWebex(series=specs, now=DEFAULT_NOW) as bulk:
        for spec in specs:
            params = {
                "meetingSeriesId": spec.id,
                "from": first.isoformat(),
                "to": (first + timedelta(hours=25)).isoformat(),
                "max": 100,
            }
            items = get(bulk, params=params).json()["items"]
            assert len(items) == 25
            assert {(m["meetingType"], m["state"]) for m in items} == {
                ("scheduledMeeting", "scheduled")
            }
        found = get(bulk, params={"meetingType": "meetingSeries", "from": FROM, "to": TO})
        assert len(found.json()["items"]) == 3


# --- the command line --------------------------------------------------------------------


def _start_cli(*args: str) -> subprocess.Popen[str]:
    """``python -m tap_webex_meetings.sandbox --port 0 ARGS``, importing this checkout."""
    root = Path(tap_webex_meetings.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tap_webex_meetings.sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_cli_prints_where_it_listens_and_stops_on_sigterm() -> None:
    process = _start_cli("--seed", "1")
    try:
        assert process.stdout is not None
        api_line, token_line = process.stdout.readline(), process.stdout.readline()
        assert api_line.startswith("api_url=http://127.0.0.1:")
        assert not api_line.strip().endswith(":0/v1")
        assert token_line.strip() == "access_token=sandbox-token"
        api_url = api_line.strip().removeprefix("api_url=")
        response = requests.get(
            api_url + "/meetings",
            params={"meetingType": "meetingSeries"},
            headers={"Authorization": "Bearer sandbox-token"},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        # Not communicate(): it reads the pipe itself and loses what readline() buffered.
        assert process.stdout is not None
        assert process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
        process.wait(timeout=10)
    assert process.returncode == 0, err
    assert "_sandbox/clock" in out


# --- a clock that follows the wall clock (the user-facing sandbox) ------------------------


def _wall() -> datetime:
    return datetime.now(UTC)


def test_follow_wall_clock_is_never_behind_the_wall_clock() -> None:
    before = _wall()
    with FakeWebex(follow_wall_clock=True) as live:
        first = live.now
        assert before <= first <= _wall()
        time.sleep(0.02)
        assert live.now > first, "it moves with the wall clock"
        live.advance(timedelta(hours=2))
        assert live.ahead_of_wall_clock == timedelta(hours=2)
        earliest = _wall() + timedelta(hours=2)
        assert earliest <= live.now <= _wall() + timedelta(hours=2)
        with pytest.raises(ValueError, match="behind"):
            live.advance(timedelta(hours=-3))
        with pytest.raises(ValueError, match="behind"):
            live.set_now(_wall() - timedelta(minutes=1))
        live.set_now(_wall().replace(microsecond=0))  # "now" in whole seconds: the wall clock
        assert live.ahead_of_wall_clock == timedelta(0)
        live.set_now(_wall() + timedelta(days=1))
        assert timedelta(hours=23) < live.ahead_of_wall_clock <= timedelta(days=1)

        base = live.api_url.removesuffix("/v1") + "/_sandbox"
        refused = requests.post(base + "/clock", json={"advance_hours": -48}, timeout=10)
        assert refused.status_code == 400
        assert "behind" in refused.json()["message"]
        status = requests.post(base + "/clock", json={"advance_hours": 24}, timeout=10).json()
        assert status["follows_wall_clock"] is True
        assert 47 < status["ahead_of_wall_clock_hours"] <= 48


def test_follow_wall_clock_may_start_ahead_but_not_behind() -> None:
    ahead = FakeWebex(now=_wall() + timedelta(days=3), follow_wall_clock=True)
    assert timedelta(days=2, hours=23) < ahead.ahead_of_wall_clock <= timedelta(days=3)
    with pytest.raises(ValueError, match="behind"):
        FakeWebex(now=_wall() - timedelta(days=1), follow_wall_clock=True)


def test_frozen_clock_stays_put_and_can_go_back(fake: FakeWebex) -> None:
    assert not fake.follows_wall_clock
    time.sleep(0.02)
    assert fake.now == DEFAULT_NOW
    fake.advance(timedelta(hours=-1))
    assert fake.now == DEFAULT_NOW - timedelta(hours=1)
    assert fake.ahead_of_wall_clock == timedelta(0)


def test_expected_meetings_at_a_moment_of_the_clock(fake: FakeWebex) -> None:
    later = DEFAULT_NOW + timedelta(days=2)
    asked = fake.expected_meetings(STANDUP, WIDE_START, WIDE_END, at=later)
    assert fake.now == DEFAULT_NOW
    fake.set_now(later)
    assert asked == fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)
    fake.set_now(DEFAULT_NOW)
    assert asked != fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)


def _cli_status(*args: str) -> tuple[dict[str, Any], list[Item]]:
    """Start the CLI with ``args``; its status and the Daily Standup's meetings, then stop."""
    process = _start_cli(*args)
    try:
        assert process.stdout is not None
        api_url = process.stdout.readline().strip().removeprefix("api_url=")
        assert api_url.startswith("http://127.0.0.1:"), process.stderr
        status = requests.get(api_url.removesuffix("/v1") + "/_sandbox/status", timeout=10).json()
        params = {"meetingSeriesId": STANDUP, "max": "100"}
        params["from"], params["to"] = (_iso(moment) for moment in _LAST_WEEKS)
        items = requests.get(
            api_url + "/meetings",
            params=params,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()["items"]
    finally:
        process.terminate()
        process.communicate(timeout=10)
    return status, items


def test_cli_follows_the_wall_clock_unless_now_is_given() -> None:
    before = _wall()
    status, _ = _cli_status("--ahead-hours", "24")
    assert status["follows_wall_clock"] is True
    assert status["ahead_of_wall_clock_hours"] == 24
    now = datetime.fromisoformat(status["now"].replace("Z", "+00:00"))
    assert (
        before + timedelta(hours=24) - timedelta(seconds=1) <= now <= _wall() + timedelta(hours=24)
    )

    frozen, _ = _cli_status("--now", "2026-06-15T12:00:00Z")
    assert frozen["follows_wall_clock"] is False
    assert frozen["now"] == "2026-06-15T12:00:00Z"


def test_cli_anchor_keeps_the_same_meetings_on_a_later_day() -> None:
    """A restart days later with the first run's anchor serves the same meetings (same
    instance ids), so a warehouse loaded before is updated, not filled with look-alikes.
    """
    anchor = _wall() - timedelta(days=3)
    _, anchored = _cli_status("--anchor", _iso(anchor))
    with FakeWebex(series=default_series(anchor), follow_wall_clock=True) as same:
        truth = same.expected_meetings(STANDUP, *_LAST_WEEKS)
    _, unanchored = _cli_status()

    def instances(items: list[Item]) -> dict[str, str]:
        """Scheduled meeting -> id of its (first) instance."""
        return {m["scheduledMeetingId"]: m["id"] for m in items if m["meetingType"] == "meeting"}

    assert instances(anchored) == instances(truth) != {}
    moved = instances(unanchored)
    shared = instances(anchored).keys() & moved.keys()
    assert shared, "the same weeks have instances"
    assert all(instances(anchored)[key] != moved[key] for key in shared), "ids follow the anchor"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Three weeks up to a day ago: every meeting there has ended or was missed, whatever the
# exact clock, and a Daily Standup query fits in one page.
_LAST_WEEKS = (_wall() - timedelta(days=22), _wall() - timedelta(days=1))
