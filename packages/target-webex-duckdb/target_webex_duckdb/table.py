"""One stream's table in DuckDB: created or widened from the SCHEMA, loaded a batch at a time.

Every statement works on a whole batch (a file DuckDB reads itself), never on a row from
Python: that is where target-duckdb 0.8.0 spends its time (each record flattened twice and
written to CSV by Python's csv module).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from target_webex_common.sink import DELETED_AT, VERSION
from target_webex_common.sql import create_or_widen, quote_identifier, quote_literal

from .columns import Column

BATCHED_AT = "_sdc_batched_at"


@dataclass(frozen=True)
class Table:
    """A table of ``columns`` keyed by ``keys`` (record keys; none: rows are appended)."""

    connection: duckdb.DuckDBPyConnection
    schema: str
    name: str
    columns: Sequence[Column]
    keys: Sequence[str]
    logger: logging.Logger

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"

    def existing_columns(self) -> dict[str, str]:
        """Column name (lower case) -> DuckDB type, of the table as it is; empty if none."""
        rows = self.connection.execute(
            "SELECT lower(column_name), data_type FROM information_schema.columns "
            "WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
            [self.schema, self.name],
        ).fetchall()
        return dict(rows)

    def prepare(self) -> bool:
        """Create the schema and table, or add the columns a new SCHEMA brought."""
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self.schema)}")
        return create_or_widen(
            self.connection.execute,
            self.qualified,
            columns=self.columns,
            keys=[key.lower() for key in self.keys],
            existing=self.existing_columns(),
            logger=self.logger,
        )

    def load(
        self,
        ndjson: Path,
        batched_at: datetime,
        *,
        hard_delete: bool,
        only: str | None = None,
        keep: bool = True,
    ) -> None:
        """Upsert the records of one file (at most one per key), in one transaction; with
        ``hard_delete``, rows of tombstones (``_sdc_deleted_at`` set) are deleted after it.
        ``only``: the keys and that property alone; ``keep=False``: rolled back (a probe)."""
        columns = [c for c in self.columns if only is None or c.key == only or c.key in self.keys]
        read = ", ".join(f"{quote_literal(c.key)}: {quote_literal(c.read_as)}" for c in columns)
        values = [
            f"TIMESTAMP {quote_literal(batched_at.isoformat(sep=' '))}"
            if c.name == BATCHED_AT
            else c.select_expression(quote_identifier(c.key))
            for c in columns
        ]
        verb = "INSERT OR REPLACE" if self.keys else "INSERT"
        names = ", ".join(c.quoted for c in columns)
        self.connection.execute("BEGIN TRANSACTION")
        try:
            self.connection.execute(
                f"{verb} INTO {self.qualified} ({names}) SELECT {', '.join(values)} "
                f"FROM read_json({quote_literal(str(ndjson))}, format='newline_delimited', "
                f"columns={{{read}}})"
            )
            if hard_delete:
                self.connection.execute(
                    f"DELETE FROM {self.qualified} WHERE {quote_identifier(DELETED_AT)} IS NOT NULL"
                )
            self.connection.execute("COMMIT" if keep else "ROLLBACK")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
                self.connection.execute("ROLLBACK")
            raise

    def drop_versions_before(self, version: int, deleted_at: datetime, *, hard_delete: bool) -> int:
        """Rows of older table versions (and of none: loaded without a version) are gone from
        the source: deleted, or without ``hard_delete`` marked deleted. How many."""
        older = f"({quote_identifier(VERSION)} IS NULL OR {quote_identifier(VERSION)} < ?)"
        if hard_delete:
            sql = f"DELETE FROM {self.qualified} WHERE {older}"
            params: list[Any] = [version]
        else:
            sql = (
                f"UPDATE {self.qualified} SET {quote_identifier(DELETED_AT)} = ? "
                f"WHERE {older} AND {quote_identifier(DELETED_AT)} IS NULL"
            )
            params = [deleted_at.isoformat(), version]
        result = self.connection.execute(sql, params).fetchone()
        return int(result[0]) if result else 0
