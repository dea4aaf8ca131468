#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them:
# the tap in .venv, Meltano in .venv-meltano (the end-to-end tests drive it; it installs the
# loaders itself), and PostgreSQL (tests/test_meltano_e2e.py starts a throwaway cluster with
# scripts/ensure_postgres.sh, which installs Debian's package when missing).
# Idempotent: a second run reuses both venvs and only runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
MELTANO_VERSION=$(sed -n 's/^MELTANO_VERSION=//p' scripts/demo.sh)

if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]'
fi

if [ "$(.venv-meltano/bin/meltano --version 2>/dev/null || true)" != "meltano, version $MELTANO_VERSION" ]; then
  python3 -m venv .venv-meltano
  .venv-meltano/bin/pip install --quiet --upgrade pip
  .venv-meltano/bin/pip install --quiet "meltano==$MELTANO_VERSION"
fi

.venv/bin/pytest "$@"
