"""target-webex-duckdb: the SDK does the Singer protocol, DuckDB does the rows."""

from __future__ import annotations

from functools import cached_property
from pathlib import PurePath
from typing import Any

import duckdb
import msgspec
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from typing_extensions import override

from .sink import DuckDBSink

_DECODER = msgspec.json.Decoder()
DEFAULT_BATCH_SIZE_ROWS = 5000  # see meltano.yml: the measured trade-off


class Reader(MsgSpecReader):
    """The SDK's msgspec reader, numbers as Python numbers."""

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """Floats stay floats: the columns are DOUBLE, so the SDK's Decimal per number is
        only cost (a fifth of the decoding of Webex-rich records)."""
        try:
            message: dict[str, Any] = _DECODER.decode(line)
        except msgspec.DecodeError:
            return super().deserialize_json(line)  # its error: the line, logged
        return message


class TargetWebexDuckDB(Target):
    """Singer target for DuckDB: one table per stream, upserted by its key properties."""

    name = "target-webex-duckdb"
    default_sink_class = DuckDBSink
    message_reader_class = Reader

    config_jsonschema = th.PropertiesList(
        th.Property(
            "filepath",
            th.StringType,
            required=True,
            description="DuckDB database file (created when missing; its folder must exist).",
        ),
        th.Property(
            "default_target_schema",
            th.StringType,
            default="main",
            description="Schema of the tables, one table per stream (created when missing).",
        ),
        th.Property(
            "hard_delete",
            th.BooleanType,
            default=False,
            description=(
                "Delete rows whose record has _sdc_deleted_at set, and rows of older table "
                "versions at ACTIVATE_VERSION; false: keep those marked with _sdc_deleted_at."
            ),
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            default=DEFAULT_BATCH_SIZE_ROWS,
            description=(
                "Records held before they are written in one statement; STATE is emitted "
                "after each batch, so it is also how much a stopped run re-reads."
            ),
        ),
    ).to_dict()

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """The SDK's settings but load_method and add_record_metadata: this target always
        upserts by key and always writes target-duckdb's _sdc columns, so neither applies."""
        super().append_builtin_config(config_jsonschema)
        for name in ("load_method", "add_record_metadata"):
            config_jsonschema["properties"].pop(name, None)

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
        self.max_parallelism = 1  # one DuckDB connection: the sinks take turns
        self._unconfirmed_batches = 0  # written since STATE was last emitted

    def batch_written(self) -> None:
        """A sink wrote a batch: STATE is due once the other sinks have written theirs."""
        self._unconfirmed_batches += 1

    @cached_property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The warehouse, opened once and shared by every sink."""
        connection = duckdb.connect(str(self.config["filepath"]))
        # One thread: on 60,000 Webex-rich records it spent a third less CPU than DuckDB's
        # default (a thread per core) in the same wall time; the tap and Meltano need the
        # other cores, and the batches are small.
        connection.execute("SET threads = 1")
        return connection

    @override
    def _handle_max_record_age(self) -> None:
        """After every written batch, write the other streams' held records too and emit
        STATE (the SDK does it only every 5 minutes, which a SIGTERM would lose)."""
        if self._unconfirmed_batches:
            self.drain_all()
            self._unconfirmed_batches = 0
            return
        super()._handle_max_record_age()

    @override
    def process_endofpipe(self) -> None:
        """Everything written, then the file closed (checkpointed) for the next reader."""
        super().process_endofpipe()
        self.connection.close()
