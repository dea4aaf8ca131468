"""Run the repo's Meltano project from tests, the way a user runs it.

The project is the repo itself (its meltano.yml, its ``.meltano/`` plugin venvs, installed
once per session by the ``installed`` fixture of tests/conftest.py and reused across
sessions); each test gets its own system database (so its own state, the ``meltano``
fixture) and its own outputs through environment variables, which is how Meltano lets a
user override settings too. Meltano is the one ``.ci/run`` and ``scripts/demo.sh``
install: ``.venv-meltano/bin/meltano`` (or ``$MELTANO_BIN``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the unit tier imports this module without the fake installed
    from fake_webex import FakeWebex

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "scripts" / "demo.sh"
SHOW_WAREHOUSE = REPO / "scripts" / "show_warehouse.py"
ENSURE_POSTGRES = REPO / "scripts" / "ensure_postgres.sh"
PLUGINS = REPO / ".meltano"
DUCKDB_PYTHON = PLUGINS / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
# Every plugin a test runs, installed once per session (quick when .meltano/ has them).
PLUGINS_USED = (
    "tap-webex-meetings",
    "target-duckdb",
    "target-webex-duckdb",
    "target-postgres",
    "target-webex-postgres",
    "target-jsonl",
    "dbt-duckdb",
    "dbt-postgres",
)
# Settings a developer's shell may carry; a test must not pick them up by accident.
FOREIGN_PREFIXES = ("TAP_WEBEX_MEETINGS_", "TARGET_", "MELTANO_", "PG", "DBT_")
# The tap's last INFO line (tap_webex_meetings/summary.py): what it emitted per stream.
SUMMARY = re.compile(r"Extracted (\d+) series \((\d+) deleted\) and (\d+) meeting records")


def upcoming_meeting(server: FakeWebex) -> str:
    """The id of a scheduled meeting two days ahead: what a host cancels."""
    standup = next(s for s in server.series if s.title == "Daily Standup")
    k = standup.first_index_from(server.now) + 2
    return f"{standup.id}_{standup.start_of(k):%Y%m%dT%H%M%SZ}"


def readme_meltano_add() -> str:
    """The README's ``meltano add --from-ref`` of the Hub definition, as a user copies it."""
    (line,) = [
        line
        for line in (REPO / "README.md").read_text().splitlines()
        if line.startswith("meltano add --plugin-type extractor tap-webex-meetings --from-ref ")
    ]
    return line.replace("path/to/tap-webex-meetings", str(REPO))


def pinned_meltano_version() -> str:
    """The version scripts/demo.sh installs (and .ci/run must install)."""
    match = re.search(r"^MELTANO_VERSION=(\S+)$", DEMO.read_text(), re.MULTILINE)
    assert match, f"{DEMO} must set MELTANO_VERSION="
    return match.group(1)


def meltano_executable() -> Path:
    """``$MELTANO_BIN``, else ``.venv-meltano/bin/meltano``; a clear failure when missing."""
    path = Path(os.environ.get("MELTANO_BIN") or REPO / ".venv-meltano" / "bin" / "meltano")
    if not path.exists():
        version = pinned_meltano_version()
        pytest.fail(
            f"Meltano not found at {path}. Install it as .ci/run does: "
            f"python3 -m venv .venv-meltano && "
            f".venv-meltano/bin/pip install 'meltano[postgres]=={version}' "
            "(or run bash scripts/test.sh)",
            pytrace=False,
        )
    return path


def base_env(system_db: Path) -> dict[str, str]:
    """The caller's environment without foreign settings, with a private system database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_ENVIRONMENT="dev",
        MELTANO_DATABASE_URI=f"sqlite:///{system_db}",
    )
    return env


def captured(
    command: list[str], env: dict[str, str], *, cwd: Path = REPO, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """A command in the project (or ``cwd``), its outputs captured as text, whatever its exit."""
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Meltano:
    """``meltano`` in the repo's project, with a fixed environment."""

    executable: Path
    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a command; its outputs, or a failure that shows the end of them."""
        completed = captured([str(self.executable), *args], self.env, timeout=timeout)
        if completed.returncode != 0:
            tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-60:])
            pytest.fail(f"meltano {' '.join(args)} exited {completed.returncode}:\n{tail}")
        return completed

    def point_at(self, server: FakeWebex, start: datetime, end: datetime | None = None) -> None:
        """Only environment variables point meltano.yml's tap at the fake Webex."""
        self.env.update(
            TAP_WEBEX_MEETINGS_API_URL=server.api_url,
            TAP_WEBEX_MEETINGS_ACCESS_TOKEN="sandbox-token",
            TAP_WEBEX_MEETINGS_START_DATE=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        if end is not None:
            self.env["TAP_WEBEX_MEETINGS_END_DATE"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")

    def into_duckdb(self, warehouse: Path) -> None:
        """Either DuckDB loader (target-duckdb, target-webex-duckdb) writes this file."""
        self.env["TARGET_DUCKDB_FILEPATH"] = str(warehouse)
        self.env["TARGET_WEBEX_DUCKDB_FILEPATH"] = str(warehouse)

    def into_postgres(self, postgres: Postgres, schema: str) -> None:
        """Either PostgreSQL loader (target-postgres, target-webex-postgres) loads into this
        schema of the throwaway server."""
        for prefix in ("TARGET_POSTGRES", "TARGET_WEBEX_POSTGRES"):
            self.env.update(
                {
                    prefix + k.removeprefix("TARGET_POSTGRES"): v
                    for k, v in postgres.target_env.items()
                }
            )
            self.env[f"{prefix}_DEFAULT_TARGET_SCHEMA"] = schema

    def state(self, state_id: str) -> dict[str, Any]:
        """The Singer state Meltano saved for ``state_id`` (``{}`` when none)."""
        value: dict[str, Any] = json.loads(
            self("--log-level=warning", "state", "get", state_id).stdout
        )
        singer_state: dict[str, Any] = value.get("singer_state", value)
        return singer_state


def schema_of(tmp_path: Path, prefix: str = "webex") -> str:
    """A PostgreSQL schema of the test's own (its tmp folder's name), within 63 characters."""
    return f"{prefix}_{tmp_path.name.lower().replace('-', '_')}"[:60]


def emitted_records(log: str) -> Counter[str]:
    """Records the tap emitted per stream in one run, from its summary line."""
    (match,) = [found for line in log.splitlines() if (found := SUMMARY.search(line))]
    series, deleted_series, meetings = (int(group) for group in match.groups())
    return Counter(meeting_series=series + deleted_series, series_meetings=meetings)


def read_duckdb(path: Path) -> dict[str, Any]:
    """Columns and rows of both tables, read by scripts/show_warehouse.py with the duckdb
    that wrote them (target-duckdb's venv), which also tests that script.
    """
    completed = subprocess.run(
        [str(DUCKDB_PYTHON), str(SHOW_WAREHOUSE), str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    data: dict[str, Any] = json.loads(completed.stdout)
    return data


@dataclass(frozen=True)
class Postgres:
    """A running throwaway server from scripts/ensure_postgres.sh."""

    settings: dict[str, str]

    @property
    def target_env(self) -> dict[str, str]:
        return {k: v for k, v in self.settings.items() if k.startswith("TARGET_POSTGRES_")}

    @property
    def psql(self) -> str:
        return str(Path(self.settings["PG_BINDIR"]) / "psql")

    def query(self, sql: str) -> list[list[str]]:
        """Rows of a query through psql, tab-separated text."""
        env = {
            **os.environ,
            **{k: v for k, v in self.settings.items() if k.startswith("PG")},
        }
        completed = subprocess.run(
            [self.psql, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return [line.split("\t") for line in completed.stdout.splitlines() if line]

    def columns(self, schema: str, table: str) -> list[str]:
        sql = (
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{table}' ORDER BY ordinal_position"
        )
        return [row[0] for row in self.query(sql)]


def start_postgres() -> tuple[Postgres, str]:
    """Start a server (installing PostgreSQL when missing); fail loudly, never skip."""
    completed = subprocess.run(
        ["bash", str(ENSURE_POSTGRES)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(
            "scripts/ensure_postgres.sh could not start PostgreSQL "
            f"(exit {completed.returncode}):\n{completed.stderr[-4000:]}",
            pytrace=False,
        )
    settings = dict(
        line.removeprefix("export ").split("=", 1)
        for line in completed.stdout.splitlines()
        if "=" in line
    )
    return Postgres(settings), settings["PGDATA"]


def stop_postgres(pgdata: str) -> None:
    subprocess.run(["bash", str(ENSURE_POSTGRES), "--stop", pgdata], timeout=120, check=False)


def hub_definition() -> ModuleType:
    """scripts/hub_definition.py, which also knows the Meltano kind of each setting."""
    path = REPO / "scripts" / "hub_definition.py"
    spec = importlib.util.spec_from_file_location("hub_definition", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
