"""What was deleted or moved in one series of the fake Webex, as immutable snapshots.

A series' occurrences are computed, never stored, so a change is kept as an exception to
the rule: occurrence ``k`` deleted, or occurrence ``k`` moved to a new [start, end). Every
change makes a new snapshot, so a query of another server thread reads one consistent
snapshot from start to end and never a half-applied change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

Times = tuple[datetime, datetime]


def _frozen(moved: Mapping[int, Times]) -> Mapping[int, Times]:
    return MappingProxyType(dict(moved))


@dataclass(frozen=True, eq=False)
class Changes:
    """Deleted occurrence indexes, and moved ones with their new (start, end) in UTC.

    ``by_start`` lists the moved occurrences as (start, k), sorted: the order in which a
    listing meets them.
    """

    deleted: frozenset[int] = frozenset()
    moved: Mapping[int, Times] = field(default_factory=lambda: _frozen({}))
    by_start: tuple[tuple[datetime, int], ...] = ()

    @staticmethod
    def _of(deleted: frozenset[int], moved: Mapping[int, Times]) -> Changes:
        return Changes(
            deleted, _frozen(moved), tuple(sorted((s, k) for k, (s, _) in moved.items()))
        )

    def deleting(self, k: int) -> Changes:
        moved = {i: times for i, times in self.moved.items() if i != k}
        return Changes._of(self.deleted | {k}, moved)

    def moving(self, k: int, start: datetime, end: datetime) -> Changes:
        return Changes._of(self.deleted, {**self.moved, k: (start, end)})

    @property
    def longest_move(self) -> timedelta:
        """The longest moved occurrence: how far before a window its instances may begin."""
        return max((end - start for start, end in self.moved.values()), default=timedelta(0))

    def moved_into(self, start: datetime, end: datetime) -> bool:
        """Whether a moved occurrence overlaps [start, end) (it may lie outside the series)."""
        return any(s < end and e > start for s, e in self.moved.values())


NO_CHANGES = Changes()
