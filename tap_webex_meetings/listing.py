"""One series' listing: every page, past Webex's instance cap, and what became of the
meetings the state remembers (see :mod:`deletions`).

Runs on prefetch workers, so it touches no state: :class:`SeriesQuery` carries what the
main thread read from it, and the items it yields tell the main thread what to remember.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Union

from tap_webex_meetings import deletions, timeutils, webex
from tap_webex_meetings.deletions import Meeting, Memory
from tap_webex_meetings.history import SeriesFacts


@dataclass(frozen=True)
class SeriesQuery:
    """One series' listing: its window, its other parameters, what the state remembers."""

    series_id: str
    start: datetime
    end: datetime
    params: dict[str, str]
    remembered: Memory
    known: bool  # extracted by an earlier run
    bookmark: datetime | None  # where the last run left the series
    facts: SeriesFacts | None = None  # what its series record said (None: not read)

    def first_page(self, start: datetime, *, instances_only: bool = False) -> dict[str, str]:
        """The query string of a listing's first page from ``start`` (the SDK's context).

        ``instances_only``: past the instance cap, only instances are listed again.
        """
        params = {**self.params, "from": timeutils.query_format(start)}
        if instances_only:
            params["meetingType"] = webex.INSTANCE_TYPE
        return params


@dataclass(frozen=True)
class StillThere:
    """A remembered meeting missing from the listing that Webex still has (moved, filtered)."""

    meeting: Meeting


class _SeriesGone:
    """The listing answered 404: the whole series was deleted."""


SERIES_GONE = _SeriesGone()
# What a listing yields: records (meetings and tombstones) and notes for the main thread.
Listed = Union[dict[str, Any], StillThere, _SeriesGone]  # noqa: UP007  (a runtime alias on 3.10)


class SeriesListing:
    """Lists one series through ``fetch`` (the stream's ``request_records``)."""

    def __init__(
        self,
        query: SeriesQuery,
        fetch: Callable[[dict[str, Any]], Iterable[dict[str, Any]]],
        look_up: Callable[[str, str | None], dict[str, Any] | None],
        instance_cap: int,
        logger: logging.Logger,
    ) -> None:
        self.query = query
        self._fetch = fetch
        self._look_up = look_up
        self._instance_cap = instance_cap
        self._logger = logger

    def meetings(self) -> Iterator[Listed]:
        """The listing, then tombstones of remembered meetings Webex no longer has."""
        remembered = self.query.remembered
        listed: set[str] = set()  # only remembered ids: memory stays flat in the records
        for record in self.pages():
            if remembered and record["id"] in remembered:
                listed.add(record["id"])
            yield record
        yield from self.missing(listed)

    def all_remembered_deleted(self) -> Iterator[Listed]:
        """The series is gone: every meeting it remembers is too."""
        deleted_at = datetime.now(timezone.utc)
        for meeting in self.query.remembered:
            yield deletions.tombstone(meeting, self.query.series_id, deleted_at)

    def missing(self, listed: set[str]) -> Iterator[Listed]:
        """Remembered meetings the listing lacks: a tombstone when Webex answers 404.

        A meeting beyond the window (a shortened ``end_date``) is not asked about; one Webex
        still has (it moved, or left a ``meeting_type``/``state``/``is_modified`` filter) is
        remembered with its current start while it is upcoming.
        """
        query = self.query
        host = query.params.get("hostEmail")
        for meeting in query.remembered:
            if meeting.id in listed:
                continue
            if not query.start <= meeting.start < query.end:
                yield StillThere(meeting)
                continue
            found = self._look_up(meeting.id, host)
            if found is None:
                yield deletions.tombstone(meeting, query.series_id, datetime.now(timezone.utc))
            elif start := found.get("start"):
                now_at = timeutils.parse_api_timestamp(start)
                yield StillThere(Meeting(meeting.id, meeting.meeting_type, now_at))

    def pages(self) -> Iterator[dict[str, Any]]:
        """All pages of the query; past Webex's 10,000-instance cap, continue in a new window.

        Small series cost one query. Only when a query listed the cap's worth of instances
        does a new query start at the last instance listed (inclusive, its ids skipped), for
        instances only: scheduled meetings were all listed by the first one.
        """
        start, instances_only = self.query.start, False
        already_listed: set[str] = set()
        while True:
            instances = 0
            last_start: datetime | None = None
            at_last_start: set[str] = set()
            for record in self._fetch(self.query.first_page(start, instances_only=instances_only)):
                if record.get("meetingType") == webex.INSTANCE_TYPE and record.get("start"):
                    instances += 1
                    record_start = timeutils.parse_api_timestamp(record["start"])
                    if record_start != last_start:
                        last_start, at_last_start = record_start, set()
                    at_last_start.add(record["id"])
                if record.get("id") not in already_listed:
                    yield record
            if instances < self._instance_cap or last_start is None or last_start <= start:
                return
            self._logger.info(
                "Series %s: Webex listed %d instances, its cap; listing the rest from %s",
                self.query.series_id,
                instances,
                last_start.isoformat(),
            )
            start, already_listed, instances_only = last_start, at_last_start, True
