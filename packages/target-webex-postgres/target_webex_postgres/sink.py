"""One stream's sink: a batch at a time into PostgreSQL, one COPY and one upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from target_webex_common.errors import LoadError, first_line
from target_webex_common.sink import DELETED_AT, VERSION, HeldBatchSink
from typing_extensions import override

from .columns import columns_of
from .table import Table

if TYPE_CHECKING:
    from .target import TargetWebexPostgres

_TIMESTAMP = {"type": ["null", "string"], "format": "date-time"}
_INTEGER = {"type": ["null", "integer"]}
RECEIVED_AT, BATCHED_AT = "_sdc_received_at", "_sdc_batched_at"
SEQUENCE, SYNC_STARTED_AT = "_sdc_sequence", "_sdc_sync_started_at"
MAX_NAME_BYTES = 63  # PostgreSQL truncates a longer identifier (NAMEDATALEN - 1)


class PostgresSink(HeldBatchSink):
    """Upserts by the stream's key properties; see README "target-webex-postgres"."""

    # The SDK's seven metadata columns, which target-postgres adds (add_record_metadata).
    table: Table
    metadata_schema: ClassVar[dict[str, dict[str, Any]]] = {
        "_sdc_extracted_at": _TIMESTAMP,
        RECEIVED_AT: _TIMESTAMP,
        BATCHED_AT: _TIMESTAMP,
        DELETED_AT: _TIMESTAMP,
        SEQUENCE: _INTEGER,
        VERSION: _INTEGER,
        SYNC_STARTED_AT: _INTEGER,
    }

    def __init__(
        self,
        target: TargetWebexPostgres,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        too_long = [n for n in self.schema["properties"] if len(n.encode()) > MAX_NAME_BYTES]
        if too_long:
            msg = (
                f"{stream_name}: property {too_long[0]} is {len(too_long[0].encode())} bytes "
                f"long, PostgreSQL keeps {MAX_NAME_BYTES} bytes of a column name: rename it "
                "(stream_maps) or deselect it"
            )
            raise LoadError(msg)
        parts = stream_name.split("-")  # the SDK's table name: <schema>-<table> gives <table>
        self.table = Table(
            connection=target.connection,
            schema=str(self.config.get("default_target_schema", "melty")),
            name=stream_name if len(parts) == 1 else parts[-1],
            columns=columns_of(self.schema["properties"]),
            keys=list(self.key_properties),
            logger=self.logger,
        )

    @override
    def is_refused_value(self, exc: Exception) -> bool:
        """PostgreSQL's errors for a value it cannot cast (class 22: data exception)."""
        return isinstance(exc, psycopg.errors.DataError)

    @override
    def probe(self, lines: Sequence[bytes], only: str | None) -> str | None:
        try:
            self.table.load(
                b"\n".join(lines) + b"\n",
                self._fixed(datetime.now(timezone.utc)),
                only=only,
                keep=False,
            )
        except psycopg.Error as exc:
            return first_line(exc)
        return None

    @override
    def write_batch(self, ndjson: bytes, batched_at: datetime) -> None:
        """The SDK's per-record clock columns take the batch's time: the received and
        batched time, the sequence in milliseconds, as target-postgres within one batch."""
        self.table.load(ndjson, self._fixed(batched_at))

    def _fixed(self, batched_at: datetime) -> dict[str, datetime | int]:
        utc = batched_at.replace(tzinfo=None)
        return {
            RECEIVED_AT: utc,
            BATCHED_AT: utc,
            SEQUENCE: round(batched_at.timestamp() * 1000),
            SYNC_STARTED_AT: self.sync_started_at,
        }
