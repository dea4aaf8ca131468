"""Rate limiting shared by every request of a run, whatever thread sends it.

Webex's 429 (and 423) apply to the token, not to one connection: when one worker is told to
wait, the others must wait too, or they earn 429s of their own. The client holds the gate
in its backoff handler and waits on it before every try (``WebexStream.request_decorator``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateGate:
    """Holds every worker back after a 429 or 423, not only the one that got it.

    ``clock`` and ``sleep`` are the real ones; tests inject a clock they move themselves.
    """

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
