"""Fixtures: fake Webex servers on 127.0.0.1, fresh for each test that changes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tests.meltano_support import Postgres, start_postgres, stop_postgres


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    """A fake Webex with the default series, its clock at 2026-06-15T12:00Z."""
    with FakeWebex() as fake:
        yield fake


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL for every end-to-end test that loads into it."""
    database, pgdata = start_postgres()
    try:
        yield database
    finally:
        stop_postgres(pgdata)
