"""Either project loader as Meltano runs it: the installed command, messages on stdin, then
the table read back from a real DuckDB file or the session's throwaway PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from tests.meltano_support import Postgres, schema_of

STREAM = "meetings"
COMMANDS = {
    "duckdb": str(Path(sys.executable).with_name("target-webex-duckdb")),
    "postgres": str(Path(sys.executable).with_name("target-webex-postgres")),
}


def lines_of(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


class Loader:
    """One loader into a warehouse of the test's own (a DuckDB file or a PostgreSQL schema)."""

    def __init__(self, kind: str, tmp_path: Path, postgres: Postgres | None = None) -> None:
        self.kind = kind
        self.folder = tmp_path
        self.postgres = postgres
        self.command = COMMANDS[kind]
        self.schema = schema_of(tmp_path) if postgres else "webex"
        self.filepath = tmp_path / "warehouse.duckdb"
        self.reset()

    def reset(self) -> None:
        """An empty warehouse."""
        if self.postgres is None:
            for path in (self.filepath, self.filepath.with_name(self.filepath.name + ".wal")):
                path.unlink(missing_ok=True)
        else:
            self.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def settings(self, **config: Any) -> dict[str, Any]:
        if self.postgres is None:
            base: dict[str, Any] = {"filepath": str(self.filepath)}
        else:
            s = self.postgres.settings
            base = {
                "host": s["PGHOST"],
                "port": int(s["PGPORT"]),
                "user": s["PGUSER"],
                "password": s["PGPASSWORD"],
                "database": s["PGDATABASE"],
            }
        return {**base, "default_target_schema": self.schema, **config}

    def config_file(self, **config: Any) -> Path:
        path = self.folder / f"config-{len(list(self.folder.glob('config-*')))}.json"
        path.write_text(json.dumps(self.settings(**config)))
        return path

    def argv(self, **config: Any) -> list[str]:
        return [self.command, "--config", str(self.config_file(**config))]

    def run(
        self, messages: list[dict[str, Any]] | str, *, timeout: float = 120, **config: Any
    ) -> subprocess.CompletedProcess[str]:
        """The loader with ``messages`` on stdin, to its end; its exit code not checked."""
        text = messages if isinstance(messages, str) else lines_of(messages)
        return subprocess.run(
            self.argv(**config),
            input=text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PGTZ": "America/New_York", "TZ": "America/New_York"},
        )

    def load(
        self, messages: list[dict[str, Any]], **config: Any
    ) -> subprocess.CompletedProcess[str]:
        completed = self.run(messages, **config)
        assert completed.returncode == 0, completed.stderr[-3000:]
        return completed

    def connect_postgres(self) -> psycopg.Connection[Any]:
        assert self.postgres is not None
        config = self.settings()
        return psycopg.connect(
            host=config["host"],
            port=config["port"],
            user=config["user"],
            password=config["password"],
            dbname=config["database"],
            autocommit=True,
            options="-c TimeZone=UTC",
        )

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        if self.postgres is None:
            with duckdb.connect(str(self.filepath)) as connection:
                return connection.execute(sql).fetchall()
        with self.connect_postgres() as connection:
            cursor = connection.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def rows(self, columns: str = "id, title", table: str = STREAM) -> list[tuple[Any, ...]]:
        """The table's rows, ordered by ``id``."""
        sql = f"SELECT {columns} FROM {self.schema}.{table} ORDER BY id"
        if self.postgres is None:
            with duckdb.connect(str(self.filepath), read_only=True) as connection:
                return connection.execute(sql).fetchall()
        return self.execute(sql)

    def column(self, name: str) -> str:
        """A property's column as this loader names it (DuckDB lower-cases), quoted."""
        return '"' + (name.lower() if self.postgres is None else name) + '"'
