"""``stream_maps`` (singer-sdk's setting) fail in one line naming the map, never a traceback.

The SDK parses a map's expressions when the run starts and evaluates them per record; a
typo is its ``MapExpressionError: Failed to parse expression title.upper(.``, a name or key
missing from a record a ``KeyError``, both without the map. Here an expression that does not
parse is a bad setting (before any request), and one that fails on a record stops the run
with one line naming the map, the record and the expression's error.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from singer_sdk.mapper import (
    MAPPER_ALIAS_OPTION,
    MAPPER_KEY_PROPERTIES_OPTION,
    MAPPER_SOURCE_OPTION,
    NULL_STRING,
)

from tap_webex_meetings.errors import StreamMapError

SETTING = "stream_maps"
# Keys of a stream map whose value is a name or a list, not an expression.
_NOT_EXPRESSIONS = frozenset(
    {MAPPER_ALIAS_OPTION, MAPPER_SOURCE_OPTION, MAPPER_KEY_PROPERTIES_OPTION}
)


def problems(config: Mapping[str, Any]) -> list[str]:
    """``stream_maps.<map>.<property>: '<expression>' is not an expression (<why>)``."""
    maps = config.get(SETTING)
    if not isinstance(maps, Mapping):
        return []
    found = []
    for name, stream_map in maps.items():
        if not isinstance(stream_map, Mapping):
            continue  # null (drop the stream) or an alias: the SDK's to judge
        for key, expression in stream_map.items():
            if key in _NOT_EXPRESSIONS or not isinstance(expression, str):
                continue
            if expression == NULL_STRING:
                continue
            if why := _syntax_problem(expression):
                found.append(
                    f"{SETTING}.{name}.{key}: {expression[:200]!r} is not an expression ({why})"
                )
    return found


def _syntax_problem(expression: str) -> str | None:
    try:
        body = ast.parse(expression).body
    except SyntaxError as exc:
        return exc.msg
    return None if body else "empty"


def failure(alias: str, record: Mapping[str, Any], exc: Exception) -> StreamMapError:
    """The one-line error of a map that failed on ``record`` (the SDK's error as cause)."""
    cause = exc.__cause__
    why = f"{type(exc).__name__}: {exc}"
    if cause is not None:
        why += f" ({type(cause).__name__}: {cause})"
    return StreamMapError(
        f"{SETTING}.{alias}: the map failed on record {record.get('id')!r}: {why[:500]}"
    )
