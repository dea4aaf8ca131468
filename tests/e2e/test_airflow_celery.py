"""The shipped DAG on several machines: Airflow's CeleryExecutor and two workers that share
only the network, as the README's "Past one machine: shards" deploys it.

The scheduler, dag-processor and api-server keep Airflow's metadata in PostgreSQL; Redis
(Debian's redis-server, scripts/ensure_redis.sh) is the broker. Each "machine" is a folder
of its own: a copy of the project with its own ``meltano install`` and ``.meltano/``, an
Airflow home with the DAG file linked from that copy, and a Celery worker whose TI hostname
names the machine. What they share is what the README says they share: Meltano's system
database (``MELTANO_DATABASE_URI``, in the test PostgreSQL, empty until the DAG's first task
migrates it), the warehouse, and the fake Webex.

Three runs a day apart, one upcoming meeting per shard deleted before runs 2 and 3:
run 1 on machine A alone; run 2 on machine B alone, whose environment says the shard count
is 8 (the plan must still split 4 ways, from the metadata database); run 3 on machine A
again, killed (every process of the machine) while its shards are reading Webex, then
finished by the retries on machine B. After each run PostgreSQL holds every meeting of the
range exactly once, the deleted ones tombstoned, and after run 1 no series is read from
``start_date`` again: every shard continues from the bookmarks another machine saved.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fake_webex import FakeWebex
from fake_webex.samples import default_series
from fake_webex.series import stable_hex

from tap_webex_meetings.sharding import shard_of
from tests.e2e.test_airflow import (
    DAG_FILE,
    DAG_ID,
    DEFAULT_SHARDS,
    Airflow,
    TaskRun,
    airflow_bin_dir,
    check_task_names,
    first_from,
    first_scheduled_run,
    free_port,
    schedule_timezone,
    state_id,
    task_log,
    trigger,
    wait_for_run,
)
from tests.e2e.test_meltano_e2e import (
    USER,
    Run,
    Tables,
    check_deleted,
    check_warehouse,
    postgres_tables,
    truth,
)
from tests.meltano_support import FOREIGN_PREFIXES, REPO, Meltano, Postgres, meltano_executable
from tests.tap_runner import finished_ids

pytestmark = pytest.mark.e2e

ENSURE_REDIS = REPO / "scripts" / "ensure_redis.sh"
# Nothing of the caller's Airflow or pipeline settings reaches the machines.
FOREIGN = (*FOREIGN_PREFIXES, "AIRFLOW")
SCHEMA = "webex_celery"
UTC = timezone.utc
# Settings of Airflow itself: only how fast it notices things, so that the test is short.
FAST_AIRFLOW = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",  # the DAG leaves the delay to Airflow
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",  # a dead machine's tasks
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
}


@dataclass
class Machine:
    """One worker machine: its own project copy, Meltano directory, Airflow home, worker."""

    name: str
    root: Path
    env: dict[str, str]
    bin_dir: Path
    worker: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def home(self) -> Path:
        return self.root / "airflow"

    def start(self) -> None:
        assert self.worker is None
        log = self.home / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as output:  # the worker keeps its own copy
            self.worker = subprocess.Popen(
                [
                    str(self.bin_dir / "airflow"),
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{self.name}@%h",
                    "--skip-serve-logs",
                    "--without-gossip",
                    "--without-mingle",
                ],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """A worker shut down as an operator does (SIGTERM: it finishes what it runs)."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(timeout=30)
        self.worker = None

    def die(self) -> list[str]:
        """The machine dies: every process of it is killed at once, mid-work. Their commands."""
        killed = []
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGKILL)
        for pid, command in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(command)
            except ProcessLookupError:
                pass
        if self.worker is not None:
            self.worker.wait(timeout=30)
        self.worker = None
        return killed

    def processes(self) -> list[tuple[int, str]]:
        """Processes that run in this machine's folder (Meltano, the tap and loader, bash:
        they run in their own sessions, out of the worker's process group).
        """
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                cwd = str((entry / "cwd").readlink())
            except OSError:
                continue
            if str(self.root) in command or cwd.startswith(str(self.root)):
                found.append((int(entry.name), command))
        return found

    def saved_state(self, state_id: str) -> str:
        """``meltano state get`` in this machine's project."""
        completed = subprocess.run(
            [".venv-meltano/bin/meltano", "--log-level=warning", "state", "get", state_id],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return completed.stdout


@pytest.fixture(scope="module")
def airflow_bin() -> Path:
    return airflow_bin_dir()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throwaway Redis on 127.0.0.1 (Debian's redis-server, installed when missing)."""
    completed = subprocess.run(
        ["bash", str(ENSURE_REDIS)], capture_output=True, text=True, timeout=900, check=False
    )
    if completed.returncode != 0:
        pytest.fail(f"scripts/ensure_redis.sh failed:\n{completed.stderr[-3000:]}", pytrace=False)
    settings = dict(line.split("=", 1) for line in completed.stdout.splitlines() if "=" in line)
    try:
        yield settings["REDIS_URL"]
    finally:
        subprocess.run(
            ["bash", str(ENSURE_REDIS), "--stop", settings["REDIS_DIR"]], timeout=60, check=False
        )


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    """Eight series, 3, 1, 2 and 2 in the four shards (see tests/e2e/test_airflow.py)."""
    now = datetime.now(UTC)
    series = default_series(now)
    copies = [replace(spec, id=stable_hex("copy", spec.id)) for spec in series]
    with FakeWebex(series + copies, follow_wall_clock=True) as fake:
        yield fake


def new_database(postgres: Postgres, name: str) -> str:
    """A fresh, empty database; its SQLAlchemy URL (psycopg 3, as Meltano and Airflow use)."""
    postgres.query(f"DROP DATABASE IF EXISTS {name}")
    postgres.query(f"CREATE DATABASE {name}")
    s = postgres.settings
    return f"{s['PGUSER']}:{s['PGPASSWORD']}@{s['PGHOST']}:{s['PGPORT']}/{name}"


def copy_project(destination: Path) -> None:
    """What a clone holds: the tracked files. Meltano itself is the one the tests use."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".venv-meltano").symlink_to(meltano_executable().parent.parent)


def make_machine(
    name: str, root: Path, common: dict[str, str], bin_dir: Path, extra: dict[str, str]
) -> Machine:
    machine = Machine(name, root, {}, bin_dir)
    copy_project(machine.project)
    (machine.home / "dags").mkdir(parents=True)
    (machine.home / "dags" / DAG_FILE.name).symlink_to(machine.project / DAG_FILE.relative_to(REPO))
    # Both workers run on this one host: a hostname callable tells their task instances apart.
    identity = machine.root / "identity"
    identity.mkdir()
    (identity / "machine_identity.py").write_text(f"def hostname():\n    return {name!r}\n")
    machine.env = {
        **common,
        "AIRFLOW_HOME": str(machine.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(machine.home / "dags"),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "machine_identity.hostname",
        "PYTHONPATH": str(identity),
        "AIRFLOW_VAR_WEBEX_MEETINGS_PROJECT": str(machine.project),
        **extra,
    }
    return machine


def install(machine: Machine) -> float:
    """``meltano install`` in the machine's copy, with a system database of its own (the
    shared one is migrated by the DAG's first task). Seconds it took.
    """
    started = time.monotonic()
    env = {**machine.env, "MELTANO_DATABASE_URI": f"sqlite:///{machine.root}/install.db"}
    Meltano(machine.project / ".venv-meltano" / "bin" / "meltano", env)(
        "install", "tap-webex-meetings", "target-postgres"
    )
    return time.monotonic() - started


def hosts(tasks: list[TaskRun]) -> dict[str, str]:
    return {task.name: task.hostname for task in tasks}


def delete_one_upcoming_per_shard(server: FakeWebex, tables: Tables) -> set[str]:
    """One upcoming scheduled meeting of each shard (the earliest), deleted as a host does."""
    soon = server.now + timedelta(days=3)
    chosen: dict[int, str] = {}
    upcoming = sorted(tables.meetings.items(), key=lambda item: item[1].start)
    for key, row in upcoming:
        shard = shard_of(row.series_id, DEFAULT_SHARDS)
        # Days ahead: still upcoming when the run that must tombstone it comes.
        if row.meeting_type == "scheduledMeeting" and datetime.fromisoformat(row.start) > soon:
            chosen.setdefault(shard, key)
    assert len(chosen) == DEFAULT_SHARDS, f"a shard without upcoming meetings: {chosen}"
    for key in chosen.values():
        server.delete(key)
    return set(chosen.values())


def previous_hosts(airflow: Airflow, run_id: str) -> dict[str, str]:
    """The machine of every earlier try of the run's shards (Airflow keeps them)."""
    rows = airflow.metadata.query(
        "SELECT map_index, try_number, hostname FROM task_instance_history "
        f"WHERE dag_id = '{DAG_ID}' AND run_id = '{run_id}' AND task_id = 'shard'"
    )
    return {f"shard[{index}] try {tries}": host for index, tries, host in rows}


def series_read(server: FakeWebex) -> set[str]:
    """Series whose meetings the server was asked for since its requests were cleared."""
    return {
        r.params["meetingSeriesId"][0] for r in server.requests if "meetingSeriesId" in r.params
    }


def wait_for(condition: str, check: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {condition}")
        time.sleep(0.2)


def test_dag_on_two_celery_workers_shares_state_and_one_split(
    airflow_bin: Path,
    postgres: Postgres,
    redis_url: str,
    server: FakeWebex,
    tmp_path: Path,
) -> None:
    timings: dict[str, float] = {}
    began = last = time.monotonic()

    def lap() -> float:
        """Seconds since the last lap."""
        nonlocal last
        now = time.monotonic()
        seconds, last = now - last, now
        return round(seconds, 1)

    series_ids = server.series_ids(USER)
    assert {shard_of(s, DEFAULT_SHARDS) for s in series_ids} == set(range(DEFAULT_SHARDS))
    postgres.query(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    metadata_url = new_database(postgres, "airflow_celery")
    state_url = new_database(postgres, "meltano_state_celery")
    start = server.now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=120)
    port = free_port()
    airflow_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)},
        **FAST_AIRFLOW,
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": schedule_timezone(datetime.now(UTC)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{metadata_url}",
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{metadata_url}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
    }
    # What every worker machine is given (its environment; or the project's .env).
    pipeline_env = {
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DATABASE_URI": f"postgresql+psycopg://{state_url}",
        **postgres.target_env,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": SCHEMA,
        "TAP_WEBEX_MEETINGS_API_URL": server.api_url,
        "TAP_WEBEX_MEETINGS_ACCESS_TOKEN": "sandbox-token",
        "TAP_WEBEX_MEETINGS_START_DATE": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS": "5",
    }
    common = {**airflow_env, **pipeline_env}
    control_home = tmp_path / "control"
    (control_home / "dags").mkdir(parents=True)
    (control_home / "dags" / DAG_FILE.name).symlink_to(DAG_FILE)
    control_env = {
        **airflow_env,
        "AIRFLOW_HOME": str(control_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(control_home / "dags"),
    }
    metadata = Postgres({**postgres.settings, "PGDATABASE": "airflow_celery"})
    airflow = Airflow(airflow_bin, control_home, control_env, metadata, [])
    a = make_machine("machine-a", tmp_path / "machine-a", common, airflow_bin, {})
    # Machine B is told another split in its environment: the plan must not listen to it.
    b = make_machine(
        "machine-b",
        tmp_path / "machine-b",
        common,
        airflow_bin,
        {"AIRFLOW_VAR_WEBEX_MEETINGS_SHARD_COUNT": "8"},
    )

    # The two installs and Airflow's own migration at once: they share nothing.
    installs: dict[str, float] = {}
    threads = [
        threading.Thread(target=lambda m=m: installs.__setitem__(m.name, install(m)))
        for m in (a, b)
    ]
    for thread in threads:
        thread.start()
    airflow.cli("db", "migrate")
    for thread in threads:
        thread.join()
    assert set(installs) == {"machine-a", "machine-b"}, "an install failed"
    timings["installs_s"] = round(max(installs.values()), 1)
    timings["setup_s"] = lap()
    airflow.cli("variables", "set", "webex_meetings_shard_count", str(DEFAULT_SHARDS))
    deleted: set[str] = set()
    try:
        # Run 1, machine A alone: the scheduled run Airflow starts when the DAG appears. The
        # shared system database is empty: the DAG's prepare task creates its tables.
        a.start()
        before = truth(server, start)
        airflow.start_all()
        run_id = first_scheduled_run(airflow)
        tasks = wait_for_run(airflow, run_id)
        check_task_names(tasks, DEFAULT_SHARDS)
        assert set(hosts(tasks).values()) == {"machine-a"}, hosts(tasks)
        first = postgres_tables(postgres, SCHEMA)
        check_warehouse(first, Run("", before, truth(server, start)), server)
        assert set(first_from(server).values()) == {start}, "a first run reads from start_date"
        for index in range(DEFAULT_SHARDS):  # machine B sees the states machine A saved
            state = b.saved_state(state_id(index))
            assert "series_meetings" in state, f"shard {index}: no state in the shared database"
        finished = finished_in(b)
        timings["run1_s"] = lap()

        # Run 2, a day later, machine B alone, which has never run a shard.
        a.stop()
        b.start()
        deleted |= delete_one_upcoming_per_shard(server, first)
        server.advance(timedelta(days=1))
        server.clear_requests()
        before = truth(server, start)
        trigger(airflow, "second")
        tasks = wait_for_run(airflow, "second")
        check_task_names(tasks, DEFAULT_SHARDS)  # the plan: 4 shards, not B's 8
        assert set(hosts(tasks).values()) == {"machine-b"}, hosts(tasks)
        assert (
            "This worker's environment sets webex_meetings_shard_count to 8; ignored"
            in task_log(b.home, "second", "plan")
        )
        check_continuation(postgres, server, start, before, deleted, series_ids, finished)
        finished = finished_in(b)
        timings["run2_s"] = lap()

        # Run 3, a day later, on machine A, which dies while its shards read Webex; the
        # retries run on machine B.
        b.stop()
        a.start()
        deleted |= delete_one_upcoming_per_shard(server, postgres_tables(postgres, SCHEMA))
        server.advance(timedelta(days=1))
        server.clear_requests()
        before = truth(server, start)
        server.latency_seconds = 0.5  # long enough to be caught mid-read
        trigger(airflow, "third")

        def shard_states() -> dict[int, str]:
            rows = metadata.query(
                "SELECT map_index, state FROM task_instance WHERE run_id = 'third' "
                "AND task_id = 'shard' AND map_index >= 0"
            )
            return {int(index): state for index, state in rows}

        def reading() -> bool:
            """Every shard started on machine A, and taps are reading Webex."""
            states = shard_states()
            started = len(states) == DEFAULT_SHARDS and set(states.values()) <= {
                "running",
                "success",
            }
            return started and "running" in states.values() and bool(series_read(server))

        wait_for("machine A's shards reading Webex", reading)
        killed = a.die()
        read_before_death = series_read(server)
        assert any("tap-webex-meetings" in command for command in killed), killed
        running_at_death = {i for i, state in shard_states().items() if state == "running"}
        interrupted = running_at_death & {shard_of(s, DEFAULT_SHARDS) for s in read_before_death}
        assert interrupted, "no shard was killed while reading Webex"
        server.latency_seconds = 0.0
        b.start()
        tasks = wait_for_run(airflow, "third", allowed=frozenset({"up_for_retry", "failed"}))
        check_task_names(tasks, DEFAULT_SHARDS)
        shards = {task.map_index: task for task in tasks if task.task_id == "shard"}
        for index in running_at_death:  # retried, and the retry ran on machine B
            assert shards[index].hostname == "machine-b", shards[index]
            assert shards[index].try_number >= 2, shards[index]
        earlier = previous_hosts(airflow, "third")
        assert earlier, "no earlier try"
        assert set(earlier.values()) == {"machine-a"}, earlier
        check_continuation(postgres, server, start, before, deleted, series_ids, finished)
        timings["run3_s"] = lap()
    finally:
        for machine in (a, b):
            if machine.worker is not None:
                machine.die()
        airflow.stop()
    timings["total_s"] = round(time.monotonic() - began, 1)
    print(f"celery: {timings}; {len(deleted)} meetings deleted and tombstoned")


def finished_in(machine: Machine) -> set[str]:
    """The series the shards' shared states keep as finished, as this machine reads them."""
    return {
        series_id
        for index in range(DEFAULT_SHARDS)
        for series_id in finished_ids(singer_state(machine.saved_state(state_id(index))))
    }


def singer_state(saved: str) -> dict[str, Any]:
    """The Singer state in what ``meltano state get`` prints."""
    value: dict[str, Any] = json.loads(saved)
    state: dict[str, Any] = value.get("singer_state", value)
    return state


def check_continuation(
    postgres: Postgres,
    server: FakeWebex,
    start: datetime,
    before: dict[str, dict[str, object]],
    deleted: set[str],
    series_ids: list[str],
    finished: set[str],
) -> None:
    """Every meeting once, the deleted ones tombstoned, and every series read from its
    bookmark (saved by whichever machine ran its shard last), none from ``start_date``;
    the series finished before (expired) not listed at all.
    """
    tables = postgres_tables(postgres, SCHEMA)
    check_warehouse(tables, Run("", before, truth(server, start)), server)
    check_deleted(tables, deleted, hard=False)
    starts = first_from(server)
    assert set(starts) == set(series_ids) - finished
    from_start = sorted(s for s, since in starts.items() if since == start)
    assert from_start == [], f"series read from start_date again: {from_start}"
