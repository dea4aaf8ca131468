"""IndexedStateManager: a series' partition found by key, a finished one moved out, and the
index always what the SDK's ``partitions`` list (the one STATE messages carry) says."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

from tap_webex_meetings.state import IndexedStateManager

RUN_START = datetime(2026, 6, 15, 5, tzinfo=timezone.utc)


def manager(tap_state: dict[str, Any] | None = None) -> IndexedStateManager:
    return IndexedStateManager(
        tap_name="tap-webex-meetings",
        stream_name="series_meetings",
        tap_state={} if tap_state is None else tap_state,
        state_partitioning_keys=["meetingSeriesId"],
    )


def context(series_id: str) -> dict[str, Any]:
    """What the parent stream hands its child: more than the partition key."""
    return {"meetingSeriesId": series_id, "hostEmail": "bob@example.com"}


def partitions_of(tap_state: dict[str, Any]) -> list[dict[str, Any]]:
    partitions: list[dict[str, Any]] = tap_state["bookmarks"]["series_meetings"]["partitions"]
    return partitions


def assert_index_agrees(states: IndexedStateManager) -> None:
    """Each partition of the list is found under its own key, and nothing else is."""
    listed = states.partitions()
    keys = [p["context"]["meetingSeriesId"] for p in listed]
    assert len(keys) == len(set(keys)), "one partition per series"
    for partition in listed:
        assert states.find(partition["context"]) is partition


def test_a_partition_is_created_once_and_found_by_its_key() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    assert states.find(context("a")) is None
    assert states.partitions() == [], "find never creates"

    created = states.get_context_state(context("a"))
    created["replication_key_value"] = "2026-06-15T12:00:00+00:00"

    assert created == {
        "context": {"meetingSeriesId": "a"},
        "replication_key_value": "2026-06-15T12:00:00+00:00",
    }
    assert states.get_context_state(context("a")) is created
    assert states.find({"meetingSeriesId": "a"}) is created
    assert partitions_of(tap_state) == [created], "the SDK's own list, where STATE finds it"


def test_partitions_of_a_saved_state_are_found() -> None:
    saved = {
        "bookmarks": {
            "series_meetings": {
                "partitions": [
                    {"context": {"meetingSeriesId": s}, "replication_key_value": f"2026-0{n}"}
                    for n, s in enumerate("abc", start=1)
                ]
            }
        }
    }
    states = manager(saved)
    found = states.find(context("b"))
    assert found is not None
    assert found["replication_key_value"] == "2026-02"
    assert states.get_context_state(context("c")) is partitions_of(saved)[2]
    assert len(partitions_of(saved)) == 3


def test_a_finished_series_leaves_the_partitions_for_finished_when_finalized() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    for series_id in "abcd":
        states.get_context_state(context(series_id))["replication_key_value"] = series_id

    states.retire(context("b"), "b", RUN_START)
    assert states.find(context("b")) is not None, "moved only once the SDK finalizes it"
    states.finalize_state(states.get_context_state(context("a")))  # another series: stays
    states.finalize_state(states.get_context_state(context("b")))

    stream_state = tap_state["bookmarks"]["series_meetings"]
    assert sorted(p["context"]["meetingSeriesId"] for p in stream_state["partitions"]) == [
        "a",
        "c",
        "d",
    ]
    assert stream_state["finished"] == {"20260615T050000Z": ["b"]}
    assert states.find(context("b")) is None
    assert "b" in states.finished
    assert_index_agrees(states)


def test_the_index_follows_many_adds_and_moves() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    rng = random.Random(7)
    live: set[str] = set()
    retired: list[str] = []
    for step in range(600):
        series_id = f"s{rng.randrange(200)}"
        if series_id in live and rng.random() < 0.5:
            states.retire(context(series_id), series_id, RUN_START)
            states.finalize_state(states.get_context_state(context(series_id)))
            live.discard(series_id)
            retired.append(series_id)
        else:
            states.get_context_state(context(series_id))["n"] = step
            live.add(series_id)
        if step % 50 == 0:
            assert_index_agrees(states)
    assert_index_agrees(states)
    assert {p["context"]["meetingSeriesId"] for p in partitions_of(tap_state)} == live
    finished = tap_state["bookmarks"]["series_meetings"]["finished"]["20260615T050000Z"]
    assert finished == retired


def test_a_replaced_partitions_list_is_indexed_again() -> None:
    """The SDK (or a state reset) may put a new list in place: lookups follow it."""
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    states.get_context_state(context("a"))
    replacement: list[dict[str, Any]] = [
        {"context": {"meetingSeriesId": "z"}, "replication_key_value": "x"}
    ]
    tap_state["bookmarks"]["series_meetings"]["partitions"] = replacement
    assert states.find(context("a")) is None
    assert states.find(context("z")) is replacement[0]
    states.get_context_state(context("y"))
    assert [p["context"]["meetingSeriesId"] for p in replacement] == ["z", "y"]
    assert_index_agrees(states)
