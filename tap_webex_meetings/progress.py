"""The series being written: its bookmark, its upcoming meetings, its counts.

Everything here runs on the main thread, once per record, as the records are written: it is
the only code that changes a series' partition state. The bookmark moves through the SDK's
progress markers (singer-sdk promotes them when the series is complete, capped at the run's
start); the upcoming meetings become the series' memory (see :mod:`deletions`) only then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tap_webex_meetings import deletions, history, timeutils, webex
from tap_webex_meetings.deletions import Meeting, MemoryBuilder
from tap_webex_meetings.listing import Outcome, SeriesQuery
from tap_webex_meetings.policy import Policy
from tap_webex_meetings.state import advance_bookmark
from tap_webex_meetings.summary import RunSummary


@dataclass
class SeriesProgress:
    """One series from its first record to its end."""

    query: SeriesQuery
    partition: dict[str, Any]  # the series' state partition (the SDK's, written in place)
    policy: Policy
    summary: RunSummary
    upcoming: MemoryBuilder = field(init=False)
    # Set by :meth:`finish` when the series can be finished (see :mod:`history`).
    finished: bool = field(init=False, default=False)
    # Only a series its record says is over is watched for finishing (records stay cheap).
    _watch: bool = field(init=False)
    _latest_end: datetime | None = field(init=False, default=None)
    _unsettled: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.upcoming = MemoryBuilder(self.query.series_id)
        facts = self.query.facts
        self._watch = facts is not None and facts.over
        self._latest_end = facts.end if facts is not None else None

    def note(self, record: dict[str, Any], replication_key: str) -> None:
        """Count the record, move the bookmark to its ``start``, remember it if upcoming.

        The bookmark is the UTC instant (Webex writes ``start`` in the ``timezone`` header's
        offset, and the SDK compares bookmarks as strings). *New*: beyond what the last run
        saw (after its bookmark, not remembered); *updated*: read again. A tombstone moves
        the bookmark like any record but is not upcoming.
        """
        start = record.get("start")
        moment = timeutils.parse_api_timestamp(start) if start else None
        tombstone = deletions.DELETED_AT in record
        self._count(record["id"], moment, tombstone=tombstone)
        if moment is None:
            return
        advance_bookmark(self.partition, replication_key, moment)
        if self.policy.upcoming(moment) and not tombstone:
            meeting_type = record.get("meetingType") or webex.SCHEDULED_TYPE
            self.upcoming.add(Meeting(record["id"], meeting_type, moment))
        if self._watch and not tombstone:
            self._watch_end(record, moment)

    def _watch_end(self, record: dict[str, Any], start: datetime) -> None:
        """Keep the latest ``end`` listed, and whether anything listed may still change."""
        if record.get("state") not in history.SETTLED_STATES:
            self._unsettled = True
        end_text = record.get("end")
        end = timeutils.parse_api_timestamp(end_text) if isinstance(end_text, str) else start
        if self._latest_end is None or end > self._latest_end:
            self._latest_end = end

    def _count(self, meeting_id: str, moment: datetime | None, *, tombstone: bool) -> None:
        query = self.query
        if tombstone:
            self.summary.deleted += 1
        elif meeting_id in query.remembered or (
            moment is not None and query.bookmark is not None and moment <= query.bookmark
        ):
            self.summary.updated += 1
        else:
            self.summary.new += 1

    def finish(self, outcome: Outcome) -> None:
        """The series is complete: keep its upcoming meetings in its state, for the next run."""
        self.summary.series_done += 1
        gone = outcome.gone
        for meeting in outcome.still_there:
            if self.policy.upcoming(meeting.start):
                self.upcoming.add(meeting)
        encoded = self.upcoming.encode()
        if encoded:
            self.partition[deletions.UPCOMING] = encoded
        else:
            self.partition.pop(deletions.UPCOMING, None)
        if gone:
            self.partition[deletions.SERIES_DELETED_AT] = timeutils.isoformat_utc(self.policy.now)
        self.finished = (
            self._watch
            and not gone
            and not encoded
            and not self._unsettled
            and self._latest_end is not None
            and self.policy.finishable(self._latest_end)
        )
