"""target-webex-duckdb: the SDK does the Singer protocol, DuckDB does the rows."""

from __future__ import annotations

from functools import cached_property

import duckdb
from singer_sdk import typing as th
from target_webex_common.errors import LoadError, first_line
from target_webex_common.target import BatchTarget, batch_size_rows_setting
from typing_extensions import override

from .sink import DuckDBSink


class TargetWebexDuckDB(BatchTarget):
    """Singer target for DuckDB: one table per stream, upserted by its key properties."""

    name = "target-webex-duckdb"
    default_sink_class = DuckDBSink
    database_errors = (duckdb.Error,)

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
        batch_size_rows_setting(),
    ).to_dict()

    @cached_property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The warehouse, opened once and shared by every sink; a file DuckDB cannot open
        (locked by another process, read-only, a missing folder) is one line naming it."""
        path = str(self.config["filepath"])
        try:
            # A new file in the format DuckDB 1.1 reads: target-duckdb (pinned to 1.1.3 in
            # meltano.yml) and older readers open what this loader wrote with a newer DuckDB.
            connection = duckdb.connect(path, config={"storage_compatibility_version": "v1.1.0"})
        except duckdb.Error as exc:
            msg = f"Cannot open the DuckDB file {path} (setting filepath): {first_line(exc)}"
            raise LoadError(msg) from None
        connection.execute("SET TimeZone = 'UTC'")  # a date-time without offset is UTC
        # One thread: on 60,000 Webex-rich records it spent a third less CPU than DuckDB's
        # default (a thread per core) in the same wall time; the tap and Meltano need the
        # other cores, and the batches are small.
        connection.execute("SET threads = 1")
        return connection

    @override
    def process_endofpipe(self) -> None:
        """Everything written, then the file closed (checkpointed) for the next reader."""
        super().process_endofpipe()
        try:
            self.connection.close()
        except duckdb.Error as exc:
            path = self.config["filepath"]
            raise LoadError(f"Cannot write the DuckDB file {path}: {first_line(exc)}") from None
