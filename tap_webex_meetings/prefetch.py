"""Fetch several series at once, hand their records over one series at a time, in order.

singer-sdk syncs child partitions one after the other on one thread. When Webex is slow,
most of that time is spent waiting for responses, so :class:`Prefetcher` runs the requests
of the next few series on worker threads while the main thread writes the current one. The
main thread still sees each series' records together and in order, and it alone touches
the state, so bookmarks stay exactly as in a sequential run. Each series buffers a few
chunks at most, and workers start at most ``2 x workers`` series ahead of the one being
written: memory grows neither with the number of records nor with the number of series.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

R = TypeVar("R")

CHUNK = 100  # records handed over at once: about one page
_POLL = 0.2  # seconds between checks of whether a blocked worker should give up


@dataclass(frozen=True)
class _End:
    """Marks the end of a job's output; ``value`` is what its producer returned."""

    value: Any = None


_STOP = "\x00stop"  # the key of the job that tells a worker thread to return


@dataclass
class _Job(Generic[R]):
    key: str
    produce: Callable[[], Iterable[R]]
    output: queue.Queue[list[R] | BaseException | _End]
    abandoned: threading.Event = field(default_factory=threading.Event)
    holds_permit: bool = False  # started, and counted against the jobs allowed ahead


class Prefetcher(Generic[R]):
    """Runs producers on ``workers`` daemon threads, in the order they were submitted."""

    def __init__(
        self,
        workers: int,
        ahead: int,
        chunks_ahead: int = 4,
        on_wait: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_wait`` runs whenever the consumer is about to wait for a worker (the output
        is flushed then, so a loader is not kept waiting while the tap waits for Webex)."""
        self._on_wait = on_wait
        self._workers = workers
        self._chunks_ahead = chunks_ahead
        self._pending: queue.Queue[_Job[R]] = queue.Queue()
        self._jobs: dict[str, _Job[R]] = {}
        self._order: list[str] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # A worker takes a permit before it takes a job; the job gives it back when its
        # consumer is done with it (or abandons it). Jobs are taken in submission order,
        # so the job the consumer waits for always started before any later one.
        self._permits = threading.Semaphore(ahead)

    def submit(self, key: str, produce: Callable[[], Iterable[R]]) -> None:
        """Start fetching ``produce()`` for ``key`` as soon as a worker is free."""
        job: _Job[R] = _Job(key, produce, queue.Queue(maxsize=self._chunks_ahead))
        with self._lock:
            self._jobs[key] = job
            self._order.append(key)
            if len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._work, name=f"prefetch-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._pending.put(job)

    def take(self, key: str) -> Generator[R, None, Any] | None:
        """The records of ``key``, then what its producer returned (raising what it raised),
        or None if never submitted.

        Jobs submitted before ``key`` and not taken are abandoned, so a skipped series can
        never hold a worker.
        """
        with self._lock:
            job = self._jobs.pop(key, None)
            if job is None:
                return None
            position = self._order.index(key)
            skipped, self._order = self._order[:position], self._order[position + 1 :]
            abandoned = [self._jobs.pop(earlier) for earlier in skipped]
        for earlier_job in abandoned:
            earlier_job.abandoned.set()
            self._release(earlier_job)
        return self._drain(job)

    def close(self, timeout: float = 1.0) -> None:
        """Abandon every job not taken and stop the threads (a request in flight ends first).

        Waits up to ``timeout`` seconds in all; a thread still waiting on Webex then is a
        daemon and ends with the process.
        """
        with self._lock:
            abandoned = list(self._jobs.values())
            self._jobs.clear()
            self._order.clear()
            threads, self._threads = self._threads, []
        for job in abandoned:
            job.abandoned.set()
            self._release(job)
        for _ in threads:
            self._permits.release()  # a stopping worker may wait for a permit first
            self._pending.put(_Job(_STOP, lambda: (), queue.Queue()))
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _release(self, job: _Job[R]) -> None:
        """Give the job's permit back, once, whoever is done with it first."""
        with self._lock:
            if not job.holds_permit:
                return
            job.holds_permit = False
        self._permits.release()

    def _drain(self, job: _Job[R]) -> Generator[R, None, Any]:
        try:
            while True:
                try:
                    item = job.output.get_nowait()
                except queue.Empty:
                    self._on_wait()
                    item = job.output.get()
                if isinstance(item, _End):
                    return item.value
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            job.abandoned.set()  # consumer done, stopped early or failed: free the worker
            self._release(job)

    def _work(self) -> None:
        while True:
            self._permits.acquire()
            job = self._pending.get()
            if job.key == _STOP:
                return
            with self._lock:
                job.holds_permit = True
            if job.abandoned.is_set():
                self._release(job)
                continue
            try:
                self._run(job)
            except Exception as exc:  # handed to the consumer, raised there
                self._put(job, exc)
            if job.abandoned.is_set():
                self._release(job)

    def _run(self, job: _Job[R]) -> None:
        chunk: list[R] = []
        produced = iter(job.produce())
        while True:
            try:
                chunk.append(next(produced))
            except StopIteration as end:  # a generator's return value travels last
                if self._put(job, chunk):
                    self._put(job, _End(end.value))
                return
            if len(chunk) >= CHUNK:
                if not self._put(job, chunk):
                    return
                chunk = []

    @staticmethod
    def _put(job: _Job[R], item: list[R] | BaseException | _End) -> bool:
        """Hand over ``item``; False when the consumer has abandoned the job."""
        while not job.abandoned.is_set():
            try:
                job.output.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False
