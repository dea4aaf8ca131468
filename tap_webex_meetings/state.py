"""State at organisation scale: partition lookups in constant time, STATE at a bounded rate.

singer-sdk keeps one state partition per series in a list and finds a series' partition by
scanning that list, several times per series; after every series it deep-copies the whole
state, compares it with the last one and writes it out. With n series both are O(n) per
series, O(n²) per run: 51 of 59 s at 1,000 series, 454 MB of STATE at 2,500. Here:

- :class:`IndexedStateManager` finds a partition through a dict, built once per run.
- :class:`ThrottledStateWriter` writes a STATE message at most every few seconds (and
  always at the end, on :meth:`~ThrottledStateWriter.flush`), serialising the live state
  without copying it. A STATE message still holds every finished series' bookmark, so a
  run killed at any moment resumes from its last STATE and re-reads at most the series
  finished since then and those in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

# Private module (no upstream issue yet): the SDK's STATE writer, and its progress markers' key.
from singer_sdk.helpers._state import PROGRESS_MARKERS, StateWriter
from singer_sdk.singerlib import StateMessage
from singer_sdk.streams._state import StreamStateManager  # private module; meltano/sdk#305
from typing_extensions import override

from tap_webex_meetings import timeutils
from tap_webex_meetings.history import FinishedSeries

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, TapState
    from singer_sdk.singerlib.encoding.base import GenericSingerWriter

PartitionKey = tuple[tuple[str, Any], ...]

# The longest a finished series waits before a STATE message carries its bookmark.
STATE_INTERVAL_SECONDS = 5.0


def partition_key(context: Mapping[str, Any]) -> PartitionKey:
    """A hashable, order-independent key for a partition's context."""
    return tuple(sorted(context.items()))


class IndexedStateManager(StreamStateManager):
    """The SDK's state manager, with partitions found by key instead of by a list scan.

    The partitions stay the SDK's own list in the tap state (what STATE messages and
    Meltano see); the index points into it and is rebuilt if that list is replaced.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # "Starting incremental sync ... with bookmark value" comes once per series: DEBUG.
        self._logger = self._logger.getChild("partitions")
        self._logger.addFilter(_info_as_debug)
        self._indexed: list[dict[str, Any]] | None = None
        self._index: dict[PartitionKey, dict[str, Any]] = {}
        self._position: dict[PartitionKey, int] = {}
        # Partitions to move to ``finished`` once the SDK has finalized their bookmark.
        self._retiring: dict[PartitionKey, tuple[str, datetime]] = {}

    @cached_property
    def finished(self) -> FinishedSeries:
        """The finished series of this stream (see :mod:`history`)."""
        return FinishedSeries(self.stream_state)

    def find(self, context: Context) -> dict[str, Any] | None:
        """The partition state of ``context`` if the state has one; never creates it."""
        return self._partitions_index().get(partition_key(self._partition_context(context)))

    def partitions(self) -> list[dict[str, Any]]:
        """Every partition state of the stream (the live list: do not change it)."""
        partitions: list[dict[str, Any]] = self.stream_state.setdefault("partitions", [])
        return partitions

    @override
    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        """The partition's writable state, created when missing, in constant time."""
        partition_context = self._partition_context(context) if context else None
        if not partition_context:  # no partitions (``state_partitioning_keys = []``)
            return super().get_context_state(context)
        index = self._partitions_index()
        key = partition_key(partition_context)
        found = index.get(key)
        if found is None:
            found = {"context": dict(partition_context)}
            partitions = self.partitions()
            self._position[key] = len(partitions)
            partitions.append(found)
            index[key] = found
        return found

    def retire(self, context: Context, series_id: str, run_start: datetime) -> None:
        """Move the partition to ``finished`` when the SDK finalizes it (end of the series)."""
        self._retiring[partition_key(self._partition_context(context))] = (series_id, run_start)

    @override
    def finalize_state(self, state: dict[str, Any] | None = None) -> None:
        """Then a retiring partition leaves the list, in constant time, for ``finished``."""
        super().finalize_state(state)
        if not self._retiring or not state or "context" not in state:
            return
        key = partition_key(state["context"])
        retiring = self._retiring.pop(key, None)
        if retiring is None:
            return
        self._remove(key)
        self.finished.add(*retiring)

    def _remove(self, key: PartitionKey) -> None:
        """Swap the last partition into the removed one's place (order means nothing)."""
        index = self._partitions_index()
        partitions = self.partitions()
        at = self._position.pop(key)
        del index[key]
        last = partitions.pop()
        if at < len(partitions):
            partitions[at] = last
            self._position[partition_key(last["context"])] = at

    def _partition_context(self, context: Context) -> Context:
        return self.get_state_partition_context(context)

    def _partitions_index(self) -> dict[PartitionKey, dict[str, Any]]:
        partitions = self.partitions()
        if partitions is not self._indexed or len(partitions) != len(self._index):
            keys = [partition_key(p["context"]) for p in partitions]
            self._index = dict(zip(keys, partitions, strict=True))
            self._position = {key: at for at, key in enumerate(keys)}
            self._indexed = partitions
        return self._index


def advance_bookmark(partition: dict[str, Any], replication_key: str, moment: datetime) -> None:
    """Move the partition's progress marker to ``moment`` if later, as a UTC instant.

    The SDK promotes the marker to the bookmark once the partition is complete, capped at
    the signpost.
    """
    markers = partition.setdefault(PROGRESS_MARKERS, {})
    value = timeutils.isoformat_utc(moment)
    if value > markers.get("replication_key_value", ""):
        markers["replication_key"] = replication_key
        markers["replication_key_value"] = value


def _info_as_debug(record: logging.LogRecord) -> bool:
    """Log an INFO record of a per-series narrator as DEBUG (shown only at DEBUG)."""
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
    return True


class _StateMessage(StateMessage):
    """A STATE message serialised as it is: the SDK's ``to_dict`` deep-copies the state."""

    @override
    def to_dict(self) -> dict[str, Any]:
        return {"type": "STATE", "value": self.value}


class ThrottledStateWriter(StateWriter):
    """Writes STATE at most once per ``interval`` seconds; :meth:`flush` writes what waits.

    Streams call :meth:`write_state` whenever the state changed (after every series); the
    latest state waits here until the interval has passed or :meth:`flush` is called.
    """

    def __init__(
        self,
        message_writer: GenericSingerWriter[Any, Any],
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(message_writer)
        self._writer = message_writer
        self._interval = STATE_INTERVAL_SECONDS if interval is None else interval
        self._clock = clock
        self._last_written: float | None = None
        self._waiting: TapState | None = None
        self._latest: TapState | None = None

    @override
    def write_state(self, state: TapState) -> None:
        """Write ``state`` now if the interval has passed, else keep it for later."""
        self._waiting = self._latest = state
        if self._last_written is None or self._clock() - self._last_written >= self._interval:
            self.flush()

    def flush_last(self) -> None:
        """Write the latest state even if it was written already: the last message of an
        interrupted run (RECORD messages may have followed that STATE)."""
        self._waiting = self._waiting if self._waiting is not None else self._latest
        self.flush()

    def flush(self) -> None:
        """Write the state that is waiting, if any (the end of a run, or a failure), and
        every message still buffered (see :mod:`output`)."""
        if self._waiting is not None:
            self._writer.write_message(_StateMessage(value=self._waiting))
            self._waiting = None
            self._last_written = self._clock()
        self.flush_output()

    def flush_output(self) -> None:
        """Write every message still buffered (see :mod:`output`), but no waiting STATE:
        before the main thread waits for Webex, so that the loader is not kept waiting."""
        if (flush := getattr(self._writer, "flush", None)) is not None:
            flush()
