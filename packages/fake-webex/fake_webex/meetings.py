"""The ``/v1/meetings`` endpoints once the caller is known: list, get, delete and move."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from .dataset import Dataset
from .listing import Live, list_meetings
from .params import parse_moment, parse_timezone
from .records import scheduled_record, series_record
from .replies import ApiError, RecordedRequest, Reply, json_reply, tracking_id
from .series import Record
from .tokens import Token

T = TypeVar("T")

MEETING_NOT_FOUND = "The requested meeting could not be found."


class Meetings:
    """Answers meeting requests from ``dataset`` as ``live`` (clock, cap, links) says."""

    def __init__(self, dataset: Dataset, live: Live) -> None:
        self._dataset = dataset
        self._live = live

    def answer(self, request: RecordedRequest, token: Token, body: bytes) -> Reply:
        params = {name: values[-1] for name, values in request.params.items()}
        tz_name = parse_timezone(request.headers.get("timezone"))
        user = params.get("hostEmail") or token.email
        dataset = self._dataset
        if request.path == "/v1/meetings":
            return list_meetings(request, params, user, tz_name, dataset=dataset, live=self._live)
        meeting_id = unquote(request.path.removeprefix("/v1/meetings/"))
        if request.method != "GET":
            owner = dataset.series_of(meeting_id)
            if owner is None or not (owner.visible_to(user) or token.admin):
                raise ApiError(404, MEETING_NOT_FOUND)
            if request.method == "DELETE":
                _as_api_error(dataset.delete, meeting_id)
                return Reply(204, headers={"TrackingID": tracking_id()})
            start, end = _new_times(body)
            record = _as_api_error(self.move, meeting_id, start, end, tz_name)
            return json_reply(200, record, records=1)
        spec = dataset.get(meeting_id)
        if spec is not None and (spec.visible_to(user) or token.admin):
            return json_reply(200, series_record(spec, self._live.now, tz_name), records=1)
        found = dataset.find_scheduled(meeting_id)
        if found is not None and (found[0].visible_to(user) or token.admin):
            changes = dataset.changes(found[0].id)
            record = scheduled_record(found[0], found[1], self._live.now, tz_name, changes)
            return json_reply(200, record, records=1)
        raise ApiError(404, MEETING_NOT_FOUND)

    def move(
        self, meeting_id: str, start: datetime, end: datetime | None, tz_name: str = "UTC"
    ) -> Record:
        """Move a scheduled meeting; its record afterwards (see :meth:`Dataset.move`)."""
        now = self._live.now
        spec, k = self._dataset.move(meeting_id, start, end, now)
        return scheduled_record(spec, k, now, tz_name, self._dataset.changes(spec.id))


def _as_api_error(action: Callable[..., T], *args: Any) -> T:
    """Run a dataset change; its LookupError is Webex's 404, its ValueError a 400."""
    try:
        return action(*args)
    except LookupError:
        raise ApiError(404, MEETING_NOT_FOUND) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _new_times(body: bytes) -> tuple[datetime, datetime]:
    """``start`` and ``end`` of an "Update a Meeting" body (other fields are ignored)."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    fields = data if isinstance(data, dict) else {}
    times = [parse_moment(name, str(fields.get(name) or "")) for name in ("start", "end")]
    if times[0] is None or times[1] is None:
        raise ApiError(400, "start and end are required: ISO 8601 date-times.")
    return times[0], times[1]
