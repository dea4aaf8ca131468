"""The ``series_meetings`` stream: every meeting of each series the catalog lists.

For each series it lists the scheduled meetings and meeting instances between the series'
bookmark (minus ``lookback_days``) and ``end_date`` / run start + ``lookahead_days`` (see
:mod:`policy`), then a tombstone for each meeting it emitted as upcoming before that Webex no
longer has (see :mod:`deletions`). The work it starts lives in listing.py (one series'
pages, on a worker), progress.py (the series being written) and state.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from singer_sdk import StreamSchema
from typing_extensions import override

from tap_webex_meetings import deletions, history, timeutils, webex
from tap_webex_meetings.catalog import catalog_of
from tap_webex_meetings.client import SCHEMAS
from tap_webex_meetings.listing import Listing, SeriesListing, SeriesQuery
from tap_webex_meetings.partitioned import PartitionedStream
from tap_webex_meetings.progress import SeriesProgress

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


class SeriesMeetingsStream(PartitionedStream):
    """Scheduled meetings and meeting instances of one series, incremental on ``start``."""

    name = "series_meetings"
    path = webex.MEETINGS_PATH
    primary_keys = ("id",)
    replication_key = "start"
    schema = StreamSchema(SCHEMAS)
    # A meeting's end decides whether its series is finished (see :mod:`history`).
    entry_moments_if_present = ("end",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._series: SeriesProgress | None = None
        # Series planned and submitted to the read-ahead, not taken yet.
        self._planned: dict[str, SeriesQuery | None] = {}

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        """The end of a complete run: it records the ``start_date`` its series were read from.

        Not before: a backfill that fails midway is a backfill again when resumed.
        """
        if state is None:
            self.stream_state[history.READ_FROM] = timeutils.isoformat_utc(self.settings.start_date)
        super().finalize_state_progress_markers(state)

    @override
    def list_params(self, context: Context | None) -> dict[str, str]:
        """The first page's query is the context built by :meth:`_query`, plus ``max``."""
        return {**(context or {}), "max": str(self.settings.page_size)}

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        """Only instances, for a selected child: the SDK would warn for every other record."""
        if not any(c.selected or c.has_selected_descendents for c in self.child_streams):
            return ()
        child = self.get_child_context(record, context)
        return () if child is None else (child,)

    @override
    def get_child_context(self, record: Record, context: Context | None) -> dict[str, Any] | None:
        """A child stream's partition: one meeting instance, ``{"meetingId": ...}`` with its
        series' context (``meetingSeriesId``, ``hostEmail``), ``state``, ``end`` and
        ``readThrough``: the series' bookmark before this run (None for a series read from
        ``start_date``: new, or a backfill); an earlier run listed what ended before it.

        The parameter Webex's per-meeting APIs take (``/meetingParticipants``, …). None for
        scheduled meetings and tombstones: nothing happened in them to list.
        """
        if record.get("meetingType") != webex.INSTANCE_TYPE or deletions.DELETED_AT in record:
            return None
        bookmark = self._series.query.bookmark if self._series is not None else None
        read_through = None if bookmark is None or catalog_of(self).backfill else bookmark
        instance = {
            "state": record.get("state"),
            "end": record.get("end"),
            "readThrough": read_through and timeutils.isoformat_utc(read_through),
        }
        return {**(context or {}), "meetingId": record["id"], **instance}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every meeting of the series in range, then tombstones of the deleted ones."""
        assert context is not None, "series_meetings runs once per meeting series"
        taken = self._listing_of(context)
        if taken is None:
            return  # an empty range: nothing to list, nothing to forget
        query, listing = taken
        tap = self.webex_tap
        progress = self._series = SeriesProgress(
            query, self.get_context_state(context), tap.policy, tap.summary
        )
        try:
            outcome = yield from listing
        except Exception:
            # Whatever finished before this series must not wait for the next interval.
            self.webex_tap.state_writer.flush()
            raise
        progress.finish(outcome)
        if progress.finished:
            self.state_manager.retire(context, query.series_id, tap.policy.now)
        self._series = None

    def _listing_of(self, context: Context) -> tuple[SeriesQuery, Listing] | None:
        """The series' query and its listing: fetched ahead, or now; None if the range is
        empty. First the series found since are planned and submitted to the read-ahead.
        """
        read_ahead = catalog_of(self).read_ahead
        for found in read_ahead.found():
            key = found["meetingSeriesId"]
            query = self._planned[key] = self._query(found)
            if query is not None:
                read_ahead.submit(key, partial(self._meetings_from, query))
        key = context["meetingSeriesId"]
        query = self._planned.pop(key) if key in self._planned else self._query(context)
        if query is None:
            return None
        listing = read_ahead.take(key)
        return query, listing if listing is not None else self._meetings_from(query)

    def _query(self, context: Context) -> SeriesQuery | None:
        """The series' window and parameters, and what it remembers; None if the range is empty.

        Runs on the main thread (it reads the state), before any worker fetches.
        """
        settings = self.settings
        policy = self.webex_tap.policy
        series_id = context["meetingSeriesId"]
        partition = self.state_manager.find(context)
        value = (partition or {}).get("replication_key_value")
        bookmark = timeutils.parse_datetime(value) if value else None
        # A backfill reads from start_date (said once, by the first series it moves back).
        catalog = catalog_of(self)
        start = policy.series_start(None if bookmark is not None and catalog.backfill else bookmark)
        end = policy.range_end
        if start >= end:
            return None
        params = webex.query_params(
            {
                "meetingSeriesId": series_id,
                "hostEmail": context.get("hostEmail"),
                "meetingType": settings.meeting_type,
                "state": settings.state,
                "isModified": settings.is_modified,
                "to": timeutils.query_format(end),
            }
        )
        remembered = deletions.remembered(partition, series_id)
        return SeriesQuery(
            series_id,
            start,
            end,
            params,
            remembered,
            known=partition is not None,
            bookmark=bookmark,
            run_start=policy.now,
            facts=catalog.facts.get(series_id),
        )

    def _meetings_from(self, query: SeriesQuery) -> Listing:
        """The series' meetings, then its outcome (runs on a worker)."""
        return SeriesListing(
            query, self.request_records, self.look_up, self.instance_cap, self.logger
        ).listing()

    @override
    def note_record(self, record: Record, context: Context | None) -> None:
        """Bookmark, counts and upcoming meetings of the series (see :class:`SeriesProgress`)."""
        if self._series is not None:
            self._series.note(record, self.replication_key)
