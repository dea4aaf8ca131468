"""Fixtures: fake Webex servers on 127.0.0.1, fresh for each test that changes them; the
built wheel and one PostgreSQL, once per session."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tests.meltano_support import Postgres, start_postgres, stop_postgres


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    """A fake Webex with the default series, its clock at 2026-06-15T12:00Z."""
    with FakeWebex() as fake:
        yield fake


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout built as the README's Install section says (``pip wheel --no-deps``)."""
    folder = tmp_path_factory.mktemp("wheel")
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(folder),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = folder.glob("tap_webex_meetings-*.whl")
    return built


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL for every end-to-end test that loads into it."""
    database, pgdata = start_postgres()
    try:
        yield database
    finally:
        stop_postgres(pgdata)
