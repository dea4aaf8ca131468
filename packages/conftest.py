"""Fixtures of the packages' tests: the tap's (a fake Webex, PostgreSQL, Meltano with the
project's plugins: tests/conftest.py, so each is started once per folder), and the loaders'."""

from __future__ import annotations

from pathlib import Path

import pytest
from loader_harness import Loader

from tests.conftest import installed, meltano_bin, postgres, server
from tests.meltano_support import Postgres

__all__ = ["installed", "loader", "meltano_bin", "postgres", "server"]


@pytest.fixture(params=["duckdb", "postgres"])
def loader(request: pytest.FixtureRequest, tmp_path: Path) -> Loader:
    """Each project loader in turn, into a warehouse of the test's own."""
    postgres: Postgres | None = None
    if request.param == "postgres":
        postgres = request.getfixturevalue("postgres")
    return Loader(request.param, tmp_path, postgres)
