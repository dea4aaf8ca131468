"""The README's Meltano blocks, run as a user copies them: one shell, block after block.

Every bash block of the README that calls ``.venv-meltano/bin/meltano`` or starts PostgreSQL
is pasted, as written, into one bash process (exports carry over, as in a terminal), in the
repo's project, against the fake Webex. The user's token ``...`` is one the fake Webex
knows; only its URL comes from the environment. Blocks with a ``<placeholder>`` are
templates (the Airflow shard task, run by tests/test_airflow.py); the block that installs
Meltano is what scripts/test.sh and scripts/demo.sh run.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tap_webex_meetings.sandbox import FakeWebex, Token
from tests.meltano_support import REPO, base_env, emitted_records
from tests.tap_runner import series_in_state

pytestmark = pytest.mark.e2e

README = (REPO / "README.md").read_text()
STATE_ID = "dev:tap-webex-meetings-to-target-duckdb"
USER = "alice@example.com"
INSTALL_MELTANO = (
    "python3 -m venv .venv-meltano && .venv-meltano/bin/pip install 'meltano[postgres]=="
)
# The order a user pastes them in: set up and run, look around, schedule, PostgreSQL. Each
# names its block by the block's first line.
ORDER = [
    ".venv-meltano/bin/meltano install",
    ".venv-meltano/bin/meltano config list tap-webex-meetings --all",
    ".venv-meltano/bin/meltano schedule list",
    'eval "$(bash scripts/ensure_postgres.sh)"',
]
# After the PostgreSQL block, in the same shell: what it loaded (the user's `psql`).
COUNT_ROWS = 'echo "rows: $("$PG_BINDIR/psql" -XAtc "SELECT count(*) FROM webex.series_meetings")"'
MARK = "=== README block "

# Run as written by tests/test_dbt_e2e.py and tests/test_meltano_e2e.py, against the sandbox.
RUN_BY_OTHER_E2E = {
    ".venv-meltano/bin/meltano run tap-webex-meetings target-duckdb dbt-duckdb:build",
    ".venv-meltano/bin/meltano run tap-webex-meetings target-webex-duckdb",
    ".venv-meltano/bin/meltano run tap-webex-meetings target-webex-postgres",
}


def bash_blocks() -> list[str]:
    """Every ```bash block of the README, as markdown renders it."""
    return [
        token.content
        for token in MarkdownIt("commonmark").parse(README)
        if token.type == "fence" and token.info.strip() == "bash"
    ]


def blocks_to_run() -> list[str]:
    found = [
        block
        for block in bash_blocks()
        if (".venv-meltano/bin/meltano " in block or "ensure_postgres.sh)" in block)
        and not re.search(r"<[^>]+>", block)
        and not block.startswith(INSTALL_MELTANO)
        and block.strip() not in RUN_BY_OTHER_E2E
        and "scripts/benchmark.py" not in block  # minutes of load: the benchmark's own runs
    ]
    return sorted(
        found, key=lambda block: next(i for i, f in enumerate(ORDER) if block.startswith(f))
    )


def test_every_meltano_block_of_the_readme_is_one_this_test_runs() -> None:
    blocks = blocks_to_run()
    assert [next(f for f in ORDER if block.startswith(f)) for block in blocks] == ORDER
    assert any(block.startswith(INSTALL_MELTANO) for block in bash_blocks())
    assert "export TAP_WEBEX_MEETINGS_ACCESS_TOKEN=... " in blocks[0]  # what a user edits
    assert {block.strip() for block in bash_blocks()} >= RUN_BY_OTHER_E2E


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        fake.tokens["..."] = Token(USER, admin=True)  # the README's placeholder token
        yield fake


def test_readme_meltano_blocks_work_pasted_into_a_shell(server: FakeWebex, tmp_path: Path) -> None:
    env = base_env(tmp_path / "meltano.db")
    env.update(
        TAP_WEBEX_MEETINGS_API_URL=server.api_url,
        TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS="5",
        TARGET_DUCKDB_FILEPATH=str(tmp_path / "warehouse.duckdb"),
    )
    script = [
        "set -euo pipefail",
        'trap \'[ -z "${PGDATA:-}" ] || bash scripts/ensure_postgres.sh --stop "$PGDATA"\' EXIT',
    ]
    for number, block in enumerate(blocks_to_run()):
        script += [f"echo '{MARK}{number}'", block]
    script.append(COUNT_ROWS)
    completed = subprocess.run(
        ["bash", "-c", "\n".join(script) + "\n"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1500,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-5000:]
    run, look, schedule, postgres = completed.stdout.split(MARK)[1:]

    full = emitted_records(run)["series_meetings"]
    assert full > 100
    for setting in ("start_date", "page_size", "access_token", "shard_index"):
        assert re.search(rf"^{setting} .*\[env: TAP_WEBEX_MEETINGS_", look, re.MULTILINE), look
    found = re.search(r'\{\s*"singer_state"', look)
    assert found, look[-3000:]
    state, end = json.JSONDecoder().raw_decode(look, found.start())
    assert series_in_state(state["singer_state"]) == set(server.series_ids(USER))
    # Starting over reads everything again; the schedule's job continues from the state.
    assert emitted_records(look[end:])["series_meetings"] == full
    assert "daily-webex-meetings" in schedule
    assert 0 < emitted_records(schedule)["series_meetings"] < full
    # eval "$(bash scripts/ensure_postgres.sh)" exported what target-postgres needs.
    loaded = emitted_records(postgres)["series_meetings"]
    assert f"\nrows: {loaded}\n" in postgres
    assert loaded > 100


def benchmark_commands() -> list[list[str]]:
    """The arguments of every ``scripts/benchmark.py`` command in the README's bash blocks."""
    found = []
    for block in bash_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "scripts/benchmark.py" in words:
                found.append(words[words.index("scripts/benchmark.py") + 1 :])
    return found


def test_the_readme_benchmark_commands_take_the_arguments_they_give() -> None:
    """The benchmark's own runs take minutes, so they are not run here; but each command the
    README gives is one the benchmark accepts (cases, loaders, options), as written."""
    commands = benchmark_commands()
    assert len(commands) >= 5
    for arguments in commands:
        completed = subprocess.run(
            [sys.executable, "scripts/benchmark.py", *arguments, "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, f"{arguments}: {completed.stderr[-500:]}"
