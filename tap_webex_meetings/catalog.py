"""The series this shard extracts, read by both streams.

``meeting_series`` finds series (configured, discovered, or remembered and missing) and tells
the catalog (:meth:`SeriesCatalog.found`); ``series_meetings`` reads from it what it needs to
list a series: its partition context, what its record said (finishing), whether it is listed
at all. Neither stream writes into the other: the catalog alone turns a found series into
state (a finished series reopened), over the meetings stream's state manager.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, cast

from tap_webex_meetings import deletions, history, timeutils, webex
from tap_webex_meetings.client import WebexStream
from tap_webex_meetings.history import FinishedSeries
from tap_webex_meetings.lookahead import ReadAhead
from tap_webex_meetings.policy import Policy, SeriesFacts, instant
from tap_webex_meetings.state import IndexedStateManager
from tap_webex_meetings.summary import RunSummary


class SeriesCatalog:
    """Configured, discovered and remembered series of this shard; finished and reopened."""

    def __init__(
        self,
        policy: Policy,
        partitions: IndexedStateManager,
        in_shard: Callable[[str], bool],
        summary: RunSummary,
        logger: logging.Logger,
    ) -> None:
        self._policy = policy
        self._partitions = partitions
        self.in_shard = in_shard
        self._summary = summary
        self._logger = logger
        # Series found through hostEmail must be listed through the same hostEmail.
        self.host_of: dict[str, str] = {}
        # What each series' record said (decides finishing).
        self.facts: dict[str, SeriesFacts] = {}
        # Finished series found again and still over: their meetings are not listed.
        self.skipped: set[str] = set()
        # The series found ahead of the one being written, and the pool that fetches them.
        self.read_ahead = ReadAhead()

    @property
    def finished(self) -> FinishedSeries:
        """The series finished by earlier runs (see :mod:`history`)."""
        return self._partitions.finished

    @cached_property
    def backfill(self) -> bool:
        """Whether this run is a backfill (see :meth:`Policy.backfill`); said once, when a
        series it changes is first planned.
        """
        policy = self._policy
        if policy.backfill:
            self._logger.info(
                "start_date %s is earlier than %s, which the known series were read from: "
                "reading every one of them from %s (a backfill)",
                timeutils.isoformat_utc(policy.start_date),
                self._partitions.stream_state.get(history.READ_FROM),
                timeutils.isoformat_utc(policy.start_date),
            )
        return policy.backfill

    @cached_property
    def remembered(self) -> dict[str, dict[str, Any]]:
        """Partitions of this shard's series that an earlier run extracted, not found gone.

        Not one whose id cannot go into a URL (a hand-edited state): its lookup would ask for
        something else, and the 404 read as the series deleted. Read on the main thread.
        """
        known = {}
        for partition in self._partitions.partitions():
            series_id = partition["context"].get("meetingSeriesId", "")
            if deletions.SERIES_DELETED_AT in partition or not self.in_shard(series_id):
                continue
            if problem := webex.path_problem(series_id):  # never looked up nor tombstoned
                self._logger.warning(
                    "The state holds series %r, whose id cannot go into a URL (%s); ignoring it",
                    series_id[:100],
                    problem,
                )
                continue
            known[series_id] = partition
        return known

    def partitions(self) -> list[dict[str, Any]]:
        """Every partition of the meetings stream (the live list: do not change it)."""
        return self._partitions.partitions()

    def may_change(self, partition: Mapping[str, Any], window_start: datetime) -> bool:
        """Whether a remembered series a narrowed discovery missed can still change: it
        remembers upcoming meetings (they can be cancelled), or see :meth:`Policy.may_change`.
        """
        if partition.get(deletions.UPCOMING):
            return True
        bookmark = instant(partition.get("replication_key_value"))
        return self._policy.may_change(bookmark, window_start)

    def context_of(self, series_id: str) -> dict[str, Any]:
        """The series' partition: ``{"meetingSeriesId": ...}`` (+ ``hostEmail``)."""
        context = {"meetingSeriesId": series_id}
        if host := self.host_of.get(series_id):
            context["hostEmail"] = host
        return context

    def listed(self, series_id: str) -> bool:
        """Whether the series' meetings are listed this run (not: finished and still over)."""
        return series_id not in self.skipped

    def found(self, record: Mapping[str, Any], replication_key: str) -> None:
        """A series of this shard was found: whether its meetings are listed.

        A finished series Webex shows active again (a host extended it) is read again from
        the start of the run that finished it (minus ``lookback_days``).
        """
        series_id = record["id"]
        facts = self.facts[series_id] = self._policy.facts_of(record)
        if series_id not in self.finished:
            return
        if facts.over and not self.backfill:
            self.skipped.add(series_id)
            return
        instant = self.finished.reopen(series_id)
        self._summary.finished_skipped -= 1
        partition = self._partitions.get_context_state(self.context_of(series_id))
        if instant is not None and "replication_key_value" not in partition:
            partition["replication_key"] = replication_key
            partition["replication_key_value"] = timeutils.isoformat_utc(instant)
        if facts.over:  # read again by the backfill, said once (see backfill)
            return
        self._logger.info(
            "Meeting series %s was finished and is %s again; reading it from its bookmark",
            series_id,
            record.get("state"),
        )


class _CatalogTap(Protocol):
    series_catalog: SeriesCatalog


def catalog_of(stream: WebexStream) -> SeriesCatalog:
    """The tap's series catalog (the tap makes it: it knows both streams)."""
    return cast("_CatalogTap", stream.webex_tap).series_catalog
