"""Webex meetings into PostgreSQL every day, one Airflow task per shard, in parallel (Airflow 3).

Deploy: copy or symlink this file into the dags folder of an Airflow whose workers can reach a
clone of this project where ``meltano install`` ran (Meltano in ``.venv-meltano``). Airflow
Variables (or ``AIRFLOW_VAR_<NAME>`` environment variables) tune it:

- ``webex_meetings_project``: the clone's path (default ``/opt/tap-webex-meetings``);
- ``webex_meetings_shard_count``: how many shards (default 4); ``meltano.yml`` must declare
  ``tap-webex-meetings-shard-<i>`` and ``target-postgres-shard-<i>`` for each of them.

The tap's credentials and ``TAP_WEBEX_MEETINGS_START_DATE``, and the ``TARGET_POSTGRES_*``
connection, come from the workers' environment or the project's ``.env``: every shard
inherits them from ``tap-webex-meetings`` and ``target-postgres``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Variable

# Read when the file is parsed: it decides how many tasks there are.
SHARD_COUNT = int(Variable.get("webex_meetings_shard_count", default="4"))
# Read when a task runs, like every other setting.
PROJECT = "{{ var.value.get('webex_meetings_project', '/opt/tap-webex-meetings') }}"
MELTANO = ".venv-meltano/bin/meltano --environment=prod"

with DAG(
    dag_id="webex_meetings",
    schedule="0 5 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # Each run continues from the states the previous one saved: never two at once.
    max_active_runs=1,
    # A retried shard continues from its last saved state; upserts make repeats harmless.
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["webex", "meltano"],
) as dag:
    # target-postgres creates a missing table when a stream's SCHEMA arrives, by checking and
    # then creating: shards starting together would race ("relation ... already exists").
    # So the tables are created first, from the tap's SCHEMA messages alone (--test=schema:
    # no request to Webex, the same catalog and field selection as the shards), by the parent
    # plugins, which no shard uses. Cheaper than running one shard ahead of the others, and
    # the same on every run: once the tables exist it only checks their columns. The two
    # commands run one after the other, not piped: two Meltano processes starting together on
    # a new system database both try to create its tables, and one fails.
    create_tables = BashOperator(
        task_id="create_tables",
        cwd=PROJECT,
        bash_command=(
            "schemas=$(mktemp) && trap 'rm -f \"$schemas\"' EXIT && "
            f'{MELTANO} invoke tap-webex-meetings --test=schema > "$schemas" && '
            f'{MELTANO} invoke target-postgres < "$schemas"'
        ),
    )
    for index in range(SHARD_COUNT):
        # Each shard is its own pair of plugins in meltano.yml, hence its own Meltano run
        # directory (two runs of one plugin overwrite each other's catalog, state and logging
        # files) and its own state id, prod:tap-webex-meetings-shard-<i>-to-<its loader>.
        # The environment sets the split, so this DAG and the shards cannot disagree on it.
        extractor = f"tap-webex-meetings-shard-{index}"
        prefix = extractor.upper().replace("-", "_")
        create_tables >> BashOperator(
            task_id=f"shard_{index}",
            cwd=PROJECT,
            bash_command=f"{MELTANO} run {extractor} target-postgres-shard-{index}",
            env={
                f"{prefix}_SHARD_COUNT": str(SHARD_COUNT),
                f"{prefix}_SHARD_INDEX": str(index),
            },
            append_env=True,
        )
