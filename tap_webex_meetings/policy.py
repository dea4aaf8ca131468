"""The rules of a run in one place: each series' window and lifecycle, from one clock.

Made once per run by the tap (:meth:`Policy.of`) from the settings, the run's start (the one
"now" of the run: every bookmark cap, window and finishing decision reads it) and the
``start_date`` a complete run recorded. Nothing here reads a clock, the state or the network,
so every rule is tested on its own (tests/test_policy.py).

Two windows start before a recorded instant, and they subtract different things on purpose:

- a **series' query** starts at its bookmark minus ``lookback_days``. The bookmark is the
  latest meeting *start* the series listed (capped at the run's start), and what changes
  after a meeting starts (it ends, is missed, its instance's details appear up to 15 minutes
  after it ends) is what ``lookback_days`` is for: the README promises exactly this window;
- a **narrowed discovery** starts at the last complete discovery's *run start* minus
  ``lookback_days`` minus Webex's 15-minute delay for details: the inverse of the finishing
  rule (:meth:`Policy.finishable`). A series that run did not finish has a meeting ending
  after ``run start - lookback - 15 min``, so this window finds every series still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tap_webex_meetings import timeutils

# Webex shows an instance's details up to this long after it ends.
DETAILS_DELAY = timedelta(minutes=15)
# Webex ends a meeting after 24 hours.
MAX_MEETING = timedelta(hours=24)
EXPIRED = "expired"


@dataclass(frozen=True)
class SeriesFacts:
    """What a series record says about whether the series can still change."""

    over: bool  # expired, or a one-off meeting that has ended
    end: datetime | None  # the record's end (a one-off's only occurrence)


@dataclass(frozen=True)
class Policy:
    """Windows, finishing and trust of one run; ``now`` is the run's start."""

    now: datetime
    start_date: datetime
    end_date: datetime | None
    lookback: timedelta
    lookahead: timedelta
    # The start_date the known series were read from by the last complete run (None: none).
    read_from: datetime | None = None

    @classmethod
    def of(cls, settings: Any, now: datetime, read_from: Any = None) -> Policy:
        """From the typed settings, the run's clock and the recorded ``start_date`` value."""
        return cls(
            now=now,
            start_date=settings.start_date,
            end_date=settings.end_date,
            lookback=settings.lookback,
            lookahead=settings.lookahead,
            read_from=instant(read_from),
        )

    @property
    def range_end(self) -> datetime:
        """``to`` of every query: ``end_date``, else the run's start + ``lookahead_days``."""
        return self.end_date or self.now + self.lookahead

    @property
    def backfill(self) -> bool:
        """Every known series is read from ``start_date``: it is earlier than the one they
        were read from (the weeks before were never read). None recorded: not a backfill.
        """
        return self.read_from is not None and self.start_date < self.read_from

    def series_start(self, bookmark: datetime | None) -> datetime:
        """``from`` of a series' query: ``start_date`` on its first read and in a backfill,
        later its bookmark minus ``lookback_days`` (see the module docstring).
        """
        if bookmark is None or self.backfill or bookmark <= self.start_date:
            return self.start_date
        return max(self.start_date, bookmark - self.lookback)

    def discovery_start(self, last_discovery: datetime | None) -> datetime | None:
        """``from`` of a host's narrowed discovery, or None: discover over the whole range.

        Not narrowed without a usable last discovery, after one "in the future" (a clock
        that was ahead), or when the window would be empty (Webex refuses ``from >= to``).
        """
        if last_discovery is None or self.in_future(last_discovery):
            return None
        start = max(self.start_date, last_discovery - self.lookback - DETAILS_DELAY)
        return start if start < self.range_end else None

    def in_future(self, instant: datetime) -> bool:
        """Written by a clock that was ahead of this run's: not to be believed."""
        return instant > self.now

    def upcoming(self, start: datetime) -> bool:
        """A meeting a host can still cancel: remembered, to confirm its deletion later."""
        return start >= self.now

    def facts_of(self, record: Mapping[str, Any]) -> SeriesFacts:
        """Read a ``meetingSeries`` record (discovery or a lookup).

        An ``end`` that is there but not a timestamp in range says nothing certain: such a
        series is not taken to be over (it is never finished, only read again).
        """
        end_text = record.get("end")
        end = instant(end_text, timeutils.parse_api_timestamp)
        if end is None and end_text is not None:
            return SeriesFacts(over=False, end=None)
        one_off_over = not record.get("recurrence") and end is not None and end < self.now
        return SeriesFacts(over=record.get("state") == EXPIRED or one_off_over, end=end)

    def finishable(self, latest_end: datetime) -> bool:
        """A series whose latest meeting ended then may be finished by this run's read:
        its details are out (15 minutes) and the lookback has passed over it.
        """
        return self.now >= latest_end + self.lookback + DETAILS_DELAY

    def participants_due(
        self, end: datetime, read_through: datetime | None, last_run: datetime | None
    ) -> bool:
        """An ended instance's participants are read once, when its details are out (end +
        15 minutes), unless they were out before both its series' bookmark before this run
        (``read_through``) and the last complete run (``last_run``): that run read them. A
        series read from ``start_date`` (no ``read_through``: new, or a backfill) reads all.
        """
        shown = end + DETAILS_DELAY
        if shown > self.now:
            return False  # not yet: the series lists it again on a later run
        if read_through is None:
            return True
        return shown > (read_through if last_run is None else max(read_through, last_run))

    def skips(self, facts: SeriesFacts) -> bool:
        """A finished series is not listed while its record says it is over, but a backfill
        reads it again (its weeks before the old ``start_date`` were never read).
        """
        return facts.over and not self.backfill

    def may_change(self, bookmark: datetime | None, window_start: datetime) -> bool:
        """A known series a narrowed discovery missed can still change when its bookmark lies
        within a day (Webex's longest meeting) before the window: a meeting that overran.
        """
        return bookmark is not None and bookmark >= window_start - MAX_MEETING

    @staticmethod
    def full_extract(shard_count: int, earlier_run: bool) -> bool:
        """A full extract: one instance extracts every series, and no earlier run left state
        (a state whose series are all finished is not empty: see :mod:`history`).
        """
        return shard_count == 1 and not earlier_run


def instant(value: Any, parse: Any = timeutils.parse_datetime) -> datetime | None:
    """``value`` parsed by ``parse`` (a state's value by default), or None if it is none."""
    if not isinstance(value, str):
        return None
    try:
        result: datetime = parse(value)
    except ValueError:
        return None
    return result
