"""One series' listing: every page, past Webex's instance cap, and what became of the
meetings the state remembers (see :mod:`deletions`).

Runs on prefetch workers, so it touches no state: :class:`SeriesQuery` carries what the
main thread read from it; a listing yields its records, then returns its :class:`Outcome`
(what the main thread remembers of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tap_webex_meetings import deletions, timeutils, webex
from tap_webex_meetings.deletions import Meeting, Memory
from tap_webex_meetings.errors import NotFoundError
from tap_webex_meetings.policy import MAX_MEETING, SeriesFacts


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
    run_start: datetime  # the run's clock: when a deletion was found
    facts: SeriesFacts | None = None  # what its series record said (None: not read)

    def first_page(self, start: datetime, *, instances_only: bool = False) -> dict[str, str]:
        """The query string of a listing's first page from ``start`` (the SDK's context).

        ``instances_only``: past the instance cap, only instances are listed again.
        """
        params = {**self.params, "from": timeutils.query_format(start)}
        if instances_only:
            params["meetingType"] = webex.INSTANCE_TYPE
        return params


@dataclass
class Outcome:
    """What a complete listing says beyond its records."""

    # Remembered meetings missing from the listing that Webex still has (moved, filtered).
    still_there: list[Meeting] = field(default_factory=list)
    gone: bool = False  # the listing answered 404: the whole series was deleted


# A listing: its records (meetings and tombstones), then its outcome.
Listing = Generator[dict[str, Any], None, Outcome]


def warn_series_not_found(logger: logging.Logger, series_id: str, exc: NotFoundError) -> None:
    logger.warning(
        "Meeting series %s was not found; extracting the other series. %s", series_id, exc
    )


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

    def listing(self) -> Listing:
        """:meth:`meetings`; a 404 is the series deleted (known) or not found (new)."""
        try:
            return (yield from self.meetings())
        except NotFoundError as exc:
            if not self.query.known:
                warn_series_not_found(self._logger, self.query.series_id, exc)
                return Outcome()
            yield from self.all_remembered_deleted()
            return Outcome(gone=True)

    def meetings(self) -> Listing:
        """The listing, then tombstones of remembered meetings Webex no longer has."""
        remembered = self.query.remembered
        listed: set[str] = set()  # only remembered ids: memory stays flat in the records
        for record in self.pages():
            if remembered and record["id"] in remembered:
                listed.add(record["id"])
            yield record
        outcome = Outcome()
        yield from self.missing(listed, outcome.still_there)
        return outcome

    def all_remembered_deleted(self) -> Iterator[dict[str, Any]]:
        """The series is gone: every meeting it remembers is too."""
        for meeting in self.query.remembered:
            yield deletions.tombstone(meeting, self.query.series_id, self.query.run_start)

    def missing(self, listed: set[str], still_there: list[Meeting]) -> Iterator[dict[str, Any]]:
        """Remembered meetings the listing lacks: a tombstone when Webex answers 404.

        An id that cannot go into a URL (a hand-edited state) is neither looked up nor
        tombstoned: its lookup would ask for something else.

        A meeting beyond the window (a shortened ``end_date``) is not asked about; one Webex
        still has (it moved, or left a ``meeting_type``/``state``/``is_modified`` filter) is
        remembered with its current start while it is upcoming.
        """
        query = self.query
        host = query.params.get("hostEmail")
        for meeting in query.remembered:
            if meeting.id in listed:
                continue
            if problem := webex.path_problem(meeting.id):
                self._logger.warning(
                    "Series %s remembers meeting %r, whose id cannot go into a URL (%s): not "
                    "looked up, not deleted, forgotten",
                    query.series_id,
                    meeting.id[:100],
                    problem,
                )
                continue
            if not query.start <= meeting.start < query.end:
                still_there.append(meeting)
                continue
            found = self._look_up(meeting.id, host)
            if found is None:
                yield deletions.tombstone(meeting, query.series_id, query.run_start)
            elif start := found.get("start"):
                now_at = timeutils.parse_api_timestamp(start)
                still_there.append(Meeting(meeting.id, meeting.meeting_type, now_at))

    def pages(self) -> Iterator[dict[str, Any]]:
        """All pages of the query; past Webex's 10,000-instance cap, continue in a new window.

        Small series cost one query. A query that listed the cap's worth of instances (or
        more: a limit Webex raised one day) may have been cut, so a new query starts at the
        last instance listed (inclusive, what was listed from there skipped). Webex's words
        allow two readings of the cap, and the listing tells which one happened: records
        after the last instance mean only instances were dropped (continue with instances
        only); none mean the whole listing ended there (continue with every type).
        """
        start, instances_only = self.query.start, False
        already_listed: set[str] = set()
        said_more = False
        while True:
            cut = _QueryEnd()
            for record in self._fetch(self.query.first_page(start, instances_only=instances_only)):
                cut.note(record)
                if record.get("id") not in already_listed:
                    yield record
            last_start = cut.last_start
            if cut.instances < self._instance_cap or last_start is None or last_start <= start:
                return
            instances_only = instances_only or cut.listed_after_last
            if cut.instances == self._instance_cap:
                self._logger.info(
                    "Series %s: Webex listed %d instances, its cap, %s; listing %s from %s",
                    self.query.series_id,
                    cut.instances,
                    "then only scheduled meetings"
                    if cut.listed_after_last
                    else "and nothing after the last one",
                    "the rest of the instances" if instances_only else "every type again",
                    last_start.isoformat(),
                )
            elif not said_more:
                said_more = True
                self._logger.info(
                    "Series %s: Webex listed %d instances in one query, more than its documented "
                    "cap of %d; taking them all, and asking for more from the last one",
                    self.query.series_id,
                    cut.instances,
                    self._instance_cap,
                )
            start, already_listed = last_start, cut.listed_from(last_start, instances_only)


class _QueryEnd:
    """What a continuation from a query's last instance would list again, kept small.

    Webex lists by occurrence: an instance starts at most a day (Webex's longest meeting)
    before its scheduled meeting, so only the instances from the latest instance start, and
    other records of the last day listed, can be listed again.
    """

    def __init__(self) -> None:
        self.instances = 0
        self.last_start: datetime | None = None
        self.listed_after_last = False  # records after the last instance: only instances cut
        self._instances: dict[str, datetime] = {}
        self._others: dict[str, datetime] = {}
        self._newest: datetime | None = None
        self._prune_at = 64

    def note(self, record: dict[str, Any]) -> None:
        text = record.get("start")
        if not isinstance(text, str):
            return
        at = timeutils.parse_api_timestamp(text)
        if record.get("meetingType") != webex.INSTANCE_TYPE:
            self.listed_after_last = self.instances > 0
            self._others[record["id"]] = at
            self._newest = at if self._newest is None else max(self._newest, at)
            if len(self._others) > self._prune_at:
                horizon = self._newest - MAX_MEETING
                self._others = {key: t for key, t in self._others.items() if t >= horizon}
                self._prune_at = 2 * len(self._others) + 64
            return
        self.instances += 1
        self.listed_after_last = False
        if self.last_start is None or at > self.last_start:
            self._instances = {key: t for key, t in self._instances.items() if t >= at}
        self.last_start = at
        self._instances[record["id"]] = at

    def listed_from(self, moment: datetime, instances_only: bool) -> set[str]:
        """Ids listed that start at or after ``moment``, of the types listed again."""
        kept = self._instances if instances_only else {**self._others, **self._instances}
        return {key for key, at in kept.items() if at >= moment}
