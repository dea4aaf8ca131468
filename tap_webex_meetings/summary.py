"""The one INFO line a run ends with: what it extracted, what it cost, where it stands.

singer-sdk reports per series and per request (METRIC lines, shown at DEBUG here); a person
wants the totals. Counters are updated from worker threads (requests, retries) and from
the main thread (records), hence the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunSummary:
    """Totals of one run; :meth:`line` is what the log shows at the end."""

    started: float = field(default_factory=time.monotonic)
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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self) -> None:
        """A response arrived (any status)."""
        with self._lock:
            self.requests += 1

    def count_retry(self) -> None:
        """A request is about to be tried again."""
        with self._lock:
            self.retries += 1

    def count_skipped(self) -> None:
        """An entry of a listing was skipped: it is not a meeting."""
        with self._lock:
            self.skipped += 1

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
            f"with {self.requests} requests ({self.retries} retries) in "
            f"{time.monotonic() - self.started:.1f} s; {where}; {self.discovered} series "
            f"discovered, {self.finished_skipped} skipped as finished"
        )


def bookmarks_of(partitions: Iterable[dict[str, Any]]) -> list[str]:
    """The bookmark of every partition that has one."""
    return [p["replication_key_value"] for p in partitions if p.get("replication_key_value")]
