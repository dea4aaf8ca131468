"""U+0000 in a title, through `meltano run` into both warehouses.

PostgreSQL refuses NUL in text ("text fields cannot contain NUL"): without meltano.yml's
``sanitize_null_text_characters`` one such title fails every run. There it is stored as
U+FFFD (target-webex-postgres does the same); DuckDB keeps the text exactly as Webex sent it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fake_webex import FakeWebex, bulk_series

from tests.meltano_support import Meltano, Postgres, read_duckdb, schema_of

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
TITLE = "Stand-up\x00 notes"  # as a Webex client that lets a NUL through would send it
EACH = 5


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    plain, odd = bulk_series(2, EACH, now=NOW)
    with FakeWebex(series=[plain, dataclasses.replace(odd, title=TITLE)], now=NOW) as fake:
        yield fake


def run(meltano: Meltano, server: FakeWebex, loader: str) -> None:
    first = min(spec.first_start for spec in server.series)
    meltano.point_at(server, first, first + timedelta(hours=EACH))
    meltano("run", "tap-webex-meetings", loader)


def titles(server: FakeWebex, odd: str) -> dict[str, str]:
    return {spec.id: odd if spec.title == TITLE else spec.title for spec in server.series}


def test_duckdb_keeps_a_nul_in_a_title_as_webex_sent_it(
    meltano: Meltano, server: FakeWebex, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    meltano.into_duckdb(warehouse)
    run(meltano, server, "target-duckdb")
    data = read_duckdb(warehouse)
    assert {row["id"]: row["title"] for row in data["meeting_series"]} == titles(server, TITLE)
    assert len(data["series_meetings"]) == 2 * EACH


@pytest.mark.parametrize("loader", ["target-postgres", "target-webex-postgres"])
def test_postgres_loads_a_nul_in_a_title_as_the_replacement_character(
    meltano: Meltano, server: FakeWebex, postgres: Postgres, tmp_path: Path, loader: str
) -> None:
    schema = schema_of(tmp_path)
    meltano.into_postgres(postgres, schema)
    run(meltano, server, loader)
    stored = dict(postgres.query(f"SELECT id, title FROM {schema}.meeting_series"))
    assert stored == titles(server, TITLE.replace("\x00", "\ufffd"))
    meetings = postgres.query(f"SELECT title FROM {schema}.series_meetings")
    assert sorted(row[0] for row in meetings).count(TITLE.replace("\x00", "\ufffd")) == EACH
