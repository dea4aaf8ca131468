"""ReadAhead: the parent's records held back while the child fetches the partitions found."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from functools import partial
from typing import Any

import pytest

from tap_webex_meetings.lookahead import ReadAhead


class Child:
    """The child's part, as series_meetings does it: plan what was found, submit, take."""

    def __init__(self, read_ahead: ReadAhead, *, empty: frozenset[str] = frozenset()) -> None:
        self.read_ahead = read_ahead
        self.planned: list[str] = []
        self.fetched: list[tuple[str, str]] = []  # (key, thread name)
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self._empty = empty
        self._plans: dict[str, str | None] = {}

    def plan(self, context: Any) -> str | None:
        self.planned.append(context["id"])
        return None if context["id"] in self._empty else f"plan-{context['id']}"

    def fetch(self, plan: str) -> Generator[str, None, str]:
        key = plan.removeprefix("plan-")
        with self.lock:
            self.fetched.append((key, threading.current_thread().name))
        self.release.wait(5)
        yield from (f"{key}-{n}" for n in range(3))
        return f"outcome-{key}"

    def take(self, context: Any) -> list[str] | None:
        for found in self.read_ahead.found():
            plan = self._plans[found["id"]] = self.plan(found)
            if plan is not None:
                self.read_ahead.submit(found["id"], partial(self.fetch, plan))
        key = context["id"]
        plan = self._plans.pop(key) if key in self._plans else self.plan(context)
        if plan is None:
            return None
        listing = self.read_ahead.take(key) or self.fetch(plan)
        returned: list[str] = []

        def drain() -> Iterator[str]:
            returned.append((yield from listing))

        records = list(drain())
        assert returned == [f"outcome-{key}"], "the listing's outcome comes after its records"
        return records


def records(count: int) -> list[dict[str, str]]:
    return [{"id": f"s{n}"} for n in range(count)]


def test_records_pass_in_order_each_after_ahead_later_ones_were_found() -> None:
    read_ahead = ReadAhead()
    child = Child(read_ahead)
    passed: list[tuple[str, int]] = []
    with read_ahead.running(workers=2):
        for record in read_ahead.hold(records(10), lambda r: r):
            passed.append((record["id"], len(child.planned)))
            assert child.take(record) == [f"{record['id']}-{n}" for n in range(3)]
    assert [key for key, _ in passed] == [f"s{n}" for n in range(10)]
    # s0 passes once s0..s4 were found (ahead = 2 x 2 = 4 later ones), then they are planned.
    assert passed[0][1] == 0
    assert child.planned[:5] == ["s0", "s1", "s2", "s3", "s4"]
    assert sorted(child.planned) == [f"s{n}" for n in range(10)]
    # Fetched on the pool's threads, each partition once.
    assert sorted(key for key, _ in child.fetched) == [f"s{n}" for n in range(10)]
    assert all(name.startswith("prefetch-") for _, name in child.fetched)


def test_no_more_than_ahead_partitions_start_before_one_is_taken() -> None:
    read_ahead = ReadAhead()
    child = Child(read_ahead)
    child.release.clear()  # every fetch blocks until released
    with read_ahead.running(workers=2):
        held = read_ahead.hold(records(20), lambda r: r)
        first = next(held)  # found 5; nothing planned nor fetched until the child asks
        assert child.fetched == []
        child.release.set()
        assert child.take(first) == ["s0-0", "s0-1", "s0-2"]
        with child.lock:
            started = len(child.fetched)
        assert started <= read_ahead.ahead + 1
        for record in held:
            assert child.take(record) is not None


def test_threads_stop_when_the_run_ends_even_when_it_fails() -> None:
    read_ahead = ReadAhead()
    child = Child(read_ahead)
    before = set(threading.enumerate())

    def run() -> None:
        with read_ahead.running(workers=3):
            for record in read_ahead.hold(records(8), lambda r: r):
                child.take(record)
                if record["id"] == "s2":
                    raise RuntimeError("loader went away")

    with pytest.raises(RuntimeError, match="loader went away"):
        run()
    started = set(threading.enumerate()) - before
    assert [t.name for t in started if t.is_alive()] == []


def test_a_partition_never_found_is_planned_and_fetched_when_taken() -> None:
    read_ahead = ReadAhead()
    child = Child(read_ahead)
    for record in read_ahead.hold(records(3), lambda r: r):  # not running: no pool
        assert child.take(record) == [f"{record['id']}-{n}" for n in range(3)]
    assert [name for _, name in child.fetched] == ["MainThread"] * 3
    assert child.planned == ["s0", "s1", "s2"]


def test_nothing_to_fetch_and_records_without_a_partition() -> None:
    read_ahead = ReadAhead()
    child = Child(read_ahead, empty=frozenset({"s1"}))
    with read_ahead.running(workers=1):
        passed = list(read_ahead.hold(records(3), lambda r: None if r["id"] == "s2" else r))
        assert child.take({"id": "s1"}) is None  # planned empty: nothing fetched
    assert [r["id"] for r in passed] == ["s0", "s1", "s2"]
    assert child.planned == ["s0", "s1"]  # s2 has no partition: never planned
    assert "s1" not in {key for key, _ in child.fetched}


def test_each_gives_results_in_the_keys_order_from_the_pool() -> None:
    read_ahead = ReadAhead()
    threads: dict[str, str] = {}

    def fetch(key: str) -> Iterator[str]:
        threads[key] = threading.current_thread().name
        yield key.upper()

    with read_ahead.running(workers=3):
        assert list(read_ahead.each(["b", "a", "c"], fetch)) == ["B", "A", "C"]
    assert all(name.startswith("prefetch-") for name in threads.values())
