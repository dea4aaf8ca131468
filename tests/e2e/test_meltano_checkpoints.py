"""A `meltano run` stopped half way keeps what it loaded, and the rerun loads the rest once.

A SIGTERM to `meltano run` (what Airflow, systemd or a container runtime send) after the
loader has written a few batches: the rows of those batches stay, the state Meltano saved
never claims a series whose meetings are not all in the warehouse, and the next run loads
the rest, each meeting exactly once.

target-duckdb, target-webex-duckdb and target-webex-postgres emit state after every batch,
so the rerun does not start the finished series over. target-postgres (singer-sdk) emits
state only when it drains all its sinks: every 5 minutes and at the end; on SIGTERM it
drains and emits it, but Meltano 4.4.1 has stopped reading by then. A stop within its first
5 minutes keeps the rows, not the state: the rerun extracts again, and its upserts keep
each meeting once.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fake_webex import FakeWebex, bulk_series

from tests.meltano_support import REPO, Meltano, Postgres, emitted_records, read_duckdb, schema_of

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)  # the server's frozen clock
SERIES, EACH = 24, 100  # hourly meetings: one page a series
TOTAL = SERIES * EACH
BATCH = 200  # the loaders' batch_size_rows, small here so that a short run has 12 batches
STOP_AFTER = 5  # batches of meetings the loader has started to write when it is stopped
# An incremental run re-reads each series from its bookmark minus lookback_days (1 day).
REREAD = 25
# The loader's log line for a batch of meetings being written.
BATCH_LINE = {
    "target-duckdb": re.compile(r"Loading \d+ rows into .*series_meetings"),
    "target-webex-duckdb": re.compile(r"Loaded \d+ rows into .*series_meetings"),
    "target-postgres": re.compile(r"Target sink for 'series_meetings' is full"),
    "target-webex-postgres": re.compile(r"Loaded \d+ rows into .*series_meetings"),
}


@pytest.fixture
def bulk() -> Iterator[FakeWebex]:
    with FakeWebex(series=bulk_series(SERIES, EACH, now=NOW), now=NOW) as fake:
        yield fake


def point_at(meltano: Meltano, server: FakeWebex, loader: str) -> None:
    first = min(spec.first_start for spec in server.series)
    meltano.point_at(server, first, first + timedelta(hours=EACH))
    meltano.env[f"{loader.upper().replace('-', '_')}_BATCH_SIZE_ROWS"] = str(BATCH)


def run_and_terminate(meltano: Meltano, loader: str) -> tuple[int, str, int]:
    """`meltano run`, SIGTERM once the loader logged its STOP_AFTER-th batch; its exit code,
    log, and the batches logged by then."""
    process = subprocess.Popen(
        [str(meltano.executable), "run", "tap-webex-meetings", loader],
        cwd=REPO,
        env=meltano.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(300, process.kill)  # never hang the suite
    watchdog.start()
    lines, batches = [], 0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if BATCH_LINE[loader].search(line):
                batches += 1
                if batches == STOP_AFTER:
                    process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        watchdog.cancel()
        process.kill()
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()
    return code, "".join(lines), batches


def finished_series(state: dict[str, Any]) -> dict[str, str]:
    """Series id -> bookmark, of the series whose sync the state records as finished."""
    partitions = state.get("bookmarks", {}).get("series_meetings", {}).get("partitions", [])
    return {
        p["context"]["meetingSeriesId"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }


def interrupted_then_rerun(
    meltano: Meltano, server: FakeWebex, loader: str, meetings: Callable[[], list[str]]
) -> None:
    """The checks; ``meetings`` lists the stored meetings' series ids, one per row."""
    point_at(meltano, server, loader)
    code, log, batches = run_and_terminate(meltano, loader)
    assert batches >= STOP_AFTER, f"the run ended before it could be stopped:\n{log[-3000:]}"
    assert code != 0, f"an interrupted run must not report success:\n{log[-3000:]}"

    stored = Counter(meetings())
    state = meltano.state(f"dev:tap-webex-meetings-to-{loader}")
    finished = finished_series(state)
    assert sum(stored.values()) >= (STOP_AFTER - 1) * BATCH, "finished batches were lost"
    if loader != "target-postgres":  # state after every batch (see the module's docstring)
        assert finished, f"no state kept for the {sum(stored.values())} meetings loaded"
    incomplete = {key: stored[key] for key in finished if stored[key] != EACH}
    assert not incomplete, f"state claims series not fully loaded: {incomplete}"
    assert all(count <= EACH for count in stored.values()), "a meeting stored twice"

    rerun = meltano("run", "tap-webex-meetings", loader)
    assert Counter(meetings()) == dict.fromkeys(server.series_ids("alice@example.com"), EACH)
    emitted = emitted_records(rerun.stdout + rerun.stderr)["series_meetings"]
    assert emitted <= TOTAL - len(finished) * (EACH - REREAD), "the rerun started over"


@pytest.mark.parametrize("loader", ["target-duckdb", "target-webex-duckdb"])
def test_sigterm_keeps_duckdb_batches_and_rerun_loads_the_rest_once(
    meltano: Meltano, bulk: FakeWebex, tmp_path: Path, loader: str
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    meltano.into_duckdb(warehouse)

    def meetings() -> list[str]:
        rows = read_duckdb(warehouse)["series_meetings"]
        return [row["meetingSeriesId"] for row in rows]

    interrupted_then_rerun(meltano, bulk, loader, meetings)


@pytest.mark.parametrize("loader", ["target-postgres", "target-webex-postgres"])
def test_sigterm_keeps_postgres_batches_and_rerun_loads_the_rest_once(
    meltano: Meltano, bulk: FakeWebex, postgres: Postgres, tmp_path: Path, loader: str
) -> None:
    schema = schema_of(tmp_path)
    meltano.into_postgres(postgres, schema)

    def meetings() -> list[str]:
        rows = postgres.query(f'SELECT "meetingSeriesId" FROM {schema}.series_meetings')
        return [row[0] for row in rows]

    interrupted_then_rerun(meltano, bulk, loader, meetings)
