"""Every request's way out: to ``api_url``'s origin only, within ``request_timeout``.

:class:`WebexSession` is the ``requests.Session`` of every stream and of the OAuth token
refresh. requests follows redirects and ``Link`` URLs anywhere: it drops ``Authorization``
when the host changes, but sends the ``password`` header and a POSTed form (the client
secret) along. So every request, and every hop of a redirect (requests sends those through
:meth:`WebexSession.send` too), is checked against the origin first and refused when it
leaves it: nothing is sent there and nothing from there is read.

``requests``' timeout bounds each socket read, not the response: a body trickled one byte
at a time never times out. A :class:`_Watchdog` thread shuts the socket of a request down
when its deadline passes, which ends a blocked read at once; the request then fails as a
:class:`DeadlineExceeded` timeout, which the SDK's retry loop retries like any timeout.

Nor does anything bound a body's size: requests reads (and un-gzips) the whole of it into
memory. Every body is read here instead, decoded as it streams, and the response is refused
once it passes :data:`MAX_RESPONSE_BYTES` (a 1 MB gzip bomb never becomes 1 GiB).

A request that reaches no server at all fails as reachability.py says: naming the host and
the cause; how often it is tried again is the retry policy's (retries.py).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from typing_extensions import override
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tap_webex_meetings import reachability, webex
from tap_webex_meetings.errors import ForeignOriginError, ResponseTooLargeError

Origin = tuple[str, str, int]
DEFAULT_PORTS = {"http": 80, "https": 443}
# Largest body read, decoded. A Webex page of 100 full meetings is about 0.3 MB.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_READ_CHUNK = 64 * 1024
# A TCP connection that takes longer than this is not coming (the read may take longer).
CONNECT_TIMEOUT = 15.0


def origin_of(url: str) -> Origin | None:
    """``(scheme, host, port)`` of ``url`` (host lower-cased, default port filled in)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def without_query(url: str) -> str:
    """``url`` up to its path: what a message names (the query may hold an email)."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """No complete response within ``request_timeout``, however slowly it trickled."""


class WebexSession(requests.Session):
    """A session that talks to one origin only, each response within a total deadline."""

    def __init__(self, api_url: str, timeout: float, adapter: HTTPAdapter | None = None) -> None:
        super().__init__()
        origin = origin_of(api_url)
        if origin is None:
            raise ValueError(f"api_url {api_url!r} has no http(s) origin")
        self._origin = origin
        self._origin_url = f"{origin[0]}://{urlsplit(api_url).netloc}"
        self._timeout = timeout
        # requests reads the CA bundle of the environment in Session.request, which the SDK
        # bypasses (it calls send): a corporate TLS proxy's CA must work all the same.
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self.verify = bundle or True
        adapter = adapter or _DeadlineAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Refuse another origin; bound the whole exchange (redirects included) in time."""
        url = request.url or ""
        if origin_of(url) != self._origin:
            raise ForeignOriginError(url, self._origin_url)
        if getattr(_current, "flight", None) is not None:  # a redirect hop: already bounded
            return super().send(request, **kwargs)
        flight = _Flight()
        _current.flight = flight
        _WATCHDOG.arm(time.monotonic() + self._timeout, flight)
        kwargs["timeout"] = (min(CONNECT_TIMEOUT, self._timeout), self._timeout)
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as exc:
            unreachable = reachability.unreachable(
                without_query(url),
                exc,
                self._origin,
                timeouts=kwargs["timeout"],
                silent=flight.expired,
            )
            if unreachable is not None:
                raise unreachable from None
            if flight.expired:
                raise self._exceeded(url) from None
            raise
        finally:
            flight.finish()
            _current.flight = None
        if flight.expired:  # a body cut short by the shutdown may look complete
            response.close()
            raise self._exceeded(url)
        return response

    def _exceeded(self, url: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no complete response from {without_query(url)} within request_timeout "
            f"({self._timeout:g} s)"
        )


# The total deadline ----------------------------------------------------------------------

_current = threading.local()  # the request in flight on this thread (sessions are per thread)


class _Flight:
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
        with self._lock:
            self._done = True
            self._socket = None


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread for the whole process that expires flights at their deadline."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Flight]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, flight: _Flight) -> None:
        with self._condition:
            heapq.heappush(self._heap, (deadline, next(self._order), flight))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
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


_WATCHDOG = _Watchdog()


def _attach_current(sock: socket.socket | None) -> None:
    flight: _Flight | None = getattr(_current, "flight", None)
    if flight is not None:
        flight.attach(sock)


class _Watched:
    """Tells the request in flight which socket it reads (kept if the connection closes).

    Mixed into urllib3's http and https connections alike.
    """

    sock: socket.socket | None

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        _attach_current(self.sock)

    def getresponse(self) -> Any:
        _attach_current(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    """An http connection whose socket the deadline watchdog can reach."""


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    """The same for https."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that report their socket to the watchdog, and
    bodies read within :data:`MAX_RESPONSE_BYTES`.

    The body is read here, not by ``Session.send``, because requests reads the body of a
    redirect before the session sees it: every hop is capped too.
    """

    @override
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """The response with its body read, decoded, and refused past the cap."""
        response = super().send(
            request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        if origin := origin_of(request.url or ""):
            reachability.ANSWERS.answered(origin)  # headers came: it is there, however slow
        if not stream:
            _read_body(response)
        return response

    @override
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    @override
    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def _read_body(response: requests.Response) -> None:
    """Read the body into ``response.content``, counting decoded bytes as they arrive.

    urllib3 (2.6 and later) inflates a compressed body only as far as each read asks, so
    memory stays near the cap whatever the compression ratio.
    """
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_READ_CHUNK):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            url = without_query(response.url)
            raise ResponseTooLargeError(
                url, webex.subject_of(response.url), MAX_RESPONSE_BYTES // (1024 * 1024)
            )
        chunks.append(chunk)
    # requests' own cache of the body (what Response.content reads first): there is no
    # public way to hand it a body read elsewhere.
    response._content = b"".join(chunks)  # noqa: SLF001
