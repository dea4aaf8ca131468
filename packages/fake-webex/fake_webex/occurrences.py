"""The occurrences of a series as they are scheduled now (deleted ones left out, moved ones
at their new start), and the entries a query meets, in API order, before rendering.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from .changes import NO_CHANGES, Changes
from .series import MIN_GAP, UTC, SeriesSpec

READY_LEAD = timedelta(minutes=10)  # a scheduled meeting is `ready` this long before it starts
DETAILS_DELAY = timedelta(minutes=15)  # Webex shows an instance this long after it starts/ends


@dataclass(frozen=True)
class Position:
    """Where a query resumes: occurrence, slot (0 scheduled, 1.. instances), instances listed."""

    occurrence: int
    slot: int = 0
    instances: int = 0


@dataclass(frozen=True)
class Entry:
    """A record before it is rendered: enough to order and filter it cheaply."""

    k: int
    slot: int
    meeting_type: str
    state: str
    start: datetime
    end: datetime | None
    modified: bool | None
    moved: bool = False  # a scheduled meeting moved away from the series' pattern


@dataclass(frozen=True)
class Occurrence:
    """Occurrence k as it is scheduled now: where the series puts it, or where it was moved."""

    k: int
    start: datetime
    end: datetime
    moved: bool = False


def occurrence_of(spec: SeriesSpec, changes: Changes, k: int) -> Occurrence:
    moved = changes.moved.get(k)
    if moved is not None:
        return Occurrence(k, *moved, moved=True)
    start = spec.start_of(k)
    return Occurrence(k, start, start + spec.duration)


def _scheduled_state(spec: SeriesSpec, occurrence: Occurrence, now: datetime) -> str:
    if now < occurrence.start - READY_LEAD:
        return "scheduled"
    if now < occurrence.end:
        return "ready"
    return "missed" if spec.is_missed(occurrence.k) else "ended"


def occurrences_from(
    spec: SeriesSpec, changes: Changes, start: datetime, resume: Position | None
) -> Iterator[Occurrence]:
    """Occurrences not deleted, in API order (by start, then index): from ``resume``, or
    from the first that can have a record starting at or after ``start``.

    Without moves, index order is start order (occurrences never overlap): that fast path
    costs what the page costs. Moved occurrences are merged in at their new start.
    """
    if resume is not None and resume.occurrence >= spec.count:
        return
    if not changes.moved:
        first = spec.first_index_from(start) if resume is None else resume.occurrence
        for k in range(first, spec.count):
            if k not in changes.deleted:
                yield occurrence_of(spec, changes, k)
        return
    if resume is None:
        plain_from = spec.first_index_from(start)
        lookback = _earlier(start, changes.longest_move + MIN_GAP)
        key = (min(lookback, spec.start_of(plain_from)), -1)
    else:
        key = (occurrence_of(spec, changes, resume.occurrence).start, resume.occurrence)
        plain_from = spec.first_index_from(key[0])
    plain = (
        (spec.start_of(k), k)
        for k in range(plain_from, spec.count)
        if k not in changes.deleted and k not in changes.moved
    )
    moved = itertools.islice(changes.by_start, bisect.bisect_left(changes.by_start, key), None)
    for at, k in heapq.merge(plain, moved):
        if (at, k) >= key:
            yield occurrence_of(spec, changes, k)


def _earlier(moment: datetime, delta: timedelta) -> datetime:
    """``moment - delta``, or the earliest datetime when that is out of range."""
    try:
        return moment - delta
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def entries(
    spec: SeriesSpec, now: datetime, occurrences: Iterable[Occurrence], resume: Position | None
) -> Iterator[Entry]:
    """Every record of these occurrences, in API order, as the clock shows them; the
    occurrence ``resume`` points at starts at its slot.
    """
    for occurrence in occurrences:
        k = occurrence.k
        first_slot = resume.slot if resume is not None and k == resume.occurrence else 0
        if first_slot == 0:
            state = _scheduled_state(spec, occurrence, now)
            modified = occurrence.moved or spec.is_modified(k)
            yield Entry(
                k,
                0,
                "scheduledMeeting",
                state,
                occurrence.start,
                occurrence.end,
                modified,
                occurrence.moved,
            )
        duration = occurrence.end - occurrence.start
        for j, (actual_start, actual_end) in enumerate(
            spec.instance_times(k, occurrence.start, duration)
        ):
            if j + 1 < first_slot or now < actual_start + DETAILS_DELAY:
                continue
            done = now >= actual_end + DETAILS_DELAY
            state, end_or_none = ("ended", actual_end) if done else ("inProgress", None)
            yield Entry(k, j + 1, "meeting", state, actual_start, end_or_none, None)


def overlaps(
    spec: SeriesSpec, start: datetime, end: datetime, changes: Changes = NO_CHANGES
) -> bool:
    in_pattern = spec.first_start < end and spec.last_end > start
    return in_pattern or changes.moved_into(start, end)
