#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them:
# the tap and packages/ in .venv, Meltano in .venv-meltano (the end-to-end tests drive it; it installs the
# loaders itself), Apache Airflow in .venv-airflow (tests/e2e/test_airflow.py runs the shipped DAG
# under its scheduler), and PostgreSQL (the end-to-end tests start a throwaway cluster with
# scripts/ensure_postgres.sh, which installs Debian's package when missing).
# Idempotent: a second run reuses the venvs and only runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
MELTANO_VERSION=$(sed -n 's/^MELTANO_VERSION=//p' scripts/demo.sh)

# The tap with its test tools, and the project's other distributions (packages/: the fake
# Webex, the loaders) that the integration and e2e tiers need. Reinstalled when a
# pyproject.toml changed (a copy marks the install), so new test tools arrive.
wanted=$(mktemp)
cat pyproject.toml packages/*/pyproject.toml packages/requirements.txt >"$wanted"
if ! cmp -s "$wanted" .venv/installed-pyproject.toml; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]' -r packages/requirements.txt
  cp "$wanted" .venv/installed-pyproject.toml
fi
rm -f "$wanted"

# With the PostgreSQL driver (meltano[postgres]): the Airflow tests keep Meltano's system
# database in PostgreSQL, shared by the workers. An older install without it is completed.
if [ "$(.venv-meltano/bin/meltano --version 2>/dev/null || true)" != "meltano, version $MELTANO_VERSION" ] ||
  ! .venv-meltano/bin/python -c 'import psycopg' 2>/dev/null; then
  python3 -m venv .venv-meltano
  .venv-meltano/bin/pip install --quiet --upgrade pip
  .venv-meltano/bin/pip install --quiet "meltano[postgres]==$MELTANO_VERSION"
fi

# Reinstalled only when orchestration/airflow/requirements.txt changed (a copy marks the install).
AIRFLOW_REQUIREMENTS=orchestration/airflow/requirements.txt
if ! cmp -s "$AIRFLOW_REQUIREMENTS" .venv-airflow/installed-requirements.txt; then
  rm -rf .venv-airflow
  python3 -m venv .venv-airflow
  .venv-airflow/bin/pip install --quiet --upgrade pip
  .venv-airflow/bin/pip install --quiet -r "$AIRFLOW_REQUIREMENTS"
  cp "$AIRFLOW_REQUIREMENTS" .venv-airflow/installed-requirements.txt
fi

# No arguments: every tier and every package. The one-minute loop: .venv/bin/pytest tests/unit
.venv/bin/pytest "$@"
