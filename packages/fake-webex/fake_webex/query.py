"""A series query of the fake Webex: its record filters, and one page of its records."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from .changes import NO_CHANGES, Changes
from .occurrences import Position, entries, occurrences_from, overlaps
from .records import rendered, series_record
from .series import Record, SeriesSpec

MEETING_TYPES = ("meetingSeries", "scheduledMeeting", "meeting")
STATES = ("active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired")


@dataclass(frozen=True)
class Filters:
    """The record filters of a series query (`meetingType`, `state`, `isModified`)."""

    meeting_type: str | None = None
    state: str | None = None
    is_modified: bool | None = None

    def __post_init__(self) -> None:
        if self.meeting_type is not None and self.meeting_type not in MEETING_TYPES:
            raise ValueError(f"meetingType must be one of {', '.join(MEETING_TYPES)}")
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")

    def accepts(self, meeting_type: str, state: str, modified: bool | None) -> bool:
        # isModified "only applies to scheduled meetings": when given, only they are returned.
        if self.is_modified is not None and (
            meeting_type != "scheduledMeeting" or modified != self.is_modified
        ):
            return False
        return self.meeting_type in (None, meeting_type) and self.state in (None, state)


def series_page(
    spec: SeriesSpec,
    now: datetime,
    start: datetime,
    end: datetime,
    filters: Filters,
    *,
    after: Position | None = None,
    limit: int | None = None,
    cap: int = 10_000,
    cap_ends_listing: bool = False,
    tz_name: str = "UTC",
    changes: Changes = NO_CHANGES,
) -> tuple[list[Record], Position | None]:
    """One page of a series query and where the next page starts (None: nothing left).

    ``cap`` limits the instances one query lists across all its pages, like Webex does;
    the count travels inside the returned position. Webex's words allow two readings: only
    the instances past the cap are dropped (the default), or, with ``cap_ends_listing``,
    the listing ends at the cap's last instance (later scheduled meetings are not listed
    either). Records of one series share their
    nested objects (serialise them, or copy before changing them). ``changes``: the
    series' deleted and moved occurrences.
    """
    if filters.meeting_type == "meetingSeries":
        wanted = overlaps(spec, start, end, changes) and filters.is_modified is None
        record = series_record(spec, now, tz_name)
        return ([record] if wanted and filters.state in (None, record["state"]) else []), None
    listed = after.instances if after else 0
    items: list[Record] = []
    # Occurrences come by start, so none after the first one at or past `end` is wanted.
    occurrences = itertools.takewhile(
        lambda occurrence: occurrence.start < end, occurrences_from(spec, changes, start, after)
    )
    for entry in entries(spec, now, occurrences, after):
        is_instance = entry.meeting_type == "meeting"
        if not start <= entry.start < end or not filters.accepts(
            entry.meeting_type, entry.state, entry.modified
        ):
            continue
        if listed >= cap and (is_instance or cap_ends_listing):
            if cap_ends_listing:
                return items, None
            continue
        if limit is not None and len(items) >= limit:
            return items, Position(entry.k, entry.slot, listed)
        items.append(rendered(spec, entry, tz_name))
        listed += is_instance
    return items, None
