"""The rate gate: after a 429, every worker waits out the hold, no longer, and not twice."""

from __future__ import annotations

import threading

from tap_webex_meetings.retries import RateGate
from tests.fake_clock import FakeClock


def test_an_open_gate_lets_a_request_through_without_sleeping() -> None:
    clock = FakeClock()
    RateGate(clock, clock.sleep).wait()
    assert clock.sleeps == []


def test_a_hold_is_waited_out_exactly() -> None:
    clock = FakeClock(advance_on_sleep=True)
    gate = RateGate(clock, clock.sleep)
    gate.hold(2.5)
    gate.wait()
    assert clock.sleeps == [2.5]
    assert clock() == 1002.5


def test_a_hold_already_over_costs_nothing() -> None:
    clock = FakeClock()
    gate = RateGate(clock, clock.sleep)
    gate.hold(2.0)
    clock.advance(2.0)
    gate.wait()
    clock.advance(0.5)
    gate.wait()
    assert clock.sleeps == []


def test_a_shorter_hold_never_shortens_a_longer_one() -> None:
    clock = FakeClock(advance_on_sleep=True)
    gate = RateGate(clock, clock.sleep)
    gate.hold(10.0)
    clock.advance(1.0)
    gate.hold(2.0)  # another worker's 429 with a shorter Retry-After
    gate.wait()
    assert clock.sleeps == [9.0]


def test_every_waiting_worker_is_held_until_the_hold_ends() -> None:
    clock = FakeClock()
    gate = RateGate(clock, clock.sleep)
    gate.hold(3.0)
    passed: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        gate.wait()
        with lock:
            passed.append(clock())

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    clock.wait_for_sleepers(4)
    assert clock.sleeps == [3.0] * 4
    clock.advance(2.9)
    assert passed == [], "the hold is not over yet"
    clock.advance(0.1)
    for thread in workers:
        thread.join(timeout=10)
    assert passed == [1003.0] * 4


def test_a_hold_that_grows_while_workers_wait_keeps_them_waiting() -> None:
    clock = FakeClock()
    gate = RateGate(clock, clock.sleep)
    gate.hold(2.0)
    waiter = threading.Thread(target=gate.wait)
    waiter.start()
    clock.wait_for_sleepers(1)
    clock.advance(1.0)
    gate.hold(5.0)  # a second 429 during the first hold: until 1006
    clock.advance(1.0)  # the first sleep ends at 1002; the gate is still held
    clock.wait_for_sleepers(2)
    assert clock.sleeps == [2.0, 4.0]
    clock.advance(4.0)
    waiter.join(timeout=10)
    assert not waiter.is_alive()
