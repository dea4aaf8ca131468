"""A monotonic clock and a sleep that move only when a test says: timing without waiting."""

from __future__ import annotations

import threading

# Longest a test waits for threads to reach a sleep or leave it: only ever hit by a bug.
PATIENCE_SECONDS = 10.0


class StepClock:
    """A clock that moves ``step`` seconds each time it is read: no real waiting."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class FakeClock:
    """``clock()`` reads the time; ``sleep`` blocks its thread until :meth:`advance` passes
    its wake-up time (with ``advance_on_sleep``, a sleep moves the clock itself, at once).

    Every sleep is recorded, in the order threads started them.
    """

    def __init__(self, start: float = 1000.0, *, advance_on_sleep: bool = False) -> None:
        self._now = start
        self._advance_on_sleep = advance_on_sleep
        self._changed = threading.Condition()
        self.sleeps: list[float] = []
        self.awake = 0  # sleeps that have ended

    def __call__(self) -> float:
        with self._changed:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._changed:
            self.sleeps.append(seconds)
            wake_at = self._now + seconds
            if self._advance_on_sleep:
                self._now = max(self._now, wake_at)
            self._changed.notify_all()
            if not self._changed.wait_for(lambda: self._now >= wake_at, PATIENCE_SECONDS):
                raise AssertionError(f"a sleep of {seconds} s was never woken")
            self.awake += 1
            self._changed.notify_all()

    def advance(self, seconds: float) -> None:
        with self._changed:
            self._now += seconds
            self._changed.notify_all()

    def wait_for_sleepers(self, count: int) -> None:
        """Until ``count`` sleeps have begun (from any thread)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.sleeps) >= count, PATIENCE_SECONDS):
                raise AssertionError(f"{len(self.sleeps)} sleeps began, not {count}")

    def wait_for_awake(self, count: int) -> None:
        """Until ``count`` sleeps have ended."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.awake >= count, PATIENCE_SECONDS):
                raise AssertionError(f"{self.awake} sleeps ended, not {count}")
