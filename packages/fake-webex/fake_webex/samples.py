"""Ready-made series: the sandbox's default six, and bulk ones for benchmarks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .series import UTC, SeriesSpec, stable_hex

PEOPLE = {
    "alice@example.com": "Alice Smith",
    "bob@example.com": "Bob Jones",
    "carol@example.com": "Carol White",
    "dave@example.com": "Dave Brown",
    "erin@example.com": "Erin Green",
}


def _midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _series(name: str, host: str, **fields: Any) -> SeriesSpec:
    return SeriesSpec(
        id=stable_hex("sandbox", name), host_email=host, host_name=PEOPLE[host], **fields
    )


def default_series(now: datetime) -> list[SeriesSpec]:
    """Six series around ``now`` covering every state (ids do not depend on ``now``).

    Alice hosts four (she is invited to none), bob hosts the webinar, carol hosts one and
    is invited to alice's 1:1 and bob's webinar; dave and erin are invitees only. At ``now``
    itself carol's series has an instance in progress, alice's team sync is `ready`
    (it starts 5 minutes later) and alice's short incident series has expired.
    """
    day, week = timedelta(days=1), timedelta(days=7)
    base = _midnight(now)
    alice, bob, carol, dave, erin = PEOPLE
    return [
        _series("daily-standup", alice, title="Daily Standup",
                first_start=base - 120 * day + timedelta(hours=9), interval=day, count=181,
                duration=timedelta(minutes=15), missed_every=11, invitees=(dave, erin)),
        _series("team-sync", alice, title="Team Sync",
                first_start=base - 52 * week + timedelta(hours=12, minutes=5), interval=week,
                count=61, duration=timedelta(hours=1), missed_every=7, restarted_every=5,
                modified_every=4, invitees=(dave, erin), full_options=True),
        _series("alice-carol-1on1", alice, title="Alice / Carol 1:1",
                first_start=base - 13 * week + day + timedelta(hours=15, minutes=30),
                interval=week, count=26, duration=timedelta(minutes=30), missed_every=6,
                invitees=(carol,)),
        _series("all-hands", bob, title="All-Hands Webinar",
                first_start=base - 8 * 28 * day + 3 * day + timedelta(hours=17),
                interval=28 * day, count=12, duration=timedelta(minutes=90),
                restarted_every=4, modified_every=3, scheduled_type="webinar",
                invitees=(carol, dave), password="AllH@nds26", full_options=True),
        _series("incident-review", alice, title="Incident Review Sprint",
                first_start=base - 65 * day + timedelta(hours=10), interval=day, count=10,
                duration=timedelta(minutes=30), invitees=(dave,)),
        _series("design-review", carol, title="Design Review",
                first_start=base - 20 * week + timedelta(hours=11, minutes=30), interval=week,
                count=30, duration=timedelta(hours=1), missed_every=5),
    ]  # fmt: skip


def bulk_series(
    count: int, meetings_each: int, *, now: datetime, host_email: str = "alice@example.com"
) -> list[SeriesSpec]:
    """``count`` identical-shape series for benchmarks, with exact record counts.

    Every series has ``meetings_each`` hourly occurrences of 30 minutes, the first at
    ``midnight(now, UTC) + 2 days``, so all of them are in the future: as long as the server
    clock stays at ``now``, a series query whose [from, to) covers
    ``[midnight + 2 days, midnight + 2 days + meetings_each hours)`` returns exactly
    ``meetings_each`` records, all `scheduledMeeting` in state `scheduled`, and no
    instances; a narrower range returns the occurrences starting inside it. Every option
    is on, so records are as large as Webex's fullest.
    """
    if count < 0 or meetings_each < 1:
        raise ValueError("bulk_series needs count >= 0 and meetings_each >= 1")
    first = _midnight(now) + timedelta(days=2)
    return [
        SeriesSpec(
            id=stable_hex("bulk", host_email.lower(), i),
            title=f"Bulk Series {i:05d}",
            host_email=host_email,
            host_name=PEOPLE.get(host_email.lower(), host_email.partition("@")[0].title()),
            first_start=first,
            interval=timedelta(hours=1),
            count=meetings_each,
            duration=timedelta(minutes=30),
            full_options=True,
        )
        for i in range(count)
    ]


def history_series(
    count: int, *, now: datetime, host_email: str = "alice@example.com"
) -> list[SeriesSpec]:
    """``count`` one-off meetings spread evenly over the year before ``now``: a history.

    Webex models a one-off meeting as a series of one occurrence without ``recurrence``, so
    an organisation accumulates one series per one-off meeting ever scheduled, nearly all
    of them over. Each lasts 30 minutes; the last one starts a year / ``count`` before
    midnight of ``now`` (UTC), so every one of them has ended by then.
    """
    if count < 0:
        raise ValueError("history_series needs count >= 0")
    end = _midnight(now)
    year, minutes = timedelta(days=365), 365 * 24 * 60
    name = PEOPLE.get(host_email.lower(), host_email.partition("@")[0].title())
    return [
        SeriesSpec(
            id=stable_hex("history", host_email.lower(), i),
            title=f"One-off Meeting {i:06d}",
            host_email=host_email,
            host_name=name,
            first_start=end - year + timedelta(minutes=minutes * i // count),
            interval=timedelta(days=1),
            count=1,
            duration=timedelta(minutes=30),
            missed_every=1 if i % 7 == 6 else 0,  # one in seven never happened
            recurring=False,
        )
        for i in range(count)
    ]
