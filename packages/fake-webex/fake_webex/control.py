"""The unauthenticated ``/_sandbox/*`` endpoints: move the clock, set faults, see status.

Used by the sandbox command's user (curl) and scripts; never recorded as API requests.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .dataset import Dataset
from .faults import parse_faults
from .replies import RecordedRequest, Reply, error_reply, json_reply
from .series import parse_time

if TYPE_CHECKING:
    from .server import FakeWebex


def control(fake: FakeWebex, dataset: Dataset, request: RecordedRequest, body: bytes) -> Reply:
    route = (request.method, request.path.rstrip("/"))
    try:
        if route == ("GET", "/_sandbox/status"):
            return _status(fake, dataset)
        data = json.loads(body or b"{}")
        if route == ("POST", "/_sandbox/clock"):
            if "now" in data:
                fake.set_now(parse_time(str(data["now"])))
            elif "advance_hours" in data:
                fake.advance(timedelta(hours=float(data["advance_hours"])))
            else:
                raise ValueError('send {"now": "<ISO 8601>"} or {"advance_hours": <number>}')
            return _status(fake, dataset)
        if route == ("POST", "/_sandbox/faults"):
            fake.faults = parse_faults(body.decode() or "{}")
            return json_reply(200, fake.faults.to_dict())
    except (ValueError, TypeError, AttributeError) as exc:
        return error_reply(400, str(exc))
    return error_reply(404, "Unknown sandbox endpoint.")


def _status(fake: FakeWebex, dataset: Dataset) -> Reply:
    return json_reply(
        200,
        {
            "now": _iso(fake.now),
            "follows_wall_clock": fake.follows_wall_clock,
            "ahead_of_wall_clock_hours": fake.ahead_of_wall_clock.total_seconds() / 3600,
            "api_url": fake.api_url,
            "series": fake.series_ids(),
            "deleted": fake.deleted_ids(),
            "moved": {
                meeting_id: [_iso(start), _iso(end)]
                for meeting_id, (start, end) in dataset.moved().items()
            },
            "requests": len(fake.requests),
        },
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
