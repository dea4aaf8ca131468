"""JSON Schema properties as DuckDB columns, by target-duckdb 0.8.0's rules.

Same names, types and order as target-duckdb writes, so that dbt models, readers and tests of
its warehouse work unchanged whichever loader wrote it: names lower-cased, columns sorted by
property name, nested objects and arrays as JSON (no flattening), date-times as naive UTC
TIMESTAMP, integers without a maximum as HUGEINT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_webex_common.sql import json_types, quote_identifier

# Integer widths by the schema's maximum, as target-duckdb picks them.
_INTEGER_WIDTHS = ((32767, "SMALLINT"), (2147483647, "INTEGER"), (9223372036854775807, "BIGINT"))
# What read_json parses a property as before it is cast: the timestamp and text casts happen
# in SQL, where an empty string can become NULL first (target-duckdb stores "" as NULL).
_READ_AS = {"TIMESTAMP": "VARCHAR", "TIME": "VARCHAR"}


@dataclass(frozen=True)
class Column:
    """One property of a stream's records and the column it is stored in."""

    key: str  # the record's key, case kept (read_json matches it exactly)
    type: str  # DuckDB type of the table column

    @property
    def name(self) -> str:
        """target-duckdb lower-cases every column name."""
        return self.key.lower()

    @property
    def quoted(self) -> str:
        return quote_identifier(self.name)

    @property
    def read_as(self) -> str:
        """The type read_json gives the raw value."""
        return _READ_AS.get(self.type, self.type)

    def select_expression(self, raw: str) -> str:
        """The raw value as stored: "" is NULL for text and times, as in target-duckdb."""
        if self.type == "VARCHAR":
            return f"NULLIF({raw}, '')"
        if self.type == "TIMESTAMP":
            # Through TIMESTAMPTZ, in a UTC session (see the target's connection): the
            # instant's UTC time whatever the offset. A plain cast to TIMESTAMP drops the
            # offset on DuckDB 2 (the local hour); 1.1.3 converted it.
            return f"CAST(CAST(NULLIF({raw}, '') AS TIMESTAMPTZ) AS TIMESTAMP)"
        if self.type in _READ_AS:
            return f"CAST(NULLIF({raw}, '') AS {self.type})"
        return raw


def _without_any_of(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A property's own schema; for ``anyOf``, its first alternative that is not null."""
    if "type" in schema:
        return schema
    alternatives: list[Mapping[str, Any]] = schema.get("anyOf", [])
    return next((a for a in alternatives if "null" not in json_types(a)), None)


def column_type(schema: Mapping[str, Any]) -> str:
    """target-duckdb's ``column_type``, in the same order of precedence."""
    types, fmt = json_types(schema), schema.get("format")
    if "object" in types or "array" in types:
        return "JSON"
    if fmt == "date-time":
        return "TIMESTAMP"
    if fmt == "time":
        return "TIME"
    if "number" in types:
        return "DOUBLE"
    if "integer" in types and "string" in types:
        return "VARCHAR"
    if "integer" in types:
        if "maximum" not in schema:
            return "HUGEINT"
        fits = [name for limit, name in _INTEGER_WIDTHS if schema["maximum"] <= limit]
        return fits[0] if fits else "VARCHAR"
    if "boolean" in types:
        return "BOOLEAN"
    return "VARCHAR"


def columns_of(properties: Mapping[str, Mapping[str, Any]]) -> list[Column]:
    """The columns of a stream's properties, sorted by property name as target-duckdb does;
    a property without a type (``{}``) has no column there either."""
    found = []
    for key in sorted(properties):
        schema = _without_any_of(properties[key])
        if schema is not None:
            found.append(Column(key, column_type(schema)))
    names = [column.name for column in found]
    if clashes := sorted({name for name in names if names.count(name) > 1}):
        msg = f"properties differ only in case, one column each is impossible: {clashes}"
        raise ValueError(msg)
    return found
