"""Listing meetings: pages, cursors, next links and their quirks, the instance cap,
discovery.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fake_support import (
    FROM,
    SERIES,
    STANDUP,
    SYNC,
    TO,
    TOKEN,
    WIDE_END,
    WIDE_START,
    assert_webex_error,
    get,
    page_correctly,
    page_verbatim,
)
from fake_webex import DEFAULT_NOW, FakeWebex


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


def test_unknown_link_quirks_are_refused(fake: FakeWebex) -> None:
    with pytest.raises(ValueError, match="quirk"):
        fake.link_quirks = {"drop_parameters"}


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


def test_a_cap_that_ends_the_listing_ends_it_at_the_cap_s_last_instance(fake: FakeWebex) -> None:
    """The other reading of Webex's words: nothing after the cap's last instance is listed."""
    fake.instance_cap = 5
    fake.cap_ends_listing = True
    base = {"meetingSeriesId": STANDUP, "from": FROM, "to": TO}
    listed, _ = page_verbatim(fake, {**base, "max": 3})
    assert listed[-1]["meetingType"] == "meeting"
    assert sum(item["meetingType"] == "meeting" for item in listed) == 5
    assert listed == fake.expected_meetings(STANDUP, WIDE_START, WIDE_END, apply_cap=True)
    uncapped = fake.expected_meetings(STANDUP, WIDE_START, WIDE_END)
    assert listed == uncapped[: len(listed)]
    assert any(item["meetingType"] == "scheduledMeeting" for item in uncapped[len(listed) :])


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
