"""The two streams: meeting series, and every meeting of each series.

``meeting_series`` finds the series (configured ids, or discovery); for each one,
``series_meetings`` lists its scheduled meetings and meeting instances between the series'
bookmark (minus ``lookback_days``) and ``end_date`` / run start + ``lookahead_days``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cached_property, partial
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers._state import PROGRESS_MARKERS

from tap_webex_meetings import timeutils, webex
from tap_webex_meetings.client import WebexStream, query_params
from tap_webex_meetings.errors import SeriesNotFoundError
from tap_webex_meetings.prefetch import Prefetcher
from tap_webex_meetings.sharding import shard_of

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Series found through hostEmail must be listed through the same hostEmail.
        self._host_of: dict[str, str] = {}

    def get_url(self, context: Context | None) -> str:
        """``/meetings/{id}`` to look up one configured series, else ``/meetings``."""
        if context and "meetingId" in context:
            return f"{self.url_base}{self.path}/{quote(context['meetingId'], safe='')}"
        return super().get_url(context)

    def get_url_params(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any]:
        """Discovery: ``meetingType=meetingSeries`` over the whole configured range."""
        if context and "meetingId" in context:
            return {}
        settings = self.settings
        return query_params(
            {
                "meetingType": webex.SERIES_TYPE,
                "from": timeutils.query_format(settings.start_date),
                "to": timeutils.query_format(settings.range_end(self.webex_tap.run_start)),
                "max": settings.page_size,
                "hostEmail": (context or {}).get("hostEmail"),
            }
        )

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Each series of this shard once, however many ways it was found.

        The whole list comes first (series are few next to their meetings), so that the
        child stream can start fetching the next series' meetings while one is written.
        """
        settings = self.settings
        found = (
            self._configured_series() if settings.meeting_series_ids else self._discovered_series()
        )
        series = [
            record
            for record in found
            if shard_of(record["id"], settings.shard_count) == settings.shard_index
        ]
        for child in self.child_streams:
            if isinstance(child, SeriesMeetingsStream) and (
                child.selected or child.has_selected_descendents
            ):
                child.prefetch([self.get_child_context(record, context) for record in series])
        yield from series

    def _configured_series(self) -> Iterator[dict[str, Any]]:
        """Look the configured ids up, several at a time.

        An unknown id is a warning while others exist; when none exists the run fails, so
        that a scheduled run with a wrong or deleted id alerts instead of loading nothing.
        """
        lookups: Prefetcher[dict[str, Any]] = Prefetcher(self.settings.max_workers)
        ids = self.settings.meeting_series_ids
        missing: dict[str, SeriesNotFoundError] = {}
        for series_id in ids:
            lookups.submit(series_id, partial(self._look_up, series_id, missing))
        found = [record for series_id in ids for record in lookups.take(series_id) or ()]
        absent = [series_id for series_id in ids if series_id in missing]  # configured order
        if absent and not found:
            raise FatalAPIError(
                "meeting_series_ids: none of the configured series exists (Webex answered "
                f"404 for {', '.join(absent)}); nothing to extract"
            )
        for series_id in absent:
            _warn_series_not_found(self, series_id, missing[series_id])
        yield from found

    def _look_up(
        self, series_id: str, missing: dict[str, SeriesNotFoundError]
    ) -> Iterator[dict[str, Any]]:
        try:
            yield from self.request_records({"meetingId": series_id})
        except SeriesNotFoundError as exc:
            missing[series_id] = exc

    def _discovered_series(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        hosts = (None, *self.settings.host_emails)
        for host in hosts:
            for record in self.request_records({"hostEmail": host} if host else None):
                if record["id"] in seen:
                    continue
                seen.add(record["id"])
                if host:
                    self._host_of[record["id"]] = host
                yield record
        if not seen:
            params = self.get_url_params(None, None)
            self.logger.warning(
                "No meeting series found for %s with meetings from %s to %s; nothing to "
                "extract (check start_date, end_date and lookahead_days, or set "
                "meeting_series_ids)",
                " and ".join(["the token's user", *self.settings.host_emails]),
                params["from"],
                params["to"],
            )

    def get_child_context(self, record: Record, context: Context | None) -> dict[str, Any]:
        """One state partition per series: ``{"meetingSeriesId": ...}`` (+ ``hostEmail``)."""
        child = {"meetingSeriesId": record["id"]}
        if host := self._host_of.get(record["id"]):
            child["hostEmail"] = host
        return child


class SeriesMeetingsStream(WebexStream):
    """Scheduled meetings and meeting instances of one series, incremental on ``start``."""

    name = "series_meetings"
    path = webex.MEETINGS_PATH
    parent_stream_type = MeetingSeriesStream
    primary_keys = ("id",)
    replication_key = "start"
    # Webex does not promise an order: the SDK keeps progress markers and moves the bookmark
    # only when a series is complete, capped at the run's start (see the signpost).
    is_sorted = False
    schema = StreamSchema(SCHEMAS)
    # Instances one query can list (a class attribute so tests can meet it with small data).
    instance_cap = webex.INSTANCE_CAP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._partition: tuple[Context | None, dict[str, Any]] | None = None

    @cached_property
    def _prefetcher(self) -> Prefetcher[dict[str, Any]]:
        """Made on first use: discovery (``--discover``) needs no settings."""
        return Prefetcher(self.settings.max_workers)

    def get_url_params(
        self, context: Context | None, next_page_token: str | None
    ) -> dict[str, Any]:
        """The first page's query is the context built by :meth:`get_records`, plus ``max``."""
        return {**(context or {}), "max": self.settings.page_size}

    def prefetch(self, contexts: list[dict[str, Any]]) -> None:
        """Start fetching these series' meetings, ``max_workers`` series at a time."""
        for context in contexts:
            if (query := self._query(context)) is not None:
                self._prefetcher.submit(
                    context["meetingSeriesId"], partial(self._meetings_from, *query)
                )

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Every meeting of the series in range; a series Webex does not know is skipped."""
        assert context is not None, "series_meetings runs once per meeting series"
        series_id = context["meetingSeriesId"]
        try:
            records = self._prefetcher.take(series_id)
            if records is None and (query := self._query(context)) is not None:
                records = self._meetings_from(*query)
            yield from records or ()
        except SeriesNotFoundError as exc:
            _warn_series_not_found(self, series_id, exc)

    def _query(self, context: Context) -> tuple[datetime, dict[str, str]] | None:
        """Where the series' query starts, and its other parameters; None if the range is empty.

        Runs on the main thread (it reads the state), before any worker fetches.
        """
        settings = self.settings
        start = self._query_start(context)
        end = settings.range_end(self.webex_tap.run_start)
        if start >= end:
            return None
        return start, query_params(
            {
                "meetingSeriesId": context["meetingSeriesId"],
                "hostEmail": context.get("hostEmail"),
                "meetingType": settings.meeting_type,
                "state": settings.state,
                "isModified": settings.is_modified,
                "to": timeutils.query_format(end),
            }
        )

    def _query_start(self, context: Context) -> datetime:
        """``start_date`` on the first run; later the bookmark minus ``lookback_days``."""
        start_date = self.settings.start_date
        bookmark = self._bookmark(context)
        if bookmark is None or bookmark <= start_date:
            return start_date
        return max(start_date, bookmark - self.settings.lookback)

    def _bookmark(self, context: Context) -> datetime | None:
        """The series' bookmark from the state the run started with (None on a first run)."""
        value = self._bookmarks_at_start.get(_partition_key(context))
        return timeutils.parse_datetime(value) if value else None

    @cached_property
    def _bookmarks_at_start(self) -> dict[tuple[tuple[str, Any], ...], str]:
        """Every series' bookmark, indexed once (a lookup per series must not scan them all)."""
        return {
            _partition_key(partition["context"]): partition["replication_key_value"]
            for partition in self.stream_state.get("partitions", [])
            if partition.get("replication_key") == self.replication_key
            and partition.get("replication_key_value")
        }

    def _meetings_from(self, start: datetime, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        """All pages of the query; past Webex's 10,000-instance cap, continue in a new window.

        Small series cost one query. Only when a query listed the cap's worth of instances
        does a new query start at the last instance listed (inclusive, its ids skipped), for
        instances only: scheduled meetings were all listed by the first one.
        """
        already_listed: set[str] = set()
        while True:
            instances = 0
            last_start: datetime | None = None
            at_last_start: set[str] = set()
            for record in self.request_records({**query, "from": timeutils.query_format(start)}):
                if record.get("meetingType") == webex.INSTANCE_TYPE and record.get("start"):
                    instances += 1
                    record_start = timeutils.parse_api_timestamp(record["start"])
                    if record_start != last_start:
                        last_start, at_last_start = record_start, set()
                    at_last_start.add(record["id"])
                if record.get("id") not in already_listed:
                    yield record
            if instances < self.instance_cap or last_start is None or last_start <= start:
                return
            self.logger.info(
                "Series %s: Webex listed %d instances, its cap; listing the rest from %s",
                query["meetingSeriesId"],
                instances,
                last_start.isoformat(),
            )
            start, already_listed = last_start, at_last_start
            query = {**query, "meetingType": webex.INSTANCE_TYPE}

    def get_replication_key_signpost(self, context: Context | None = None) -> datetime:
        """No bookmark passes the run's start, though upcoming meetings are emitted."""
        return self.webex_tap.run_start

    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """Keep the series' latest ``start``, as a UTC instant, in its progress markers.

        singer-sdk turns the progress markers into the bookmark when the series is complete,
        capped at the signpost. It compares bookmarks as strings, and Webex writes ``start``
        in the offset of the ``timezone`` header: the record keeps that offset, the bookmark
        gets UTC. Overridden also because the SDK scans every partition of the state for each
        record, and warns once per series that unsorted progress is not resumable (a series
        is resumed from its last bookmark, which is what we want).
        """
        start = latest_record.get("start")
        if not start:
            return
        if self._partition is None or self._partition[0] is not context:
            self._partition = (context, self.get_context_state(context))
        markers = self._partition[1].setdefault(PROGRESS_MARKERS, {})
        value = timeutils.isoformat_utc(timeutils.parse_api_timestamp(start))
        if value > markers.get("replication_key_value", ""):
            markers["replication_key"] = self.replication_key
            markers["replication_key_value"] = value


def _warn_series_not_found(stream: WebexStream, series_id: str, exc: SeriesNotFoundError) -> None:
    stream.logger.warning(
        "Meeting series %s was not found; extracting the other series. %s", series_id, exc
    )


def _partition_key(context: Context) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(context.items()))
