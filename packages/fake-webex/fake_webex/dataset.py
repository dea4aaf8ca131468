"""The collection of series one fake Webex serves, with what was deleted or moved since."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from .changes import NO_CHANGES, Changes
from .occurrences import occurrence_of, overlaps
from .records import scheduled_id
from .series import UTC, SeriesSpec


class Dataset:
    """All series of a fake Webex, looked up by id or by who may see them, and what was
    deleted or moved since.

    Changes are copy-on-write (a new set, a new dict, new :class:`Changes`), so readers
    on other server threads need no lock and see each change whole.
    """

    def __init__(self, series: Sequence[SeriesSpec]) -> None:
        self._by_id = {spec.id: spec for spec in series}
        if len(self._by_id) != len(series):
            raise ValueError("series ids must be unique")
        self._lock = threading.Lock()  # one writer at a time
        self._gone: frozenset[str] = frozenset()  # deleted series
        self._changes: dict[str, Changes] = {}
        # Discovery asks the same question for each of its pages: answer it once. Every
        # change (a deletion, a move) replaces it with an empty one.
        self._overlapping: dict[tuple[str, datetime, datetime], list[SeriesSpec]] = {}

    def get(self, series_id: str) -> SeriesSpec | None:
        """The series, unless it is unknown or was deleted."""
        return None if series_id in self._gone else self._by_id.get(series_id)

    def changes(self, series_id: str) -> Changes:
        return self._changes.get(series_id, NO_CHANGES)

    def ids(self, for_email: str | None = None) -> list[str]:
        gone = self._gone
        return [
            s.id
            for s in self._by_id.values()
            if s.id not in gone and (for_email is None or s.visible_to(for_email))
        ]

    def overlapping(self, email: str, start: datetime, end: datetime) -> Sequence[SeriesSpec]:
        """Series the user hosts or is invited to with an occurrence in [start, end).

        The answer is shared by every page of one discovery (do not change it): copying
        100,000 series per page would make a discovery quadratic.
        """
        key = (email.lower(), start, end)
        cache = self._overlapping
        found = cache.get(key)
        if found is None:
            gone, changes = self._gone, self._changes
            found = sorted(
                (
                    s
                    for s in self._by_id.values()
                    if s.visible_to(email)
                    and s.id not in gone
                    and overlaps(s, start, end, changes.get(s.id, NO_CHANGES))
                ),
                key=lambda s: (s.first_start, s.id),
            )
            if len(cache) >= 64:
                cache.clear()
            cache[key] = found
        return found

    def series_of(self, meeting_id: str) -> SeriesSpec | None:
        """The series a series, scheduled meeting or instance id belongs to, if it exists."""
        return self.get(meeting_id.partition("_")[0])

    def find_scheduled(self, meeting_id: str) -> tuple[SeriesSpec, int] | None:
        """Map ``<seriesId>_<YYYYMMDDTHHMMSSZ>`` back to its occurrence, by arithmetic.

        The id keeps naming the original start after a move; deleted ones are not found.
        """
        series_id, _, stamp = meeting_id.partition("_")
        spec = self.get(series_id)
        try:
            moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
        if spec is None:
            return None
        k = spec.first_index_from(moment)
        if k >= spec.count or spec.start_of(k) != moment or k in self.changes(spec.id).deleted:
            return None
        return spec, k

    def add(self, spec: SeriesSpec) -> None:
        """Schedule a new series (a host created it). ValueError: the id is taken."""
        with self._lock:
            if spec.id in self._by_id:
                raise ValueError(f"series id {spec.id} is taken")
            self._by_id = {**self._by_id, spec.id: spec}
            self._overlapping = {}

    def extend(self, series_id: str, count: int) -> SeriesSpec:
        """Give a series more occurrences (a host extended it, even after it expired).

        LookupError: unknown or deleted; ValueError: ``count`` is not more than it has.
        """
        with self._lock:
            spec = self.get(series_id)
            if spec is None:
                raise LookupError(series_id)
            if count <= spec.count or not spec.recurring:
                raise ValueError("a series is extended with more occurrences (not a one-off)")
            longer = replace(spec, count=count)
            self._by_id = {**self._by_id, series_id: longer}
            self._overlapping = {}
            return longer

    def delete(self, meeting_id: str) -> None:
        """Delete a series (all of it) or one scheduled meeting (with its instances).

        LookupError: unknown or already deleted; ValueError: an instance id.
        """
        with self._lock:
            if self.get(meeting_id) is not None:
                self._gone = self._gone | {meeting_id}
                self._overlapping = {}
                return
            spec, k = self._scheduled(meeting_id, "deleted")
            self._changes = {**self._changes, spec.id: self.changes(spec.id).deleting(k)}
            self._overlapping = {}

    def move(
        self, meeting_id: str, start: datetime, end: datetime | None, now: datetime
    ) -> tuple[SeriesSpec, int]:
        """Give a scheduled meeting a new start and end (default: its current duration),
        as Webex's "Update a Meeting" does; it keeps its id.

        LookupError: unknown or deleted; ValueError: not a scheduled meeting, already
        started, new start in the past or end not after start.
        """
        with self._lock:
            spec, k = self._scheduled(meeting_id, "updated")
            changes = self.changes(spec.id)
            current = occurrence_of(spec, changes, k)
            if now >= current.start:
                raise ValueError("A meeting that has started or ended cannot be updated.")
            if start < now:
                raise ValueError("start cannot be in the past.")
            new_end = start + (current.end - current.start) if end is None else end
            if new_end <= start:
                raise ValueError("end must be after start.")
            self._changes = {**self._changes, spec.id: changes.moving(k, start, new_end)}
            self._overlapping = {}
            return spec, k

    def _scheduled(self, meeting_id: str, verb: str) -> tuple[SeriesSpec, int]:
        found = self.find_scheduled(meeting_id)
        if found is not None:
            return found
        series_id, _, rest = meeting_id.partition("_")
        if self.get(series_id) is not None and rest.startswith("I_"):
            raise ValueError(
                f"A meeting instance cannot be {verb}: it has happened. "
                "Use its scheduled meeting or meeting series id."
            )
        if verb == "updated" and self.get(meeting_id) is not None:
            raise ValueError("The sandbox updates scheduled meetings only, not a whole series.")
        raise LookupError(meeting_id)

    def deleted_ids(self) -> list[str]:
        """Deleted series, then deleted scheduled meetings of the series that remain."""
        gone, changes = self._gone, self._changes
        occurrences = [
            scheduled_id(self._by_id[series_id], k)
            for series_id, change in changes.items()
            if series_id not in gone
            for k in sorted(change.deleted)
        ]
        return sorted(gone) + occurrences

    def moved(self) -> dict[str, tuple[datetime, datetime]]:
        """Moved scheduled meetings (of series that remain): id -> new (start, end)."""
        gone, changes = self._gone, self._changes
        return {
            scheduled_id(self._by_id[series_id], k): times
            for series_id, change in changes.items()
            if series_id not in gone
            for k, times in sorted(change.moved.items())
        }
