"""Both project loaders attacked as a database loader must survive: a SCHEMA change between
records of one key, SIGTERM while loading, loaders racing on a fresh schema, values and
names the database refuses, a locked table, an unusable DuckDB file.

Each test runs the installed command into a real DuckDB file and the session's throwaway
PostgreSQL (see :mod:`tests.loader_harness`) and checks what a user sees: exit code, the one
log line, the STATE printed, the rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from loader_harness import STREAM, Loader, lines_of
from test_target_webex_duckdb import SCHEMA, record, state

from tests.meltano_support import Postgres


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


# --- SIGTERM while loading ----------------------------------------------------------------------

SIGTERM_RUNS = int(os.environ.get("LOADER_SIGTERM_RUNS", "3"))  # 50 before a change to stop.py


@pytest.mark.parametrize("attempt", range(SIGTERM_RUNS))
def test_sigterm_while_loading_exits_143_after_the_state_of_what_is_committed(
    loader: Loader, attempt: int
) -> None:
    """A SIGTERM at a random moment of a steady load (a batch and its log lines every few
    records): the loader stops within seconds, exit 143, and every STATE it printed covers
    rows in the table."""
    # Output to files: a pipe nobody reads would fill and block the loader's logging.
    out_path, err_path = loader.folder / "stdout.txt", loader.folder / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            loader.argv(batch_size_rows=7), stdin=subprocess.PIPE, stdout=out, stderr=err, text=True
        )
    assert process.stdin is not None
    stdin = process.stdin

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            stdin.write(json.dumps(schema()) + "\n")
            for n in range(200_000):
                stdin.write(json.dumps(record(f"m{n:06d}", "t")) + "\n")
                stdin.write(json.dumps(state(n)) + "\n")

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    deadline = time.monotonic() + 60
    while not out_path.read_text() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # a first batch is committed: loading is under way
    assert out_path.read_text(), err_path.read_text()[-3000:]
    time.sleep(random.Random(attempt).uniform(0, 0.5))
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the loader did not stop within 60 s of SIGTERM (deadlocked)")
    finally:
        feeder.join(timeout=30)  # a broken pipe ends it once the loader is gone
        with contextlib.suppress(OSError):
            stdin.close()
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert process.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last = printed_states(stdout)[-1]
    stored = {row[0] for row in loader.rows("id")}
    assert {f"m{n:06d}" for n in range(last + 1)} <= stored
    (line,) = errors(stderr)
    assert "SIGTERM" in line


# --- loaders starting together on a fresh schema -----------------------------------------------


def test_eight_postgres_loaders_starting_together_on_a_fresh_schema_all_load(
    postgres: Postgres, tmp_path: Path
) -> None:
    """As the Airflow shards do: each creates the schema and the tables at the same moment."""
    loader = Loader("postgres", tmp_path, postgres)
    for attempt in range(3):
        loader.execute(f"DROP SCHEMA IF EXISTS {loader.schema} CASCADE")
        logs = [tmp_path / f"attempt{attempt}-loader{n}.log" for n in range(8)]
        processes = []
        for log in logs:
            with log.open("w") as err:
                processes.append(
                    subprocess.Popen(
                        loader.argv(),
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=err,
                        text=True,
                    )
                )
        # Each has connected (settings checked at start); then all get their input at once.
        time.sleep(3)
        room = {"room": {"type": ["string", "null"]}}
        for n, process in enumerate(processes):
            assert process.stdin is not None
            process.stdin.write(
                lines_of([schema(), record(f"s{n}", "t"), schema(room), record(f"r{n}", "t")])
            )
            process.stdin.flush()
        for process in processes:
            assert process.stdin is not None
            process.stdin.close()
        codes = [process.wait(timeout=120) for process in processes]
        failed = [log.read_text()[-600:] for code, log in zip(codes, logs, strict=True) if code]
        assert not failed, f"attempt {attempt}: {failed}"
        assert len(loader.rows("id")) == 16


# --- a value the database refuses ---------------------------------------------------------------

REFUSED = {
    "duckdb": [
        ("end", "garbage"),
        ("reminderTime", "15 minutes"),
        ("hasChat", "maybe"),
        ("end", "20250108T100000Z"),
    ],
    "postgres": [
        ("end", "garbage"),
        ("reminderTime", "15 minutes"),
        ("hasChat", "maybe"),
        ("end", "2025-01-08T10:00:00+23:59"),
    ],
}
TYPED = {
    "end": {"type": ["string", "null"], "format": "date-time"},
    "reminderTime": {"type": ["integer", "null"]},
    "hasChat": {"type": ["boolean", "null"]},
}


@pytest.mark.parametrize("case", range(4))
def test_a_value_the_database_refuses_is_one_error_naming_stream_key_column_and_value(
    loader: Loader, case: int
) -> None:
    column, value = REFUSED[loader.kind][case]
    messages: list[dict[str, Any]] = [schema(TYPED)]
    for n in range(6):
        fields: dict[str, Any] = {column: value} if n == 3 else {}
        messages += [record(f"m{n}", "t", **fields), state(n)]
    completed = loader.run(messages, batch_size_rows=2)
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    (line,) = errors(completed.stderr)
    for word in (STREAM, "m3", column, value):
        assert word in line, line
    assert printed_states(completed.stdout) == [0]  # not state 2, which follows m2-m3
    assert loader.rows("id") == [("m0",), ("m1",)]


# --- names ---------------------------------------------------------------------------------------


def test_a_property_named_with_a_percent_sign_is_a_column(loader: Loader) -> None:
    """``cpu_%`` (a stream map's new property): loaded, and loaded again into the column."""
    maps = {"stream_maps": {STREAM: {"cpu_%": "title + '%'"}}}
    loader.load([schema(), record("a", "10")], **maps)
    loader.load([schema(), record("b", "20")], **maps)
    assert loader.rows(f"id, {loader.column('cpu_%')}") == [("a", "10%"), ("b", "20%")]


def test_a_property_name_over_63_bytes_is_stored_or_refused_in_one_line(loader: Loader) -> None:
    long = "l" * 70
    fields: dict[str, Any] = {long: "v"}
    messages = [schema({long: {"type": ["string", "null"]}}), record("a", "t", **fields)]
    for _ in range(2):
        completed = loader.run(messages)
        if loader.kind == "duckdb":
            assert completed.returncode == 0, completed.stderr[-3000:]
            assert loader.rows(f"id, {long}") == [("a", "v")]
            continue
        assert completed.returncode != 0
        assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
        (line,) = errors(completed.stderr)
        assert long in line
        assert "63" in line


# --- a table locked by another session ----------------------------------------------------------


def test_a_locked_table_is_waited_for_a_bounded_time_then_one_line_naming_it(
    postgres: Postgres, tmp_path: Path
) -> None:
    loader = Loader("postgres", tmp_path, postgres)
    loader.load([schema(), record("a", "t")])
    with loader.connect_postgres() as other:
        other.execute("BEGIN")
        other.execute(f"LOCK TABLE {loader.schema}.{STREAM} IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        completed = loader.run([schema(), record("b", "t"), state(1)], lock_timeout=2)
        waited = time.monotonic() - started
        other.execute("ROLLBACK")
    assert completed.returncode != 0
    assert waited < 30
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    (line,) = errors(completed.stderr)
    assert f"{loader.schema}.{STREAM}" in line.replace('"', "")
    assert "lock" in line
    assert completed.stdout == ""


# --- a new table, records of a run that resumed from a state -------------------------------------


def test_a_table_created_for_records_without_a_table_version_is_one_warning(
    loader: Loader,
) -> None:
    """A new warehouse, an old state: the tap sends only what changed (no table version, which
    a full extract has); the loader says to start from --full-refresh, once."""
    resumed = loader.load([schema(), record("a", "t"), record("b", "t"), state(1)])
    warnings = [line for line in resumed.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings
    assert "--full-refresh" in warnings[0]
    again = loader.load([schema(), record("c", "t"), state(2)])  # the table exists now
    assert "--full-refresh" not in again.stderr
    loader.execute(f"DROP TABLE {loader.schema}.{STREAM}")
    full = loader.load([schema(), record("a", "t", 7), state(1)])  # a full extract: versioned
    assert "--full-refresh" not in full.stderr


# --- an unusable DuckDB file ---------------------------------------------------------------------


def one_error_naming(completed: subprocess.CompletedProcess[str], *words: str) -> str:
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    (line,) = errors(completed.stderr)
    for word in words:
        assert word in line, line
    return line


def test_a_duckdb_file_locked_by_another_process_is_one_line(tmp_path: Path) -> None:
    loader = Loader("duckdb", tmp_path)
    loader.load([schema(), record("a", "t")])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(loader.filepath)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        completed = loader.run([schema(), record("b", "t"), state(1)])
    finally:
        holder.kill()
        holder.communicate()
    one_error_naming(completed, str(loader.filepath), "lock")
    assert completed.stdout == ""


HOLD_LOCK = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True)"
HOLD_LOCK += "; time.sleep(120)"


def test_a_read_only_duckdb_file_is_one_line(tmp_path: Path) -> None:
    loader = Loader("duckdb", tmp_path)
    loader.load([schema(), record("a", "t")])
    # root writes a file whatever its mode: immutable (ext4's chattr) is read-only for root too
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(loader.filepath)], check=True)
    else:
        loader.filepath.chmod(0o444)
    try:
        completed = loader.run([schema(), record("b", "t"), state(1)])
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(loader.filepath)], check=True)
    one_error_naming(completed, str(loader.filepath))
    assert completed.stdout == ""


def test_a_full_disk_under_a_duckdb_file_is_one_line(tmp_path: Path) -> None:
    """The write-ahead log on a device that is always full (/dev/full): ENOSPC at the commit."""
    loader = Loader("duckdb", tmp_path)
    loader.load([schema(), record("a", "t")])
    wal = loader.filepath.with_name(loader.filepath.name + ".wal")
    wal.symlink_to("/dev/full")
    completed = loader.run([schema(), record("b", "t"), state(1)])
    one_error_naming(completed, str(wal), "No space left on device")
    assert completed.stdout == ""
