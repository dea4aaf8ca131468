#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run them.
# Idempotent: a second run reuses .venv and only runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]'
fi

.venv/bin/pytest "$@"
