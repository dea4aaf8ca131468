"""Rate limiting shared by every request of a run, whatever thread sends it.

Webex's 429 (and 423) apply to the token, not to one connection: when one worker is told to
wait, the others must wait too, or they earn 429s of their own. The client holds the gate
in its backoff handler and waits on it before every try (``WebexStream.request_decorator``).
"""

from __future__ import annotations

import threading
import time


class RateGate:
    """Holds every worker back after a 429 or 423, not only the one that got it."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """No new request starts for ``seconds`` from now."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Sleep until the gate opens."""
        while (delay := self._until - time.monotonic()) > 0:
            time.sleep(delay)
