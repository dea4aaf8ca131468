"""Records of the fake Webex, rendered from a series and an entry of a query.

A record is a copy of a per-series template that already holds every documented
property in the documented order (None where it does not apply), updated with what
differs per record: updating existing keys keeps their order, so nothing is sorted.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import uuid
from datetime import datetime, timedelta

from .changes import NO_CHANGES, Changes
from .occurrences import Entry, entries, occurrence_of
from .series import Record, SeriesSpec, format_time, stable_digits, stable_hash, stable_hex

SITE_URL = "sandbox-example.webex.com"


# The properties of MeetingObjectForListMeeting in the order of Webex's OpenAPI: every
# record carries all of them (None where they do not apply), as Webex's fullest do.
_FIELD_NAMES = """
id meetingSeriesId scheduledMeetingId meetingNumber title agenda password
phoneAndVideoSystemPassword meetingType state hostDidJoin attendeeDidJoin
isModified timezone start end recurrence hostUserId hostDisplayName
hostEmail hostKey siteUrl webLink sipAddress dialInIpAddress roomId
enabledAutoRecordMeeting allowAnyUserToBeCoHost enabledJoinBeforeHost
enableConnectAudioBeforeHost joinBeforeHostMinutes excludePassword
publicMeeting reminderTime unlockedMeetingJoinSecurity sessionTypeId
scheduledType enabledWebcastView panelistPassword
phoneAndVideoSystemPanelistPassword enableAutomaticLock automaticLockMinutes
allowFirstUserToBeCoHost allowAuthenticatedDevices hasChat hasRecording
hasTranscription hasClosedCaption hasPolls hasQA hasSlido hasRegistration
hasRegistrants hasPostEventSurvey telephony meetingOptions
attendeePrivileges registration integrationTags simultaneousInterpretation
enabledBreakoutSessions links trackingCodes enabledAudioWatermark
enabledVisualWatermark visualWatermarkOpacity audioConnectionOptions
requireAttendeeLogin restrictToInvitees enabledLiveStream liveStream
"""
FIELD_NAMES = tuple(_FIELD_NAMES.split())


def rendered(spec: SeriesSpec, entry: Entry, tz_name: str) -> Record:
    """The record of an entry; a moved occurrence keeps its id but has its own times."""
    record = _render(spec, entry, tz_name)
    if entry.moved and entry.end is not None:
        record.update(isModified=True, end=format_time(entry.end, tz_name))
    return record


def _spark_id(kind: str, seed: str) -> str:
    """``base64("ciscospark://us/KIND/<uuid>")`` without padding, as Webex writes ids."""
    ident = uuid.UUID(bytes=hashlib.sha256(seed.lower().encode()).digest()[:16], version=4)
    return base64.b64encode(f"ciscospark://us/{kind}/{ident}".encode()).decode().rstrip("=")


def _host_user_id(email: str) -> str:
    return _spark_id("PEOPLE", email)


def _recurrence(spec: SeriesSpec) -> str:
    days, rest = divmod(spec.interval, timedelta(days=1))
    if rest:
        hours = max(1, round(spec.interval / timedelta(hours=1)))
        rule = f"FREQ=HOURLY;INTERVAL={hours}"
    elif days % 7 == 0:
        rule = f"FREQ=WEEKLY;INTERVAL={days // 7}"
    else:
        rule = f"FREQ=DAILY;INTERVAL={days}"
    return f"{rule};COUNT={spec.count}"


def _auto_recorded(spec: SeriesSpec) -> bool:
    """Half the series record automatically; their ended instances then have recordings."""
    return stable_hash(spec.id, "rec") % 2 == 0


_DEPARTMENTS = ("Engineering", "Sales", "Support", "Finance", "Marketing")
_INTERPRETERS = (
    ("en", "de", "marcus.hoffmann@example.com", "Marcus Hoffmann"),
    ("en", "fr", "claire.martin@example.com", "Claire Martin"),
)


def _interpreters(spec: SeriesSpec) -> list[Record]:
    return [
        {
            "id": base64.b64encode(f"{spec.id}_{stable_hex(spec.id, email)}".encode())
            .decode()
            .rstrip("="),
            "languageCode1": first,
            "languageCode2": second,
            "email": email,
            "displayName": name,
        }
        for first, second, email, name in _INTERPRETERS
    ]


def _live_stream(spec: SeriesSpec) -> Record:
    key = stable_hex(spec.id, "stream")
    return {
        "destination": "YouTube",
        "rtmpUrl": f"rtmps://live.example.com:443/app/{key}",
        "streamUrl": f"https://live.example.com/watch/{key}/index.m3u8",
        "layoutWithoutSharedContent": "grid",
        "layoutWithSharedContent": "focusedContentWithActiveSpeaker",
        "allowChangeLayoutInMeeting": True,
        "followStageLayoutWhenSynced": True,
        "resolution": "1920x1080",
    }


@functools.lru_cache(maxsize=4096)
def _base(spec: SeriesSpec) -> Record:
    """Who hosts the series and the options it was scheduled with: shared by every record,
    instances included (cached: treat as read-only)."""
    webinar, full = spec.scheduled_type == "webinar", spec.full_options
    return {
        "title": spec.title,
        "agenda": f"{spec.title}: updates, blockers, next steps.",
        "hostUserId": _host_user_id(spec.host_email),
        "hostDisplayName": spec.host_name,
        "hostEmail": spec.host_email,
        "siteUrl": SITE_URL,
        # Only meetings scheduled from a Webex space belong to a room.
        "roomId": _spark_id("ROOM", spec.id) if full and not webinar else None,
        "enabledAutoRecordMeeting": _auto_recorded(spec),
        "allowAnyUserToBeCoHost": False,
        "enabledJoinBeforeHost": webinar,
        "enableConnectAudioBeforeHost": webinar,
        "joinBeforeHostMinutes": 15 if webinar else 0,
        "excludePassword": False,
        "publicMeeting": webinar,
        "reminderTime": 10,
        "unlockedMeetingJoinSecurity": "allowJoinWithLobby" if webinar else "allowJoin",
        "sessionTypeId": 9 if webinar else 3,
        "scheduledType": spec.scheduled_type,
        "enabledWebcastView": webinar,
        "enableAutomaticLock": full,
        "automaticLockMinutes": 10 if full else 0,
        "allowFirstUserToBeCoHost": False,
        "allowAuthenticatedDevices": True,
        "meetingOptions": {
            "enabledChat": True,
            "enabledVideo": True,
            "enabledPolling": webinar or full,
            "enabledNote": True,
            "noteType": "allowAll",
            "enabledFileTransfer": full,
            "enabledUCFRichMedia": full,
        },
        # "This attribute is not supported for a webinar."
        "attendeePrivileges": None
        if webinar
        else {
            "enabledShareContent": True,
            "enabledSaveDocument": False,
            "enabledPrintDocument": False,
            "enabledAnnotate": False,
            "enabledViewParticipantList": True,
            "enabledViewThumbnails": False,
            "enabledRemoteControl": True,
            "enabledViewAnyDocument": False,
            "enabledViewAnyPage": False,
            "enabledContactOperatorPrivately": False,
            "enabledChatHost": True,
            "enabledChatPresenter": True,
            "enabledChatOtherParticipants": True,
        },
        "registration": {
            "autoAcceptRequest": not webinar,
            "requireFirstName": True,
            "requireLastName": True,
            "requireEmail": True,
            "requireJobTitle": webinar,
            "requireCompanyName": webinar,
            "requireAddress1": False,
            "requireAddress2": False,
            "requireCity": False,
            "requireState": False,
            "requireZipCode": False,
            "requireCountryRegion": webinar,
            "requireWorkPhone": False,
            "requireFax": False,
            "maxRegisterNum": 1000,
        },
        "integrationTags": [
            stable_hex(spec.id, "tag", i) for i in range(3 if full else stable_hash(spec.id) % 3)
        ],
        "simultaneousInterpretation": {
            "enabled": full,
            "interpreters": _interpreters(spec) if full else [],
        },
        "enabledBreakoutSessions": full,
        "links": [
            {
                "rel": "breakoutSessions",
                "href": f"/api/v1/meetings/{spec.id}/breakoutSessions",
                "method": "GET",
            }
        ]
        if full
        else [],
        "trackingCodes": [
            {"name": "Department", "value": _DEPARTMENTS[stable_hash(spec.id, "dept") % 5]},
            {"name": "Cost Center", "value": stable_digits(5, spec.id, "cost")},
        ],
        "enabledAudioWatermark": full,
        "enabledVisualWatermark": full,
        "visualWatermarkOpacity": 10 if full else None,
        "audioConnectionOptions": {
            "audioConnectionType": "webexAudio",
            "enabledTollFreeCallIn": True,
            "enabledGlobalCallIn": True,
            "enabledAudienceCallBack": False,
            "entryAndExitTone": "beep",
            "allowHostToUnmuteParticipants": full,
            "allowAttendeeToUnmuteSelf": True,
            "muteAttendeeUponEntry": webinar,
        },
        "requireAttendeeLogin": webinar and full,
        "restrictToInvitees": False,
        "enabledLiveStream": full,
        "liveStream": _live_stream(spec) if full else None,
    }


@functools.lru_cache(maxsize=4096)
def _joinable(spec: SeriesSpec) -> Record:
    """How to join: series, scheduled meetings and instances in progress; Webex leaves it
    out of ended instances (cached: treat as read-only)."""
    number = "2" + stable_digits(9, spec.id, "number")
    webinar = spec.scheduled_type == "webinar"
    return {
        "meetingNumber": number,
        "password": spec.password,
        "phoneAndVideoSystemPassword": stable_digits(8, spec.id, "pvs"),
        "hostKey": stable_digits(6, spec.id, "hostKey"),
        "webLink": f"https://{SITE_URL}/sandbox-example/j.php?MTID=m{stable_hex(spec.id, 'mt')}",
        "sipAddress": f"{number}@{SITE_URL}",
        "dialInIpAddress": "192.0.2.10",
        "panelistPassword": f"Pn{stable_digits(4, spec.id, 'pp')}@x" if webinar else None,
        "phoneAndVideoSystemPanelistPassword": stable_digits(8, spec.id, "pvspp")
        if webinar
        else None,
        "telephony": {
            "accessCode": number,
            "callInNumbers": [
                {"label": "US Toll", "callInNumber": "+1-408-555-0134", "tollType": "toll"},
                {
                    "label": "US Toll Free",
                    "callInNumber": "+1-800-555-0199",
                    "tollType": "tollFree",
                },
            ],
            "links": [
                {
                    "rel": "globalCallinNumbers",
                    "href": f"/api/v1/meetings/{spec.id}/globalCallinNumbers",
                    "method": "GET",
                }
            ],
        },
    }


# What a record of each kind starts from; the two kinds of instance differ in joinability.
_SERIES, _SCHEDULED, _IN_PROGRESS, _ENDED = "series", "scheduled", "inProgress", "ended"
_KIND_TYPES = {
    _SERIES: "meetingSeries",
    _SCHEDULED: "scheduledMeeting",
    _IN_PROGRESS: "meeting",
    _ENDED: "meeting",
}


@functools.lru_cache(maxsize=4096)
def _template(spec: SeriesSpec, kind: str) -> Record:
    """Every property of the documented object, in its order, as records of ``kind`` of
    this series share them (cached: copy before changing)."""
    record = dict.fromkeys(FIELD_NAMES)
    record.update(_base(spec))
    if kind != _ENDED:
        record.update(_joinable(spec))
    record["meetingType"] = _KIND_TYPES[kind]
    if kind in (_IN_PROGRESS, _ENDED):
        record["hasSummary"] = False  # Webex sends it although its API reference does not list it
    return record


def series_state(spec: SeriesSpec, now: datetime) -> str:
    """The `state` of the series record, without rendering it."""
    return "active" if spec.last_end > now else "expired"


def series_record(spec: SeriesSpec, now: datetime, tz_name: str = "UTC") -> Record:
    """The `meetingSeries` object as discovery and `GET /meetings/{id}` return it."""
    first = spec.start_of(0)
    record = _template(spec, _SERIES).copy()
    record.update(
        id=spec.id,
        state=series_state(spec, now),
        timezone=tz_name,
        start=format_time(first, tz_name),
        end=format_time(first + spec.duration, tz_name),
    )
    if spec.recurring:
        record["recurrence"] = _recurrence(spec)
    else:
        record.pop("recurrence", None)  # as Webex sends a one-off meeting
    return record


def scheduled_id(spec: SeriesSpec, k: int) -> str:
    return f"{spec.id}_{spec.start_of(k).strftime('%Y%m%dT%H%M%SZ')}"


def instance_id(spec: SeriesSpec, k: int, j: int) -> str:
    return f"{spec.id}_I_{10**17 + stable_hash(spec.id, k, j, 'instance') % (9 * 10**17)}"


def scheduled_record(
    spec: SeriesSpec, k: int, now: datetime, tz_name: str = "UTC", changes: Changes = NO_CHANGES
) -> Record:
    """Scheduled occurrence k (also used for `GET /meetings/{scheduledId}`)."""
    entry = next(entries(spec, now, [occurrence_of(spec, changes, k)], None))  # scheduled first
    return rendered(spec, entry, tz_name)


_HAS_BITS = ("hasChat", "hasTranscription", "hasPolls", "hasQA", "hasSlido", "hasClosedCaption")


def _render(spec: SeriesSpec, entry: Entry, tz_name: str) -> Record:
    k = entry.k
    if entry.meeting_type == "scheduledMeeting":
        modified = spec.is_modified(k)
        record = _template(spec, _SCHEDULED).copy()
        record.update(
            id=scheduled_id(spec, k),
            meetingSeriesId=spec.id,
            state=entry.state,
            isModified=modified,
            timezone=tz_name,
            start=format_time(entry.start, tz_name),
            end=format_time(entry.start + spec.duration, tz_name),
        )
        if modified:
            record["agenda"] = f"{spec.title}: moved agenda for this occurrence only."
        if entry.state == "ready":
            record.update(hostDidJoin=False, attendeeDidJoin=False)
        return record
    ident = instance_id(spec, k, entry.slot - 1)
    record = _template(spec, _ENDED if entry.end is not None else _IN_PROGRESS).copy()
    record.update(
        id=ident,
        meetingSeriesId=spec.id,
        scheduledMeetingId=scheduled_id(spec, k),
        state=entry.state,
        timezone=tz_name,
        start=format_time(entry.start, tz_name),
        webLink=f"https://{SITE_URL}/sandbox-example/j.php?MTID={ident}",
    )
    if entry.end is None:  # Webex knows what happened in a meeting only once it ended
        record.update(hostDidJoin=True, attendeeDidJoin=True)
        return record
    record["end"] = format_time(entry.end, tz_name)
    bits = stable_hash(ident, "has")
    for i, name in enumerate(_HAS_BITS):
        record[name] = bool(bits >> i & 1)
    webinar = spec.scheduled_type == "webinar"
    record.update(
        hasRecording=_auto_recorded(spec),
        hasRegistration=webinar,
        hasRegistrants=webinar and bool(bits >> 7 & 1),
        hasPostEventSurvey=bool(bits >> 8 & 1) if webinar else None,
        hasSummary=bool(bits >> 9 & 1),
    )
    return record
