"""target-webex-duckdb on its own: Singer messages in, rows and STATE out.

Each test pipes messages into the installed ``target-webex-duckdb`` command, as Meltano does,
and reads the DuckDB file it left: one row per key (the last record wins, within a batch and
across runs), tombstones deleted, a new property a new column, ACTIVATE_VERSION removing
what the source no longer has, STATE only after the rows it covers are written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fake_webex import FakeWebex

from tests.meltano_support import PLUGINS
from tests.tap_runner import config_for, sync

TARGET = str(Path(sys.executable).with_name("target-webex-duckdb"))
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": ["string", "null"]},
        "start": {"type": ["string", "null"], "format": "date-time"},
        "telephony": {"type": ["object", "null"], "properties": {"accessCode": {"type": "string"}}},
        "_sdc_deleted_at": {"type": ["string", "null"]},
    },
}


def schema(properties: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {**SCHEMA["properties"], **(properties or {})}
    wider = {**SCHEMA, "properties": props}
    return {"type": "SCHEMA", "stream": "meetings", "schema": wider, "key_properties": ["id"]}


def record(key: str, title: str, version: int | None = None, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "RECORD",
        "stream": "meetings",
        "record": {"id": key, "title": title, "start": "2026-06-15T11:00:00+02:00", **fields},
        "time_extracted": "2026-06-15T12:00:00+00:00",
    }
    if version is not None:
        message["version"] = version
    return message


def state(n: int) -> dict[str, Any]:
    return {"type": "STATE", "value": {"position": n}}


def load(
    tmp_path: Path, messages: list[dict[str, Any]], *, succeeds: bool = True, **config: Any
) -> subprocess.CompletedProcess[str]:
    """``target-webex-duckdb --config`` with ``messages`` on stdin; fails on a non-zero exit
    (``succeeds=False``: on a zero one)."""
    settings = {"filepath": str(tmp_path / "warehouse.duckdb"), "default_target_schema": "webex"}
    config_path = tmp_path / "target.json"
    config_path.write_text(json.dumps({**settings, **config}))
    completed = subprocess.run(
        [TARGET, "--config", str(config_path)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (completed.returncode == 0) == succeeds, completed.stderr[-3000:]
    return completed


def rows(tmp_path: Path, columns: str = "id, title") -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(f"SELECT {columns} FROM webex.meetings ORDER BY id").fetchall()


def test_one_row_per_key_the_last_record_wins_within_a_batch_and_across_runs(
    tmp_path: Path,
) -> None:
    load(tmp_path, [schema(), record("a", "first"), record("b", "b"), record("a", "second")])
    assert rows(tmp_path) == [("a", "second"), ("b", "b")]
    load(tmp_path, [schema(), record("b", "b again"), record("c", "c")])
    assert rows(tmp_path) == [("a", "second"), ("b", "b again"), ("c", "c")]


def test_timestamps_are_naive_utc_and_nested_objects_json(tmp_path: Path) -> None:
    load(tmp_path, [schema(), record("a", "t", telephony={"accessCode": "123"})])
    ((start, telephony),) = rows(tmp_path, "start, telephony")
    assert start.isoformat() == "2026-06-15T09:00:00"
    assert json.loads(telephony) == {"accessCode": "123"}


def test_tombstones_are_deleted_with_hard_delete_and_kept_marked_without(
    tmp_path: Path,
) -> None:
    gone = "2026-06-16T00:00:00+00:00"
    messages = [schema(), record("a", "a"), record("b", "b"), record("b", "", _sdc_deleted_at=gone)]
    hard, soft = tmp_path / "hard", tmp_path / "soft"
    hard.mkdir()
    soft.mkdir()
    load(hard, messages, hard_delete=True)
    assert rows(hard) == [("a", "a")]
    load(soft, messages, hard_delete=False)
    assert rows(soft, "id, _sdc_deleted_at") == [("a", None), ("b", gone)]


def test_a_new_property_in_a_schema_adds_a_column_and_keeps_the_rows(tmp_path: Path) -> None:
    load(tmp_path, [schema(), record("a", "a")])
    wider = schema({"hasSummary": {"type": ["boolean", "null"]}})
    load(tmp_path, [wider, record("b", "b", hasSummary=True)])
    assert rows(tmp_path, "id, title, hassummary") == [("a", "a", None), ("b", "b", True)]


def test_activate_version_removes_the_rows_the_new_version_did_not_bring(
    tmp_path: Path,
) -> None:
    """A full refresh: rows of an earlier version and rows loaded without one (incremental
    runs) are gone once the new version is activated; held records are written first."""
    load(tmp_path, [schema(), record("old", "o"), record("kept", "k")])
    activate = {"type": "ACTIVATE_VERSION", "stream": "meetings", "version": 7}
    refresh = [schema(), record("kept", "k2", 7), record("new", "n", 7), activate]
    load(tmp_path, refresh, hard_delete=True)
    assert rows(tmp_path) == [("kept", "k2"), ("new", "n")]
    load(tmp_path, [schema(), record("new", "n", 8), {**activate, "version": 8}], hard_delete=False)
    live = rows(tmp_path, "id, _sdc_deleted_at IS NULL")
    assert live == [("kept", False), ("new", True)]


@pytest.mark.parametrize("batch", [2, 3])
def test_state_comes_after_every_batch_and_only_for_what_is_written(
    tmp_path: Path, batch: int
) -> None:
    """Each STATE the target prints follows every record sent before it; one per batch."""
    messages: list[dict[str, Any]] = [schema()]
    for n in range(6):
        messages += [record(f"m{n}", "t"), state(n)]
    completed = load(tmp_path, messages, batch_size_rows=batch)
    printed = [json.loads(line)["position"] for line in completed.stdout.splitlines()]
    # A batch that fills at record n is covered by state n - 1 (state n comes after it).
    assert printed == [*range(batch - 2, 5, batch), 5]
    assert len(rows(tmp_path)) == 6


def test_a_batch_that_fails_to_load_fails_the_run_and_no_state_covers_it(
    tmp_path: Path,
) -> None:
    """Batches are written behind, while the next is read: a STATE still waits for every
    batch before it, so a batch the database refuses is never covered by a printed STATE."""
    messages: list[dict[str, Any]] = [schema({"count": {"type": ["integer", "null"]}})]
    for n in range(6):
        messages += [record(f"m{n}", "t", count="many" if n == 4 else n), state(n)]
    completed = load(tmp_path, messages, succeeds=False, batch_size_rows=2)
    assert "many" in completed.stderr  # DuckDB's message names the value it could not cast
    printed = [json.loads(line)["position"] for line in completed.stdout.splitlines()]
    assert printed == [0, 2]  # the batches of m0-m1 and m2-m3; not state 4, within m4-m5
    assert rows(tmp_path, "id") == [("m0",), ("m1",), ("m2",), ("m3",)]


def test_a_nul_in_text_is_kept(tmp_path: Path) -> None:
    load(tmp_path, [schema(), record("a", "Stand-up\x00 notes")])
    assert rows(tmp_path) == [("a", "Stand-up\x00 notes")]


# --- the same tables as target-duckdb 0.8.0 ---------------------------------------------------

TARGET_DUCKDB = PLUGINS / "loaders" / "target-duckdb" / "venv" / "bin" / "target-duckdb"


def tap_output_with_changes(server: FakeWebex) -> str:
    """The tap's messages (Webex-rich, New York offsets), then a record read again with an
    empty title and a tombstone: what upserts, "" and hard deletes do in either loader."""
    out = sync(config_for(server, timezone="America/New_York"))
    first, second = out.records()[:2]
    again = {"type": "RECORD", "stream": "series_meetings", "record": {**first, "title": ""}}
    gone = {**second, "_sdc_deleted_at": "2026-06-16T00:00:00+00:00"}
    tombstone = {"type": "RECORD", "stream": "series_meetings", "record": gone}
    return out.stdout + json.dumps(again) + "\n" + json.dumps(tombstone) + "\n"


def quoted(name: str) -> str:
    return f'"{name}"'


def tables(path: Path) -> dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Per table: DESCRIBE without the version column, and the rows with JSON parsed, without
    the batch time (a clock reading) and the version (target-duckdb has no such column)."""
    found = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for table in ("meeting_series", "series_meetings"):
            described = connection.execute(f"DESCRIBE webex.{table}").fetchall()
            described = [row for row in described if row[0] != "_sdc_table_version"]
            names = [row[0] for row in described if row[0] != "_sdc_batched_at"]
            json_columns = {row[0] for row in described if row[1] == "JSON"}
            selected = connection.execute(
                f"SELECT {', '.join(map(quoted, names))} FROM webex.{table} ORDER BY id"
            ).fetchall()
            parsed = [
                tuple(
                    json.loads(value) if name in json_columns and value is not None else value
                    for name, value in zip(names, row, strict=True)
                )
                for row in selected
            ]
            found[table] = (described, parsed)
    return found


@pytest.mark.e2e
def test_the_same_tables_and_rows_as_target_duckdb(
    installed: Path, server: FakeWebex, tmp_path: Path
) -> None:
    messages = tap_output_with_changes(server)
    loaded = {}
    for name, command in (("theirs", str(TARGET_DUCKDB)), ("ours", TARGET)):
        folder = tmp_path / name
        folder.mkdir()
        config = folder / "config.json"
        settings = {"filepath": str(folder / "w.duckdb"), "default_target_schema": "webex"}
        config.write_text(json.dumps({**settings, "hard_delete": True}))
        completed = subprocess.run(
            [command, "--config", str(config)],
            input=messages,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        loaded[name] = tables(folder / "w.duckdb")
    for table, (described, rows_) in loaded["theirs"].items():
        ours_described, ours_rows = loaded["ours"][table]
        assert ours_described == described, table
        assert len(rows_) > (400 if table == "series_meetings" else 3)
        assert ours_rows == rows_, table


# --- the oldest and the newest DuckDB ---------------------------------------------------------

OLDEST_DUCKDB = "1.1.3"  # target-duckdb's pin in meltano.yml; the dev extra has the newest


@pytest.fixture(scope="session")
def oldest_duckdb() -> dict[str, str]:
    """An environment in which the loader imports DuckDB 1.1.3 (installed once, beside the
    venv's newer one, into a folder put first on PYTHONPATH)."""
    folder = Path(sys.prefix) / f"duckdb-{OLDEST_DUCKDB}"
    if not (folder / "duckdb").is_dir():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run(
            [*pip, "--target", str(folder), f"duckdb=={OLDEST_DUCKDB}"],
            check=True,
            timeout=900,
        )
    return {"PYTHONPATH": str(folder)}


def duckdb_version(env: dict[str, str]) -> str:
    code = "import duckdb; print(duckdb.__version__)"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_offset_times_are_stored_as_utc_on_the_oldest_and_the_newest_duckdb(
    tmp_path: Path, which: str, request: pytest.FixtureRequest
) -> None:
    """``-05:00`` is stored as its UTC hour on both (DuckDB 2 casts it to the local hour as
    TIMESTAMP), in a New York shell; the file opens in the oldest DuckDB either way."""
    oldest: dict[str, str] = request.getfixturevalue("oldest_duckdb")
    env = oldest if which == "oldest" else {}
    version = duckdb_version(env)
    assert version == OLDEST_DUCKDB if which == "oldest" else int(version.split(".")[0]) >= 2
    messages = [
        schema(),
        record("a", "t", start="2026-12-14T04:00:00-05:00"),
        record("b", "t", start="2026-12-14T09:00:00Z"),
        record("c", "t", start="2026-12-14T09:00:00"),
    ]
    config = tmp_path / "target.json"
    filepath = tmp_path / "warehouse.duckdb"
    config.write_text(json.dumps({"filepath": str(filepath), "default_target_schema": "webex"}))
    completed = subprocess.run(
        [TARGET, "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TZ": "America/New_York", **env},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    read = "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
    read += "print(c.execute('SELECT id, start FROM webex.meetings ORDER BY id').fetchall())"
    stored = subprocess.run(
        [sys.executable, "-c", read, str(filepath)],
        env={**os.environ, **oldest},
        capture_output=True,
        text=True,
        check=False,
    )
    assert stored.returncode == 0, stored.stderr[-2000:]
    nine = "datetime.datetime(2026, 12, 14, 9, 0)"
    assert stored.stdout.strip() == f"[('a', {nine}), ('b', {nine}), ('c', {nine})]"
