"""What the fake Webex saw and answered: recorded requests, replies and Webex's error body."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it and what it answered (status 0: connection reset).

    ``time`` is ``time.monotonic()`` at arrival; ``retry_after`` the seconds a 429/423
    Retry-After meant (None when it was missing or garbage). Form fields of a POST are
    merged into ``params``.
    """

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    items: int
    time: float
    retry_after: float | None = None


@dataclass
class Reply:
    """A response before it is written; ``action`` may be "reset" or "truncate" instead."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    items: int = 0
    retry_after: float | None = None
    action: str = "send"


class ApiError(Exception):
    """Answered as a Webex error body with this status."""

    def __init__(self, status: int, message: str, *, oauth_error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.oauth_error = oauth_error


def tracking_id() -> str:
    return f"ROUTER_{uuid.uuid4()}".upper()


def json_reply(
    status: int, data: Any, headers: dict[str, str] | None = None, *, records: int | None = None
) -> Reply:
    """A JSON reply; ``records`` defaults to the length of an ``items`` list."""
    items = data.get("items") if isinstance(data, dict) else None
    count = records if records is not None else len(items) if isinstance(items, list) else 0
    all_headers = {"Content-Type": JSON_TYPE, "TrackingID": tracking_id(), **(headers or {})}
    return Reply(status, json.dumps(data).encode(), all_headers, items=count)


def error_reply(status: int, message: str, *, oauth_error: str | None = None) -> Reply:
    """The Webex error body, with the same tracking id in the body and the header."""
    tracking = tracking_id()
    body: dict[str, Any] = {"message": message, "errors": [{"description": message}]}
    if oauth_error:
        body = {"error": oauth_error, **body}
    body["trackingId"] = tracking
    return json_reply(status, body, {"TrackingID": tracking})


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def is_meetings_request(request: RecordedRequest) -> bool:
    return request.path == "/v1/meetings" or request.path.startswith("/v1/meetings/")
