"""A Target that emits STATE after every written batch, one sink at a time."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePath
from types import FrameType
from typing import Any, ClassVar, NoReturn, cast

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import Sink
from typing_extensions import override

from .errors import LoadError, first_line
from .reader import Reader

DEFAULT_BATCH_SIZE_ROWS = 5000  # see meltano.yml: the measured trade-off of each loader


def batch_size_rows_setting() -> th.Property[Any]:
    """The setting both loaders read the same way."""
    return th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=DEFAULT_BATCH_SIZE_ROWS,
        description=(
            "Records held before they are written in one statement; STATE is emitted "
            "after each batch, so it is also how much a stopped run re-reads."
        ),
    )


class BatchTarget(Target):
    """Sinks write whole batches (:class:`~target_webex_common.sink.HeldBatchSink`); STATE
    follows each of them.

    A batch is written behind: on one writer thread, while the next batch is read, so the
    database's work (PostgreSQL's in its own process, DuckDB's outside the GIL) overlaps
    the reading instead of stopping it. One write at a time, in order; the database is only
    touched by a write or after every write has finished; a STATE is held back until every
    batch before it is written, and a failed write fails the run before any later STATE.
    """

    message_reader_class = Reader
    #: The database's errors: one line (its first) at the default level, not a traceback.
    database_errors: ClassVar[tuple[type[Exception], ...]] = ()
    # No package_name: the SDK reads the version of the distribution named like the loader
    # (target-webex-duckdb, target-webex-postgres), each its own (--about, the log).

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """The SDK's settings but load_method and add_record_metadata: these targets always
        upsert by key and always write their _sdc columns, so neither applies; and
        validate_records off unless asked for (see :class:`HeldBatchSink.validate_schema`)."""
        super().append_builtin_config(config_jsonschema)
        for name in ("load_method", "add_record_metadata"):
            config_jsonschema["properties"].pop(name, None)
        if "validate_records" in config_jsonschema["properties"]:
            config_jsonschema["properties"]["validate_records"]["default"] = False

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run; a failure the loader could say (:class:`LoadError`) is one ERROR line, exit 1:
        every STATE printed before it covers committed rows, none covers the failed batch."""
        logger = logging.getLogger(cls.name)
        try:
            super().invoke(*args, **kwargs)
        except LoadError as exc:
            logger.error("%s", exc)
            sys.exit(1)
        except cls.database_errors as exc:  # the database's own words, which name the file
            logger.error("%s failed: %s", cls.name, first_line(exc))
            logger.debug("Traceback of the failure above", exc_info=exc)
            sys.exit(1)

    def __init__(
        self,
        *,
        config: dict[str, Any] | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: Any = None,
    ) -> None:
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        self.max_parallelism = 1  # one database connection: the sinks take turns
        self._unconfirmed_batches = 0  # written since STATE was last emitted
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._in_flight: list[Future[None]] = []  # in the order they were started
        self._state_due: dict[str, Any] | None = None  # waits for the writes in flight
        self._last_state: dict[str, Any] | None = None  # the last STATE printed
        self._ending = False  # the input is over (or SIGTERM): a STATE waits for its writes
        self._reader = cast("Reader", self.message_reader)
        self._reader.on_interrupt = self.interrupted

    def write_behind(self, write: Callable[[], None]) -> None:
        """Start ``write`` once the write before it has finished: one batch in flight."""
        self.wait_for_writes()
        self._in_flight.append(self._writer.submit(write))

    def wait_for_writes(self) -> None:
        """Every write started has finished (the first failure raised here), then the STATE
        held back for them is emitted."""
        while self._in_flight:
            self._in_flight[0].result()  # left in the list until it is known to be done
            self._in_flight.pop(0)
        if self._state_due is not None:
            state, self._state_due = self._state_due, None
            self._emit_state(state)

    def _emit_state(self, state: dict[str, Any]) -> None:
        """Printed unless it is the one printed last (the SDK repeats it at every full drain)."""
        if state != self._last_state:
            super()._write_state_message(state)
            self._last_state = state

    @staticmethod
    def _busy(writes: Sequence[Future[None]]) -> bool:
        return any(not write.done() for write in writes)

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """A STATE covers every batch before it: held back while one is still being written
        (emitted by :meth:`wait_for_writes`, or by the next record once the write is done)."""
        if self._busy(self._in_flight) and not self._ending:
            self._state_due = state
            return
        self.wait_for_writes()  # a failed write raises before this STATE is out
        self._emit_state(state)

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        """A sink that a new SCHEMA replaces writes what it holds first: the SDK would write
        it at the next full drain, after the new sink's batches, so an older record of a key
        would overwrite a newer one."""
        if schema is not None and self.sink_exists(stream_name):
            current = super().get_sink(stream_name)
            if current.original_schema != schema or current.key_properties != key_properties:
                self.drain_one(current)
        return super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )

    def batch_written(self) -> None:
        """A sink wrote a batch: STATE is due once the other sinks have written theirs."""
        self._unconfirmed_batches += 1

    @override
    def process_endofpipe(self) -> None:
        """Everything read: the last batches are written, and a failed one fails the run."""
        self._ending = True
        super().process_endofpipe()
        self.wait_for_writes()

    @override  # private singer-sdk hook: the SDK's handler logs and drains (deadlocks), exits 0
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGINT or SIGTERM: only noted here (see :mod:`~target_webex_common.stop`); the
        main thread then stops in :meth:`interrupted`."""
        self._reader.stop.note(signum)

    def interrupted(self, signum: int) -> NoReturn:
        """Stopped between two messages: the batch in flight committed and its STATE printed,
        then exit 128 + signal; records held since are read again by the next run."""
        self._ending = True
        self.wait_for_writes()
        self.logger.error(
            "Interrupted by %s: stopped; every STATE printed covers rows committed, and the "
            "next run reads the rest again",
            signal.Signals(signum).name,
        )
        sys.exit(128 + signum)

    @override
    def _handle_max_record_age(self) -> None:
        """After every written batch, write the other streams' held records too and emit
        STATE (the SDK does it only every 5 minutes, which a SIGTERM would lose)."""
        if self._unconfirmed_batches:
            self.drain_all()
            self._unconfirmed_batches = 0
            return
        if self._state_due is not None and not self._busy(self._in_flight):
            self.wait_for_writes()  # the write it waited for is done: STATE out now
            return
        super()._handle_max_record_age()
