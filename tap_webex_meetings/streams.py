"""The ``meeting_series`` stream: the series of this shard (configured ids, or discovery),
then tombstones of known series Webex no longer has.

Each series found goes to the :class:`~catalog.SeriesCatalog`; ``series_meetings``
(:mod:`meetings`) lists the meetings of each one the catalog lists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream, StreamSchema
from singer_sdk.exceptions import FatalAPIError
from typing_extensions import override

from tap_webex_meetings import deletions, history, timeutils, webex
from tap_webex_meetings.catalog import SeriesCatalog, catalog_of
from tap_webex_meetings.client import SCHEMAS, WebexStream
from tap_webex_meetings.errors import NotFoundError
from tap_webex_meetings.history import MEETINGS_STREAM, Discovery
from tap_webex_meetings.listing import warn_series_not_found
from tap_webex_meetings.summary import bookmarks_of

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


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
        """Each series of this shard once, however found, then the gone; each passed on
        ``2 x max_workers`` series late, so its meetings are fetched meanwhile (:mod:`lookahead`).
        """
        read_ahead = self._catalog.read_ahead
        flush = self.webex_tap.state_writer.flush_output  # before waiting for Webex
        with read_ahead.running(self.settings.max_workers, on_wait=flush):
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
    def _meetings_stream(self) -> Stream | None:
        """``series_meetings``, when it is extracted (selected, or a descendant is)."""
        for child in self.child_streams:
            if child.name == MEETINGS_STREAM and (child.selected or child.has_selected_descendents):
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
        """This shard's series an earlier run extracted (none if meetings are not extracted)."""
        return self._catalog.remembered if self._meetings_stream is not None else {}

    def _missing_series(self, found: set[str]) -> Iterator[dict[str, Any]]:
        """Known series not found now: a tombstone once Webex confirms it with a 404, or,
        after a narrowed discovery, the series record of one that can still change.

        With configured ids, a known id that answered 404 is gone. After a whole-range
        discovery a known series not found is looked up (it may only have left the range);
        after a narrowed one, only one that may change (:meth:`SeriesCatalog.may_change`),
        read like a discovered one if found. Only series of hosts still configured.
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
                if not self._catalog.may_change(partition, discovery.starts[host]):
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
        """The end of a complete run: the discovery marker (only a run that read every
        series may narrow the next discovery), the last STATE, the summary.
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
        extracted = self._meetings_stream is not None
        partitions = self._catalog.partitions() if extracted else []
        logging.getLogger(self.tap_name).info(
            "%s", self.webex_tap.summary.line(bookmarks_of(partitions))
        )
