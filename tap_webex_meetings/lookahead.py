"""Who reads ahead: the series being fetched while an earlier one is written.

singer-sdk syncs a parent stream's record, then the child stream's partition for it, one
after the other on the main thread. :class:`ReadAhead` lets the child's requests for the
next series start early, each stream doing its own part:

- the parent passes its records through :meth:`ReadAhead.hold`, which hands each one to the
  SDK only once :attr:`ReadAhead.ahead` later ones were found, and queues the partition of
  each (``context_of``);
- the child, whenever it syncs a partition, takes the partitions found since
  (:meth:`ReadAhead.found`), plans each on the main thread and submits its listing to the
  pool (:meth:`ReadAhead.submit`), then takes its own (:meth:`ReadAhead.take`).

The pool's threads live inside :meth:`ReadAhead.running` (around the parent's records), so
no thread outlives the sync, however it ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from tap_webex_meetings.prefetch import Prefetcher

T = TypeVar("T")

Context = Mapping[str, Any]


class ReadAhead:
    """The read-ahead of one run: ``2 x workers`` partitions, fetched by ``workers`` threads."""

    def __init__(self) -> None:
        self._pool: Prefetcher[Any] | None = None
        self._found: deque[Context] = deque()
        self.ahead = 0

    @contextmanager
    def running(self, workers: int, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
        """``workers`` threads, ``2 x workers`` partitions ahead at most, stopped at the end;
        ``on_wait`` before the main thread waits for one (see :class:`Prefetcher`)."""
        self.ahead = 2 * workers
        pool: Prefetcher[Any] = Prefetcher(workers, ahead=self.ahead, on_wait=on_wait)
        self._pool = pool
        try:
            yield
        finally:
            self._pool, self.ahead = None, 0
            self._found.clear()
            pool.close()

    def hold(self, records: Iterable[T], context_of: Callable[[T], Context | None]) -> Iterator[T]:
        """``records`` in order, each passed on once ``ahead`` later ones were found.

        ``context_of`` gives a record's partition (None: nothing to fetch for it). The
        records held back are all the memory this costs: it does not grow with the run.
        """
        held: deque[T] = deque()
        for record in records:
            context = context_of(record)
            if context is not None and self._pool is not None:
                self._found.append(context)
            held.append(record)
            if len(held) > self.ahead:
                yield held.popleft()
        yield from held

    def found(self) -> list[Context]:
        """The partitions found since the last call, in order (to plan and submit)."""
        found = list(self._found)
        self._found.clear()
        return found

    def submit(self, key: str, fetch: Callable[[], Generator[Any, None, Any]]) -> None:
        """Start ``fetch`` for ``key`` as soon as a worker is free (inline when not running)."""
        if self._pool is not None:
            self._pool.submit(key, fetch)

    def take(self, key: str) -> Generator[Any, None, Any] | None:
        """What is fetched for ``key``, or None if it was never submitted."""
        return self._pool.take(key) if self._pool is not None else None

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
