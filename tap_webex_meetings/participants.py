"""``meeting_participants``: who joined each ended meeting instance (``GET /meetingParticipants``).

A child of ``series_meetings``: each meeting instance that stream emits (``<series>_I_<n>``) is
one listing, ``?meetingId=<instance>&max=<page_size>`` (+ ``hostEmail`` when the series was
found through it), paged by ``Link``.

**Primary key ``(meetingId, id)``.** Webex's ``id`` "identifies the meeting and the
participant": one entry per person per instance, whose ``devices[]`` holds each join and leave.
So a person who joined twice is one row with two devices, as the API itself counts them.
``meetingId`` is part of the key because nothing in Webex's documentation promises that the
``id`` of the same person differs between two instances of one series.

**Cost that follows what changed, with no state per instance.** An instance is read when the
parent lists it ``ended`` and Webex's details have appeared (its ``end`` + 15 minutes before
this run's start), unless they appeared before both its series' bookmark before this run
(``readThrough``, from the parent) and the last complete run's start (:data:`LAST_RUN`): an
earlier run listed it ended and read it then. A series read from ``start_date`` (new, or a
backfill) has no bookmark: all its ended instances are read. So a nightly run reads each newly
ended instance once, although the parent re-lists ``lookback_days`` of meetings. The state is
that one instant and singer-sdk's stream-level bookmark on ``joinedTime``, whatever the history
(``state_partitioning_keys = []``). An instance listed still in progress (or ended less than 15
minutes ago) is read on a later run, when its series lists it again within ``lookback_days``,
as its meeting row is updated.

**Failures.** A 403 stops the run with one line naming the scopes and how to deselect the
stream: a selected stream that silently loses an instance would lose it for good (the parent's
bookmark moves on). A 404 for an instance is a warning naming it; nothing is deleted.

Not selected by default: it costs one request per ended instance and needs its own scope, so
a run that worked before it existed must not start failing (see docs/participants.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import StreamSchema
from typing_extensions import override

from tap_webex_meetings import answers, timeutils, webex
from tap_webex_meetings.client import SCHEMAS
from tap_webex_meetings.errors import NotFoundError, WebexAPIError
from tap_webex_meetings.partitioned import PartitionedStream

if TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

ENDED = "ended"  # an instance's state once it is over
# The stream's state: when the last complete run that read participants started.
LAST_RUN = "last_run_start"
SCOPE = "meeting:participants_read"
ADMIN_SCOPE = "meeting:admin_participants_read"
DESELECT = "select: ['!meeting_participants.*'] in meltano.yml"


class MeetingParticipantsStream(PartitionedStream):
    """Participants of each ended meeting instance, one row per person per instance."""

    name = "meeting_participants"
    path = "/meetingParticipants"
    primary_keys = ("meetingId", "id")
    replication_key = "joinedTime"
    # One stream-level bookmark: no partition per instance, so the state does not grow.
    state_partitioning_keys: ClassVar[list[str]] = []
    entry_moment = None  # an entry needs an id; joinedTime may be missing (Webex's words)
    selected_by_default = False
    schema = StreamSchema(SCHEMAS)

    @cached_property
    def _last_run(self) -> datetime | None:
        """The start of the last complete run that read participants (None: none yet)."""
        value = self.stream_state.get(LAST_RUN)
        try:
            moment = timeutils.parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            return None
        return None if moment is None or self.webex_tap.policy.in_future(moment) else moment

    def is_due(self, context: Context) -> bool:
        """Whether the instance's participants are read this run (see :mod:`policy`)."""
        end = context.get("end")
        if context.get("state") != ENDED or not isinstance(end, str):
            return False
        read_through = context.get("readThrough")
        return self.webex_tap.policy.participants_due(
            timeutils.parse_api_timestamp(end),
            timeutils.parse_datetime(read_through) if read_through is not None else None,
            self._last_run,
        )

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The instance's participants, if due; a 404 is a warning, nothing deleted."""
        if context is None or not self.is_due(context):
            return
        try:
            yield from super().get_records(context)
        except NotFoundError as exc:
            self.logger.warning(
                "Meeting %s: Webex has no participants for it (%s); skipping it, nothing "
                "is deleted",
                context["meetingId"],
                exc,
            )

    @override
    def list_params(self, context: Context | None) -> dict[str, str]:
        """``meetingId``, ``max`` and, for a series found through it, ``hostEmail``."""
        assert context is not None, "meeting_participants runs once per meeting instance"
        return webex.query_params(
            {
                "meetingId": context["meetingId"],
                "max": self.settings.page_size,
                "hostEmail": context.get("hostEmail"),
            }
        )

    @override
    def entry_problem(self, item: Any) -> str | None:
        """A participant needs a string ``id``; ``meetingId`` comes from the instance."""
        return webex.entry_problem(item, "id", None)

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict[str, Any]:
        """Then ``meetingId`` and ``meetingSeriesId`` of the instance on every record."""
        row = super().post_process(row, context)
        assert context is not None
        row["meetingId"] = row.get("meetingId") or context["meetingId"]
        row["meetingSeriesId"] = context.get("meetingSeriesId")
        return row

    @override
    def validate_response(self, response: requests.Response) -> None:
        """A 403 names this stream's scopes and how to deselect it; the rest as meetings."""
        if response.status_code == HTTPStatus.FORBIDDEN:
            message, tracking_id = answers.error_details(response)
            subject = webex.subject_of(response.request.url or "")
            raise WebexAPIError(
                response.status_code,
                message,
                tracking_id,
                f"Reading {subject} needs the scope {SCOPE} (the host's own meetings) or "
                f"{ADMIN_SCOPE} (an admin's token, with host_emails): add it to the token, "
                f"or deselect the stream ({DESELECT})",
            )
        super().validate_response(response)

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        """The end of a complete run that read participants: its start, for the next run."""
        if state is None and self.selected:
            self.stream_state[LAST_RUN] = timeutils.isoformat_utc(self.webex_tap.policy.now)
        super().finalize_state_progress_markers(state)
