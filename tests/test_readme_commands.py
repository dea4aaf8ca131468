"""The README's Meltano commands, run as written against the fake Webex, so they stay true.

Every ``meltano …`` command of the README outside the Python (Airflow) examples is found,
must be one this test knows, and is run with the pinned Meltano in the repo's project, its
settings pointed at the fake Webex through environment variables, as a user would.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tests.meltano_support import REPO, Meltano, base_env, emitted_records, meltano_executable

pytestmark = pytest.mark.e2e

README = (REPO / "README.md").read_text()
STATE_ID = "dev:tap-webex-meetings-to-target-duckdb"
RUN = "meltano run tap-webex-meetings target-duckdb"
# In the order they run: install, look, run, look at the state, start over, the schedule.
KNOWN = [
    "meltano install",
    "meltano config list tap-webex-meetings --all",
    "meltano schedule list",
    RUN,
    f"meltano state get {STATE_ID}",
    "meltano run --full-refresh tap-webex-meetings target-duckdb",
    "meltano schedule run daily-webex-meetings",
    f"TAP_WEBEX_MEETINGS_START_DATE=yesterday {RUN}",
]

# Run by tests/test_dbt_e2e.py, as written, against the sandbox (and its PostgreSQL twin).
RUN_BY_DBT_E2E = {"meltano run tap-webex-meetings target-duckdb dbt-duckdb:build"}


def readme_meltano_commands() -> set[str]:
    """``meltano`` commands in bash blocks and inline code; Python blocks left out."""
    text = re.sub(r"```python\n.*?```", "", README, flags=re.DOTALL)
    found: set[str] = set()
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        found |= {line.split("#")[0] for line in block.splitlines() if "meltano " in line}
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    found |= set(re.findall(r"`([^`]*meltano [^`]*)`", prose))
    commands = {" ".join(c.replace(".venv-meltano/bin/meltano", "meltano").split()) for c in found}
    return {c for c in commands if re.match(r"^(\w+=\S+ )*meltano ", c) and "pip " not in c}


def is_template(command: str) -> bool:
    """A command with a ``<placeholder>``, such as the one each Airflow shard task runs."""
    return re.search(r"<[^>]+>", command) is not None


def test_the_readme_has_no_meltano_command_this_test_does_not_run() -> None:
    commands = readme_meltano_commands()
    assert {c for c in commands if not is_template(c)} == set(KNOWN) | RUN_BY_DBT_E2E


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


def test_readme_meltano_commands_work_against_the_fake_webex(
    server: FakeWebex, tmp_path: Path
) -> None:
    meltano = Meltano(meltano_executable(), base_env(tmp_path / "meltano.db"))
    start = server.now - timedelta(days=60)
    meltano.env.update(
        TAP_WEBEX_MEETINGS_API_URL=server.api_url,
        TAP_WEBEX_MEETINGS_ACCESS_TOKEN="sandbox-token",
        TAP_WEBEX_MEETINGS_START_DATE=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS="5",
        TARGET_DUCKDB_FILEPATH=str(tmp_path / "warehouse.duckdb"),
    )

    def run(command: str) -> subprocess.CompletedProcess[str]:
        """The command as written: leading ``NAME=value`` words set environment variables."""
        words = shlex.split(command)
        assignments = [w.split("=", 1) for w in words[: words.index("meltano")]]
        saved = dict(meltano.env)
        meltano.env.update(dict(assignments))
        try:
            return meltano(*words[len(assignments) + 1 :])
        finally:
            meltano.env = saved

    done = {command: run(command) for command in KNOWN}

    listing = done["meltano config list tap-webex-meetings --all"].stdout
    for setting in ("start_date", "page_size", "access_token", "shard_index"):
        line = rf"^{setting} .*\[env: TAP_WEBEX_MEETINGS_"
        assert re.search(line, listing, re.MULTILINE), listing
    assert "daily-webex-meetings" in done["meltano schedule list"].stdout

    def emitted(command: str) -> int:
        return emitted_records(done[command].stdout + done[command].stderr)["series_meetings"]

    full = emitted(RUN)
    assert full > 100
    state = json.loads(done[f"meltano state get {STATE_ID}"].stdout)
    partitions = state["singer_state"]["bookmarks"]["series_meetings"]["partitions"]
    assert {p["context"]["meetingSeriesId"] for p in partitions} == set(
        server.series_ids("alice@example.com")
    )
    # Starting over reads everything again; the schedule's job continues from the state.
    assert emitted("meltano run --full-refresh tap-webex-meetings target-duckdb") == full
    assert 0 < emitted("meltano schedule run daily-webex-meetings") < full
    # Meltano turns "yesterday" into a timestamp without offset, which the tap takes as UTC.
    assert emitted(f"TAP_WEBEX_MEETINGS_START_DATE=yesterday {RUN}") > 0
