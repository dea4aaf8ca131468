"""The pipeline as users run it: ``meltano run tap-webex-meetings <loader>`` in this project.

Each run gets a fresh Meltano system database (no state: a first sync) and an empty
warehouse (a new DuckDB file; a dropped PostgreSQL schema), both prepared untimed. The tap's
settings come from the environment, as a user overrides meltano.yml; the loaders' settings
are meltano.yml's own. What a run loaded is counted in the warehouse afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .cases import SERIES_STREAM, STREAM, Plan

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / ".meltano"
DUCKDB_PYTHON = PLUGINS / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
ENSURE_POSTGRES = REPO / "scripts" / "ensure_postgres.sh"
LOADERS = ("target-duckdb", "target-webex-duckdb", "target-postgres", "target-webex-postgres")
# Loaders that write a DuckDB file (the project's own target-webex-duckdb writes the same tables).
DUCKDB_LOADERS = ("target-duckdb", "target-webex-duckdb")
# Loaders into PostgreSQL (the project's own target-webex-postgres writes the same tables).
POSTGRES_LOADERS = ("target-postgres", "target-webex-postgres")
SCHEMA = "webex_bench"
# Settings of a developer's shell that must not leak into a measured run.
FOREIGN_PREFIXES = ("TAP_WEBEX_MEETINGS_", "TARGET_", "MELTANO_", "PG")
PSQL_OPTIONS = ("-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c")

COUNT_DUCKDB = """
import duckdb, json, sys
connection = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps({
    table: connection.execute(
        f"SELECT count(*), count(DISTINCT id) FROM {sys.argv[2]}.{table}"
    ).fetchone()
    for table in sys.argv[3:]
}))
"""


def meltano_executable() -> Path:
    """``$MELTANO_BIN``, else the project's ``.venv-meltano/bin/meltano``."""
    return Path(os.environ.get("MELTANO_BIN") or REPO / ".venv-meltano" / "bin" / "meltano")


def missing_plugins(loaders: list[str]) -> list[str]:
    """Plugins of this project that ``meltano install`` has not installed yet."""
    wanted = [PLUGINS / "extractors" / "tap-webex-meetings"]
    wanted += [PLUGINS / "loaders" / loader for loader in loaders]
    return [path.name for path in wanted if not (path / "venv" / "bin" / "python").exists()]


def compile_plugins() -> None:
    """Write the plugins' bytecode once (untimed), as an installed venv has it: a shell with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module in every measured run."""
    for python in sorted(PLUGINS.glob("*/*/venv/bin/python")):
        venv = python.parent.parent
        subprocess.run(
            [str(python), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")],
            capture_output=True,
            check=False,
        )


@dataclass(frozen=True)
class Loaded:
    """Rows and distinct ids per table after a run."""

    tables: dict[str, tuple[int, int]]

    def rows(self, table: str = STREAM) -> int:
        return self.tables.get(table, (0, 0))[0]

    def distinct(self, table: str = STREAM) -> int:
        return self.tables.get(table, (0, 0))[1]


class Postgres:
    """A throwaway server from scripts/ensure_postgres.sh, stopped at the end."""

    def __init__(self) -> None:
        completed = subprocess.run(
            ["bash", str(ENSURE_POSTGRES)], capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"ensure_postgres.sh failed: {completed.stderr[-2000:]}")
        self.settings = dict(
            line.removeprefix("export ").split("=", 1)
            for line in completed.stdout.splitlines()
            if "=" in line
        )

    def psql(self, sql: str) -> str:
        env = {**os.environ, **{k: v for k, v in self.settings.items() if k.startswith("PG")}}
        completed = subprocess.run(
            [str(Path(self.settings["PG_BINDIR"]) / "psql"), *PSQL_OPTIONS, sql],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"psql failed: {completed.stderr[-2000:]}")
        return completed.stdout

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(ENSURE_POSTGRES), "--stop", self.settings["PGDATA"]],
            capture_output=True,
            check=False,
        )


class Pipelines:
    """Prepares, runs and counts ``meltano run`` into each loader."""

    def __init__(self, loaders: list[str], folder: Path) -> None:
        self.loaders = loaders
        self.folder = folder
        self.meltano = meltano_executable()
        self.postgres: Postgres | None = None
        self.runs = 0

    def __enter__(self) -> Pipelines:
        """Untimed: PostgreSQL started when a run needs it, the plugins' bytecode written."""
        if self.loaders:
            self.folder.mkdir(parents=True, exist_ok=True)
            compile_plugins()
        if set(POSTGRES_LOADERS) & set(self.loaders):
            self.postgres = Postgres()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    @staticmethod
    def label(loader: str) -> str:
        return f"meltano run {loader}"

    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"

    def env(self, plan: Plan, loader: str) -> dict[str, str]:
        """A clean environment: the tap pointed at the fake, a fresh system database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell: bytecode is cached
        self.runs += 1
        env.update(
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
            MELTANO_ENVIRONMENT="dev",
            MELTANO_DATABASE_URI=f"sqlite:///{self.folder / f'meltano-{self.runs}.db'}",
            TAP_WEBEX_MEETINGS_API_URL=plan.api_url,
            TAP_WEBEX_MEETINGS_ACCESS_TOKEN=plan.token,
            TAP_WEBEX_MEETINGS_START_DATE=plan.start,
            TAP_WEBEX_MEETINGS_END_DATE=plan.end,
            TAP_WEBEX_MEETINGS_PAGE_SIZE=str(plan.page_size),
            TAP_WEBEX_MEETINGS_TIMEZONE=plan.timezone,
            TAP_WEBEX_MEETINGS_REQUEST_TIMEOUT=str(int(plan.request_timeout)),
        )
        if plan.series_ids is not None:
            env["TAP_WEBEX_MEETINGS_MEETING_SERIES_IDS"] = json.dumps(plan.series_ids)
        prefix = loader.upper().replace("-", "_")
        if loader in DUCKDB_LOADERS:
            env[f"{prefix}_FILEPATH"] = str(self.warehouse())
        else:
            assert self.postgres is not None
            for key, value in self.postgres.settings.items():
                if key.startswith("TARGET_POSTGRES_"):  # the connection, in this loader's names
                    env[prefix + key.removeprefix("TARGET_POSTGRES")] = value
        env[f"{prefix}_DEFAULT_TARGET_SCHEMA"] = SCHEMA
        return env

    def prepare(self, loader: str, env: dict[str, str]) -> None:
        """Untimed: an empty warehouse, and the system database migrated."""
        if loader in DUCKDB_LOADERS:
            self.warehouse().unlink(missing_ok=True)
            (self.folder / "warehouse.duckdb.wal").unlink(missing_ok=True)
        elif self.postgres is not None:
            self.postgres.psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        subprocess.run(
            [str(self.meltano), "--log-level=warning", "state", "list"],
            cwd=REPO,
            env=env,
            capture_output=True,
            check=False,
        )

    def command(self, loader: str) -> list[str]:
        return [str(self.meltano), "run", "tap-webex-meetings", loader]

    def loaded(self, loader: str) -> Loaded:
        """Rows and distinct ids of both tables, counted in the warehouse."""
        tables = [STREAM, SERIES_STREAM]
        if loader in DUCKDB_LOADERS:
            if not self.warehouse().exists():
                return Loaded({})
            completed = subprocess.run(
                [str(DUCKDB_PYTHON), "-c", COUNT_DUCKDB, str(self.warehouse()), SCHEMA, *tables],
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode != 0:
                print(completed.stderr[-2000:], file=sys.stderr)
                return Loaded({})
            counts = json.loads(completed.stdout)
            return Loaded({table: (int(a), int(b)) for table, (a, b) in counts.items()})
        assert self.postgres is not None
        found: dict[str, tuple[int, int]] = {}
        for table in tables:
            try:
                text = self.postgres.psql(
                    f"SELECT count(*) || ',' || count(DISTINCT id) FROM {SCHEMA}.{table}"
                )
            except RuntimeError:
                continue
            rows, distinct = text.strip().split(",")
            found[table] = (int(rows), int(distinct))
        return Loaded(found)
