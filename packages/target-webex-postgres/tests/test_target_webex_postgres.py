"""target-webex-postgres on its own: Singer messages in, rows and STATE out.

Each test pipes messages into the installed ``target-webex-postgres`` command, as Meltano
does, loading into a schema of its own on the session's throwaway PostgreSQL, and reads the
rows back: one row per key (the last record wins), date-times stored as UTC whatever the
session's time zone, tombstones kept as target-postgres keeps them, a new property a new
column, ACTIVATE_VERSION removing what the source no longer has, STATE only after the rows
it covers, U+0000 stored as U+FFFD; and, against target-postgres 0.8.1 itself, the same
columns and the same rows for the same tap output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_webex import FakeWebex
from test_target_webex_duckdb import record, schema, state, tap_output_with_changes

from tests.meltano_support import PLUGINS, Postgres, schema_of

TARGET = str(Path(sys.executable).with_name("target-webex-postgres"))
TARGET_POSTGRES = PLUGINS / "loaders" / "target-postgres" / "venv" / "bin" / "target-postgres"
# A session time zone other than UTC, as a user's PGTZ (or a server's default) may set it.
NEW_YORK = {"PGTZ": "America/New_York"}
# The clock readings of a run: compared as present, not by value.
CLOCK_COLUMNS = ("_sdc_received_at", "_sdc_batched_at", "_sdc_sequence", "_sdc_sync_started_at")


def connection_settings(postgres: Postgres) -> dict[str, Any]:
    s = postgres.settings
    return {
        "host": s["PGHOST"],
        "port": int(s["PGPORT"]),
        "user": s["PGUSER"],
        "password": s["PGPASSWORD"],
        "database": s["PGDATABASE"],
    }


def run_target(
    command: str,
    folder: Path,
    messages: str,
    config: dict[str, Any],
    env: dict[str, str] = NEW_YORK,
) -> subprocess.CompletedProcess[str]:
    """``command --config`` with ``messages`` on stdin, by default in New York time."""
    config_path = folder / f"config-{len(list(folder.glob('config-*')))}.json"
    config_path.write_text(json.dumps(config))
    return subprocess.run(
        [command, "--config", str(config_path)],
        input=messages,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


class Loader:
    """target-webex-postgres into one schema of the session's server."""

    def __init__(self, postgres: Postgres, tmp_path: Path) -> None:
        self.postgres = postgres
        self.folder = tmp_path
        self.schema = schema_of(tmp_path)
        self.postgres.query(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def __call__(
        self, messages: list[dict[str, Any]], **config: Any
    ) -> subprocess.CompletedProcess[str]:
        settings = {**connection_settings(self.postgres), "default_target_schema": self.schema}
        lines = "".join(json.dumps(m) + "\n" for m in messages)
        completed = run_target(TARGET, self.folder, lines, {**settings, **config})
        assert completed.returncode == 0, completed.stderr[-3000:]
        return completed

    def rows(self, columns: str = "id, title") -> list[list[str]]:
        return self.postgres.query(f"SELECT {columns} FROM {self.schema}.meetings ORDER BY id")


@pytest.fixture
def load(postgres: Postgres, tmp_path: Path) -> Loader:
    return Loader(postgres, tmp_path)


def test_one_row_per_key_the_last_record_wins_within_a_batch_and_across_runs(
    load: Loader,
) -> None:
    load([schema(), record("a", "first"), record("b", "b"), record("a", "second")])
    assert load.rows() == [["a", "second"], ["b", "b"]]
    load([schema(), record("b", "b again"), record("c", "c")])
    assert load.rows() == [["a", "second"], ["b", "b again"], ["c", "c"]]


def test_timestamps_are_utc_whatever_the_session_time_zone(load: Loader) -> None:
    """A start with an offset, loaded in a New York session, is stored as its UTC time."""
    load(
        [
            schema(),
            record("a", "t", start="2026-06-15T17:35:00+05:30"),
            record("b", "t", start="2026-06-15T11:00:00Z"),
        ]
    )
    stored = load.rows("id, start, _sdc_extracted_at")
    assert stored == [
        ["a", "2026-06-15 12:05:00", "2026-06-15 12:00:00"],
        ["b", "2026-06-15 11:00:00", "2026-06-15 12:00:00"],
    ]


def test_nested_objects_are_jsonb_and_a_null_one_is_json_null(load: Loader) -> None:
    load([schema(), record("a", "t", telephony={"accessCode": "123"}), record("b", "t")])
    stored = load.rows("id, telephony::text, telephony IS NULL")
    assert stored == [["a", '{"accessCode": "123"}', "f"], ["b", "null", "f"]]


@pytest.mark.parametrize("hard_delete", [True, False])
def test_tombstones_stay_as_rows_marked_deleted_as_in_target_postgres(
    load: Loader, hard_delete: bool
) -> None:
    """target-postgres deletes nothing for a tombstone (hard_delete acts at ACTIVATE_VERSION
    only): the row is updated with _sdc_deleted_at set."""
    gone = "2026-06-16T00:00:00+00:00"
    messages = [schema(), record("a", "a"), record("b", "b"), record("b", "", _sdc_deleted_at=gone)]
    load(messages, hard_delete=hard_delete)
    assert load.rows("id, title, _sdc_deleted_at") == [
        ["a", "a", ""],
        ["b", "", "2026-06-16 00:00:00"],
    ]


def test_a_new_property_in_a_schema_adds_a_column_and_keeps_the_rows(load: Loader) -> None:
    load([schema(), record("a", "a")])
    wider = schema({"hasSummary": {"type": ["boolean", "null"]}})
    load([wider, record("b", "b", hasSummary=True)])
    assert load.rows('id, title, "hasSummary"') == [["a", "a", ""], ["b", "b", "t"]]


def test_activate_version_removes_the_rows_the_new_version_did_not_bring(load: Loader) -> None:
    """A full refresh: rows of an earlier version and rows loaded without one (incremental
    runs) are gone once the new version is activated; held records are written first."""
    load([schema(), record("old", "o"), record("kept", "k")])
    activate = {"type": "ACTIVATE_VERSION", "stream": "meetings", "version": 7}
    load([schema(), record("kept", "k2", 7), record("new", "n", 7), activate], hard_delete=True)
    assert load.rows() == [["kept", "k2"], ["new", "n"]]
    load([schema(), record("new", "n", 8), {**activate, "version": 8}], hard_delete=False)
    assert load.rows("id, _sdc_deleted_at IS NULL") == [["kept", "f"], ["new", "t"]]


@pytest.mark.parametrize("batch", [2, 3])
def test_state_comes_after_every_batch_and_only_for_what_is_written(
    load: Loader, batch: int
) -> None:
    """Each STATE the target prints follows every record sent before it; one per batch."""
    messages: list[dict[str, Any]] = [schema()]
    for n in range(6):
        messages += [record(f"m{n}", "t"), state(n)]
    completed = load(messages, batch_size_rows=batch)
    printed = [json.loads(line)["position"] for line in completed.stdout.splitlines()]
    # A batch that fills at record n is covered by state n - 1 (state n comes after it).
    assert printed == [*range(batch - 2, 5, batch), 5]
    assert len(load.rows()) == 6


def test_a_nul_is_stored_as_the_replacement_character_an_escaped_backslash_is_not_one(
    load: Loader,
) -> None:
    """PostgreSQL refuses U+0000 in text and jsonb: U+FFFD instead, at any depth; the text
    backslash-u-0000 (an escaped backslash in JSON) is kept as it is."""
    literal = "C:\\u0000dir"  # a backslash, then u0000: no NUL
    load(
        [
            schema(),
            record("a", "Stand-up\x00 notes", telephony={"accessCode": "1\x002"}),
            record("b", literal, telephony={"accessCode": "\\\x00"}),
        ]
    )
    stored = load.rows("id, title, telephony ->> 'accessCode'")
    assert stored == [["a", "Stand-up\ufffd notes", "1\ufffd2"], ["b", literal, "\\\ufffd"]]


def test_bad_connection_settings_are_one_line_naming_the_host_without_the_password(
    postgres: Postgres, tmp_path: Path
) -> None:
    settings = {**connection_settings(postgres), "password": "not-the-password-3141"}
    for bad in ({"port": 1}, {"host": "127.0.0.1", "user": "nobody"}, {}):
        completed = run_target(TARGET, tmp_path, "", {**settings, **bad})
        assert completed.returncode != 0
        errors = [line for line in completed.stderr.splitlines() if "ERROR" in line]
        assert errors, completed.stderr
        assert f"127.0.0.1:{bad.get('port', settings['port'])}" in errors[0], errors
        assert "Traceback" not in completed.stderr
        assert "not-the-password-3141" not in completed.stderr + completed.stdout


# --- the same tables as target-postgres 0.8.1 -------------------------------------------------


def tables(postgres: Postgres, schema_name: str) -> dict[str, tuple[list[list[str]], list[str]]]:
    """Per table: its columns as information_schema describes them, and its rows as jsonb
    text (key order and number scale as stored), clock readings only as present."""
    found = {}
    for table in ("meeting_series", "series_meetings"):
        described = postgres.query(
            "SELECT ordinal_position, column_name, data_type, udt_name, is_nullable, "
            "column_default FROM information_schema.columns "
            f"WHERE table_schema = '{schema_name}' AND table_name = '{table}' "
            "ORDER BY ordinal_position"
        )
        keys = postgres.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{schema_name}.{table}'::regclass "
            "AND i.indisprimary"
        )
        clocks = " ".join(f"|| jsonb_build_object('{c}', x.{c} IS NOT NULL)" for c in CLOCK_COLUMNS)
        rows = postgres.query(
            f"SELECT (to_jsonb(x) {clocks})::text FROM {schema_name}.{table} x ORDER BY id"
        )
        found[table] = (
            [*described, ["primary key", *sorted(k[0] for k in keys)]],
            [r[0] for r in rows],
        )
    return found


@pytest.mark.e2e
def test_the_same_tables_and_rows_as_target_postgres(
    installed: Path, server: FakeWebex, postgres: Postgres, tmp_path: Path
) -> None:
    """Both loaders as meltano.yml configures them; target-postgres in a UTC session (in
    another time zone it stores local times), ours in New York time."""
    messages = tap_output_with_changes(server)
    theirs_config = {
        "load_method": "upsert",
        "validate_records": False,
        "use_copy": False,
        "batch_size_rows": 5000,
        "sanitize_null_text_characters": True,
    }
    runs: tuple[tuple[str, str, dict[str, Any], dict[str, str]], ...] = (
        ("theirs", str(TARGET_POSTGRES), theirs_config, {}),
        ("ours", TARGET, {}, NEW_YORK),
    )
    loaded = {}
    for name, command, config, env in runs:
        target_schema = schema_of(tmp_path, name)
        postgres.query(f"DROP SCHEMA IF EXISTS {target_schema} CASCADE")
        settings = {**connection_settings(postgres), "default_target_schema": target_schema}
        completed = run_target(command, tmp_path, messages, {**settings, **config}, env)
        assert completed.returncode == 0, completed.stderr[-3000:]
        loaded[name] = tables(postgres, target_schema)
    for table, (described, rows) in loaded["theirs"].items():
        ours_described, ours_rows = loaded["ours"][table]
        assert ours_described == described, table
        assert len(rows) > (400 if table == "series_meetings" else 3)
        assert ours_rows == rows, table
