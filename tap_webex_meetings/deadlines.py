"""Each request's total deadline: a watchdog thread shuts its socket down when it passes.

``requests``' timeout bounds each socket read, not the response: a body trickled a byte at
a time never times out. Connections made by the :data:`POOLS` report their socket to the
:class:`Flight` of the request in flight on their thread; the watchdog expires flights at
their deadline, which ends a blocked read at once.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the request in flight on this thread (sessions are per thread)


class Flight:
    """One request in flight: the socket it reads from, and whether its deadline passed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._done = False
        self.expired = False

    def attach(self, sock: socket.socket | None) -> None:
        """The socket the request uses now; shut at once if the deadline already passed."""
        with self._lock:
            self._socket = sock
            expired = self.expired and not self._done
        if expired:
            _shut(sock)

    def expire(self) -> None:
        """The deadline passed: end whatever read is blocked on the socket."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = self._socket
        _shut(sock)

    def finish(self) -> None:
        """The request is over (answered or not): nothing to expire any more."""
        with self._lock:
            self._done = True
            self._socket = None
        _current.flight = None


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the whole process that expires flights at their deadline."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Flight]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, flight: Flight) -> None:
        """Woken only when ``deadline`` is the earliest: deadlines mostly come in order, and
        waking a thread per request costs more than the request's own work."""
        with self._condition:
            earliest = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._order), flight))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            if earliest:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap:
                    self._condition.wait()
                deadline, _, flight = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
            flight.expire()  # a finished flight ignores it


WATCHDOG = _Watchdog()


def _attach(sock: socket.socket | None) -> None:
    flight: Flight | None = getattr(_current, "flight", None)
    if flight is not None:
        flight.attach(sock)


class _Watched:
    """Mixed into urllib3's connections: tells the request in flight which socket it reads."""

    sock: socket.socket | None

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        _attach(self.sock)

    def getresponse(self) -> Any:
        _attach(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    """An http connection whose socket the deadline watchdog can reach."""


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    """The same for https."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def start(seconds: float) -> Flight | None:
    """The flight of a request starting on this thread, due in ``seconds``; None when one is
    in flight already (a redirect hop: bounded by the request's own deadline)."""
    if getattr(_current, "flight", None) is not None:
        return None
    flight = _current.flight = Flight()
    WATCHDOG.arm(time.monotonic() + seconds, flight)
    return flight
