"""What both loaders say to their database the same way: quoting, JSON Schema types, and a
table created or widened from a stream's SCHEMA."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol


class ColumnLike(Protocol):
    """A loader's column: its name in the table, its type in that database, quoted name."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def quoted(self) -> str: ...


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_types(schema: Mapping[str, Any]) -> list[str]:
    """A property's JSON Schema ``type`` as a list (it may be one string)."""
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def create_or_widen(
    execute: Callable[[str], object],
    qualified: str,
    *,
    columns: Sequence[ColumnLike],
    keys: Sequence[str],
    existing: Mapping[str, str],
    logger: logging.Logger,
) -> bool:
    """The table (``existing``: its columns now, empty if none) created with ``columns`` and
    the primary key ``keys`` (column names), or given the columns a new SCHEMA brought; a
    column whose type changed keeps it, with a warning (its values are cast). Whether it was
    created."""
    if not existing:
        parts = [f"{c.quoted} {c.type}" for c in columns]
        if keys:
            parts.append(f"PRIMARY KEY ({', '.join(quote_identifier(k) for k in keys)})")
        execute(f"CREATE TABLE {qualified} ({', '.join(parts)})")
        logger.info("Created table %s", qualified)
        return True
    for column in columns:
        if column.name not in existing:
            execute(f"ALTER TABLE {qualified} ADD COLUMN {column.quoted} {column.type}")
            logger.info("Added column %s %s to %s", column.name, column.type, qualified)
        elif existing[column.name] != column.type:
            logger.warning(
                "Column %s of %s is %s, the schema now says %s: values are cast to %s",
                column.name,
                qualified,
                existing[column.name],
                column.type,
                existing[column.name],
            )
    return False
