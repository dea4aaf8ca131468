"""One stream's sink: a batch at a time into DuckDB, which reads it from one file."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb
from target_webex_common.errors import first_line
from target_webex_common.sink import DELETED_AT, VERSION, HeldBatchSink
from typing_extensions import override

from .columns import columns_of
from .table import BATCHED_AT, Table

if TYPE_CHECKING:
    from .target import TargetWebexDuckDB


class DuckDBSink(HeldBatchSink):
    """Upserts by the stream's key properties; see README "target-webex-duckdb"."""

    # The metadata columns target-duckdb 0.8.0 adds, with its types (_sdc_deleted_at is text
    # there), and the table version that ACTIVATE_VERSION needs.
    table: Table
    metadata_schema: ClassVar[dict[str, dict[str, Any]]] = {
        "_sdc_extracted_at": {"type": ["null", "string"], "format": "date-time"},
        BATCHED_AT: {"type": ["null", "string"], "format": "date-time"},
        DELETED_AT: {"type": ["null", "string"]},
        VERSION: {"type": ["null", "integer"], "maximum": 9223372036854775807},
    }

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

    @override
    def write_batch(self, ndjson: bytes, batched_at: datetime) -> None:
        """The batch as one NDJSON file, which DuckDB reads and upserts in one statement."""
        self._load(ndjson, batched_at)

    def _load(
        self, ndjson: bytes, batched_at: datetime, only: str | None = None, *, keep: bool = True
    ) -> None:
        with tempfile.TemporaryDirectory(prefix="target-webex-duckdb-") as folder:
            path = Path(folder) / f"{self.table.name}.ndjson"
            path.write_bytes(ndjson)
            naive_utc = batched_at.replace(tzinfo=None)
            self.table.load(path, naive_utc, hard_delete=self.hard_delete, only=only, keep=keep)

    @override
    def is_refused_value(self, exc: Exception) -> bool:
        """DuckDB's errors for a value it cannot read or cast."""
        return isinstance(exc, duckdb.ConversionException | duckdb.InvalidInputException)

    @override
    def probe(self, lines: Sequence[bytes], only: str | None) -> str | None:
        try:
            self._load(b"\n".join(lines) + b"\n", datetime.now(timezone.utc), only, keep=False)
        except duckdb.Error as exc:
            return first_line(exc)
        return None
