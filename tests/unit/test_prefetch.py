"""Prefetcher, through submit/take: records in order per series, a bounded look-ahead, a
worker's exception raised on the main thread for its series, abandoned work let go."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from functools import partial
from typing import TypeVar

import pytest

from tap_webex_meetings import prefetch
from tap_webex_meetings.prefetch import Prefetcher

T = TypeVar("T")
PATIENCE = 10.0  # seconds: only a bug makes a test wait this long
SETTLE = 0.3  # seconds given to workers that should not start, to show that they do not


def within(action: Callable[[], T], seconds: float = PATIENCE) -> T:
    """``action()``, or a failure (not a hung test) when it does not return in time."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(action())
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if failure:
        raise failure[0]
    return result[0]


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def records(key: str, count: int) -> Callable[[], Iterator[str]]:
    return lambda: (f"{key}-{n}" for n in range(count))


def endless(counter: list[int]) -> Callable[[], Iterator[int]]:
    def produce() -> Iterator[int]:
        while True:
            counter[0] += 1
            yield counter[0]

    return produce


def test_each_series_comes_whole_and_in_order_whoever_finishes_first() -> None:
    first_may_go = threading.Event()
    later_done = threading.Event()

    def slow_first() -> Iterator[str]:
        first_may_go.wait(PATIENCE)
        yield from (f"k0-{n}" for n in range(250))

    def second() -> Iterator[str]:
        yield from (f"k1-{n}" for n in range(250))
        later_done.set()

    prefetcher: Prefetcher[str] = Prefetcher(workers=3, ahead=6)
    prefetcher.submit("k0", slow_first)
    prefetcher.submit("k1", second)
    prefetcher.submit("k2", records("k2", 3))
    assert later_done.wait(PATIENCE), "k1 is fetched while k0 waits"
    first_may_go.set()

    for key, count in (("k0", 250), ("k1", 250), ("k2", 3)):
        taken = prefetcher.take(key)
        assert taken is not None
        assert within(partial(list, taken)) == [f"{key}-{n}" for n in range(count)]


def test_a_series_never_submitted_is_none() -> None:
    prefetcher: Prefetcher[str] = Prefetcher(workers=1, ahead=2)
    assert prefetcher.take("unknown") is None
    prefetcher.submit("k0", records("k0", 1))
    taken = prefetcher.take("k0")
    assert taken is not None
    assert list(taken) == ["k0-0"]
    assert prefetcher.take("k0") is None, "taken once"


def test_workers_start_at_most_ahead_series_before_one_is_taken() -> None:
    started: list[str] = []
    lock = threading.Lock()

    def producer(key: str) -> Callable[[], Iterator[str]]:
        def produce() -> Iterator[str]:
            with lock:
                started.append(key)
            yield key

        return produce

    def started_count_is(count: int) -> bool:
        with lock:
            return len(started) == count

    prefetcher: Prefetcher[str] = Prefetcher(workers=2, ahead=4)
    keys = [f"k{n}" for n in range(10)]
    for key in keys:
        prefetcher.submit(key, producer(key))
    wait_until(lambda: len(started) == 4)
    time.sleep(SETTLE)
    assert sorted(started) == keys[:4], "2 workers: 4 series ahead, the first ones"

    for position, key in enumerate(keys):
        taken = prefetcher.take(key)
        assert taken is not None
        assert within(partial(list, taken)) == [key]
        wait_until(partial(started_count_is, min(len(keys), position + 5)))  # one more may start
    assert sorted(started) == sorted(keys)


def test_a_series_buffers_a_few_chunks_at_most() -> None:
    produced = [0]
    prefetcher: Prefetcher[int] = Prefetcher(workers=1, ahead=2, chunks_ahead=2)
    prefetcher.submit("k0", endless(produced))
    wait_until(lambda: produced[0] >= 2 * prefetch.CHUNK)
    time.sleep(SETTLE)
    assert produced[0] <= 3 * prefetch.CHUNK, "two chunks waiting, the third being filled"

    taken = prefetcher.take("k0")
    assert taken is not None
    assert [next(taken) for _ in range(5 * prefetch.CHUNK)] == list(
        range(1, 5 * prefetch.CHUNK + 1)
    )
    del taken  # the consumer lets go of the series' records


def test_a_worker_failure_is_raised_on_the_main_thread_for_its_series_only() -> None:
    def failing() -> Iterator[str]:
        yield "k1-0"
        yield "k1-1"
        raise ValueError("Webex said no for k1")

    prefetcher: Prefetcher[str] = Prefetcher(workers=2, ahead=4)
    prefetcher.submit("k0", records("k0", 2))
    prefetcher.submit("k1", failing)
    prefetcher.submit("k2", records("k2", 2))

    k0 = prefetcher.take("k0")
    assert k0 is not None
    assert list(k0) == ["k0-0", "k0-1"]
    k1 = prefetcher.take("k1")
    assert k1 is not None
    with pytest.raises(ValueError, match="for k1"):  # here, in the thread that takes k1
        list(k1)
    k2 = prefetcher.take("k2")
    assert k2 is not None
    assert within(lambda: list(k2)) == ["k2-0", "k2-1"]


def test_a_skipped_series_lets_its_worker_go() -> None:
    produced = [0]
    prefetcher: Prefetcher[object] = Prefetcher(workers=1, ahead=2)
    prefetcher.submit("k0", endless(produced))  # never taken, never ends
    prefetcher.submit("k1", records("k1", 3))
    wait_until(lambda: produced[0] > 0)

    taken = prefetcher.take("k1")  # k0 is skipped: the one worker must drop it
    assert taken is not None
    assert within(lambda: list(taken)) == ["k1-0", "k1-1", "k1-2"]
    stopped_at = produced[0]
    time.sleep(SETTLE)
    assert produced[0] == stopped_at, "nothing reads k0 any more"
    assert prefetcher.take("k0") is None


def test_a_consumer_that_stops_early_lets_the_worker_go() -> None:
    produced = [0]
    prefetcher: Prefetcher[object] = Prefetcher(workers=1, ahead=2)
    prefetcher.submit("k0", endless(produced))
    prefetcher.submit("k1", records("k1", 2))
    taken = prefetcher.take("k0")
    assert taken is not None
    assert [next(taken) for _ in range(3)] == [1, 2, 3]
    del taken  # the stream stopped reading the series (e.g. it failed) and let go of it

    k1 = prefetcher.take("k1")
    assert k1 is not None
    assert within(lambda: list(k1)) == ["k1-0", "k1-1"]


def test_shutdown_leaves_no_worker_thread_running() -> None:
    before = set(threading.enumerate())
    prefetcher: Prefetcher[str] = Prefetcher(workers=3, ahead=6)
    for n in range(5):
        prefetcher.submit(f"k{n}", records(f"k{n}", 2))
    taken = prefetcher.take("k4")
    assert taken is not None
    assert list(taken) == ["k4-0", "k4-1"]
    prefetcher.close()
    wait_until(lambda: set(threading.enumerate()) <= before)


def test_what_a_producer_returns_comes_after_its_records() -> None:
    def listing() -> Generator[str, None, str]:
        yield from ("a", "b")
        return "outcome"

    pool: Prefetcher[str] = Prefetcher(workers=1, ahead=2)
    try:
        pool.submit("s", listing)
        taken = pool.take("s")
        assert taken is not None
        returned: list[str] = []

        def drain(listed: Generator[str, None, str]) -> Iterator[str]:
            returned.append((yield from listed))

        assert list(drain(taken)) == ["a", "b"]
        assert returned == ["outcome"]
    finally:
        pool.close()


def test_the_consumer_flushes_its_output_before_it_waits_for_a_worker() -> None:
    """What the tap wrote reaches the loader while the tap waits for Webex, not later."""
    release = threading.Event()
    flushes: list[bool] = []  # whether the worker had been let go when it happened

    def slow() -> Iterator[str]:
        yield "first"
        release.wait(PATIENCE)
        yield "second"

    pool: Prefetcher[str] = Prefetcher(1, ahead=2, on_wait=lambda: flushes.append(release.is_set()))
    pool.submit("s1", slow)
    drained = pool.take("s1")
    assert drained is not None
    timer = threading.Timer(SETTLE, release.set)
    timer.start()
    try:
        assert within(lambda: list(drained)) == ["first", "second"]
    finally:
        timer.cancel()
        pool.close()
    assert flushes[:1] == [False], "no flush before waiting for the worker"


def test_the_consumer_does_not_flush_when_nothing_is_to_wait_for() -> None:
    flushes: list[str] = []
    pool: Prefetcher[str] = Prefetcher(1, ahead=2, on_wait=lambda: flushes.append("flush"))
    pool.submit("s1", lambda: iter(["a", "b"]))
    time.sleep(SETTLE)  # the worker has handed everything over
    drained = pool.take("s1")
    assert drained is not None
    try:
        assert within(lambda: list(drained)) == ["a", "b"]
    finally:
        pool.close()
    assert flushes == [], "a flush per series where the records were there already"
