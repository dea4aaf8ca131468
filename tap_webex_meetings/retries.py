"""The retry policy: which failures are tried again, how long to wait, what to change.

The SDK's backoff loop runs it (the ``backoff_*`` hooks in client.py); this module decides.
Webex's ``Retry-After`` says how long, as seconds or an HTTP date (garbage such as
``rand(30),add(30)`` is seen in the wild: then exponential backoff); a repeated 504 asks
for smaller pages, as Webex advises. No wait is longer than ``retry_max_wait_seconds`` nor
:data:`MAX_WAIT_SECONDS`; a host that never answered gets a few quick tries
(:func:`give_up`). A 429 or 423 applies to the token: :class:`RateGate` holds every worker.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_webex_meetings import webex
from tap_webex_meetings.errors import AccessTokenExpiredError
from tap_webex_meetings.reachability import UnreachableError
from tap_webex_meetings.settings import MAX_SECONDS

# What the SDK's own loop retries (singer-sdk 0.54's list).
RETRIABLE: tuple[type[Exception], ...] = (
    ConnectionResetError,
    RetriableAPIError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# Smallest page a 504 may shrink a query to: below this, more requests cost more than they save.
MIN_PAGE_SIZE = 10
# The longest single wait, whatever Retry-After says: retry_max_wait_seconds' own maximum.
MAX_WAIT_SECONDS = float(MAX_SECONDS)
# Tries of a host that has not answered once this run (DNS, TLS, timeouts) before stopping.
UNREACHABLE_TRIES = 3


def give_up(exception: Exception) -> bool:
    """Whether to stop retrying before ``retry_max_tries``: a host that never answered.

    Refused at once (nothing listens there); other causes after :data:`UNREACHABLE_TRIES`
    failures of that host. A host that answered before is retried as usual.
    """
    if not isinstance(exception, UnreachableError) or exception.answered_before:
        return False
    return exception.refused or exception.failures >= UNREACHABLE_TRIES


def wait_before_retry(exception: Exception | None, attempt: int, max_wait: float) -> float:
    """``Retry-After`` when usable, else 1, 2, 4 s…; never more than ``max_wait``.

    An expired OAuth token is retried at once (the retry refreshes it).
    """
    max_wait = min(max_wait, MAX_WAIT_SECONDS)
    if isinstance(exception, AccessTokenExpiredError):
        return 0.0
    if isinstance(exception, RetriableAPIError) and exception.response is not None:
        retry_after = parse_retry_after(exception.response.headers.get("Retry-After"))
        if retry_after is not None:
            return min(retry_after, max_wait)
    return min(2.0 ** (attempt - 1), max_wait)


def jittered(value: float, max_wait: float) -> float:
    """Add up to 20 % (never less than the wait Webex asked for), within the bound."""
    max_wait = min(max_wait, MAX_WAIT_SECONDS)
    return min(value * (1 + 0.2 * random.random()), max(value, max_wait))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After: 120`` or an HTTP date (``now``: the wall clock, in
    tests a fixed instant); None when missing or garbage."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" and other scripts' digits are digits too
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def shrink_page_size(request: requests.PreparedRequest) -> str:
    """Halve ``max`` of the request about to be retried; later pages follow its links."""
    parts = urlsplit(request.url or "")
    params = dict(parse_qsl(parts.query))
    try:
        size = int(params.get("max", webex.MAX_PAGE_SIZE))
    except ValueError:
        size = webex.MAX_PAGE_SIZE
    smaller = max(MIN_PAGE_SIZE, size // 2)
    if smaller == size:
        return f"page size already {size}"
    params["max"] = str(smaller)
    request.prepare_url(urlunsplit(parts._replace(query=urlencode(params))), None)
    return f"page size reduced to {smaller}"


class RateGate:
    """Holds every worker back after a 429 or 423, not only the one that got it, or the
    others earn 429s of their own. Tests inject a ``clock`` and ``sleep`` they move."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """No new request starts for ``seconds`` from now."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def wait(self) -> None:
        """Sleep until the gate opens."""
        while (delay := self._until - self._clock()) > 0:
            self._sleep(delay)


def whose(request: requests.PreparedRequest, context: Mapping[str, Any] | None) -> str:
    """`` of series X`` (or ``, lookup of X``): which series a retried request is about."""
    if meeting_id := webex.lookup_id(request.url or ""):
        return f", lookup of {meeting_id}"
    if context and (series_id := context.get("meetingSeriesId")):
        return f" of series {series_id}"
    host = (context or {}).get("hostEmail")
    return f", discovery of {host}'s series" if host else ", discovery of the series"
