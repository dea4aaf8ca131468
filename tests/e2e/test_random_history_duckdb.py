"""Random histories loaded into target-webex-duckdb too: its live rows = the reference's.

The same state machine as ``tests/integration/test_random_history.py``; every run's
messages (up to the
kill, for a killed run) are also piped into the installed ``target-webex-duckdb`` command
(``hard_delete: true``, as ``meltano.yml`` sets it), and after every complete run the table's
rows must be the reference warehouse's live rows. A handful of short histories: each load
starts a process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import settings
from typing_extensions import override

from tests.integration.test_random_history import PROFILE, History

TARGET = str(Path(sys.executable).with_name("target-webex-duckdb"))

pytestmark = pytest.mark.e2e


class HistoryIntoDuckDB(History):
    """Every run also loaded by target-webex-duckdb into a DuckDB file of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="random-history-"))
        self.database = self.folder / "warehouse.duckdb"
        config = {
            "filepath": str(self.database),
            "default_target_schema": "webex",
            "hard_delete": True,
        }
        self.config_path = self.folder / "target.json"
        self.config_path.write_text(json.dumps(config))

    @override
    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.folder, ignore_errors=True)

    @override
    def load(self, messages: list[dict[str, Any]]) -> None:
        super().load(messages)
        completed = subprocess.run(
            [TARGET, "--config", str(self.config_path)],
            input="".join(json.dumps(m) + "\n" for m in messages),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]

    @override
    def check_loaders(self, live: set[str]) -> None:
        if not self.database.exists():
            assert not live
            return
        with duckdb.connect(str(self.database), read_only=True) as connection:
            tables = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'webex'"
            ).fetchall()
            ids = "SELECT id FROM webex.series_meetings"
            found = connection.execute(ids).fetchall() if ("series_meetings",) in tables else []
        loaded = {row[0] for row in found}
        assert loaded == live, (
            f"target-webex-duckdb: missing {sorted(live - loaded)}, extra {sorted(loaded - live)}"
        )


TestRandomHistoryIntoDuckDB = HistoryIntoDuckDB.TestCase
TestRandomHistoryIntoDuckDB.settings = settings(
    PROFILE, max_examples=max(10, PROFILE.max_examples // 20), stateful_step_count=15
)


def test_a_deleted_meeting_and_a_full_refresh_leave_the_same_rows_in_duckdb() -> None:
    """A tombstone and an ACTIVATE_VERSION, each through the real loader."""
    history = HistoryIntoDuckDB()
    try:
        history.new_series(
            host="alice@example.com",
            kind="daily",
            hours=-48,
            count=5,
            minutes=30,
            missed_every=2,
            restarted_every=2,
        )
        history.one_off(host="alice@example.com", hours=30, missed=False)
        history.nightly(order=[0, 1, 2])
        history.delete_meeting(pick=0)
        history.advance_clock(minutes=60)
        history.nightly(order=[0, 1, 2])
        history.delete_series(pick=1)
        history.full_refresh(order=[0, 1, 2])
    finally:
        history.teardown()
