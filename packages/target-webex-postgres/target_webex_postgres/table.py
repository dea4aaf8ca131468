"""One stream's table in PostgreSQL: created or widened from the SCHEMA, loaded a batch at a
time.

A batch is one COPY of its NDJSON lines into a temporary ``jsonb`` table and one
``INSERT ... SELECT ... ON CONFLICT`` that types every property in SQL (``jsonb_to_record``),
in one transaction:
no value passes through Python one by one (target-postgres 0.8.1 binds each value of each
record through SQLAlchemy).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from target_webex_common.errors import LoadError
from target_webex_common.sink import DELETED_AT, VERSION
from target_webex_common.sql import create_or_widen, quote_identifier, quote_literal

from .columns import Column

# COPY in CSV with a quote and a delimiter that JSON text never holds raw (control
# characters are always escaped in it): each line arrives verbatim as one value.
_COPY = (
    "COPY pg_temp.staging (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
)
# A \u0000 escape, not an escaped backslash followed by "u0000": PostgreSQL refuses U+0000
# in text and jsonb, so it becomes U+FFFD as target-postgres' sanitize_null_text_characters.
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_CHUNK = 1 << 20


def without_nul(ndjson: bytes) -> bytes:
    """NDJSON with every escaped U+0000 replaced by U+FFFD."""
    if b"\\u0000" not in ndjson:
        return ndjson
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", ndjson)


@dataclass(frozen=True)
class Table:
    """A table of ``columns`` keyed by ``keys`` (none: rows are appended)."""

    connection: psycopg.Connection[Any]
    schema: str
    name: str
    columns: Sequence[Column]
    keys: Sequence[str]
    logger: logging.Logger

    @property
    def qualified(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"

    def existing_columns(self) -> dict[str, str]:
        """Column name -> type (``text``, ``text[]``), of the table as it is; empty if none."""
        rows = self.connection.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            [self.qualified],
        ).fetchall()
        return {
            name: type_.replace("timestamp without time zone", "timestamp") for name, type_ in rows
        }

    def prepare(self) -> bool:
        """Create the schema and table, or add the columns a new SCHEMA brought; several
        loaders may do it at once (Airflow's shards): they take turns on an advisory lock,
        since ``IF NOT EXISTS`` still races in PostgreSQL's catalogs."""
        with self.said("create or widen"), self.connection.transaction():
            self.connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"target-webex-postgres {self.schema}"],
            )
            self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self.schema)}")
            return create_or_widen(
                self.connection.execute,
                self.qualified,
                columns=self.columns,
                keys=self.keys,
                existing=self.existing_columns(),
                logger=self.logger,
            )

    @contextmanager
    def said(self, doing: str) -> Iterator[None]:
        """A lock not granted within ``lock_timeout``: one line naming the table."""
        try:
            yield
        except psycopg.errors.LockNotAvailable:
            msg = (
                f"{self.qualified} is locked by another session: waited lock_timeout to "
                f"{doing} it, nothing of this batch is stored"
            )
            raise LoadError(msg) from None

    def load(
        self,
        ndjson: bytes,
        fixed: Mapping[str, datetime | int],
        *,
        only: str | None = None,
        keep: bool = True,
    ) -> None:
        """Upsert the records of one batch (at most one per key), in one transaction; the
        columns in ``fixed`` take that one value for the whole batch. ``only``: the keys and
        that property alone; ``keep=False``: rolled back (a probe)."""
        columns = [c for c in self.columns if only is None or c.name == only or c.name in self.keys]
        names = ", ".join(c.quoted for c in columns)
        # No parameters: a ``%`` in a column's name would be read as a placeholder.
        values = [
            f"{_literal(fixed[c.name])}::{c.type}" if c.name in fixed else c.select_expression("r")
            for c in columns
        ]
        # One jsonb_to_record per row: each ``doc -> key`` would decompress the whole
        # (TOASTed) document again, 71 times a Webex-rich record (ten times slower).
        read = ", ".join(c.record_definition for c in columns if c.name not in fixed)
        insert = (
            f"INSERT INTO {self.qualified} ({names}) SELECT {', '.join(values)} "
            f"FROM pg_temp.staging, jsonb_to_record(doc) AS r({read})"
        )
        if self.keys:
            key = ", ".join(quote_identifier(k) for k in self.keys)
            update = ", ".join(
                f"{c.quoted} = EXCLUDED.{c.quoted}" for c in columns if c.name not in self.keys
            )
            insert += (
                f" ON CONFLICT ({key}) DO UPDATE SET {update}"
                if update
                else " ON CONFLICT DO NOTHING"
            )
        with self.said("load"), self.connection.transaction(force_rollback=not keep):
            self.connection.execute("CREATE TEMPORARY TABLE staging (doc jsonb) ON COMMIT DROP")
            # Uncompressed: each document is read once, so compressing it costs and saves
            # nothing (a fifth of the server's CPU for the batch).
            self.connection.execute("ALTER TABLE pg_temp.staging ALTER doc SET STORAGE EXTERNAL")
            with self.connection.cursor().copy(_COPY) as copy:
                clean = without_nul(ndjson)
                for start in range(0, len(clean), _CHUNK):
                    copy.write(clean[start : start + _CHUNK])
            self.connection.execute(insert.encode())

    def drop_versions_before(self, version: int, deleted_at: datetime, *, hard_delete: bool) -> int:
        """Rows of older table versions (and of none: loaded without a version) are gone from
        the source: deleted, or without ``hard_delete`` marked deleted. How many."""
        older = (
            f"({quote_identifier(VERSION)} IS NULL OR {quote_identifier(VERSION)} < {int(version)})"
        )
        if hard_delete:
            sql = f"DELETE FROM {self.qualified} WHERE {older}"
        else:
            deleted = quote_identifier(DELETED_AT)
            sql = (
                f"UPDATE {self.qualified} SET {deleted} = {_literal(deleted_at)}::timestamp "
                f"WHERE {older} AND {deleted} IS NULL"
            )
        with self.said("mark older versions in"), self.connection.transaction():
            cursor = self.connection.execute(sql.encode())
        return cursor.rowcount


def _literal(value: datetime | int) -> str:
    """A fixed value as SQL text (statements with column names take no parameters)."""
    return str(int(value)) if isinstance(value, int) else quote_literal(value.isoformat(sep=" "))
