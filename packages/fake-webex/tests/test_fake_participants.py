"""The fake Webex's ``GET /v1/meetingParticipants``: what the participants stream is tested on.

Its people must hold what a client meets in Webex (several joins, phone-only callers without
an email, invitees who did not come, breakout sessions, undeclared fields), page by ``Link``,
be the same on every run, and answer 404 where Webex does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fake_support import SYNC, assert_webex_error, get, page_verbatim
from fake_webex import DEFAULT_NOW, FakeWebex, Faults

INSTANCE_WINDOW = (DEFAULT_NOW - timedelta(days=400), DEFAULT_NOW)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWebex]:
    with FakeWebex() as server:
        yield server


def ended_instances(fake: FakeWebex, series_id: str) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.expected_meetings(series_id, *INSTANCE_WINDOW, meeting_type="meeting")
        if m["state"] == "ended"
    ]


def every_participant(fake: FakeWebex) -> list[dict[str, Any]]:
    return [
        person
        for series_id in fake.series_ids()
        for instance in ended_instances(fake, series_id)
        for person in fake.expected_participants(str(instance["id"]))
    ]


def read_all(fake: FakeWebex, meeting_id: str, page_size: int) -> tuple[list[dict[str, Any]], int]:
    """A client following each next link as given."""
    return page_verbatim(fake, {"meetingId": meeting_id, "max": page_size}, "/meetingParticipants")


def test_participants_hold_what_webex_sends(fake: FakeWebex) -> None:
    people = every_participant(fake)
    assert len({(p["meetingId"], p["id"]) for p in people}) == len(people)
    assert any(len(p["devices"]) >= 2 for p in people)  # joined more than once
    assert any("email" not in p and p["devices"][0]["audioType"] == "pstn" for p in people)
    assert any(p["breakoutSessionsAttended"] for p in people if "breakoutSessionsAttended" in p)
    assert any(p["host"] for p in people)
    assert any(not p["invitee"] for p in people)
    assert all(p["networkQuality"] for p in people)  # a field the OpenAPI file lacks
    for p in people:
        joins = [d["joinedTime"] for d in p["devices"]]
        assert p["joinedTime"] == min(joins)
        assert joins == sorted(joins)
    # Invitees who did not come are not listed: some instance misses one.
    sync = SYNC
    listed = [
        {p.get("email") for p in fake.expected_participants(str(i["id"]))}
        for i in ended_instances(fake, sync.id)
    ]
    assert any(set(sync.invitees) - emails for emails in listed)


def test_pages_follow_the_link_and_add_up_to_the_whole_list(fake: FakeWebex) -> None:
    instance = max(
        (i for s in fake.series_ids() for i in ended_instances(fake, s)),
        key=lambda i: len(fake.expected_participants(str(i["id"]))),
    )
    expected = fake.expected_participants(str(instance["id"]))
    assert len(expected) >= 3
    items, pages = read_all(fake, str(instance["id"]), 2)
    assert items == expected
    assert pages == (len(expected) + 1) // 2


def test_the_same_instance_has_the_same_people_in_another_fake(fake: FakeWebex) -> None:
    with FakeWebex() as other:
        assert every_participant(other) == every_participant(fake)


def test_unknown_deleted_or_not_yet_shown_instances_are_404(fake: FakeWebex) -> None:
    series_id = SYNC.id
    assert_webex_error(
        get(fake, "/meetingParticipants", params={"meetingId": f"{series_id}_I_1"}), 404
    )
    upcoming = fake.expected_meetings(
        series_id, DEFAULT_NOW, DEFAULT_NOW + timedelta(days=30), meeting_type="scheduledMeeting"
    )
    assert upcoming  # none of its instances exists yet: nothing to ask about
    with pytest.raises(LookupError):
        fake.expected_participants(f"{series_id}_I_1")


def test_faults_hit_participants_as_they_hit_meetings() -> None:
    with FakeWebex(faults=Faults(rate_5xx=1.0)) as fake:
        instance = ended_instances(fake, SYNC.id)[0]
        response = get(fake, "/meetingParticipants", params={"meetingId": instance["id"]})
        assert response.status_code in (500, 502, 503, 504)
        assert fake.requests[-1].path == "/v1/meetingParticipants"
