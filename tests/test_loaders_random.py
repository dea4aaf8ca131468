"""Random message streams into each project loader, the table compared with a model.

Hypothesis draws interleavings of SCHEMA (a column added, its type widened from integer to
number), RECORD (upserts and tombstones), STATE and ACTIVATE_VERSION, loaded with a batch of
two or three records so that every kind of message falls on a batch boundary somewhere.
After the run, the table must be what the model says, and the STATE printed the ones sent,
in order, once each, ending with the last. CI runs ``LOADER_RANDOM_EXAMPLES`` (default 30) per
loader, about 40 s each on 2 cores (measured); more for a change to the loaders
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.loader_harness import STREAM, Loader
from tests.meltano_support import Postgres
from tests.test_target_webex_duckdb import SCHEMA

EXAMPLES = int(os.environ.get("LOADER_RANDOM_EXAMPLES", "30"))
KEYS = ["k0", "k1", "k2", "k3"]
INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": ["number", "null"]}

Op = tuple[Any, ...]
ops = st.one_of(
    st.tuples(
        st.just("record"),
        st.sampled_from(KEYS),
        st.text("abc xyz'\"%", max_size=6),
        st.one_of(st.none(), st.integers(-1000, 1000)),
        st.sampled_from([None, 1, 2, 3]),  # the record's table version
        st.booleans(),  # a tombstone
    ),
    st.tuples(st.just("add_column")),
    st.tuples(st.just("widen_column")),
    st.tuples(st.just("state")),
    st.tuples(st.just("activate"), st.sampled_from([1, 2, 3])),
)


@dataclass
class Model:
    """What the table must hold: key -> (title, n, tombstoned), as the loader's rules say."""

    kind: str
    n_type: dict[str, Any] | None = None  # the column n: absent, integer, or number
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        properties = dict(SCHEMA["properties"])
        if self.n_type is not None:
            properties["n"] = self.n_type
        message = {"type": "SCHEMA", "stream": STREAM, "key_properties": ["id"]}
        return {**message, "schema": {**SCHEMA, "properties": properties}}

    def record(
        self, key: str, title: str, n: int | None, version: int | None, gone: bool
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"id": key, "title": title}
        if self.n_type is not None:
            fields["n"] = n
        if gone:
            fields["_sdc_deleted_at"] = "2026-06-16T00:00:00+00:00"
        # Tombstones: DuckDB deletes the row (hard_delete), PostgreSQL keeps it marked.
        if gone and self.kind == "duckdb":
            self.rows.pop(key, None)
        else:
            row = self.rows.setdefault(key, {"n": None})
            row.update(title=title, version=version, gone=gone)
            if self.n_type is not None:
                row["n"] = n
        message: dict[str, Any] = {"type": "RECORD", "stream": STREAM, "record": fields}
        if version is not None:
            message["version"] = version
        return message

    def activate(self, version: int) -> dict[str, Any]:
        self.rows = {
            k: r
            for k, r in self.rows.items()
            if r["version"] is not None and r["version"] >= version
        }
        return {"type": "ACTIVATE_VERSION", "stream": STREAM, "version": version}

    def expected(self) -> list[tuple[Any, ...]]:
        n = self.n_type is not None
        return [
            (
                k,
                r["title"] or None if self.kind == "duckdb" else r["title"],
                *([r["n"]] if n else []),
                r["gone"],
            )
            for k, r in sorted(self.rows.items())
        ]


def messages_of(kind: str, drawn: list[Op]) -> tuple[Model, list[dict[str, Any]], list[int]]:
    model = Model(kind)
    messages: list[dict[str, Any]] = [model.schema()]
    states: list[int] = []
    for op in drawn:
        if op[0] == "record":
            messages.append(model.record(*op[1:]))
        elif op[0] == "add_column" and model.n_type is None:
            model.n_type = INTEGER
            messages.append(model.schema())
        elif op[0] == "widen_column" and model.n_type is INTEGER:
            model.n_type = NUMBER
            messages.append(model.schema())
        elif op[0] == "state":
            states.append(len(states))
            messages.append({"type": "STATE", "value": {"position": states[-1]}})
        elif op[0] == "activate":
            messages.append(model.activate(op[1]))
    return model, messages, states


@pytest.fixture(params=["duckdb", "postgres"])
def loader(request: pytest.FixtureRequest, tmp_path: Path) -> Loader:
    postgres: Postgres | None = None
    if request.param == "postgres":
        postgres = request.getfixturevalue("postgres")
    return Loader(request.param, tmp_path, postgres)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=st.lists(ops, max_size=60), batch=st.sampled_from([2, 3]))
def test_a_random_stream_leaves_the_table_the_model_says(
    loader: Loader, drawn: list[Op], batch: int
) -> None:
    loader.reset()
    model, messages, states = messages_of(loader.kind, drawn)
    completed = loader.load(messages, batch_size_rows=batch, hard_delete=True)
    printed = [json.loads(line)["position"] for line in completed.stdout.splitlines()]
    assert printed == sorted(set(printed))
    assert set(printed) <= set(states)
    assert printed[-1:] == states[-1:]
    if not any(m["type"] == "RECORD" for m in messages):
        return  # no table
    n = ', "n"' if model.n_type is not None else ""
    columns = f'id, title{n}, "_sdc_deleted_at" IS NOT NULL'
    stored = [
        tuple(float(v) if i == 2 and n and v is not None else v for i, v in enumerate(row))
        for row in loader.rows(columns)
    ]
    assert stored == model.expected(), messages
