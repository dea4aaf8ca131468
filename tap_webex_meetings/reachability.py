"""Why a request reached no server, in words a user can act on: the host and the cause.

requests says ``ConnectionError`` for a name that does not resolve, a refused port, a TLS
handshake that failed and a firewall that drops everything alike, and its message is a
nest of urllib3 reprs. :func:`unreachable` names the cause from the error's roots. A host
that has answered once this run is known to be there: a timeout from it is a slow
response, not an unreachable host, and its failures are passing ones (``answered_before``).
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
from collections.abc import Hashable
from typing import TypeVar

import requests

_E = TypeVar("_E", bound=BaseException)
_NETWORK_DOWN = {errno.ENETUNREACH: "the network is unreachable", errno.EHOSTUNREACH: "no route"}


class UnreachableError(requests.exceptions.ConnectionError):
    """No server answered: the message names the URL, its host and the cause.

    ``refused``: nothing listens there; ``answered_before``: the origin answered earlier in
    this run (then it is a passing failure); ``failures``: failures so far of an origin
    that never answered. retries.py decides from these when to stop trying.
    """

    def __init__(
        self, url: str, cause: str, *, refused: bool, answered_before: bool, failures: int
    ) -> None:
        super().__init__(f"Could not connect to {url}: {cause}")
        self.refused = refused
        self.answered_before = answered_before
        self.failures = failures


class Answers:
    """Which origins answered this run, and how often the others failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answered: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}

    def answered(self, origin: Hashable) -> None:
        if origin not in self._answered:  # a set read: no lock on the hot path
            with self._lock:
                self._answered.add(origin)

    def has_answered(self, origin: Hashable) -> bool:
        return origin in self._answered

    def failed(self, origin: Hashable) -> int:
        """Count one more failure of ``origin``; the count so far."""
        with self._lock:
            self._failures[origin] = self._failures.get(origin, 0) + 1
            return self._failures[origin]


ANSWERS = Answers()  # one run is one process


def unreachable(
    url: str,
    exc: requests.RequestException,
    origin: tuple[str, str, int],
    *,
    timeouts: tuple[float, float],
    silent: bool,
) -> UnreachableError | None:
    """``exc`` as an unreachable host, with its cause; None when a server was reached.

    ``timeouts``: (connect, read) seconds; ``silent``: the response's deadline passed. A
    timeout counts only for an origin that has not answered once this run.
    """
    host = origin[1]
    answered_before = ANSWERS.has_answered(origin)
    cause = _cause(exc, host, timeouts[0])
    if cause is None and not answered_before and (silent or isinstance(exc, requests.Timeout)):
        cause = (
            f"{host} sent no answer within request_timeout ({timeouts[1]:g} s); is api_url "
            "the Webex API, and is it reachable from here?"
        )
    if cause is None:
        return None
    return UnreachableError(
        url,
        cause,
        refused=_root(exc, ConnectionRefusedError) is not None,
        answered_before=answered_before,
        failures=0 if answered_before else ANSWERS.failed(origin),
    )


def _cause(exc: requests.RequestException, host: str, connect_timeout: float) -> str | None:
    """Why no connection to ``host`` was made, in words; None when one was made."""
    if (dns := _root(exc, socket.gaierror)) is not None:
        return (
            f"the host name {host} does not resolve (DNS: {dns.strerror}); check api_url "
            "and the network"
        )
    if _root(exc, ConnectionRefusedError) is not None:
        return "connection refused (check api_url)"
    if isinstance(exc, requests.exceptions.SSLError):
        tls = _root(exc, ssl.SSLError)
        reason = (tls.reason or tls.strerror or type(tls).__name__) if tls else "handshake failed"
        return (
            f"TLS with {host} failed ({reason}); check api_url's scheme and port, or, behind "
            "a proxy that intercepts TLS, set REQUESTS_CA_BUNDLE to its CA"
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection to {host} within {connect_timeout:g} s (a firewall, or no network?)"
    down = _root(exc, OSError)
    if down is not None and down.errno in _NETWORK_DOWN:
        return f"{_NETWORK_DOWN[down.errno]} to {host}; check the network"
    return None


def _root(exc: BaseException, kind: type[_E]) -> _E | None:
    """The error of type ``kind`` at the root of a ``requests`` error, if any."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        error = stack.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        stack += [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
    return None
