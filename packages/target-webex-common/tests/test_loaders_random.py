"""Random message streams into each project loader, the table compared with a model.

Hypothesis draws interleavings of SCHEMA (a column added, its type widened from integer to
number), RECORD (upserts and tombstones), STATE and ACTIVATE_VERSION, loaded with a batch of
two or three records so that every kind of message falls on a batch boundary somewhere.
After the run, the table must be what the model says, and the STATE printed the ones sent,
in order, once each, ending with the last; when the last record is one the database refuses,
the run fails and the table is the model's at some point after the last STATE printed (every
STATE printed only after the records before it are committed). CI runs
``LOADER_RANDOM_EXAMPLES`` (default 30) per loader, about 30 s each on 2 cores (measured);
more for a change to the loaders.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loader_harness import STREAM, Loader
from test_target_webex_duckdb import SCHEMA

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

    def expected(
        self, rows: dict[str, dict[str, Any]] | None = None, *, with_n: bool | None = None
    ) -> list[tuple[Any, ...]]:
        """The table's rows (now, or at an earlier ``rows``), with the column n or not."""
        n = self.n_type is not None if with_n is None else with_n
        return [
            (
                k,
                r["title"] or None if self.kind == "duckdb" else r["title"],
                *([r["n"]] if n else []),
                r["gone"],
            )
            for k, r in sorted((self.rows if rows is None else rows).items())
        ]


@dataclass
class Stream:
    """The messages drawn, the model's rows after each, and where each STATE was sent."""

    model: Model
    messages: list[dict[str, Any]]
    states: list[int]  # the STATE positions sent, in order
    state_at: dict[int, int]  # position -> index of its message
    snapshots: list[dict[str, dict[str, Any]]]  # the model's rows after each message


def stream_of(kind: str, drawn: list[Op]) -> Stream:
    model = Model(kind)
    messages: list[dict[str, Any]] = [model.schema()]
    states: list[int] = []
    state_at: dict[int, int] = {}
    snapshots = [copy.deepcopy(model.rows)]
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
            state_at[states[-1]] = len(messages)
            messages.append({"type": "STATE", "value": {"position": states[-1]}})
        elif op[0] == "activate":
            messages.append(model.activate(op[1]))
        else:
            continue
        snapshots.append(copy.deepcopy(model.rows))
    return Stream(model, messages, states, state_at, snapshots)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=st.lists(ops, max_size=60), batch=st.sampled_from([2, 3]), refused_at_end=st.booleans()
)
def test_a_random_stream_leaves_the_table_the_model_says(
    loader: Loader, drawn: list[Op], batch: int, refused_at_end: bool
) -> None:
    """To the end, the table is the model's; with a last record the database refuses, the
    run fails and the table is the model's at some point after the last STATE printed."""
    loader.reset()
    stream = stream_of(loader.kind, drawn)
    messages = stream.messages
    if refused_at_end:
        bad = {"id": "kbad", "title": "t", "start": "garbage"}
        messages = [*messages, {"type": "RECORD", "stream": STREAM, "record": bad}]
    completed = loader.run(messages, batch_size_rows=batch, hard_delete=True)
    assert (completed.returncode != 0) == refused_at_end, completed.stderr[-3000:]
    printed = [json.loads(line)["position"] for line in completed.stdout.splitlines()]
    assert printed == sorted(set(printed))
    assert set(printed) <= set(stream.states)
    with_n = stream.model.n_type is not None
    n = ', "n"' if with_n else ""
    stored = [
        tuple(float(v) if i == 2 and n and v is not None else v for i, v in enumerate(row))
        for row in loader.rows(f'id, title{n}, "_sdc_deleted_at" IS NOT NULL')
    ]
    if not refused_at_end:
        assert printed[-1:] == stream.states[-1:]
        assert stored == stream.model.expected(), messages
        return
    # Every STATE printed covers committed rows: the table is the model's after the last one.
    since = stream.state_at[printed[-1]] if printed else 0
    possible = [stream.model.expected(rows, with_n=with_n) for rows in stream.snapshots[since:]]
    assert stored in possible, (printed, messages)
