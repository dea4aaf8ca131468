"""LookAhead: the read ahead between a parent stream's records and its child's partitions."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from tap_webex_meetings.lookahead import Consumer, LookAhead


class Child:
    """A consumer that records what was planned and fetched, on which thread."""

    def __init__(self, *, wanted: bool = True, empty: frozenset[str] = frozenset()) -> None:
        self.planned: list[str] = []
        self.fetched: list[tuple[str, str]] = []  # (key, thread name)
        self.lock = threading.Lock()
        self._wanted = wanted
        self._empty = empty
        self.release = threading.Event()
        self.release.set()

    def consumer(self) -> Consumer[str, str]:
        return Consumer(
            key=lambda context: context["id"],
            plan=self.plan,
            fetch=self.fetch,
            wanted=lambda: self._wanted,
        )

    def plan(self, context: Any) -> str | None:
        self.planned.append(context["id"])
        return None if context["id"] in self._empty else f"plan-{context['id']}"

    def fetch(self, plan: str) -> Generator[str, None, None]:
        key = plan.removeprefix("plan-")
        with self.lock:
            self.fetched.append((key, threading.current_thread().name))
        self.release.wait(5)
        yield from (f"{key}-{n}" for n in range(3))


def records(count: int) -> list[dict[str, str]]:
    return [{"id": f"s{n}"} for n in range(count)]


def test_records_pass_in_order_each_after_ahead_later_ones_were_found() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    child = Child()
    look_ahead.serve(child.consumer())
    passed: list[tuple[str, list[str]]] = []
    with look_ahead.running(workers=2):
        for record in look_ahead.hold(records(10), lambda r: r):
            passed.append((record["id"], list(child.planned)))
            taken = look_ahead.take(record)
            assert taken is not None
            plan, items = taken
            assert plan == f"plan-{record['id']}"
            assert list(items) == [f"{record['id']}-{n}" for n in range(3)]
    assert [key for key, _ in passed] == [f"s{n}" for n in range(10)]
    # s0 passes once s0..s4 were found (ahead = 2 x 2 = 4 later ones); the last ones at the end.
    assert passed[0][1] == ["s0", "s1", "s2", "s3", "s4"]
    assert passed[5][1] == [f"s{n}" for n in range(10)]
    # Fetched on the pool's threads, each partition once.
    assert sorted(key for key, _ in child.fetched) == [f"s{n}" for n in range(10)]
    assert all(name.startswith("prefetch-") for _, name in child.fetched)


def test_no_more_than_ahead_partitions_start_before_one_is_taken() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    child = Child()
    child.release.clear()  # every fetch blocks until released
    look_ahead.serve(child.consumer())
    with look_ahead.running(workers=2):
        held = look_ahead.hold(records(20), lambda r: r)
        first = next(held)  # found 5, fetching; nothing taken yet
        with child.lock:
            started = len(child.fetched)
        assert started <= 2  # two threads
        child.release.set()
        taken = look_ahead.take(first)
        assert taken is not None
        assert list(taken[1]) == ["s0-0", "s0-1", "s0-2"]
        with child.lock:
            started = len(child.fetched)
        assert started <= look_ahead.ahead + 1
        for record in held:
            taken = look_ahead.take(record)
            assert taken is not None
            list(taken[1])


def test_threads_stop_when_the_run_ends_even_when_it_fails() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    child = Child()
    look_ahead.serve(child.consumer())
    before = set(threading.enumerate())

    def run() -> None:
        with look_ahead.running(workers=3):
            for record in look_ahead.hold(records(8), lambda r: r):
                taken = look_ahead.take(record)
                assert taken is not None
                list(taken[1])
                if record["id"] == "s2":
                    raise RuntimeError("loader went away")

    with pytest.raises(RuntimeError, match="loader went away"):
        run()
    started = set(threading.enumerate()) - before
    assert [t.name for t in started if t.is_alive()] == []


def test_a_partition_never_found_or_not_wanted_is_planned_and_fetched_when_taken() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    child = Child(wanted=False)
    look_ahead.serve(child.consumer())
    with look_ahead.running(workers=2):
        for record in look_ahead.hold(records(3), lambda r: r):
            assert child.fetched == [] or child.fetched[-1][0] < record["id"]
            taken = look_ahead.take(record)
            assert taken is not None
            assert list(taken[1]) == [f"{record['id']}-{n}" for n in range(3)]
    assert [name for _, name in child.fetched] == ["MainThread"] * 3
    assert child.planned == ["s0", "s1", "s2"]


def test_nothing_to_fetch_and_records_without_a_partition() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    child = Child(empty=frozenset({"s1"}))
    look_ahead.serve(child.consumer())
    with look_ahead.running(workers=1):
        passed = list(look_ahead.hold(records(3), lambda r: None if r["id"] == "s2" else r))
        assert look_ahead.take({"id": "s1"}) is None  # planned empty: nothing fetched
    assert [r["id"] for r in passed] == ["s0", "s1", "s2"]
    assert child.planned == ["s0", "s1"]  # s2 has no partition: never planned
    assert "s1" not in {key for key, _ in child.fetched}


def test_one_consumer_only() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    look_ahead.serve(Child().consumer())
    with pytest.raises(RuntimeError, match="one child stream"):
        look_ahead.serve(Child().consumer())


def test_each_gives_results_in_the_keys_order_from_the_pool() -> None:
    look_ahead: LookAhead[str, str] = LookAhead()
    threads: dict[str, str] = {}

    def fetch(key: str) -> Iterator[str]:
        threads[key] = threading.current_thread().name
        yield key.upper()

    with look_ahead.running(workers=3):
        assert list(look_ahead.each(["b", "a", "c"], fetch)) == ["B", "A", "C"]
    assert all(name.startswith("prefetch-") for name in threads.values())
