"""A meeting series of the fake Webex: its spec, and the arithmetic of its occurrences.

Nothing is stored per occurrence. Occurrence ``k`` of a series starts at
``first_start + k * interval``; everything else about it (missed or held, the actual start
of its instances, ids, passwords) is derived from a hash of ``(series id, k, j)``, so a
series of 200,000 occurrences costs nothing until a page of it is asked for, and the same
query always returns the same records for the same fake clock.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

UTC = timezone.utc
Record = dict[str, Any]

SCHEDULED_TYPES = ("meeting", "webinar")
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z"})

MAX_LATE_START = timedelta(minutes=9)
RESTART_GAP = timedelta(minutes=2)
# Occurrences must not overlap, so that "ordered by start" is also "ordered by occurrence".
MIN_GAP = MAX_LATE_START + RESTART_GAP + timedelta(minutes=4)


def stable_hash(*parts: object) -> int:
    """A stable 64-bit number for the given parts (the dataset's only source of variety)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def stable_digits(count: int, *parts: object) -> str:
    return str(stable_hash(*parts) % 10**count).zfill(count)


def stable_hex(*parts: object) -> str:
    """32 lower-case hex characters, the shape of a Webex meeting series id."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def parse_time(text: str) -> datetime:
    """Parse ISO 8601 (``Z``, an offset, or none meaning UTC) on every supported Python."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(moment: datetime, tz_name: str = "UTC") -> str:
    """Render like Webex: ``...Z`` for UTC, else local time with its offset."""
    if tz_name in UTC_NAMES:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(ZoneInfo(tz_name)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SeriesSpec:
    """One recurring meeting series; its occurrences are computed, never stored."""

    id: str
    title: str
    host_email: str
    host_name: str
    first_start: datetime
    interval: timedelta
    count: int
    duration: timedelta
    missed_every: int = 0
    restarted_every: int = 0
    modified_every: int = 0
    scheduled_type: str = "meeting"
    invitees: tuple[str, ...] = ()
    password: str = "BgJep@43"
    # Every optional feature on (live stream, interpretation, breakout sessions, watermarks,
    # a space): the fullest records Webex sends, as organisations with such options get.
    full_options: bool = False
    # False: a one-off meeting, which Webex models as a series of one occurrence without
    # `recurrence` (its series record's start and end are that occurrence's).
    recurring: bool = True

    def __post_init__(self) -> None:
        if len(self.id) != 32 or any(c not in "0123456789abcdef" for c in self.id):
            raise ValueError(f"series id must be 32 lower-case hex characters: {self.id!r}")
        if self.first_start.tzinfo is None:
            raise ValueError("first_start must be timezone-aware")
        if self.count < 1 or self.duration <= timedelta(0):
            raise ValueError("a series needs count >= 1 and a positive duration")
        if not self.recurring and self.count != 1:
            raise ValueError("a one-off meeting (recurring=False) has exactly one occurrence")
        if self.interval < self.duration + MIN_GAP:
            raise ValueError(f"interval must be at least duration + {MIN_GAP}")
        if self.scheduled_type not in SCHEDULED_TYPES:
            raise ValueError(f"scheduled_type must be one of {SCHEDULED_TYPES}")
        if min(self.missed_every, self.restarted_every, self.modified_every) < 0:
            raise ValueError("*_every must be >= 0")

    def start_of(self, k: int) -> datetime:
        return (self.first_start + k * self.interval).astimezone(UTC)

    @functools.cached_property
    def last_end(self) -> datetime:
        # Cached (in the instance's __dict__, which frozen allows): discovery asks every page.
        return self.start_of(self.count - 1) + self.duration

    def first_index_from(self, moment: datetime) -> int:
        """First occurrence that can have a record starting at or after ``moment``."""
        if moment <= self.first_start:
            return 0
        return min((moment - self.first_start) // self.interval, self.count)

    def is_missed(self, k: int) -> bool:
        return self.missed_every > 0 and (k + 1) % self.missed_every == 0

    def is_modified(self, k: int) -> bool:
        return self.modified_every > 0 and (k + 1) % self.modified_every == 0

    def instance_times(
        self, k: int, start: datetime | None = None, duration: timedelta | None = None
    ) -> list[tuple[datetime, datetime]]:
        """Actual (start, end) of each instance of occurrence k, whatever the clock says.

        ``start`` and ``duration`` are those of a moved occurrence (default: the series').
        """
        if self.is_missed(k):
            return []
        slot = self.duration if duration is None else duration
        late = timedelta(seconds=stable_hash(self.id, k, "late") % (MAX_LATE_START.seconds + 1))
        share = (
            80 + stable_hash(self.id, k, "length") % 21
        )  # the meeting lasts 80..100 % of its slot
        length = timedelta(seconds=int(slot.total_seconds() * share / 100))
        start = (self.start_of(k) if start is None else start) + late
        restarted = self.restarted_every > 0 and (k + 1) % self.restarted_every == 0
        if not restarted:
            return [(start, start + length)]
        cut = start + length * 2 / 5
        return [(start, cut), (cut + RESTART_GAP, start + length + RESTART_GAP)]

    def visible_to(self, email: str) -> bool:
        wanted = email.lower()
        return wanted == self.host_email.lower() or wanted in (e.lower() for e in self.invitees)
