"""Who reads ahead: the series being fetched while an earlier one is written.

singer-sdk syncs a parent stream's record, then the child stream's partition for it, one
after the other on the main thread. :class:`LookAhead` lets the child's requests for the
next series start early without either stream knowing the other's internals:

- the parent hands each record it finds to :meth:`LookAhead.hold`, which passes it on to the
  SDK only once :attr:`LookAhead.ahead` later ones have been handed over, and meanwhile
  tells the consumer (:meth:`LookAhead.found`);
- the consumer (the child stream) registered how to plan a partition's query on the main
  thread and how to fetch it on a worker (:meth:`LookAhead.serve`), and takes the result
  when the SDK syncs that partition (:meth:`LookAhead.take`).

It owns the worker pool (:class:`~tap_webex_meetings.prefetch.Prefetcher`) and its threads'
lifetime: the tap makes one per run, and the parent stream runs its records inside
:meth:`LookAhead.running`, so no thread outlives the sync, however it ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from tap_webex_meetings.prefetch import Prefetcher

Q = TypeVar("Q")  # what the consumer plans for a partition on the main thread
R = TypeVar("R")  # what its fetch yields on a worker
T = TypeVar("T")

Context = Mapping[str, Any]


@dataclass(frozen=True)
class Consumer(Generic[Q, R]):
    """How a child stream's partition is planned (main thread) and fetched (a worker)."""

    key: Callable[[Context], str]  # the partition's key, e.g. its series id
    plan: Callable[[Context], Q | None]  # None: nothing to fetch (an empty range)
    fetch: Callable[[Q], Generator[R, None, Any]]  # records, then the outcome
    wanted: Callable[[], bool]  # the stream is selected: worth fetching ahead


class LookAhead(Generic[Q, R]):
    """The look-ahead of one run: ``2 x workers`` partitions, fetched by ``workers`` threads."""

    def __init__(self) -> None:
        self._consumer: Consumer[Q, R] | None = None
        self._pool: Prefetcher[Any] | None = None
        self._planned: dict[str, Q | None] = {}
        self.ahead = 0

    @contextmanager
    def running(self, workers: int) -> Iterator[None]:
        """``workers`` threads, ``2 x workers`` partitions ahead at most, stopped at the end."""
        self.ahead = 2 * workers
        pool: Prefetcher[Any] = Prefetcher(workers, ahead=self.ahead)
        self._pool = pool
        try:
            yield
        finally:
            self._pool, self.ahead = None, 0
            self._planned.clear()
            pool.close()

    def serve(self, consumer: Consumer[Q, R]) -> None:
        """Register the one child stream that takes what is fetched ahead."""
        if self._consumer is not None:
            raise RuntimeError("LookAhead serves one child stream; a second one registered")
        self._consumer = consumer

    def hold(self, records: Iterable[T], context_of: Callable[[T], Context | None]) -> Iterator[T]:
        """``records`` in order, each passed on once ``ahead`` later ones were found.

        ``context_of`` gives a record's child context (None: nothing to fetch for it). The
        records held back are all the memory this costs: it does not grow with the run.
        """
        held: deque[T] = deque()
        for record in records:
            context = context_of(record)
            if context is not None:
                self.found(context)
            held.append(record)
            if len(held) > self.ahead:
                yield held.popleft()
        yield from held

    def found(self, context: Context) -> None:
        """Plan the partition now and start fetching it as soon as a worker is free."""
        consumer = self._consumer
        if consumer is None or self._pool is None or not consumer.wanted():
            return
        key = consumer.key(context)
        plan = self._planned[key] = consumer.plan(context)
        if plan is not None:
            self._pool.submit(key, partial(consumer.fetch, plan))

    def take(self, context: Context) -> tuple[Q, Generator[R, None, Any]] | None:
        """The partition's plan and what is fetched for it; None if there is nothing to fetch.

        A partition never found (or planned ahead) is planned and fetched now, inline.
        """
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("LookAhead.take before a consumer registered")
        key = consumer.key(context)
        plan = self._planned.pop(key) if key in self._planned else consumer.plan(context)
        if plan is None:
            return None
        fetched = self._pool.take(key) if self._pool is not None else None
        return plan, fetched if fetched is not None else consumer.fetch(plan)

    def each(self, keys: Iterable[str], fetch: Callable[[str], Iterable[T]]) -> Iterator[T]:
        """What ``fetch`` gives for each key, several keys at a time, in the keys' order.

        For lookups before the listing starts (configured series ids); they share the
        workers, and every one is taken before any partition is found.
        """
        keys = list(keys)
        pool = self._pool
        if pool is None:
            for key in keys:
                yield from fetch(key)
            return
        for key in keys:
            pool.submit(f"each:{key}", partial(fetch, key))
        for key in keys:
            yield from pool.take(f"each:{key}") or ()
