"""The recipe of docs/ARCHITECTURE.md ("Adding a stream"), followed for meeting participants.

The stream below is written from the recipe only: a schema, a ``PartitionedStream`` subclass
with a path, keys, a replication key, its parent and ``list_params``, and the tap's
``discover_streams``. If the base classes stop carrying a second stream (its pages checked
as meetings, its child never run, its bookmark compared as text), this test fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_webex_meetings.meetings import SeriesMeetingsStream
from tap_webex_meetings.partitioned import PartitionedStream
from tap_webex_meetings.tap import TapWebexMeetings
from tests.hostile import Answer, Received, ScriptedServer, meeting
from tests.tap_runner import sync_tap

INSTANCE = "S_I_1"


class MeetingParticipantsStream(PartitionedStream):
    """Participants of each meeting instance (``GET /meetingParticipants?meetingId=``)."""

    name = "recipe_participants"  # not the tap's own meeting_participants
    path = "/meetingParticipants"
    parent_stream_type = SeriesMeetingsStream
    primary_keys = ("id",)
    replication_key = "joinedTime"
    entry_moment = "joinedTime"
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "meetingId": {"type": ["string", "null"]},
            "displayName": {"type": ["string", "null"]},
            "joinedTime": {"type": ["string", "null"], "format": "date-time"},
        },
    }

    @override
    def list_params(self, context: Context | None) -> dict[str, str]:
        assert context is not None
        return {"meetingId": context["meetingId"], "max": "2"}


class TapWithParticipants(TapWebexMeetings):
    @override
    def discover_streams(self) -> list[Stream]:
        return [*super().discover_streams(), MeetingParticipantsStream(self)]


def webex(request: Received) -> Answer:
    """One series: a scheduled meeting and an instance with three participants, two pages."""
    if request.path.endswith("/meetings/S"):
        return Answer(body=meeting("S", meetingType="meetingSeries", state="active"))
    if request.path.endswith("/meetings"):
        return Answer(
            body={
                "items": [
                    meeting("S_20260620T090000Z", meetingType="scheduledMeeting"),
                    meeting(INSTANCE, "2026-06-20T09:01:00Z", meetingType="meeting"),
                ]
            }
        )
    if request.path.endswith("/meetingParticipants"):
        people = [
            # Offsets differ: the bookmark must be the latest instant, not the largest text.
            {"id": "p1", "meetingId": INSTANCE, "joinedTime": "2026-06-20T11:05:00+02:00"},
            {"id": "p2", "meetingId": INSTANCE, "joinedTime": "2026-06-20T09:06:00Z"},
            {"id": "p3", "meetingId": INSTANCE, "joinedTime": "2026-06-20T05:04:00-04:00"},
        ]
        if "cursor" in request.params:
            return Answer(body={"items": people[2:]})
        origin = request.headers["host"]
        link = f"<http://{origin}/v1/meetingParticipants?meetingId={INSTANCE}&max=2&cursor=2>"
        return Answer(body={"items": people[:2]}, headers={"Link": f'{link}; rel="next"'})
    return Answer(status=404, body={"message": "not here"})


def test_a_stream_added_by_the_recipe_runs_as_a_child_with_its_own_bookmarks() -> None:
    with ScriptedServer(webex) as server:
        config = {
            "access_token": "token",
            "api_url": server.api_url,
            "start_date": "2026-06-01T00:00:00Z",
            "meeting_series_ids": ["S"],
        }
        now = datetime.fromisoformat("2026-06-21T00:00:00+00:00")
        tap = TapWithParticipants(config=config, run_start=now)
        output = sync_tap(tap)

    participants = output.records("recipe_participants")
    assert sorted(r["id"] for r in participants) == ["p1", "p2", "p3"]
    # Asked once per meeting instance, for the instance only, both pages.
    asked = [r.params for r in server.requests if r.path.endswith("/meetingParticipants")]
    assert [p["meetingId"] for p in asked] == [[INSTANCE], [INSTANCE]]
    partitions = output.last_state["bookmarks"]["recipe_participants"]["partitions"]
    assert partitions == [
        {
            # The instance and what the parent knows of it (its series, state and end).
            "context": {
                "meetingSeriesId": "S",
                "meetingId": INSTANCE,
                "state": None,
                "end": None,
                "readThrough": None,  # a first run: every instance is new
            },
            "replication_key": "joinedTime",
            # 09:06Z is the latest instant (11:05+02:00 is 09:05Z, 05:04-04:00 is 09:04Z)
            "replication_key_value": "2026-06-20T09:06:00+00:00",
        }
    ]
