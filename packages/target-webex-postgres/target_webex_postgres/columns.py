"""JSON Schema properties as PostgreSQL columns, by target-postgres 0.8.1's rules.

Same names (case kept), types and order as target-postgres writes, so that dbt models,
readers and tests of its warehouse work unchanged whichever loader wrote it: a column per
property in the schema's order, objects as ``jsonb`` (JSON null stored as ``'null'``, as
target-postgres does), arrays as arrays of their items' type, numbers ``numeric``, integers
by their bounds, date-times ``timestamp`` holding UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_webex_common.sql import json_types, quote_identifier

# target-postgres's precedence when a property allows several types (the first one wins).
_PRECEDENCE = (
    "jsonb[]",
    "text[]",
    "jsonb",
    "uuid",
    "text",
    "timestamp",
    "date",
    "time",
    "numeric",
    "bigint",
    "integer",
    "smallint",
    "boolean",
)
_FORMATS = {"date-time": "timestamp", "date": "date", "time": "time", "uuid": "uuid"}


@dataclass(frozen=True)
class Column:
    """One property of a stream's records and the column it is stored in."""

    name: str  # the record's key and the column's name (target-postgres keeps the case)
    type: str  # PostgreSQL type of the table column

    @property
    def quoted(self) -> str:
        return quote_identifier(self.name)

    @property
    def record_definition(self) -> str:
        """This column in ``jsonb_to_record``'s list: a date-time read with its offset."""
        return f"{self.quoted} {'timestamptz' if self.type == 'timestamp' else self.type}"

    def select_expression(self, record: str) -> str:
        """The value as stored, from the ``jsonb_to_record`` row ``record``."""
        value = f"{record}.{self.quoted}"
        if self.type == "jsonb":
            return f"COALESCE({value}, 'null')"  # as target-postgres: JSON null, not NULL
        if self.type == "timestamp":
            # An offset is honoured whatever the session's TimeZone: the instant, in UTC.
            return f"({value} AT TIME ZONE 'UTC')"
        return value


def _integer_type(schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minimum", -(2**63)), schema.get("maximum", 2**63)
    if low >= -(2**15) and high < 2**15:
        return "smallint"
    if low >= -(2**31) and high < 2**31:
        return "integer"
    return "bigint"


def _one_type(json_type: str, schema: Mapping[str, Any]) -> str:
    if json_type == "object":
        return "jsonb"
    if json_type == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return "jsonb[]" if isinstance(items, list) else "jsonb"
        if "type" not in items:
            return "jsonb[]"
        item = column_type(items)
        return f"{item}[]" if not item.endswith("[]") else "jsonb[]"
    if json_type == "integer":
        return _integer_type(schema)
    if json_type == "number":
        return "numeric"
    if json_type == "boolean":
        return "boolean"
    return _FORMATS.get(schema.get("format", ""), "text")


def column_type(schema: Mapping[str, Any]) -> str:
    """target-postgres's ``to_sql_type``: the best of the types a property allows."""
    if "anyOf" in schema:
        alternatives = [a for a in schema["anyOf"] if set(json_types(a)) != {"null"}]
        found = [column_type(alternative) for alternative in alternatives]
    else:
        found = [_one_type(t, schema) for t in json_types(schema) if t != "null"]
    ranked = [t for t in _PRECEDENCE if t in found]
    return ranked[0] if ranked else "text"


def columns_of(properties: Mapping[str, Mapping[str, Any]]) -> list[Column]:
    """The columns of a stream's properties, in the schema's order as target-postgres."""
    return [Column(key, column_type(schema)) for key, schema in properties.items()]
