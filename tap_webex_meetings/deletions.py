"""Deleted meetings: what the state remembers of a series, and the tombstones a run emits.

Webex does not report deletions: a deleted meeting is simply missing from the listing and
``GET /meetings/{id}`` answers 404. So each series' state partition remembers the meetings
the last run emitted as *upcoming* (starting at or after that run's start: the ones a host
can still cancel). The next run confirms each remembered meeting that its listing lacks
with a lookup, and emits a tombstone (``_sdc_deleted_at`` set) for those Webex no longer
has. Meetings that moved, left a filter or lie beyond a shortened range are not deleted.

The memory is compact: a scheduled meeting's id is ``<seriesId>_<start as YYYYMMDDTHHMMSSZ>``,
so for those only the start is kept, and evenly spaced starts (a daily or weekly series)
collapse into one ISO 8601 repeating interval ``R30/20261201T090000Z/PT86400S``. Anything
else is kept as ``[id, start, meetingType]``.
"""

from __future__ import annotations

import calendar
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tap_webex_meetings import timeutils, webex

STAMP = "%Y%m%dT%H%M%SZ"
DELETED_AT = "_sdc_deleted_at"
# Partition state keys: the remembered meetings, and when the whole series was found gone.
UPCOMING = "upcoming"
SERIES_DELETED_AT = "series_deleted_at"
# Shortest run of evenly spaced starts written as one repeating interval.
MIN_RUN = 3


@dataclass(frozen=True)
class Meeting:
    """What a tombstone needs of a meeting: its id, type and start (UTC)."""

    id: str
    meeting_type: str
    start: datetime


def stamp(moment: datetime) -> str:
    """``20261201T090000Z``: how Webex writes a start inside a scheduled meeting's id."""
    return moment.astimezone(timezone.utc).strftime(STAMP)


def parse_stamp(text: str) -> datetime:
    """The UTC instant of a :func:`stamp`; ``ValueError`` if none or out of range."""
    return timeutils.within_range(datetime.strptime(text, STAMP).replace(tzinfo=timezone.utc))


@dataclass(frozen=True)
class _Run:
    """Evenly spaced starts, as UTC epoch seconds: ``first + i * step`` for i < ``count``."""

    first: int
    step: int
    count: int

    @property
    def last(self) -> int:
        return self.first + (self.count - 1) * self.step

    def __contains__(self, start: int) -> bool:
        offset = start - self.first
        if self.step == 0:
            return offset == 0
        return offset >= 0 and offset % self.step == 0 and offset // self.step < self.count

    def __iter__(self) -> Iterator[int]:
        return (self.first + i * self.step for i in range(self.count))

    def encode(self) -> str:
        if self.count == 1:
            return stamp_of(self.first)
        return f"R{self.count}/{stamp_of(self.first)}/PT{self.step}S"


def stamp_of(epoch: int) -> str:
    """The :func:`stamp` of a UTC epoch second."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def epoch_of_stamp(text: str) -> int | None:
    """The UTC epoch second of a :func:`stamp`, or None (cheap: it runs per record)."""
    if len(text) != len("20261201T090000Z") or text[8] != "T" or text[-1] != "Z":
        return None
    try:
        fields = (text[0:4], text[4:6], text[6:8], text[9:11], text[11:13], text[13:15])
        return calendar.timegm(tuple(int(field) for field in fields))
    except ValueError:
        return None


class Memory:
    """The upcoming meetings a series remembers, kept as compact as the state writes them.

    A series with 200,000 meetings ahead is one run, not 200,000 objects: membership is
    arithmetic on the id's start, and the meetings are produced one by one when asked for.
    """

    def __init__(self, series_id: str, runs: list[_Run], others: dict[str, Meeting]) -> None:
        self.series_id = series_id
        self._runs = runs
        self._others = others
        self._prefix = f"{series_id}_"

    @classmethod
    def decode(cls, series_id: str, encoded: Iterable[Any] | None) -> Memory:
        """Read :meth:`encode`'s form; an unreadable entry is skipped (and forgotten)."""
        runs: list[_Run] = []
        others: dict[str, Meeting] = {}
        for entry in encoded or ():
            try:
                if isinstance(entry, list):
                    meeting_id, start, meeting_type = (str(part) for part in entry)
                    others[meeting_id] = Meeting(meeting_id, meeting_type, parse_stamp(start))
                    continue
                text = str(entry)
                parts = text[1:].split("/") if text.startswith("R") else ["1", text, "PT0S"]
                count, first, period = parts
                epoch = epoch_of_stamp(first)
                if epoch is None:
                    continue
                step = int(period.removeprefix("PT").removesuffix("S"))
                run = _Run(epoch, step, int(count))
                timeutils.within_range(datetime.fromtimestamp(run.last, tz=timezone.utc))
                runs.append(run)
            except (ValueError, TypeError, IndexError, OverflowError, OSError):
                continue  # a hand-edited state must not stop the run
        return cls(series_id, runs, others)

    def __contains__(self, meeting_id: object) -> bool:
        if not isinstance(meeting_id, str):
            return False
        if meeting_id in self._others:
            return True
        if not self._runs or not meeting_id.startswith(self._prefix):
            return False
        epoch = epoch_of_stamp(meeting_id[len(self._prefix) :])
        return epoch is not None and any(epoch in run for run in self._runs)

    def __iter__(self) -> Iterator[Meeting]:
        yield from self._others.values()
        for run in self._runs:
            for epoch in run:
                start = datetime.fromtimestamp(epoch, tz=timezone.utc)
                yield Meeting(f"{self._prefix}{stamp_of(epoch)}", webex.SCHEDULED_TYPE, start)

    def __bool__(self) -> bool:
        return bool(self._runs or self._others)


class MemoryBuilder:
    """Collects a series' upcoming meetings as they are written; :meth:`encode` at the end.

    Scheduled meetings whose id is ``<series>_<start>`` cost 8 bytes each (an epoch second
    in an array), so memory stays flat however many meetings lie ahead.
    """

    def __init__(self, series_id: str) -> None:
        self._prefix = f"{series_id}_"
        self._starts: array[int] = array("q")
        self._others: dict[str, Meeting] = {}

    def add(self, meeting: Meeting) -> None:
        """Remember ``meeting`` (adding one twice is harmless)."""
        epoch = calendar.timegm(meeting.start.utctimetuple())
        derivable = meeting.meeting_type == webex.SCHEDULED_TYPE and meeting.id == (
            f"{self._prefix}{stamp_of(epoch)}"
        )
        if derivable and meeting.start.microsecond == 0:
            self._starts.append(epoch)
        else:
            self._others[meeting.id] = meeting

    def encode(self) -> list[Any]:
        """The compact form for the partition state (see the module docstring)."""
        starts = sorted(set(self._starts))
        others = sorted(self._others.values(), key=lambda m: (m.start, m.id))
        return [
            *(run.encode() for run in _runs(starts)),
            *([m.id, stamp(m.start), m.meeting_type] for m in others),
        ]


def _runs(starts: list[int]) -> Iterator[_Run]:
    """Sorted epoch seconds as runs of at least ``MIN_RUN`` evenly spaced ones, or singles."""
    i = 0
    while i < len(starts):
        j = i + 1
        if j < len(starts):
            step = starts[j] - starts[i]
            while j + 1 < len(starts) and starts[j + 1] - starts[j] == step:
                j += 1
            if j - i + 1 >= MIN_RUN:
                yield _Run(starts[i], step, j - i + 1)
                i = j + 1
                continue
        yield _Run(starts[i], 0, 1)
        i += 1


def tombstone(meeting: Meeting, series_id: str, deleted_at: datetime) -> dict[str, Any]:
    """The record that tells the warehouse ``meeting`` was deleted; other fields stay null."""
    return {
        "id": meeting.id,
        "meetingSeriesId": series_id,
        "meetingType": meeting.meeting_type,
        "start": meeting.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        DELETED_AT: deleted_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def series_tombstone(series_id: str, deleted_at: datetime) -> dict[str, Any]:
    """The ``meeting_series`` record of a series Webex no longer has."""
    return {
        "id": series_id,
        "meetingType": webex.SERIES_TYPE,
        DELETED_AT: deleted_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def remembered(partition: Mapping[str, Any] | None, series_id: str) -> Memory:
    """The upcoming meetings a partition state remembers."""
    return Memory.decode(series_id, (partition or {}).get(UPCOMING))
