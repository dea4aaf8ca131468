"""``GET /v1/meetings``: a series query or series discovery, one page at a time.

A page ends with a Link header whose cursor encodes where the next one starts; the link
may be broken on purpose (LINK_QUIRKS), as Webex's have been, to test clients.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from .dataset import Dataset
from .occurrences import Position
from .params import parse_bool, parse_max, window
from .query import Filters, series_page
from .records import series_record, series_state
from .replies import ApiError, RecordedRequest, Reply, json_reply

LINK_QUIRKS = frozenset({"drop_params", "max_null", "literal_string"})


class Live(Protocol):
    """What a listing reads from the fake at each request: its knobs may change any time."""

    @property
    def now(self) -> datetime: ...

    @property
    def api_url(self) -> str: ...

    @property
    def instance_cap(self) -> int: ...

    @property
    def cap_ends_listing(self) -> bool: ...

    @property
    def link_quirks(self) -> set[str]: ...


def list_meetings(
    request: RecordedRequest,
    params: dict[str, str],
    user: str,
    tz_name: str,
    *,
    dataset: Dataset,
    live: Live,
) -> Reply:
    limit = parse_max(params.get("max"))
    try:
        modified = parse_bool("isModified", params.get("isModified"))
        filters = Filters(params.get("meetingType"), params.get("state"), modified)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    now = live.now
    start, end = window(params.get("from"), params.get("to"), filters.meeting_type, now)
    after = _decode_cursor(params.get("cursor"))
    if "meetingSeriesId" in params:
        spec = dataset.get(params["meetingSeriesId"])
        if spec is None or not spec.visible_to(user):
            raise ApiError(404, "The requested meeting series could not be found.")
        items, following = series_page(
            spec,
            now,
            start,
            end,
            filters,
            after=after,
            limit=limit,
            cap=live.instance_cap,
            cap_ends_listing=live.cap_ends_listing,
            tz_name=tz_name,
            changes=dataset.changes(spec.id),
        )
    else:
        if filters.meeting_type not in (None, "meetingSeries"):
            raise ApiError(400, "The sandbox lists scheduled meetings by meetingSeriesId only.")
        series = dataset.overlapping(user, start, end)
        if filters.state is not None or filters.is_modified is not None:
            series = [
                s for s in series if filters.accepts("meetingSeries", series_state(s, now), None)
            ]
        first = after.occurrence if after else 0
        # Only the page is rendered: discovery of n series stays O(n) per page.
        items = [series_record(s, now, tz_name) for s in series[first : first + limit]]
        following = Position(first + limit) if len(series) > first + limit else None
    headers = {}
    if following is not None:
        headers["Link"] = _next_link(live, request, following, limit)
    return json_reply(200, {"items": items}, headers)


def _next_link(live: Live, request: RecordedRequest, position: Position, limit: int) -> str:
    """The next page's link, on the host the request was sent to (``localhost`` or not),
    as Webex's own links stay on the host asked: a client may refuse another one.
    """
    params = request.params
    quirks = set(live.link_quirks)
    if "literal_string" in quirks:
        return "string"
    cursor = _encode_cursor(position)
    kept = (
        []
        if "drop_params" in quirks
        else [
            (name, value)
            for name, values in params.items()
            if name not in ("cursor", "max")
            for value in values
        ]
    )
    max_value = "null" if "max_null" in quirks else str(limit)
    query = urlencode([*kept, ("max", max_value), ("cursor", cursor)])
    host = request.headers.get("host")
    api_url = f"{urlsplit(live.api_url).scheme}://{host}/v1" if host else live.api_url
    return f'<{api_url}/meetings?{query}>; rel="next"'


def _encode_cursor(position: Position) -> str:
    raw = f"{position.occurrence}.{position.slot}.{position.instances}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str | None) -> Position | None:
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        occurrence, slot, instances = (int(part) for part in raw.split("."))
    except ValueError:
        raise ApiError(400, "Invalid cursor.") from None
    if min(occurrence, slot, instances) < 0:
        raise ApiError(400, "Invalid cursor.")
    return Position(occurrence, slot, instances)
