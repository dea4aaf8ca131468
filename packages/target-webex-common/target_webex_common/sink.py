"""A sink that holds one record per key and hands the database a whole batch as NDJSON."""

from __future__ import annotations

import operator
from abc import abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from .errors import LoadError, find_refusal, first_line

if TYPE_CHECKING:
    from .target import BatchTarget

VERSION = "_sdc_table_version"
DELETED_AT = "_sdc_deleted_at"
# Decimal as a JSON number (a reader that decodes floats as Decimal would give them).
_ENCODER = msgspec.json.Encoder(decimal_format="number")


class LoaderTable(Protocol):
    """A loader's table, as the sink drives it."""

    @property
    def qualified(self) -> str:
        """Its quoted schema.name, as statements and log lines name it."""
        ...

    def prepare(self) -> bool:
        """Create it, or add the columns a new SCHEMA brought; whether it was created."""
        ...

    def drop_versions_before(self, version: int, deleted_at: datetime, *, hard_delete: bool) -> int:
        """Rows of older table versions, and of none (loaded without one), deleted
        (``hard_delete``) or marked deleted at ``deleted_at`` (naive UTC); how many."""
        ...


class HeldBatchSink(BatchSink):
    """Upserts by the stream's key properties, a batch at a time; the subclass loads it."""

    #: The _sdc columns of the loader this one stands in for, with their JSON Schema.
    metadata_schema: ClassVar[dict[str, dict[str, Any]]]
    table: LoaderTable  # set by the subclass's __init__

    def __init__(
        self,
        target: BatchTarget,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        target.wait_for_writes()  # the subclass's setup creates or widens its table
        super().__init__(target, stream_name, schema, key_properties)
        self.hard_delete = bool(self.config.get("hard_delete", False))
        # The SDK has checked that every record has its key properties.
        self._key: Callable[[dict[str, Any]], object] | None = (
            operator.itemgetter(*self.key_properties) if self.key_properties else None
        )
        self._target = target
        self._created = False  # the table is new: its first record is looked at

    @override
    def setup(self) -> None:
        """The table exists, with a column for every property of this SCHEMA."""
        self._created = self.table.prepare()

    @abstractmethod
    def write_batch(self, ndjson: bytes, batched_at: datetime) -> None:
        """Load one batch of records (one JSON object a line, at most one per key)."""

    def is_refused_value(self, exc: Exception) -> bool:
        """Whether the database refused a value of the batch (not the connection, a lock)."""
        return False

    def probe(self, lines: Sequence[bytes], only: str | None) -> str | None:
        """``lines`` loaded and rolled back (``only``: the keys and that property alone):
        the database's error, or None (see :func:`~target_webex_common.errors.find_refusal`)."""
        return None

    def explained(self, exc: Exception, lines: list[bytes]) -> LoadError:
        """A failed batch as one line: the record and property refused, when it is a value."""
        if self.is_refused_value(exc):
            properties = [p for p in self.schema["properties"] if p not in self.key_properties]
            refusal = find_refusal(lines, properties, self.probe)
            if refusal is not None:
                return LoadError(
                    refusal.describe(self.stream_name, self.key_properties, self.table.qualified)
                )
        return LoadError(
            f"{self.stream_name}: loading a batch into {self.table.qualified} failed: "
            f"{first_line(exc)}"
        )

    @cached_property
    @override
    def validate_schema(self) -> bool:
        """Off unless validate_records is set: checking every record against its schema was
        most of a loader's time, and the database refuses a value it cannot cast anyway."""
        return bool(self.config.get("validate_records", False))

    @property
    @override
    def include_sdc_metadata_properties(self) -> bool:
        """Always: the other loader's _sdc columns, and the version for ACTIVATE_VERSION."""
        return True

    @override
    def _add_sdc_metadata_to_schema(self) -> None:
        """The other loader's _sdc columns, not necessarily the SDK's seven."""
        self.schema["properties"].update(self.metadata_schema)

    @override
    def _add_sdc_metadata_to_record(
        self, record: dict[str, Any], message: dict[str, Any], context: dict[str, Any]
    ) -> None:
        """Only what the message carries: the clock columns are one value per batch (in
        SQL), _sdc_deleted_at comes with the record; the SDK's clock reads per record cost."""
        record["_sdc_extracted_at"] = message.get("time_extracted")
        record[VERSION] = message.get("version")

    @override
    def _parse_timestamps_in_record(
        self,
        record: dict[str, Any],
        schema: dict[str, Any],
        treatment: DatetimeErrorTreatmentEnum,
    ) -> None:
        """Nothing: the database casts ISO 8601 text (offsets included) itself, a batch at a
        time; the SDK's walk over every property of every record was most of its cost."""

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Held per key, so the last record of a key in a batch wins, as in one upsert."""
        if self._created:
            self._created = False
            if record.get(VERSION) is None:
                self.logger.warning(
                    "Created table %s, but its first record carries no table version: a run "
                    "that resumes from a state sends only what changed since, so a new "
                    "warehouse gets only that; if it is new, run again with --full-refresh",
                    self.table.qualified,
                )
        held: dict[object, bytes] = context.setdefault("records", {})
        key = self._key(record) if self._key else len(held)
        if key in held:
            self.tally_duplicate_merged()
        # Encoded now: a held record as JSON text is a quarter of its size as a dict.
        held[key] = _ENCODER.encode(record)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """The batch as NDJSON, loaded by the database in one go, written behind (see
        :class:`~target_webex_common.target.BatchTarget`)."""
        held: dict[object, bytes] = context.get("records", {})
        if not held:
            return
        rows = len(held)
        ndjson = b"\n".join(held.values()) + b"\n"
        batched_at = context["batch_start_time"].astimezone(timezone.utc)

        def write() -> None:
            try:
                self.write_batch(ndjson, batched_at)
            except LoadError:
                raise
            except Exception as exc:
                raise self.explained(exc, list(held.values())) from None
            self.logger.info("Loaded %d rows into %s", rows, self.table.qualified)

        self._target.write_behind(write)
        self._target.batch_written()

    @override
    def activate_version(self, new_version: int) -> None:
        """Rows of older versions are gone from the source (a full refresh is complete):
        delete them (hard_delete) or mark them deleted, after writing what is held."""
        if self.current_size:
            self.process_batch(self.start_drain())
            self.mark_drained()
        self._target.wait_for_writes()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        gone = self.table.drop_versions_before(new_version, now, hard_delete=self.hard_delete)
        verb = "Deleted" if self.hard_delete else "Marked deleted"
        self.logger.info(
            "%s %d rows of %s older than version %d", verb, gone, self.table.qualified, new_version
        )
