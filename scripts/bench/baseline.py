"""The baseline: what the tap fetches, one request at a time, written as RECORD lines.

It runs as its own subprocess (``benchmark.py --baseline-worker PLAN``) and imports only
``requests`` and this package's plan, so its start-up costs what a small script's does.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from .cases import SERIES_STREAM, STREAM, Plan


def baseline_worker(plan_path: Path) -> int:
    """Fetch what the tap fetches, one request at a time, and write Singer RECORD lines."""
    plan = Plan(**json.loads(plan_path.read_text()))
    session = requests.Session()
    session.headers.update(
        {
            "Accept": "application/json",
            "timezone": plan.timezone,
            "Authorization": f"Bearer {plan.token}",
        }
    )
    out = sys.stdout
    counts = Counter[str]()

    def pages(url: str, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        response = session.get(url, params=params, timeout=plan.request_timeout)
        while True:
            response.raise_for_status()
            yield response.json().get("items") or []
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return
            response = session.get(next_url, timeout=plan.request_timeout)

    def write(stream: str, record: dict[str, Any]) -> None:
        out.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
        counts[stream] += 1

    meetings_url = f"{plan.api_url}/meetings"
    series_ids: list[str] = []
    if plan.series_ids is None:  # discovery, as the tap does it
        discovery = {
            "meetingType": "meetingSeries",
            "from": plan.start,
            "to": plan.end,
            "max": str(plan.page_size),
        }
        for items in pages(meetings_url, discovery):
            for item in items:
                series_ids.append(item["id"])
                write(SERIES_STREAM, item)
    else:  # one lookup per configured series, as the tap does it
        for series_id in plan.series_ids:
            response = session.get(f"{meetings_url}/{series_id}", timeout=plan.request_timeout)
            response.raise_for_status()
            series_ids.append(series_id)
            write(SERIES_STREAM, response.json())
    for series_id in series_ids:
        params = {
            "meetingSeriesId": series_id,
            "to": plan.end,
            "from": plan.start,
            "max": str(plan.page_size),
        }
        for items in pages(meetings_url, params):
            for item in items:
                write(STREAM, item)
    out.flush()
    print(json.dumps({"baseline_records": dict(counts)}), file=sys.stderr)
    return 0
