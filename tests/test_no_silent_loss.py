"""Nothing lost or deleted in silence where the tap's features meet (issue 31): a state of
finished series is no first run, a 404 that is not Webex's deletes nothing, the instance cap
read either way loses nothing, and an answer about something else is not believed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_webex_meetings import full_extract
from tap_webex_meetings.sandbox import DEFAULT_NOW, FakeWebex, SeriesSpec
from tap_webex_meetings.sandbox.series import stable_hex
from tests.tap_runner import TapOutput, config_for, finished_ids, sync

DAY = timedelta(days=1)
TARGET_DUCKDB = str(Path(sys.executable).with_name("target-webex-duckdb"))


def one_off(name: str, start: datetime) -> SeriesSpec:
    """A one-off meeting as Webex has it: a series of one occurrence, no recurrence."""
    return SeriesSpec(
        id=stable_hex("test-no-silent-loss", name),
        title=name,
        host_email="alice@example.com",
        host_name="Alice Smith",
        first_start=start,
        interval=DAY,
        count=1,
        duration=timedelta(minutes=30),
        recurring=False,
    )


def run(server: FakeWebex, state: dict[str, Any] | None = None, **settings: Any) -> TapOutput:
    return sync(config_for(server, **settings), state=state, run_start=server.now)


def activations(output: TapOutput) -> list[dict[str, Any]]:
    return [m for m in output.messages if m["type"] == "ACTIVATE_VERSION"]


def load_duckdb(folder: Path, output: TapOutput) -> None:
    """``target-webex-duckdb`` as meltano.yml configures it (``hard_delete: true``)."""
    config = folder / "target.json"
    config.write_text(
        json.dumps(
            {
                "filepath": str(folder / "warehouse.duckdb"),
                "default_target_schema": "webex",
                "hard_delete": True,
            }
        )
    )
    completed = subprocess.run(
        [TARGET_DUCKDB, "--config", str(config)],
        input=output.stdout,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def live_rows(folder: Path) -> set[str]:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        found = connection.execute(
            "SELECT id FROM webex.series_meetings WHERE _sdc_deleted_at IS NULL"
        ).fetchall()
    return {meeting_id for (meeting_id,) in found}


# 1. A false full extract


def test_a_state_of_finished_series_only_is_no_first_run_and_keeps_their_rows(
    tmp_path: Path,
) -> None:
    """Every known series finished (a quiet week): the next run finds a new meeting, sends
    no ACTIVATE_VERSION, and the finished series' rows stay in the warehouse."""
    now = DEFAULT_NOW
    past = one_off("over", now - 10 * DAY)
    later = one_off("new", now + 40 * DAY)  # beyond the first run's lookahead_days
    with FakeWebex(series=[past, later], now=now) as server:
        first = run(server)
        assert activations(first), "a first run is a full extract"
        assert finished_ids(first.last_state) == {past.id}
        assert not first.last_state["bookmarks"]["series_meetings"]["partitions"]
        load_duckdb(tmp_path, first)
        over = live_rows(tmp_path)
        assert {r["id"] for r in first.records() if r["meetingSeriesId"] == past.id} == over

        server.advance(15 * DAY)
        second = run(server, first.last_state)

    assert {r["meetingSeriesId"] for r in second.records()} == {later.id}
    assert activations(second) == []
    assert all("version" not in m for m in second.messages if m["type"] == "RECORD")
    load_duckdb(tmp_path, second)
    assert live_rows(tmp_path) == over | set(second.ids())


@pytest.mark.parametrize(
    ("stream", "written"),
    [
        ("series_meetings", {"partitions": [{"context": {"meetingSeriesId": "S"}}]}),
        ("series_meetings", {"finished": {"20260605T120000Z": ["S"]}}),
        ("series_meetings", {"finished": {"20260605T120000Z": []}}),  # reopened since
        ("meeting_series", {"discovered": {"start_date": "2025-06-01T00:00:00Z"}}),
    ],
)
def test_anything_an_earlier_run_wrote_makes_a_run_incremental(
    stream: str, written: dict[str, Any]
) -> None:
    state = {"bookmarks": {stream: written}}
    assert full_extract.table_version(state, shard_count=1, started_ms=5000) is None
    empty = {"bookmarks": {"series_meetings": {"partitions": [], "finished": {}}}}
    assert full_extract.table_version(empty, shard_count=1, started_ms=5000) == 5
    assert full_extract.table_version({}, shard_count=2, started_ms=5000) is None
