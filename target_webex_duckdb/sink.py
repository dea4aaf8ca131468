"""One stream's sink: records held per key, written a batch at a time by DuckDB itself."""

from __future__ import annotations

import operator
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from typing_extensions import override

from .columns import columns_of
from .table import BATCHED_AT, DELETED_AT, VERSION, Table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .target import TargetWebexDuckDB

# The metadata columns target-duckdb 0.8.0 adds, with its types (_sdc_deleted_at is text there),
# and the table version that ACTIVATE_VERSION needs.
METADATA_SCHEMA: dict[str, dict[str, Any]] = {
    "_sdc_extracted_at": {"type": ["null", "string"], "format": "date-time"},
    BATCHED_AT: {"type": ["null", "string"], "format": "date-time"},
    DELETED_AT: {"type": ["null", "string"]},
    VERSION: {"type": ["null", "integer"], "maximum": 9223372036854775807},
}
# Decimal as a JSON number (the SDK's msgspec reader decodes floats as Decimal).
_ENCODER = msgspec.json.Encoder(decimal_format="number")


class DuckDBSink(BatchSink):
    """Upserts by the stream's key properties; see README "target-webex-duckdb"."""

    def __init__(
        self,
        target: TargetWebexDuckDB,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.table = Table(
            connection=target.connection,
            schema=str(self.config.get("default_target_schema", "main")),
            name=stream_name.replace(".", "_").replace("-", "_").lower(),
            columns=columns_of(self.schema["properties"]),
            keys=list(self.key_properties),
            logger=self.logger,
        )
        self.hard_delete = bool(self.config.get("hard_delete", False))
        # The SDK has checked that every record has its key properties.
        self._key: Callable[[dict[str, Any]], object] | None = (
            operator.itemgetter(*self.key_properties) if self.key_properties else None
        )
        self._batch_written = target.batch_written

    @property
    @override
    def include_sdc_metadata_properties(self) -> bool:
        """Always: target-duckdb's _sdc columns, and the version for ACTIVATE_VERSION."""
        return True

    @override
    def _add_sdc_metadata_to_schema(self) -> None:
        """target-duckdb's three columns and the version, not the SDK's seven."""
        self.schema["properties"].update(METADATA_SCHEMA)

    @override
    def _add_sdc_metadata_to_record(
        self, record: dict[str, Any], message: dict[str, Any], context: dict[str, Any]
    ) -> None:
        """Only what the message carries: _sdc_batched_at is one value per batch (in SQL),
        _sdc_deleted_at comes with the record; the SDK's clock reads per record cost."""
        record["_sdc_extracted_at"] = message.get("time_extracted")
        record[VERSION] = message.get("version")

    @override
    def _parse_timestamps_in_record(
        self,
        record: dict[str, Any],
        schema: dict[str, Any],
        treatment: DatetimeErrorTreatmentEnum,
    ) -> None:
        """Nothing: DuckDB casts ISO 8601 text (offsets included) itself, a batch at a time;
        the SDK's walk over every property of every record was most of a record's cost."""

    @override
    def setup(self) -> None:
        """The table exists, with a column for every property of this SCHEMA."""
        self.table.prepare()

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Held per key, so the last record of a key in a batch wins, as in one upsert."""
        held: dict[object, dict[str, Any]] = context.setdefault("records", {})
        key = self._key(record) if self._key else len(held)
        if key in held:
            self.tally_duplicate_merged()
        held[key] = record

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """The batch as one NDJSON file, which DuckDB reads and upserts in one statement."""
        records = list(context.get("records", {}).values())
        if not records:
            return
        batch_start: datetime = context["batch_start_time"]
        batched_at = batch_start.astimezone(timezone.utc).replace(tzinfo=None)
        with tempfile.TemporaryDirectory(prefix="target-webex-duckdb-") as folder:
            path = Path(folder) / f"{self.table.name}.ndjson"
            with path.open("wb") as file:
                file.write(_ENCODER.encode_lines(records))
            self.table.load(path, batched_at, hard_delete=self.hard_delete)
        self.logger.info("Loaded %d rows into %s", len(records), self.table.qualified)
        self._batch_written()

    @override
    def activate_version(self, new_version: int) -> None:
        """Rows of older versions are gone from the source (a full refresh is complete):
        delete them (hard_delete) or mark them deleted, after writing what is held."""
        if self.current_size:
            self.process_batch(self.start_drain())
            self.mark_drained()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        gone = self.table.drop_versions_before(new_version, now, hard_delete=self.hard_delete)
        verb = "Deleted" if self.hard_delete else "Marked deleted"
        self.logger.info(
            "%s %d rows of %s older than version %d", verb, gone, self.table.qualified, new_version
        )
