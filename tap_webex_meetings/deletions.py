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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_webex_meetings import webex

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
    """The UTC instant of a :func:`stamp`."""
    return datetime.strptime(text, STAMP).replace(tzinfo=timezone.utc)


def _derivable(series_id: str, meeting: Meeting) -> bool:
    return (
        meeting.meeting_type == webex.SCHEDULED_TYPE
        and meeting.id == f"{series_id}_{stamp(meeting.start)}"
    )


def encode(series_id: str, meetings: Iterable[Meeting]) -> list[Any]:
    """The compact form of ``meetings`` for the partition state (see the module docstring)."""
    starts: list[datetime] = []
    others: list[list[str]] = []
    for meeting in sorted(meetings, key=lambda m: (m.start, m.id)):
        if _derivable(series_id, meeting):
            starts.append(meeting.start)
        else:
            others.append([meeting.id, stamp(meeting.start), meeting.meeting_type])
    return [*_runs(starts), *others]


def _runs(starts: list[datetime]) -> list[str]:
    """Sorted starts as single stamps and ``R<n>/<first>/PT<step>S`` runs."""
    encoded: list[str] = []
    i = 0
    while i < len(starts):
        j = i + 1
        if j < len(starts):
            step = starts[j] - starts[i]
            while j + 1 < len(starts) and starts[j + 1] - starts[j] == step:
                j += 1
            if j - i + 1 >= MIN_RUN and step.total_seconds() == int(step.total_seconds()):
                encoded.append(f"R{j - i + 1}/{stamp(starts[i])}/PT{int(step.total_seconds())}S")
                i = j + 1
                continue
        encoded.append(stamp(starts[i]))
        i += 1
    return encoded


def decode(series_id: str, encoded: Iterable[Any] | None) -> dict[str, Meeting]:
    """The meetings of :func:`encode`'s output, by id. Unreadable entries are skipped."""
    meetings: dict[str, Meeting] = {}
    for entry in encoded or ():
        try:
            for meeting in _decode_entry(series_id, entry):
                meetings[meeting.id] = meeting
        except (ValueError, TypeError, IndexError):
            continue  # a hand-edited state must not stop the run; the meeting is forgotten
    return meetings


def _decode_entry(series_id: str, entry: Any) -> list[Meeting]:
    if isinstance(entry, list):
        meeting_id, start, meeting_type = (str(part) for part in entry)
        return [Meeting(meeting_id, meeting_type, parse_stamp(start))]
    text = str(entry)
    if text.startswith("R"):
        count, first, period = text[1:].split("/")
        step = timedelta(seconds=int(period.removeprefix("PT").removesuffix("S")))
        starts = [parse_stamp(first) + i * step for i in range(int(count))]
    else:
        starts = [parse_stamp(text)]
    return [Meeting(f"{series_id}_{stamp(start)}", webex.SCHEDULED_TYPE, start) for start in starts]


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


def remembered(partition: Mapping[str, Any] | None, series_id: str) -> dict[str, Meeting]:
    """The upcoming meetings a partition state remembers."""
    return decode(series_id, (partition or {}).get(UPCOMING))
