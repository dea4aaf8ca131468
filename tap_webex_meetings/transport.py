"""Every request's way out: to ``api_url``'s origin only, whole within ``request_timeout``.

- requests follows redirects and ``Link`` URLs anywhere and sends the ``password`` header
  and a POSTed form (the client secret) along: every request and redirect hop is checked
  against the origin first, and refused when it leaves it.
- requests' timeout bounds each socket read, not the response: a body trickled a byte at a
  time never ends. A watchdog thread shuts the socket down at the deadline, and the request
  fails as :class:`DeadlineExceeded`, retried like any timeout.
- Nothing bounds a body's size: every body is read here, decoded as it streams, and refused
  past :data:`MAX_RESPONSE_BYTES` (a 1 MB gzip bomb never becomes 1 GiB).

A request that reaches no server fails as reachability.py says (the host and the cause).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import resolve_proxies
from typing_extensions import override

from tap_webex_meetings import deadlines, reachability, webex
from tap_webex_meetings.errors import ForeignOriginError, ResponseTooLargeError
from tap_webex_meetings.webex import without_query

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
        # The environment is read once here, not by requests on every send (proxies, .netrc
        # and the CA bundle: a third of a request's CPU): the origin never changes. The CA
        # bundle must be read here anyway: the SDK calls send, which does not read it.
        self.proxies = resolve_proxies(requests.Request("GET", api_url).prepare(), {}, True)
        self.trust_env = False
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self.verify = (bundle if origin[0] == "https" else None) or True
        adapter = adapter or _DeadlineAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Refuse another origin; bound the whole exchange (redirects included) in time."""
        url = request.url or ""
        if origin_of(url) != self._origin:
            raise ForeignOriginError(url, self._origin_url)
        flight = deadlines.start(self._timeout)
        if flight is None:  # a redirect hop: already bounded
            return super().send(request, **kwargs)
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
        if flight.expired:  # a body cut short by the shutdown may look complete
            response.close()
            raise self._exceeded(url)
        return response

    def _exceeded(self, url: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no complete response from {without_query(url)} within request_timeout "
            f"({self._timeout:g} s)"
        )


class _DeadlineAdapter(HTTPAdapter):
    """Connections the watchdog can reach; bodies read within :data:`MAX_RESPONSE_BYTES`
    here, not in ``Session.send``: requests reads a redirect's body before the session."""

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
        self.poolmanager.pool_classes_by_scheme = deadlines.POOLS

    @override
    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = deadlines.POOLS
        return manager


def _read_body(response: requests.Response) -> None:
    """Read the body into ``response.content``, counting decoded bytes as they arrive
    (urllib3 2.6+ inflates only as far as each read asks: memory stays near the cap)."""
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
