"""Webex meetings into PostgreSQL every day, one Airflow task per shard, in parallel (Airflow 3).

Deploy (docs/deployment.md): on every machine that runs Airflow workers, a clone
of this project where ``meltano install`` ran (Meltano in ``.venv-meltano``) and this file in
the dags folder. Airflow Variables tune it:

- ``webex_meetings_shard_count``: how many shards (default 4), read from Airflow's metadata
  database by the run's ``plan`` task, so one run splits the series one way whichever
  worker runs what; ``meltano.yml`` must declare ``tap-webex-meetings-shard-<i>`` and
  ``target-postgres-shard-<i>`` for each of them;
- ``webex_meetings_project``: the clone's path on a worker (default
  ``/opt/tap-webex-meetings``); it may differ per machine (``AIRFLOW_VAR_WEBEX_MEETINGS_PROJECT``
  in a worker's environment).

The workers' environment (or the project's ``.env``) gives the tap's credentials and
``TAP_WEBEX_MEETINGS_START_DATE``, the ``TARGET_POSTGRES_*`` connection, and
``MELTANO_DATABASE_URI``: one PostgreSQL system database that every worker shares, so a shard
finds its state (bookmarks, the memory of upcoming meetings) wherever it runs.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task
from airflow.sdk.execution_time.secrets.execution_api import ExecutionAPISecretsBackend

SHARD_COUNT_VARIABLE = "webex_meetings_shard_count"
DEFAULT_SHARD_COUNT = 4
# Read when a task runs, on its worker.
PROJECT = "{{ var.value.get('webex_meetings_project', '/opt/tap-webex-meetings') }}"
MELTANO = ".venv-meltano/bin/meltano --environment=prod"

log = logging.getLogger(__name__)


# A retry forces its run. Meltano records each run as a job in the shared system database and
# refuses to start a second one with the same state id while the first is "running"; a try
# whose machine died (killed, no clean exit) stays "running" there until Meltano calls it
# stale, 5 minutes after its last heartbeat, and every retry before then fails ("Another
# ... pipeline is already running"). Airflow retries only a try it has declared over: one that
# exited, or one that stopped heartbeating, which its own worker then terminates.
FORCE_A_RETRY = (
    'if [ "${AIRFLOW_CTX_TRY_NUMBER:-1}" -gt 1 ]; then export MELTANO_RUN_FORCE=true; fi; '
)


def shard_command(index: int) -> str:
    """What shard ``index`` runs: its own pair of plugins (docs/deployment.md)."""
    return f"{MELTANO} run tap-webex-meetings-shard-{index} target-postgres-shard-{index}"


def shard_tasks(count: int) -> list[dict[str, object]]:
    """The arguments of each shard task of a run split ``count`` ways.

    Each shard is its own pair of plugins in meltano.yml, hence its own Meltano run directory
    (two runs of one plugin overwrite each other's catalog, state and logging files) and its
    own state id, prod:tap-webex-meetings-shard-<i>-to-<its loader>. The tap takes its split
    from shard_plan and refuses to run if other settings disagree.
    """
    return [
        {
            "bash_command": FORCE_A_RETRY + shard_command(index),
            "env": {f"TAP_WEBEX_MEETINGS_SHARD_{index}_SHARD_PLAN": f"{index}/{count}"},
        }
        for index in range(count)
    ]


def shard_count_from_metadata() -> int:
    """``webex_meetings_shard_count`` as Airflow's metadata database holds it.

    ``Variable.get`` would prefer ``AIRFLOW_VAR_WEBEX_MEETINGS_SHARD_COUNT`` from the
    environment of whichever worker runs the plan: a worker configured differently would
    change the split. So this asks the API server only (the Task SDK's backend for it).
    """
    value = ExecutionAPISecretsBackend().get_variable(SHARD_COUNT_VARIABLE)
    count = int(value) if value is not None else DEFAULT_SHARD_COUNT
    if count < 1:
        raise ValueError(f"{SHARD_COUNT_VARIABLE} is {count}: it must be 1 or more")
    local = os.environ.get(f"AIRFLOW_VAR_{SHARD_COUNT_VARIABLE.upper()}")
    if local is not None and local.strip() != str(count):
        log.warning(
            "This worker's environment sets %s to %s; ignored: the split comes from Airflow's "
            "metadata database (%d)",
            SHARD_COUNT_VARIABLE,
            local,
            count,
        )
    return count


with DAG(
    dag_id="webex_meetings",
    schedule="0 5 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # Each run continues from the states the previous one saved: never two at once.
    max_active_runs=1,
    # A retried shard continues from its last saved state, on any worker (the state is
    # shared); upserts make repeats harmless. The delay between tries is Airflow's
    # [core] default_task_retry_delay (300 s unless configured).
    default_args={"retries": 2},
    tags=["webex", "meltano"],
) as dag:

    @task
    def plan() -> list[dict[str, object]]:
        """The split of this run, decided once: the arguments of each shard task."""
        count = shard_count_from_metadata()
        log.info("This run extracts the series in %d shards", count)
        return shard_tasks(count)

    # Before any shard: Meltano's system database is migrated by one process (Meltano
    # processes starting together on a new database each try to create its tables, and all
    # but one fail), then the tables are created. target-postgres creates a missing table by
    # checking and then creating: shards starting together would race ("relation ... already
    # exists"). So the tables come from the tap's SCHEMA messages alone (--test=schema: no
    # request to Webex, the same catalog and field selection as the shards), loaded by the
    # parent plugins, which no shard uses. Once they exist this only checks their columns.
    prepare = BashOperator(
        task_id="prepare",
        cwd=PROJECT,
        bash_command=(
            f"{MELTANO} upgrade database && "
            "schemas=$(mktemp) && trap 'rm -f \"$schemas\"' EXIT && "
            f'{MELTANO} invoke tap-webex-meetings --test=schema > "$schemas" && '
            f'{MELTANO} invoke target-postgres < "$schemas"'
        ),
    )
    # One task per shard of the plan (dynamic task mapping): the split travels with the run,
    # and a retry of shard i, on any worker, runs with the split its run was planned with.
    shards = BashOperator.partial(task_id="shard", cwd=PROJECT, append_env=True).expand_kwargs(
        plan()
    )
    prepare >> shards
