"""The fake Webex's clock: frozen (repeatable tests) or following the wall clock (a sandbox).

A clock that follows the wall clock is the wall clock plus an offset that may never be
negative: a tap's run start (its bookmark cap) is the wall clock, and a server behind it
would hide state changes a correct tap must see.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from .series import UTC

DEFAULT_NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
# "now" given in whole seconds may be that much behind the wall clock: taken as the wall clock.
CLOCK_TOLERANCE = timedelta(seconds=1)


def wall_clock() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes given to FakeWebex must be timezone-aware")
    return moment.astimezone(UTC)


class Clock:
    """Frozen at ``now`` (default :data:`DEFAULT_NOW`), or with ``follow_wall_clock`` the
    wall clock plus an offset; ``now`` then sets where it starts (default: the wall clock).
    """

    def __init__(self, now: datetime | None = None, *, follow_wall_clock: bool = False) -> None:
        self._lock = threading.Lock()
        self._follows_wall_clock = follow_wall_clock
        self._now = aware(now or DEFAULT_NOW)  # the frozen clock
        self._offset = timedelta(0)  # ahead of the wall clock, when following it
        if follow_wall_clock:
            self._offset = self._checked_offset(aware(now) - wall_clock() if now else None)

    @property
    def follows_wall_clock(self) -> bool:
        return self._follows_wall_clock

    @property
    def now(self) -> datetime:
        with self._lock:
            return wall_clock() + self._offset if self._follows_wall_clock else self._now

    @property
    def ahead_of_wall_clock(self) -> timedelta:
        with self._lock:
            return self._offset

    def set_now(self, moment: datetime) -> None:
        with self._lock:
            if self._follows_wall_clock:
                self._offset = self._checked_offset(aware(moment) - wall_clock())
            else:
                self._now = aware(moment)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._follows_wall_clock:
                self._offset = self._checked_offset(self._offset + delta)
            else:
                self._now += delta

    @staticmethod
    def _checked_offset(offset: timedelta | None) -> timedelta:
        """The offset, refused when behind the wall clock by more than a rounding error."""
        if offset is None:
            return timedelta(0)
        if offset < -CLOCK_TOLERANCE:
            raise ValueError(
                "the sandbox clock follows the wall clock and cannot go behind it "
                "(a tap would miss state changes); start it with --now for a frozen clock"
            )
        return max(offset, timedelta(0))
