"""Both project loaders attacked as a database loader must survive: a SCHEMA change between
records of one key, SIGTERM while loading, loaders racing on a fresh schema, values and
names the database refuses, a locked table, an unusable DuckDB file.

Each test runs the installed command into a real DuckDB file and the session's throwaway
PostgreSQL (see :mod:`tests.loader_harness`) and checks what a user sees: exit code, the one
log line, the STATE printed, the rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.loader_harness import STREAM, Loader
from tests.meltano_support import Postgres
from tests.test_target_webex_duckdb import SCHEMA, record, state


@pytest.fixture(params=["duckdb", "postgres"])
def loader(request: pytest.FixtureRequest, tmp_path: Path) -> Loader:
    postgres: Postgres | None = None
    if request.param == "postgres":
        postgres = request.getfixturevalue("postgres")
    return Loader(request.param, tmp_path, postgres)


def schema(extra: dict[str, Any] | None = None, stream: str = STREAM) -> dict[str, Any]:
    properties = {**SCHEMA["properties"], **(extra or {})}
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {**SCHEMA, "properties": properties},
        "key_properties": ["id"],
    }


def printed_states(stdout: str) -> list[Any]:
    return [json.loads(line)["position"] for line in stdout.splitlines() if line.strip()]


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line]


# --- records of one key in the order read, across a SCHEMA change -----------------------------


def test_a_schema_change_keeps_the_order_of_records_of_one_key(loader: Loader) -> None:
    """The sink a new SCHEMA replaces still holds a record of key a: it is written before the
    new sink's batch, so the later record of a wins."""
    room = {"room": {"type": ["string", "null"]}}
    messages = [
        schema(),
        record("a", "old title"),
        schema(room),
        record("a", "new title", room="R1"),
        record("b", "b", room="R2"),
        state(1),
    ]
    completed = loader.load(messages, batch_size_rows=2)
    assert loader.rows(f"id, title, {loader.column('room')}") == [
        ("a", "new title", "R1"),
        ("b", "b", "R2"),
    ]
    assert printed_states(completed.stdout) == [1]
