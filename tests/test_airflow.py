"""The shipped Airflow DAG (orchestration/airflow/webex_meetings.py) under a real scheduler.

Airflow (pinned in orchestration/airflow/requirements.txt, installed in .venv-airflow by
scripts/test.sh) runs as a deployment does: api-server, scheduler with the LocalExecutor and
dag-processor, its metadata in PostgreSQL, the DAG file symlinked into its dags folder, the
repo's Meltano project as the ``webex_meetings_project`` Variable. The warehouse is the same
PostgreSQL; the fake Webex follows the wall clock and serves eight series to the token, so
that every shard has some.

Three runs, as a user lives them: the scheduled run Airflow starts when the DAG appears; a
run two (fake) days later, which must continue from each shard's own state; and, after the
``webex_meetings_shard_count`` Variable went from 4 to 2 (the README's procedure: the next
run's plan reads it, nothing is re-parsed), a run in which the series that changed shard are
read again from ``start_date`` by their new shard. After each: every task succeeded on its
first try, the shard tasks overlapped in time, and PostgreSQL holds every meeting of the range
exactly once, the ids an unsharded run stores. tests/test_airflow_celery.py runs the same DAG
on two workers that share only the network.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tap_webex_meetings.sandbox.samples import default_series
from tap_webex_meetings.sandbox.series import stable_hex
from tap_webex_meetings.sharding import shard_of
from tests.meltano_support import (
    REPO,
    Meltano,
    Postgres,
    base_env,
)
from tests.tap_runner import finished_ids, series_in_state
from tests.test_meltano_e2e import USER, Run, Tables, check_warehouse, postgres_tables, truth

pytestmark = pytest.mark.e2e

DAG_FILE = REPO / "orchestration" / "airflow" / "webex_meetings.py"
# The shard command docs/deployment.md shows ("Past one machine: shards") for shard 1,
# less the shard_plan the DAG gives in the task's environment, as a template.
(README_SHARD_COMMAND,) = [
    line.split(" ", 1)[1].replace("shard-1", "shard-<i>")
    for line in (REPO / "docs" / "deployment.md").read_text().splitlines()
    if line.startswith("TAP_WEBEX_MEETINGS_SHARD_1_SHARD_PLAN=")
]
REQUIREMENTS = REPO / "orchestration" / "airflow" / "requirements.txt"
DAG_ID = "webex_meetings"
DEFAULT_SHARDS = 4
RUN_TIMEOUT = 300  # seconds for one DAG run; a shard takes about 15 s
FAILED = {"failed", "up_for_retry", "upstream_failed", "up_for_reschedule", "removed"}
UTC = timezone.utc


def pinned_airflow_version() -> str:
    match = re.search(r"^apache-airflow\[postgres\]==(\S+)$", REQUIREMENTS.read_text(), re.M)
    assert match, f"{REQUIREMENTS} must pin apache-airflow[postgres]"
    return match.group(1)


def state_id(index: int) -> str:
    return f"prod:tap-webex-meetings-shard-{index}-to-target-postgres-shard-{index}"


# --- Airflow -------------------------------------------------------------------------------


@dataclass
class Airflow:
    """An Airflow installation with its own home, configured by environment variables."""

    bin_dir: Path
    home: Path
    env: dict[str, str]
    metadata: Postgres  # psql on Airflow's own database
    processes: list[subprocess.Popen[bytes]]

    def cli(self, *args: str) -> str:
        completed = subprocess.run(
            [str(self.bin_dir / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert completed.returncode == 0, f"airflow {args}:\n{completed.stderr[-3000:]}"
        return completed.stdout

    def start(self, *components: list[str]) -> None:
        for command in components:
            with (self.home / f"{command[0]}.log").open("wb") as log:  # the child keeps its own
                self.processes.append(
                    subprocess.Popen(
                        [str(self.bin_dir / "airflow"), *command],
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its workers too are stopped with the group
                    )
                )

    def start_all(self) -> None:
        """api-server, then (once it answers: tasks report to it) scheduler and dag-processor."""
        self.start(["api-server"])
        url = self.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].replace("/execution/", "/")
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}api/v2/monitor/health", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    log = (self.home / "api-server.log").read_text()[-3000:]
                    pytest.fail(f"the api-server did not answer within 120 s:\n{log}")
                time.sleep(0.5)
        self.start(["scheduler"], ["dag-processor"])

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def task_log(self, run_id: str, task_id: str, map_index: int = -1) -> str:
        """The end of a task's log (Airflow writes one JSON object per line)."""
        return task_log(self.home, run_id, task_id, map_index)


def task_log(home: Path, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The end of a task's log in an Airflow home (one JSON object per line)."""
    folder = home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
    if map_index >= 0:
        folder /= f"map_index={map_index}"
    lines = []
    for path in sorted(folder.glob("attempt=*.log")):
        for line in path.read_text().splitlines():
            try:
                lines.append(str(json.loads(line).get("event", "")))
            except json.JSONDecodeError:
                lines.append(line)
    return "\n".join(lines[-60:])


@dataclass(frozen=True)
class TaskRun:
    task_id: str
    map_index: int
    state: str
    try_number: int
    start: float
    end: float
    hostname: str

    @property
    def name(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def schedule_timezone(now: datetime) -> str:
    """A fixed-offset zone where ``now`` is about 17:00, so that the DAG's daily 05:00 is
    12 hours away: Airflow starts the run of the last 05:00 when the DAG appears, and no
    other scheduled run can fall inside the test (the DAG's start_date is naive, so it is in
    Airflow's default time zone).
    """
    offset = (17 - now.hour) % 24
    if offset > 14:
        offset -= 24
    return f"Etc/GMT{-offset:+d}"  # POSIX names: Etc/GMT-3 is three hours ahead of UTC


@pytest.fixture(scope="module")
def airflow_bin() -> Path:
    return airflow_bin_dir()


def airflow_bin_dir() -> Path:
    """The pinned Airflow's bin folder; a clear failure when it is not installed."""
    bin_dir = Path(os.environ.get("AIRFLOW_VENV") or REPO / ".venv-airflow") / "bin"
    if not (bin_dir / "airflow").exists():
        pytest.fail(
            f"Airflow not found in {bin_dir}: run bash scripts/test.sh, which installs "
            f"{REQUIREMENTS.relative_to(REPO)} into .venv-airflow",
            pytrace=False,
        )
    version = subprocess.run(
        [str(bin_dir / "python"), "-c", "import airflow; print(airflow.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert version == pinned_airflow_version()
    return bin_dir


@pytest.fixture(scope="module")
def meltano(
    installed: Path, meltano_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Meltano:
    """Meltano on the project (the shards share the session's plugin venvs), with a system
    database that does not exist yet: the DAG's first tasks create it, as on a first
    deployment.
    """
    return Meltano(meltano_bin, base_env(tmp_path_factory.mktemp("meltano") / "meltano.db"))


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    """The default series plus a copy of each under another id: 8 series for the token,
    3, 1, 2 and 2 in the four shards, 5 and 3 in two.
    """
    now = datetime.now(UTC)
    series = default_series(now)
    copies = [replace(spec, id=stable_hex("copy", spec.id)) for spec in series]
    with FakeWebex(series + copies, follow_wall_clock=True) as fake:
        yield fake


# --- reading what happened ------------------------------------------------------------------


def wait_for_run(
    airflow: Airflow, run_id: str, allowed: frozenset[str] = frozenset()
) -> list[TaskRun]:
    """The run's task instances once it finished; fail fast, with the log, on any failure
    (but the ``allowed`` states).
    """
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        # The run's state first: once it is success, the rows read after it are final.
        ((run_state,),) = airflow.metadata.query(
            f"SELECT state FROM dag_run WHERE dag_id = '{DAG_ID}' AND run_id = '{run_id}'"
        )
        rows = airflow.metadata.query(
            "SELECT task_id, map_index, state, try_number, "
            "extract(epoch from start_date), extract(epoch from end_date), hostname "
            f"FROM task_instance WHERE dag_id = '{DAG_ID}' AND run_id = '{run_id}'"
        )
        for task_id, map_index, state, *_ in rows:
            if state in FAILED - allowed:
                log = airflow.task_log(run_id, task_id, int(map_index))
                pytest.fail(f"task {task_id}[{map_index}] of {run_id} is {state}:\n{log}")
        if run_state == "success":
            return [
                TaskRun(task_id, int(index), state, int(tries), float(start), float(end), host)
                for task_id, index, state, tries, start, end, host in rows
            ]
        assert run_state in {"queued", "running"}, f"{run_id} is {run_state}"
        time.sleep(2)
    pytest.fail(f"{run_id} did not finish within {RUN_TIMEOUT} s")


def first_scheduled_run(airflow: Airflow) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = airflow.metadata.query(
            f"SELECT run_id FROM dag_run WHERE dag_id = '{DAG_ID}' AND run_type = 'scheduled'"
        )
        if rows:
            ((run_id,),) = rows
            return run_id
        time.sleep(2)
    log = (airflow.home / "dag-processor.log").read_text()[-3000:]
    pytest.fail(f"no scheduled run of {DAG_ID} within 120 s; dag-processor:\n{log}")


def trigger(airflow: Airflow, run_id: str) -> None:
    airflow.cli("dags", "trigger", DAG_ID, "--run-id", run_id)


def check_task_names(tasks: list[TaskRun], shards: int) -> None:
    """The run's tasks: ``plan``, ``prepare`` and the ``shard`` task mapped over the plan."""
    expected = ["plan", "prepare", *(f"shard[{index}]" for index in range(shards))]
    assert sorted(task.name for task in tasks) == sorted(expected)


def check_tasks(tasks: list[TaskRun], shards: int) -> dict[str, float]:
    """Every task succeeded at once; the shards ran at the same time. Their timings."""
    check_task_names(tasks, shards)
    assert {(task.state, task.try_number) for task in tasks} == {("success", 1)}, tasks
    (create,) = [task for task in tasks if task.task_id == "prepare"]
    shard_tasks = [task for task in tasks if task.task_id == "shard"]
    assert all(task.start >= create.end for task in shard_tasks), "shards before the tables"
    latest_start = max(task.start for task in shard_tasks)
    earliest_end = min(task.end for task in shard_tasks)
    assert latest_start < earliest_end, "the shard tasks did not overlap"
    return {
        "run_s": round(max(task.end for task in tasks) - min(task.start for task in tasks), 1),
        "prepare_s": round(create.end - create.start, 1),
        "shards_sum_s": round(sum(task.end - task.start for task in shard_tasks), 1),
        "shards_wall_s": round(
            max(task.end for task in shard_tasks) - min(task.start for task in shard_tasks), 1
        ),
        "overlap_s": round(earliest_end - latest_start, 1),
    }


def first_from(server: FakeWebex) -> dict[str, datetime]:
    """Per series, the earliest ``from`` the tap asked its meetings for."""
    starts: dict[str, datetime] = {}
    for request in server.requests:
        if "meetingSeriesId" in request.params and "from" in request.params:
            series_id = request.params["meetingSeriesId"][0]
            start = datetime.fromisoformat(request.params["from"][0].replace("Z", "+00:00"))
            starts[series_id] = min(start, starts.get(series_id, start))
    return starts


def check_warehouse_and_count(
    postgres: Postgres, schema: str, run: Run, server: FakeWebex, shards: int
) -> tuple[Tables, list[int]]:
    """Exactly the meetings of the range, once each (what an unsharded run stores); the
    rows per shard, counted by where each meeting's series falls.
    """
    tables = postgres_tables(postgres, schema)
    check_warehouse(tables, run, server)
    per_shard = Counter(shard_of(row.series_id, shards) for row in tables.meetings.values())
    return tables, [per_shard[index] for index in range(shards)]


def check_states(meltano: Meltano, series_ids: list[str], shards: int) -> None:
    """Each shard saved its own state, with a bookmark for each of its series."""
    for index in range(shards):
        state = meltano.state(state_id(index))
        bookmarked = series_in_state(state)  # a partition each, or finished
        mine = {s for s in series_ids if shard_of(s, shards) == index}
        assert mine <= bookmarked, f"shard {index} lacks bookmarks for {mine - bookmarked}"


def finished_in(meltano: Meltano, shards: int) -> set[str]:
    """The series the shards' states keep as finished (not listed while over)."""
    return {
        series_id
        for index in range(shards)
        for series_id in finished_ids(meltano.state(state_id(index)))
    }


# --- the tests -------------------------------------------------------------------------------


def test_dag_agrees_with_meltano_yml(airflow_bin: Path, tmp_path: Path) -> None:
    """The DAG as Airflow loads it: ``plan`` and ``prepare``, then the ``shard`` task mapped
    over the plan, each shard running its own pair of plugins that meltano.yml declares, told
    its split as ``shard_plan``; nothing read at parse time decides the tasks.
    """
    script = (
        "import json, runpy, sys; module = runpy.run_path(sys.argv[1]); dag = module['dag']; "
        "print(json.dumps({'max_active_runs': dag.max_active_runs, 'plan': "
        "module['shard_tasks'](int(sys.argv[2])), 'tasks': {t.task_id: "
        "{'upstream': sorted(t.upstream_task_ids), 'retries': t.retries, "
        "'mapped': type(t).__name__ == 'MappedOperator'} for t in dag.tasks}}))"
    )
    # A worker's environment that says 8 shards changes nothing in the DAG.
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW_VAR_WEBEX_MEETINGS_SHARD_COUNT": "8",
    }
    completed = subprocess.run(
        [str(airflow_bin / "python"), "-c", script, str(DAG_FILE), str(DEFAULT_SHARDS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    dag = json.loads(completed.stdout.splitlines()[-1])
    assert dag["max_active_runs"] == 1
    assert dag["tasks"] == {
        "plan": {"upstream": [], "retries": 2, "mapped": False},
        "prepare": {"upstream": [], "retries": 2, "mapped": False},
        "shard": {"upstream": ["plan", "prepare"], "retries": 2, "mapped": True},
    }

    yaml = importlib.import_module("yaml")  # PyYAML comes with singer-sdk; no stubs needed
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    shards = {p["name"]: p for p in project["plugins"]["extractors"] if "-shard-" in p["name"]}
    loaders = {p["name"]: p for p in project["plugins"]["loaders"] if "-shard-" in p["name"]}
    assert len(shards) == len(loaders) == DEFAULT_SHARDS
    assert len(dag["plan"]) == DEFAULT_SHARDS
    for index, task in enumerate(dag["plan"]):
        extractor = shards[f"tap-webex-meetings-shard-{index}"]
        assert extractor["inherit_from"] == "tap-webex-meetings"
        assert extractor["config"] == {"shard_index": index}
        assert loaders[f"target-postgres-shard-{index}"]["inherit_from"] == "target-postgres"
        # The README shows the same command as a template; a retry adds --force (the DAG).
        forced, command = task["bash_command"].split("; fi; ")
        assert command == README_SHARD_COMMAND.replace("<i>", str(index))
        assert command.endswith(
            f" run tap-webex-meetings-shard-{index} target-postgres-shard-{index}"
        )
        assert "MELTANO_RUN_FORCE=true" in forced
        assert task["env"] == {
            f"TAP_WEBEX_MEETINGS_SHARD_{index}_SHARD_PLAN": f"{index}/{DEFAULT_SHARDS}"
        }


def test_dag_runs_shards_in_parallel_and_incrementally_under_the_scheduler(
    airflow_bin: Path,
    meltano: Meltano,
    postgres: Postgres,
    server: FakeWebex,
    tmp_path: Path,
) -> None:
    series_ids = server.series_ids(USER)
    assert len(series_ids) == 8
    for shards in (DEFAULT_SHARDS, 2):
        assert {shard_of(s, shards) for s in series_ids} == set(range(shards)), "empty shard"

    schema = "webex_airflow"
    metadata_db = "airflow_metadata"
    postgres.query(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    postgres.query(f"DROP DATABASE IF EXISTS {metadata_db}")
    postgres.query(f"CREATE DATABASE {metadata_db}")
    metadata = Postgres({**postgres.settings, "PGDATABASE": metadata_db})

    start = server.now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=120)
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    # Deployed as the README says: the file linked into the dags folder, one Variable set.
    (home / "dags" / DAG_FILE.name).symlink_to(DAG_FILE)
    settings = postgres.settings
    port = free_port()
    env = {
        **meltano.env,
        **postgres.target_env,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        "TAP_WEBEX_MEETINGS_API_URL": server.api_url,
        "TAP_WEBEX_MEETINGS_ACCESS_TOKEN": "sandbox-token",
        "TAP_WEBEX_MEETINGS_START_DATE": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS": "5",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": schedule_timezone(datetime.now(UTC)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"postgresql+psycopg2://{settings['PGUSER']}:{settings['PGPASSWORD']}"
            f"@{settings['PGHOST']}:{settings['PGPORT']}/{metadata_db}"
        ),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW_VAR_WEBEX_MEETINGS_PROJECT": str(REPO),
    }
    env.pop("MELTANO_ENVIRONMENT")  # the DAG chooses prod
    airflow = Airflow(airflow_bin, home, env, metadata, [])
    airflow.cli("db", "migrate")

    try:
        # Run 1: the scheduled run Airflow starts as soon as it has parsed the DAG.
        before = truth(server, start)
        airflow.start_all()
        run_id = first_scheduled_run(airflow)
        timings = check_tasks(wait_for_run(airflow, run_id), DEFAULT_SHARDS)
        run = Run("", before, truth(server, start))
        first, per_shard = check_warehouse_and_count(postgres, schema, run, server, DEFAULT_SHARDS)
        assert all(per_shard), per_shard
        assert set(first_from(server).values()) == {start}, "a first run reads from start_date"
        check_states(meltano, series_ids, DEFAULT_SHARDS)
        report = [("run 1, 4 shards", timings, per_shard, len(first.meeting_ids))]

        # Run 2, two days later: every shard continues from its own bookmarks; a series
        # finished by run 1 (an expired one) is not listed again.
        finished = finished_in(meltano, DEFAULT_SHARDS)
        server.advance(timedelta(days=2))
        server.clear_requests()
        before = truth(server, start)
        trigger(airflow, "second")
        timings = check_tasks(wait_for_run(airflow, "second"), DEFAULT_SHARDS)
        run = Run("", before, truth(server, start))
        second, per_shard = check_warehouse_and_count(postgres, schema, run, server, DEFAULT_SHARDS)
        starts = first_from(server)
        assert set(starts) == set(series_ids) - finished
        assert min(starts.values()) > start, "a shard ignored its state"
        assert set(first.meetings) < set(second.meetings), "no new meetings in two days"
        check_states(meltano, series_ids, DEFAULT_SHARDS)
        report.append(("run 2, 4 shards", timings, per_shard, len(second.meeting_ids)))

        # Run 3 with 2 shards, as the README says: only the Variable changes. A series that
        # moved has no bookmark in its new shard, which reads it from start_date; upserts
        # keep one row per meeting.
        finished = finished_in(meltano, DEFAULT_SHARDS)
        airflow.cli("variables", "set", "webex_meetings_shard_count", "2")
        server.advance(timedelta(days=1))
        server.clear_requests()
        before = truth(server, start)
        trigger(airflow, "third")
        timings = check_tasks(wait_for_run(airflow, "third"), 2)
        run = Run("", before, truth(server, start))
        third, per_shard = check_warehouse_and_count(postgres, schema, run, server, 2)
        starts = first_from(server)
        moved = {s for s in series_ids if shard_of(s, DEFAULT_SHARDS) != shard_of(s, 2)}
        assert moved, "no series changed shard"
        assert {s for s, since in starts.items() if since == start} == moved
        # A finished series that stays in its shard is not listed again; one that moved is.
        assert set(starts) == set(series_ids) - (finished - moved)
        check_states(meltano, series_ids, 2)
        report.append(("run 3, 2 shards", timings, per_shard, len(third.meeting_ids)))
    finally:
        airflow.stop()
    for name, timings, per_shard, stored in report:
        print(f"{name}: {timings}, rows per shard {per_shard}, {stored} rows, 0 duplicates")
