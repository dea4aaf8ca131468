"""The two streams: meeting series, and every meeting of each series.

``meeting_series`` finds the series (configured ids, or discovery); for each one,
``series_meetings`` lists its scheduled meetings and meeting instances between the series'
bookmark (minus ``lookback_days``) and ``end_date`` / run start + ``lookahead_days``, and
emits a tombstone for each meeting it emitted as upcoming before that Webex no longer has
(see :mod:`deletions`).

Somewhat over 400 lines because each stream's singer-sdk hooks stay together; the work they
start lives in listing.py (one series' pages, on a worker), progress.py (the series being
written) and state.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cached_property, partial
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import FatalAPIError
from typing_extensions import override

from tap_webex_meetings import deletions, history, timeutils, webex
from tap_webex_meetings.catalog import SeriesCatalog
from tap_webex_meetings.client import WebexStream
from tap_webex_meetings.errors import NotFoundError
from tap_webex_meetings.history import Discovery
from tap_webex_meetings.listing import Listing, SeriesListing, SeriesQuery, warn_series_not_found
from tap_webex_meetings.partitioned import PartitionedStream
from tap_webex_meetings.policy import Policy, instant
from tap_webex_meetings.progress import SeriesProgress
from tap_webex_meetings.summary import bookmarks_of

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


def schema_dir() -> Traversable:
    """``schemas/``: inside the installed wheel, or at the top of a source checkout.

    The wheel build copies the top-level folder into the package; an editable install
    imports the package from the checkout, where the folder stays at the top.
    """
    packaged = resources.files("tap_webex_meetings") / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "schemas"


SCHEMAS = SchemaDirectory(schema_dir())


class MeetingSeriesStream(WebexStream):
    """Meeting series: the configured ``meeting_series_ids``, or every series found."""

    name = "meeting_series"
    path = webex.MEETINGS_PATH
    primary_keys = ("id",)
    replication_key = None
    schema = StreamSchema(SCHEMAS)

    @property
    def _catalog(self) -> SeriesCatalog:
        return catalog_of(self)

    @cached_property
    def _discovery(self) -> Discovery:
        """Each host's discovery window: the whole range, or narrowed (see :mod:`history`)."""
        settings = self.settings
        policy = self.webex_tap.policy
        marker = self.stream_state.get(history.DISCOVERED)
        found = history.discovery_windows(
            marker if isinstance(marker, dict) else None,
            hosts=self._hosts,
            split=history.split_of(settings.shard_index, settings.shard_count),
            policy=policy,
        )
        for host in found.future:
            self.logger.warning(
                "The last discovery of %s is recorded at %s, later than this run's start "
                "%s; discovering over the whole range again",
                host or "the token's user",
                found.future[host],
                timeutils.isoformat_utc(policy.now),
            )
        return found

    @property
    def _hosts(self) -> tuple[str, ...]:
        return (history.TOKEN_USER, *self.settings.host_emails)

    @override
    def list_params(self, context: Context | None) -> dict[str, str]:
        """Discovery: ``meetingType=meetingSeries`` from the host's window to the range end."""
        settings = self.settings
        host = (context or {}).get("hostEmail")
        return webex.query_params(
            {
                "meetingType": webex.SERIES_TYPE,
                "from": timeutils.query_format(self._discovery.starts[host or history.TOKEN_USER]),
                "to": timeutils.query_format(self.webex_tap.policy.range_end),
                "max": settings.page_size,
                "hostEmail": host,
            }
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each series of this shard once, however many ways it was found, then the gone.

        The look-ahead (see :mod:`lookahead`) starts fetching a series' meetings as soon as
        it is found and passes the series on ``2 x max_workers`` series later, so its
        meetings are on their way while earlier series are written. A series extracted
        before that Webex no longer has comes last, as a tombstone; its meetings'
        tombstones follow from the child stream.
        """
        read_ahead = self._catalog.read_ahead
        with read_ahead.running(self.settings.max_workers):
            yield from read_ahead.hold(self._series_of_shard(), self._child_context_of)

    def _child_context_of(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The series' partition, or None when its meetings are not listed (finished)."""
        catalog = self._catalog
        return catalog.context_of(record["id"]) if catalog.listed(record["id"]) else None

    def _series_of_shard(self) -> Iterator[dict[str, Any]]:
        """This shard's series as they are found, then the known ones missing from them:
        tombstones of the ones gone, and unfinished ones a narrowed discovery no longer
        lists.
        """
        settings = self.settings
        summary = self.webex_tap.summary
        _ = self._known_series  # read from the state here, not on a lookup's worker thread
        if self._meetings_stream is not None:
            summary.finished_skipped = len(self._catalog.finished)
        found = (
            self._configured_series() if settings.meeting_series_ids else self._discovered_series()
        )
        in_shard: set[str] = set()
        for record in found:
            if self._catalog.in_shard(record["id"]):
                in_shard.add(record["id"])
                summary.series += 1
                self._plan(record)
                yield record
        for record in self._missing_series(in_shard):
            if deletions.DELETED_AT in record:
                summary.series_deleted += 1
            else:
                summary.series += 1
                self._plan(record)
            yield record

    def _plan(self, record: dict[str, Any]) -> None:
        """Tell the catalog (it decides whether the series' meetings are listed)."""
        if (child := self._meetings_stream) is not None:
            self._catalog.found(record, child.replication_key or "")

    @property
    def _meetings_stream(self) -> SeriesMeetingsStream | None:
        for child in self.child_streams:
            if isinstance(child, SeriesMeetingsStream) and (
                child.selected or child.has_selected_descendents
            ):
                return child
        return None

    def _configured_series(self) -> Iterator[dict[str, Any]]:
        """Look the configured ids up, several at a time.

        An unknown id is a warning while others exist; when none exists the run fails, so
        that a scheduled run with a wrong or deleted id alerts instead of loading nothing.
        """
        ids = self.settings.meeting_series_ids
        missing: dict[str, NotFoundError] = {}
        found = list(
            self._catalog.read_ahead.each(ids, partial(self._look_up_series, missing=missing))
        )
        absent = [series_id for series_id in ids if series_id in missing]  # configured order
        unknown = [series_id for series_id in absent if series_id not in self._known_series]
        if absent and not found and unknown == absent:
            raise FatalAPIError(
                "meeting_series_ids: none of the configured series exists (Webex answered "
                f"404 for {', '.join(absent)}); nothing to extract"
            )
        for series_id in unknown:  # known ones were deleted: see _gone_series
            warn_series_not_found(self.logger, series_id, missing[series_id])
        yield from found

    def _look_up_series(
        self, series_id: str, missing: dict[str, NotFoundError]
    ) -> Iterator[dict[str, Any]]:
        try:
            yield self.fetch_meeting(series_id)
        except NotFoundError as exc:
            missing[series_id] = exc

    def _discovered_series(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        summary = self.webex_tap.summary
        for host in self._hosts:
            for record in self.request_records({"hostEmail": host} if host else None):
                if record["id"] in seen:
                    continue
                seen.add(record["id"])
                summary.discovered += 1
                if host:
                    self._catalog.host_of[record["id"]] = host
                yield record
        if not seen and not self._discovery.narrowed:
            params = self.get_url_params(None, None)
            self.logger.warning(
                "No meeting series found for %s with meetings from %s to %s; nothing to "
                "extract (check start_date, end_date and lookahead_days, or set "
                "meeting_series_ids)",
                " and ".join(["the token's user", *self.settings.host_emails]),
                params["from"],
                params["to"],
            )

    @property
    def _known_series(self) -> dict[str, dict[str, Any]]:
        """Partitions of this shard's series an earlier run extracted (none when the meetings
        are not extracted).
        """
        return self._catalog.remembered if self._meetings_stream is not None else {}

    def _missing_series(self, found: set[str]) -> Iterator[dict[str, Any]]:
        """Known series not found now: a tombstone once Webex confirms it with a 404, or,
        after a narrowed discovery, the series record of one that can still change.

        With configured ids, a known id that answered 404 is gone. After a discovery over
        the whole range, a known series not found is looked up (it may only have left the
        range). After a narrowed one, only a series that can still change is asked about:
        one with upcoming meetings remembered (they can be cancelled) or read within a day
        before the window (a meeting that ran past its schedule); found, it is read like a
        discovered one. Only series found through the token's user or a ``host_emails``
        entry still configured are asked about.
        """
        settings = self.settings
        discovery = self._discovery
        missing: dict[str, Context] = {}
        read_if_found: set[str] = set()
        for series_id, partition in self._known_series.items():
            context = partition["context"]
            if series_id in found:
                continue
            if settings.meeting_series_ids:
                if series_id in settings.meeting_series_ids:
                    missing[series_id] = context
                continue
            host = context.get("hostEmail") or history.TOKEN_USER
            if host not in discovery.starts:
                continue
            if host in discovery.narrowed:
                if not _may_change(partition, discovery.starts[host], self.webex_tap.policy):
                    continue
                read_if_found.add(series_id)
            missing[series_id] = context
        for series_id, context in missing.items():
            host = context.get("hostEmail")
            record = None if settings.meeting_series_ids else self.look_up(series_id, host)
            if host:
                self._catalog.host_of[series_id] = host
            if record is not None:
                if series_id in read_if_found:
                    yield record
                continue
            self.logger.warning(
                "Meeting series %s was deleted in Webex; emitting tombstones for it and "
                "its upcoming meetings.",
                series_id,
            )
            yield deletions.series_tombstone(series_id, self.webex_tap.policy.now)

    @override
    def get_child_context(self, record: Record, context: Context | None) -> dict[str, Any]:
        """One state partition per series (see :meth:`SeriesCatalog.context_of`)."""
        return self._catalog.context_of(record["id"])

    @override
    def generate_child_contexts(
        self, record: Record, context: Context | None
    ) -> Iterable[Context | None]:
        """None for a finished series that is still over: its meetings are not listed."""
        if not self._catalog.listed(record["id"]):
            return ()
        return super().generate_child_contexts(record, context)

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        """The end of a complete run: the discovery marker, the last STATE, the summary.

        Only a run that got here discovered and read every series, so only it may narrow
        the next run's discovery.
        """
        settings = self.settings
        if not settings.meeting_series_ids and self._meetings_stream is not None:
            self.stream_state[history.DISCOVERED] = history.discovery_marker(
                hosts=self._hosts,
                start_date=settings.start_date,
                split=history.split_of(settings.shard_index, settings.shard_count),
                run_start=self.webex_tap.policy.now,
            )
        super().finalize_state_progress_markers(state)
        self.webex_tap.state_writer.flush()
        child = self._meetings_stream
        partitions = child.state_manager.partitions() if child is not None else []
        logging.getLogger(self.tap_name).info(
            "%s", self.webex_tap.summary.line(bookmarks_of(partitions))
        )


class SeriesMeetingsStream(PartitionedStream):
    """Scheduled meetings and meeting instances of one series, incremental on ``start``."""

    name = "series_meetings"
    path = webex.MEETINGS_PATH
    parent_stream_type = MeetingSeriesStream
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
        """Without child streams, skip the SDK's per-record child context and filter check."""
        if self.child_streams:
            return super().generate_child_contexts(record, context)
        return ()

    @override
    def get_child_context(self, record: Record, context: Context | None) -> dict[str, Any] | None:
        """A child stream's partition: one meeting instance, ``{"meetingId": ...}``.

        The parameter Webex's per-meeting APIs take (``/meetingParticipants``, …). None for
        scheduled meetings and tombstones: nothing happened in them to list.
        """
        if record.get("meetingType") != webex.INSTANCE_TYPE or deletions.DELETED_AT in record:
            return None
        return {"meetingId": record["id"]}

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


class _CatalogTap(Protocol):
    series_catalog: SeriesCatalog


def catalog_of(stream: WebexStream) -> SeriesCatalog:
    """The tap's series catalog (the tap makes it: it knows both streams)."""
    return cast("_CatalogTap", stream.webex_tap).series_catalog


def _may_change(partition: dict[str, Any], window_start: datetime, policy: Policy) -> bool:
    """Whether a known series missing from a narrowed discovery can still change: it
    remembers upcoming meetings (they can be cancelled), or see :meth:`Policy.may_change`.
    """
    if partition.get(deletions.UPCOMING):
        return True
    value = partition.get("replication_key_value")
    return policy.may_change(instant(value), window_start)
