"""The fake clock: frozen, or following the wall clock and never behind it; meetings
change state as it moves.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from fake_support import STANDUP, SYNC, WIDE_END, WIDE_START, get, wall
from fake_webex import DEFAULT_NOW, FakeWebex


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


def test_follow_wall_clock_is_never_behind_the_wall_clock() -> None:
    before = wall()
    with FakeWebex(follow_wall_clock=True) as live:
        first = live.now
        assert before <= first <= wall()
        time.sleep(0.02)
        assert live.now > first, "it moves with the wall clock"
        live.advance(timedelta(hours=2))
        assert live.ahead_of_wall_clock == timedelta(hours=2)
        earliest = wall() + timedelta(hours=2)
        assert earliest <= live.now <= wall() + timedelta(hours=2)
        with pytest.raises(ValueError, match="behind"):
            live.advance(timedelta(hours=-3))
        with pytest.raises(ValueError, match="behind"):
            live.set_now(wall() - timedelta(minutes=1))
        live.set_now(wall().replace(microsecond=0))  # "now" in whole seconds: the wall clock
        assert live.ahead_of_wall_clock == timedelta(0)
        live.set_now(wall() + timedelta(days=1))
        assert timedelta(hours=23) < live.ahead_of_wall_clock <= timedelta(days=1)

        base = live.api_url.removesuffix("/v1") + "/_sandbox"
        refused = requests.post(base + "/clock", json={"advance_hours": -48}, timeout=10)
        assert refused.status_code == 400
        assert "behind" in refused.json()["message"]
        status = requests.post(base + "/clock", json={"advance_hours": 24}, timeout=10).json()
        assert status["follows_wall_clock"] is True
        assert 47 < status["ahead_of_wall_clock_hours"] <= 48


def test_follow_wall_clock_may_start_ahead_but_not_behind() -> None:
    ahead = FakeWebex(now=wall() + timedelta(days=3), follow_wall_clock=True)
    assert timedelta(days=2, hours=23) < ahead.ahead_of_wall_clock <= timedelta(days=3)
    with pytest.raises(ValueError, match="behind"):
        FakeWebex(now=wall() - timedelta(days=1), follow_wall_clock=True)


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
