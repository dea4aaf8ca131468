"""The Meltano blocks of docs/, run as a user copies them: one shell, block after block.

Every bash block of the Meltano pages (docs/meltano.md, loaders.md, models.md, deployment.md,
performance.md) that calls ``.venv-meltano/bin/meltano`` or starts PostgreSQL is pasted, as
written, into one bash process (exports carry over, as in a terminal), in the
repo's project, against the fake Webex. The user's token ``...`` is one the fake Webex
knows; only its URL comes from the environment. Blocks with a ``<placeholder>`` are
templates (the Airflow shard task, run by tests/test_airflow.py); the block that installs
Meltano is what scripts/test.sh and scripts/demo.sh run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tap_webex_meetings.sandbox import FakeWebex, Token
from tests.docs.prose import DOCS, pages
from tests.docs.prose import bash_blocks as blocks_of
from tests.meltano_support import REPO, base_env, emitted_records, read_duckdb, upcoming_meeting
from tests.tap_runner import series_in_state

# The pages a user follows to run the pipeline, in the order they link to each other.
MELTANO_PAGES = [
    DOCS / name
    for name in ("meltano.md", "loaders.md", "models.md", "deployment.md", "performance.md")
]
USER = "alice@example.com"
INSTALL_MELTANO = (
    "python3 -m venv .venv-meltano && .venv-meltano/bin/pip install 'meltano[postgres]=="
)
# The order a user pastes them in: set up and run, look around (and start over), schedule,
# PostgreSQL with dbt, one shard. Each names its block by the block's first line.
ORDER = [
    ".venv-meltano/bin/meltano install",
    ".venv-meltano/bin/meltano config list tap-webex-meetings --all",
    ".venv-meltano/bin/meltano schedule list",
    'eval "$(bash scripts/ensure_postgres.sh)"',
    "TAP_WEBEX_MEETINGS_SHARD_1_SHARD_PLAN=1/2 .venv-meltano/bin/meltano",
]
# Before "look around", which starts over with --full-refresh: a host cancels a meeting.
CANCEL = (
    "curl -sf -X DELETE -H 'Authorization: Bearer ...' "
    '"$TAP_WEBEX_MEETINGS_API_URL/meetings/{id}"'
)
MARK = "=== docs block "

# Run as written by tests/test_dbt_e2e.py and tests/test_meltano_e2e.py, against the sandbox.
RUN_BY_OTHER_E2E = {
    ".venv-meltano/bin/meltano run tap-webex-meetings target-webex-duckdb dbt-duckdb:build",
    ".venv-meltano/bin/meltano run tap-webex-meetings target-webex-duckdb",
    ".venv-meltano/bin/meltano run tap-webex-meetings target-webex-postgres",
}


def bash_blocks() -> list[str]:
    """Every ```bash block of the Meltano pages, as markdown renders it."""
    return blocks_of(*MELTANO_PAGES)


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
        fake.tokens["..."] = Token(USER, admin=True)  # the docs' placeholder token
        yield fake


@pytest.mark.e2e
def test_readme_meltano_blocks_work_pasted_into_a_shell(server: FakeWebex, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    env = base_env(tmp_path / "meltano.db")
    env.update(
        TAP_WEBEX_MEETINGS_API_URL=server.api_url,
        TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS="5",
        TARGET_WEBEX_DUCKDB_FILEPATH=str(warehouse),
    )
    script = [
        "set -euo pipefail",
        'trap \'[ -z "${PGDATA:-}" ] || bash scripts/ensure_postgres.sh --stop "$PGDATA"\' EXIT',
    ]
    cancelled = upcoming_meeting(server)
    for number, block in enumerate(blocks_to_run()):
        if block.startswith(ORDER[1]):
            script.append(CANCEL.format(id=cancelled))
        script += [f"echo '{MARK}{number}'", block]
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
    run, look, schedule, postgres, shard = completed.stdout.split(MARK)[1:]

    full = emitted_records(run)["series_meetings"]
    assert full > 100
    assert "Plugin configuration is valid" in run  # meltano config test
    for setting in ("start_date", "page_size", "access_token", "shard_index"):
        assert re.search(rf"^{setting} .*\[env: TAP_WEBEX_MEETINGS_", look, re.MULTILINE), look
    found = re.search(r'\{\s*"singer_state"', look)
    assert found, look[-3000:]
    state, end = json.JSONDecoder().raw_decode(look, found.start())
    assert series_in_state(state["singer_state"]) == set(server.series_ids(USER))
    # Starting over reads everything again and leaves no row of what Webex no longer has; the
    # schedule's job continues from the state.
    refreshed = emitted_records(look[end:])["series_meetings"]
    assert "daily-webex-meetings" in schedule
    assert 0 < emitted_records(schedule)["series_meetings"] < full
    ids = [row["id"] for row in read_duckdb(warehouse)["series_meetings"]]
    assert cancelled not in ids
    (new,) = re.findall(r"meeting records \((\d+) new", schedule)  # entered the lookahead since
    assert len(ids) == len(set(ids)) == refreshed + int(new)
    # eval "$(bash scripts/ensure_postgres.sh)" exported what target-postgres and dbt need.
    loaded = emitted_records(postgres)["series_meetings"]
    assert re.search(rf"^ +{loaded}$", postgres, re.MULTILINE), postgres[-3000:]  # its psql
    assert loaded > 100
    assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0", postgres), postgres[-3000:]
    # One shard of two, as copied: its share of the series, and no more.
    assert 0 < emitted_records(shard)["series_meetings"] < loaded


def benchmark_commands() -> list[list[str]]:
    """The arguments of every ``scripts/benchmark.py`` command in the pages' bash blocks."""
    found = []
    for block in blocks_of(*pages()):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "scripts/benchmark.py" in words:
                found.append(words[words.index("scripts/benchmark.py") + 1 :])
    return found


def test_the_readme_benchmark_commands_take_the_arguments_they_give() -> None:
    """The benchmark's own runs take minutes, so they are not run here; but each command the
    docs give is one the benchmark accepts (cases, loaders, options), as written."""
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
        if "--profile" in arguments:  # written under output/ (git-ignored), not the root
            assert arguments[arguments.index("--profile") + 1].startswith("output/"), arguments


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.name)
def test_every_venv_command_comes_after_the_command_that_makes_the_venv(page: Path) -> None:
    """``.venv/bin/...`` works as copied only once a block before on the same page (or the same
    block) made it: a reader lands on any page from a link."""
    made = False
    for block in blocks_of(page):
        for line in block.splitlines():
            if line.startswith("python3 -m venv .venv "):  # not test.sh: it builds Airflow too
                made = True
            if line.startswith(".venv/bin/"):
                assert made, f"{page.name}: {line!r} before any block makes .venv"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# A block that fails half way leaves no server behind (holding the output pipe open until the
# timeout): its background jobs end with the shell.
STOP_JOBS = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"


def test_the_sandbox_block_works_as_copied(tmp_path: Path) -> None:
    """Start the fake Webex, move its clock, find a series and cancel it; on a free port."""
    sandbox = DOCS / "sandbox.md"
    (block,) = [b for b in blocks_of(sandbox) if b.startswith("tap-webex-meetings-sandbox --port")]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", STOP_JOBS + block.replace("8765", str(free_port()))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "access_token=sandbox-token" in completed.stdout
    assert json.loads((tmp_path / "series.json").read_text())["items"]


@pytest.mark.e2e
def test_the_duckdb_sql_one_liner_runs_as_copied(installed: Path, tmp_path: Path) -> None:
    """docs' client for SQL on DuckDB: the loader's own Python, in the project."""
    (line,) = re.findall(
        r"`(\.meltano/loaders/target-webex-duckdb/venv/bin/python -c [^`]+)`",
        (DOCS / "incremental.md").read_text(),
    )
    (tmp_path / "output").mkdir()
    connection = duckdb.connect(str(tmp_path / "output" / "warehouse.duckdb"))
    connection.execute("CREATE SCHEMA webex; CREATE TABLE webex.series_meetings AS SELECT 42 AS n")
    connection.close()
    command = line.replace(".meltano/", f"{REPO}/.meltano/", 1).replace(
        '"SELECT …"', '"SELECT n FROM webex.series_meetings"'
    )
    completed = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert re.search(r"│\s+42\s+│", completed.stdout), completed.stdout
