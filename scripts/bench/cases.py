"""The benchmark cases, the requests a correct run makes, and what tap and baseline fetch."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PAGE_SIZE = 100
TOKEN = "sandbox-token"
FAKE_NOW = "2026-06-15T12:00:00Z"  # the fake clock: bulk meetings start two days later
STREAM = "series_meetings"
SERIES_STREAM = "meeting_series"
TAP_COMMAND = Path(sys.executable).with_name("tap-webex-meetings")
MiB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One benchmark case: bulk data, server latency, and how the tap finds the series."""

    name: str
    series: int
    meetings: int
    latency_ms: float = 0.0
    discover: bool = False  # let the tap discover the series instead of configuring ids
    compare_workers: bool = False  # run the tap with max_workers 1 and parallel
    big: bool = False  # only with --big (or when named with --case)

    @property
    def records(self) -> int:
        return self.series * self.meetings

    def describe(self) -> str:
        latency = f", {self.latency_ms:g} ms latency" if self.latency_ms else ""
        how = "discovered" if self.discover else "meeting_series_ids"
        return (
            f"{self.series:,} series x {self.meetings:,} meetings{latency}, series {how}, "
            f"page_size {PAGE_SIZE}"
        )


CASES = {
    case.name: case
    for case in (
        Case("20k", 1, 20_000),
        Case("60k", 1, 60_000, big=True),
        Case("200k", 1, 200_000, big=True),
        Case("200x50", 200, 50, latency_ms=50, discover=True, compare_workers=True),
        Case("500x5", 500, 5, discover=True),
        Case("2500x5", 2_500, 5, discover=True),
        Case("10000x5", 10_000, 5, discover=True, big=True),
    )
}


@dataclass(frozen=True)
class Expected:
    """The requests one correct run makes."""

    lookups: int
    discovery: int
    pages_per_window: int
    windows: int  # one per series: the bulk data has no instances, so no cap windows

    @property
    def total(self) -> int:
        return self.lookups + self.discovery + self.pages_per_window * self.windows

    @classmethod
    def of(cls, case: Case) -> Expected:
        return cls(
            lookups=0 if case.discover else case.series,
            discovery=math.ceil(case.series / PAGE_SIZE) if case.discover else 0,
            pages_per_window=math.ceil(case.meetings / PAGE_SIZE),
            windows=case.series,
        )

    def describe(self, case: Case) -> str:
        parts = []
        if self.lookups:
            parts.append(f"{self.lookups} lookup")
        if self.discovery:
            parts.append(f"{self.discovery} discovery (ceil({case.series}/{PAGE_SIZE}))")
        parts.append(
            f"{self.windows} series x 1 window x ceil({case.meetings}/{PAGE_SIZE}) = "
            f"{self.windows * self.pages_per_window} pages"
        )
        return f"expected {self.total} requests a run: " + " + ".join(parts)


@dataclass(frozen=True)
class Plan:
    """What both the tap and the baseline are asked to extract."""

    api_url: str
    series_ids: list[str] | None  # None: discover
    start: str
    end: str
    page_size: int = PAGE_SIZE
    token: str = TOKEN
    timezone: str = "UTC"
    request_timeout: float = 60.0


def query_format(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_for(case: Case, api_url: str, status: dict[str, Any]) -> Plan:
    """The exact date range of the bulk data, and the series ids (checked with the server's
    ``/_sandbox/status``)."""
    # Imported here, not at the top, so that the baseline worker does not pay for it.
    from fake_webex import bulk_series  # noqa: PLC0415

    now = datetime.fromisoformat(str(status["now"]).replace("Z", "+00:00"))
    specs = bulk_series(case.series, case.meetings, now=now)
    ids = [spec.id for spec in specs]
    if sorted(ids) != sorted(status["series"]):
        raise RuntimeError("the fake server does not serve the expected bulk series")
    first = min(spec.first_start for spec in specs)
    # Meetings start hourly from `first`: the last starts at first + (meetings - 1) h.
    end = first + timedelta(hours=case.meetings)
    return Plan(
        api_url=api_url,
        series_ids=None if case.discover else ids,
        start=query_format(first),
        end=query_format(end),
    )


def tap_config(plan: Plan, max_workers: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "api_url": plan.api_url,
        "access_token": plan.token,
        "start_date": plan.start,
        "end_date": plan.end,
        "page_size": plan.page_size,
        "timezone": plan.timezone,
        "request_timeout": plan.request_timeout,
    }
    if plan.series_ids is not None:
        config["meeting_series_ids"] = plan.series_ids
    if max_workers is not None:
        config["max_workers"] = max_workers
    return config
