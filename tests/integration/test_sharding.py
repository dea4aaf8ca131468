"""Shards: parallel tap instances that together extract every series exactly once."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone

import pytest
from fake_webex import FakeWebex, bulk_series
from singer_sdk.exceptions import ConfigValidationError

from tap_webex_meetings.sharding import shard_of
from tests.tap_runner import config_for, partition_bookmarks, sync

NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)


def series_ids(count: int) -> list[str]:
    """Ids shaped like Webex's (32 hex digits), the same on every run."""
    rng = random.Random(21)
    return [f"{rng.getrandbits(128):032x}" for _ in range(count)]


def test_shard_of_is_pinned_so_state_stays_with_its_series() -> None:
    # Fixed values: a change here would move series (and their state) between shards.
    assert shard_of("870f51ff287b41be84648412901e0402", 4) == 3
    assert [shard_of(s, 5) for s in series_ids(8)] == [2, 0, 2, 0, 3, 4, 0, 1]


def test_shard_of_is_the_same_in_another_process() -> None:
    """Not Python's ``hash()``, which another interpreter salts differently."""
    ids = series_ids(500)
    program = (
        "import json, sys\n"
        "from tap_webex_meetings.sharding import shard_of\n"
        "print(json.dumps([shard_of(s, 7) for s in json.load(sys.stdin)]))"
    )
    elsewhere = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(ids),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert json.loads(elsewhere.stdout) == [shard_of(s, 7) for s in ids]


@pytest.mark.parametrize("shard_count", [2, 3, 5, 8])
def test_many_series_are_spread_evenly_each_in_one_valid_shard(shard_count: int) -> None:
    ids = series_ids(10_000)
    sizes = Counter(shard_of(s, shard_count) for s in ids)
    assert set(sizes) == set(range(shard_count)), "every shard, and only real ones"
    even = len(ids) / shard_count
    assert all(abs(size - even) < 0.1 * even for size in sizes.values()), sizes


@pytest.mark.parametrize("shard_count", [2, 3])
def test_shards_cover_every_series_exactly_once(shard_count: int) -> None:
    with FakeWebex(series=bulk_series(24, 3, now=NOW), now=NOW) as server:
        outputs = [
            sync(
                config_for(
                    server,
                    shard_count=shard_count,
                    shard_index=index,
                    end_date="2026-06-30T00:00:00Z",
                ),
                run_start=NOW,
            )
            for index in range(shard_count)
        ]
        all_series = set(server.series_ids("alice@example.com"))

    series_per_shard = [set(output.ids("meeting_series")) for output in outputs]
    assert set().union(*series_per_shard) == all_series
    assert sum(len(s) for s in series_per_shard) == len(all_series)
    assert all(series_per_shard), "24 series spread over every shard"

    meetings = Counter(meeting for output in outputs for meeting in output.ids())
    assert len(meetings) == 24 * 3
    assert set(meetings.values()) == {1}
    for output, series in zip(outputs, series_per_shard, strict=True):
        assert {r["meetingSeriesId"] for r in output.records()} == series
        assert set(partition_bookmarks(output.last_state)) <= series  # each shard its own state


def test_shard_index_must_be_below_shard_count() -> None:
    with FakeWebex(now=NOW) as server, pytest.raises(ConfigValidationError) as raised:
        sync(config_for(server, shard_count=2, shard_index=2), run_start=NOW)
    assert any(error.startswith("shard_index:") for error in raised.value.errors)
    assert server.requests == []


def test_shard_plan_is_the_split() -> None:
    """What the Airflow DAG passes: the tap extracts exactly that shard's series."""
    with FakeWebex(series=bulk_series(24, 3, now=NOW), now=NOW) as server:
        config = config_for(server, end_date="2026-06-30T00:00:00Z")
        planned = sync({**config, "shard_plan": "1/3", "shard_index": 1}, run_start=NOW)
        by_settings = sync({**config, "shard_count": 3, "shard_index": 1}, run_start=NOW)
        everything = set(server.series_ids("alice@example.com"))
    series = set(planned.ids("meeting_series"))
    assert series == {s for s in everything if shard_of(s, 3) == 1}
    assert series == set(by_settings.ids("meeting_series"))
    assert set(planned.ids()) == set(by_settings.ids())


@pytest.mark.parametrize(
    ("settings", "told"),
    [
        ({"shard_count": 8}, "shard_count 8"),  # e.g. a worker's environment
        ({"shard_index": 2}, "shard_index 2"),  # e.g. a shard plugin copied without its index
        ({"shard_count": 8, "shard_index": 2}, "shard_index 2 and shard_count 8"),
    ],
)
def test_a_split_other_than_the_plan_stops_the_tap(settings: dict[str, int], told: str) -> None:
    with FakeWebex(now=NOW) as server, pytest.raises(ConfigValidationError) as raised:
        sync({**config_for(server), "shard_plan": "1/4", **settings}, run_start=NOW)
    assert raised.value.errors == [
        f"shard_plan: this run was planned as shard 1 of 4, but {told} set elsewhere disagree; "
        "unset them or make them agree: shards of one run split the series one way"
    ]
    assert server.requests == []


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        ("4", "shard_plan: '4' is not <shard_index>/<shard_count> (e.g. 1/4)"),
        ("4/4", "shard_plan: '4/4': the shard index must be 0 .. 3"),
        ("0/0", "shard_plan: '0/0': the shard count must be 1 or more"),
    ],
)
def test_a_malformed_shard_plan_stops_the_tap(plan: str, error: str) -> None:
    with FakeWebex(now=NOW) as server, pytest.raises(ConfigValidationError) as raised:
        sync({**config_for(server), "shard_plan": plan}, run_start=NOW)
    assert raised.value.errors == [error]
    assert server.requests == []
