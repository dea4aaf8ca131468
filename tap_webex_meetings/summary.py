"""The one INFO line a run ends with: what it extracted, what it cost, where it stands.

singer-sdk reports per series and per request (METRIC lines, shown at DEBUG here); a person
wants the totals. Counters are updated from worker threads (requests, retries) and from
the main thread (records), hence the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# A sign of life this often, so a long run is never long silent.
PROGRESS_EVERY_SECONDS = 30.0


@dataclass
class RunSummary:
    """Totals of one run; :meth:`line` is what the log shows at the end."""

    series: int = 0
    series_deleted: int = 0
    new: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0
    retries: int = 0
    discovered: int = 0  # series that discovery listed (every host, each once)
    finished_skipped: int = 0  # finished series whose meetings were not listed
    skipped: int = 0  # entries of a listing that were not meetings
    series_done: int = 0
    # Where the progress line goes and the clock it is timed by (tests inject both).
    report: Callable[[str], None] | None = field(default=None, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    started: float = field(init=False)
    _last_report: float = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.started = self._last_report = self.clock()

    def count_request(self) -> None:
        """A request is sent (first try or retry); the progress line when it is due."""
        with self._lock:
            self.requests += 1
            self._report_if_due()

    def count_retry(self) -> None:
        """A request is about to be tried again."""
        with self._lock:
            self.retries += 1

    def count_skipped(self) -> None:
        """An entry of a listing was skipped: it is not a meeting."""
        with self._lock:
            self.skipped += 1

    def _report_if_due(self) -> None:
        """Every ``PROGRESS_EVERY_SECONDS``, from whichever thread sends a request then."""
        now = self.clock()
        if self.report is None or now - self._last_report < PROGRESS_EVERY_SECONDS:
            return
        self._last_report = now
        self.report(
            f"Progress: {self.series_done} series done of {self.series} found so far, "
            f"{self.new + self.updated + self.deleted} meeting records, "
            f"{self._requests_text()} in {now - self.started:.0f} s"
        )

    def _requests_text(self) -> str:
        """``3660 requests (3030 + 630 retries)``: every request sent, retries included."""
        return (
            f"{_counted(self.requests, 'request', 'requests')} ({self.requests - self.retries}"
            f" + {_counted(self.retries, 'retry', 'retries')})"
        )

    def line(self, bookmarks: Iterable[str]) -> str:
        """``Extracted 6 series (0 deleted) and 431 meeting records (…) …; bookmarks …;
        6 series discovered, 0 skipped as finished``."""
        values = sorted(bookmarks)
        where = (
            f"bookmarks of {len(values)} series from {values[0]} to {values[-1]}"
            if values
            else "no bookmarks yet"
        )
        meetings = self.new + self.updated + self.deleted
        skipped = f", {self.skipped} skipped: not meetings" if self.skipped else ""
        return (
            f"Extracted {self.series} series ({self.series_deleted} deleted) and {meetings} "
            f"meeting records ({self.new} new, {self.updated} updated, {self.deleted} deleted"
            f"{skipped}) "
            f"with {self._requests_text()} in {self.clock() - self.started:.1f} s; {where}; "
            f"{self.discovered} series discovered, {self.finished_skipped} skipped as finished"
        )


def _counted(number: int, one: str, more: str) -> str:
    """``1 request``, ``2 requests``: a person reads this line."""
    return f"{number} {one if number == 1 else more}"


def bookmarks_of(partitions: Iterable[dict[str, Any]]) -> list[str]:
    """The bookmark of every partition that has one."""
    return [p["replication_key_value"] for p in partitions if p.get("replication_key_value")]
