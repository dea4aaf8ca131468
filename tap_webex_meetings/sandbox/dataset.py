"""Meeting series of the fake Webex: specs, and records generated lazily from them.

Nothing is stored per occurrence. Occurrence ``k`` of a series starts at
``first_start + k * interval``; everything else about it (missed or held, the actual start
of its instances, ids, passwords) is derived from a hash of ``(series id, k, j)``, so a
series of 200,000 occurrences costs nothing until a page of it is asked for, and the same
query always returns the same records for the same fake clock.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
import heapq
import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from .changes import NO_CHANGES, Changes

UTC = timezone.utc
Record = dict[str, Any]

SITE_URL = "sandbox-example.webex.com"
MEETING_TYPES = ("meetingSeries", "scheduledMeeting", "meeting")
STATES = ("active", "scheduled", "ready", "lobby", "inProgress", "ended", "missed", "expired")
SCHEDULED_TYPES = ("meeting", "webinar")
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z"})

READY_LEAD = timedelta(minutes=10)  # a scheduled meeting is `ready` this long before it starts
DETAILS_DELAY = timedelta(minutes=15)  # Webex shows an instance this long after it starts/ends
MAX_LATE_START = timedelta(minutes=9)
RESTART_GAP = timedelta(minutes=2)
# Occurrences must not overlap, so that "ordered by start" is also "ordered by occurrence".
MIN_GAP = MAX_LATE_START + RESTART_GAP + timedelta(minutes=4)


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


def _hash(*parts: object) -> int:
    """A stable 64-bit number for the given parts (the dataset's only source of variety)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _digits(count: int, *parts: object) -> str:
    return str(_hash(*parts) % 10**count).zfill(count)


def stable_hex(*parts: object) -> str:
    """32 lower-case hex characters, the shape of a Webex meeting series id."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def parse_time(text: str) -> datetime:
    """Parse ISO 8601 (``Z``, an offset, or none meaning UTC) on every supported Python."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(moment: datetime, tz_name: str = "UTC") -> str:
    """Render like Webex: ``...Z`` for UTC, else local time with its offset."""
    if tz_name in UTC_NAMES:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(ZoneInfo(tz_name)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SeriesSpec:
    """One recurring meeting series; its occurrences are computed, never stored."""

    id: str
    title: str
    host_email: str
    host_name: str
    first_start: datetime
    interval: timedelta
    count: int
    duration: timedelta
    missed_every: int = 0
    restarted_every: int = 0
    modified_every: int = 0
    scheduled_type: str = "meeting"
    invitees: tuple[str, ...] = ()
    password: str = "BgJep@43"
    # Every optional feature on (live stream, interpretation, breakout sessions, watermarks,
    # a space): the fullest records Webex sends, as organisations with such options get.
    full_options: bool = False

    def __post_init__(self) -> None:
        if len(self.id) != 32 or any(c not in "0123456789abcdef" for c in self.id):
            raise ValueError(f"series id must be 32 lower-case hex characters: {self.id!r}")
        if self.first_start.tzinfo is None:
            raise ValueError("first_start must be timezone-aware")
        if self.count < 1 or self.duration <= timedelta(0):
            raise ValueError("a series needs count >= 1 and a positive duration")
        if self.interval < self.duration + MIN_GAP:
            raise ValueError(f"interval must be at least duration + {MIN_GAP}")
        if self.scheduled_type not in SCHEDULED_TYPES:
            raise ValueError(f"scheduled_type must be one of {SCHEDULED_TYPES}")
        if min(self.missed_every, self.restarted_every, self.modified_every) < 0:
            raise ValueError("*_every must be >= 0")

    def start_of(self, k: int) -> datetime:
        return (self.first_start + k * self.interval).astimezone(UTC)

    @functools.cached_property
    def last_end(self) -> datetime:
        # Cached (in the instance's __dict__, which frozen allows): discovery asks every page.
        return self.start_of(self.count - 1) + self.duration

    def first_index_from(self, moment: datetime) -> int:
        """First occurrence that can have a record starting at or after ``moment``."""
        if moment <= self.first_start:
            return 0
        return min((moment - self.first_start) // self.interval, self.count)

    def is_missed(self, k: int) -> bool:
        return self.missed_every > 0 and (k + 1) % self.missed_every == 0

    def is_modified(self, k: int) -> bool:
        return self.modified_every > 0 and (k + 1) % self.modified_every == 0

    def instance_times(
        self, k: int, start: datetime | None = None, duration: timedelta | None = None
    ) -> list[tuple[datetime, datetime]]:
        """Actual (start, end) of each instance of occurrence k, whatever the clock says.

        ``start`` and ``duration`` are those of a moved occurrence (default: the series').
        """
        if self.is_missed(k):
            return []
        slot = self.duration if duration is None else duration
        late = timedelta(seconds=_hash(self.id, k, "late") % (MAX_LATE_START.seconds + 1))
        share = 80 + _hash(self.id, k, "length") % 21  # the meeting lasts 80..100 % of its slot
        length = timedelta(seconds=int(slot.total_seconds() * share / 100))
        start = (self.start_of(k) if start is None else start) + late
        restarted = self.restarted_every > 0 and (k + 1) % self.restarted_every == 0
        if not restarted:
            return [(start, start + length)]
        cut = start + length * 2 / 5
        return [(start, cut), (cut + RESTART_GAP, start + length + RESTART_GAP)]

    def visible_to(self, email: str) -> bool:
        wanted = email.lower()
        return wanted == self.host_email.lower() or wanted in (e.lower() for e in self.invitees)


@dataclass(frozen=True)
class Filters:
    """The record filters of a series query (`meetingType`, `state`, `isModified`)."""

    meeting_type: str | None = None
    state: str | None = None
    is_modified: bool | None = None

    def __post_init__(self) -> None:
        if self.meeting_type is not None and self.meeting_type not in MEETING_TYPES:
            raise ValueError(f"meetingType must be one of {', '.join(MEETING_TYPES)}")
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")

    def accepts(self, meeting_type: str, state: str, modified: bool | None) -> bool:
        # isModified "only applies to scheduled meetings": when given, only they are returned.
        if self.is_modified is not None and (
            meeting_type != "scheduledMeeting" or modified != self.is_modified
        ):
            return False
        return self.meeting_type in (None, meeting_type) and self.state in (None, state)


@dataclass(frozen=True)
class Position:
    """Where a query resumes: occurrence, slot (0 scheduled, 1.. instances), instances listed."""

    occurrence: int
    slot: int = 0
    instances: int = 0


@dataclass(frozen=True)
class _Entry:
    """A record before it is rendered: enough to order and filter it cheaply."""

    k: int
    slot: int
    meeting_type: str
    state: str
    start: datetime
    end: datetime | None
    modified: bool | None
    moved: bool = False  # a scheduled meeting moved away from the series' pattern


@dataclass(frozen=True)
class _Occurrence:
    """Occurrence k as it is scheduled now: where the series puts it, or where it was moved."""

    k: int
    start: datetime
    end: datetime
    moved: bool = False


def _occurrence(spec: SeriesSpec, changes: Changes, k: int) -> _Occurrence:
    moved = changes.moved.get(k)
    if moved is not None:
        return _Occurrence(k, *moved, moved=True)
    start = spec.start_of(k)
    return _Occurrence(k, start, start + spec.duration)


def _scheduled_state(spec: SeriesSpec, occurrence: _Occurrence, now: datetime) -> str:
    if now < occurrence.start - READY_LEAD:
        return "scheduled"
    if now < occurrence.end:
        return "ready"
    return "missed" if spec.is_missed(occurrence.k) else "ended"


def _occurrences(
    spec: SeriesSpec, changes: Changes, start: datetime, resume: Position | None
) -> Iterator[_Occurrence]:
    """Occurrences not deleted, in API order (by start, then index): from ``resume``, or
    from the first that can have a record starting at or after ``start``.

    Without moves, index order is start order (occurrences never overlap): that fast path
    costs what the page costs. Moved occurrences are merged in at their new start.
    """
    if resume is not None and resume.occurrence >= spec.count:
        return
    if not changes.moved:
        first = spec.first_index_from(start) if resume is None else resume.occurrence
        for k in range(first, spec.count):
            if k not in changes.deleted:
                yield _occurrence(spec, changes, k)
        return
    if resume is None:
        plain_from = spec.first_index_from(start)
        lookback = _earlier(start, changes.longest_move + MIN_GAP)
        key = (min(lookback, spec.start_of(plain_from)), -1)
    else:
        key = (_occurrence(spec, changes, resume.occurrence).start, resume.occurrence)
        plain_from = spec.first_index_from(key[0])
    plain = (
        (spec.start_of(k), k)
        for k in range(plain_from, spec.count)
        if k not in changes.deleted and k not in changes.moved
    )
    moved = itertools.islice(changes.by_start, bisect.bisect_left(changes.by_start, key), None)
    for at, k in heapq.merge(plain, moved):
        if (at, k) >= key:
            yield _occurrence(spec, changes, k)


def _earlier(moment: datetime, delta: timedelta) -> datetime:
    """``moment - delta``, or the earliest datetime when that is out of range."""
    try:
        return moment - delta
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _entries(
    spec: SeriesSpec, now: datetime, occurrences: Iterable[_Occurrence], resume: Position | None
) -> Iterator[_Entry]:
    """Every record of these occurrences, in API order, as the clock shows them; the
    occurrence ``resume`` points at starts at its slot.
    """
    for occurrence in occurrences:
        k = occurrence.k
        first_slot = resume.slot if resume is not None and k == resume.occurrence else 0
        if first_slot == 0:
            state = _scheduled_state(spec, occurrence, now)
            modified = occurrence.moved or spec.is_modified(k)
            yield _Entry(
                k,
                0,
                "scheduledMeeting",
                state,
                occurrence.start,
                occurrence.end,
                modified,
                occurrence.moved,
            )
        duration = occurrence.end - occurrence.start
        for j, (actual_start, actual_end) in enumerate(
            spec.instance_times(k, occurrence.start, duration)
        ):
            if j + 1 < first_slot or now < actual_start + DETAILS_DELAY:
                continue
            done = now >= actual_end + DETAILS_DELAY
            state, end_or_none = ("ended", actual_end) if done else ("inProgress", None)
            yield _Entry(k, j + 1, "meeting", state, actual_start, end_or_none, None)


def series_page(
    spec: SeriesSpec,
    now: datetime,
    start: datetime,
    end: datetime,
    filters: Filters,
    *,
    after: Position | None = None,
    limit: int | None = None,
    cap: int = 10_000,
    tz_name: str = "UTC",
    changes: Changes = NO_CHANGES,
) -> tuple[list[Record], Position | None]:
    """One page of a series query and where the next page starts (None: nothing left).

    ``cap`` limits the instances one query lists across all its pages, like Webex does;
    the count travels inside the returned position. Records of one series share their
    nested objects (serialise them, or copy before changing them). ``changes``: the
    series' deleted and moved occurrences.
    """
    if filters.meeting_type == "meetingSeries":
        wanted = _overlaps(spec, start, end, changes) and filters.is_modified is None
        record = series_record(spec, now, tz_name)
        return ([record] if wanted and filters.state in (None, record["state"]) else []), None
    listed = after.instances if after else 0
    items: list[Record] = []
    # Occurrences come by start, so none after the first one at or past `end` is wanted.
    occurrences = itertools.takewhile(
        lambda occurrence: occurrence.start < end, _occurrences(spec, changes, start, after)
    )
    for entry in _entries(spec, now, occurrences, after):
        is_instance = entry.meeting_type == "meeting"
        if not start <= entry.start < end or not filters.accepts(
            entry.meeting_type, entry.state, entry.modified
        ):
            continue
        if is_instance and listed >= cap:
            continue
        if limit is not None and len(items) >= limit:
            return items, Position(entry.k, entry.slot, listed)
        items.append(_rendered(spec, entry, tz_name))
        listed += is_instance
    return items, None


def _rendered(spec: SeriesSpec, entry: _Entry, tz_name: str) -> Record:
    """The record of an entry; a moved occurrence keeps its id but has its own times."""
    record = _render(spec, entry, tz_name)
    if entry.moved and entry.end is not None:
        record.update(isModified=True, end=format_time(entry.end, tz_name))
    return record


def _overlaps(
    spec: SeriesSpec, start: datetime, end: datetime, changes: Changes = NO_CHANGES
) -> bool:
    in_pattern = spec.first_start < end and spec.last_end > start
    return in_pattern or changes.moved_into(start, end)


# --- rendering -------------------------------------------------------------------------
#
# A record is a copy of a per-series template that already holds every documented
# property in the documented order (None where it does not apply), updated with what
# differs per record: updating existing keys keeps their order, so nothing is sorted.


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
    return _hash(spec.id, "rec") % 2 == 0


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
            stable_hex(spec.id, "tag", i) for i in range(3 if full else _hash(spec.id) % 3)
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
            {"name": "Department", "value": _DEPARTMENTS[_hash(spec.id, "dept") % 5]},
            {"name": "Cost Center", "value": _digits(5, spec.id, "cost")},
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
    number = "2" + _digits(9, spec.id, "number")
    webinar = spec.scheduled_type == "webinar"
    return {
        "meetingNumber": number,
        "password": spec.password,
        "phoneAndVideoSystemPassword": _digits(8, spec.id, "pvs"),
        "hostKey": _digits(6, spec.id, "hostKey"),
        "webLink": f"https://{SITE_URL}/sandbox-example/j.php?MTID=m{stable_hex(spec.id, 'mt')}",
        "sipAddress": f"{number}@{SITE_URL}",
        "dialInIpAddress": "192.0.2.10",
        "panelistPassword": f"Pn{_digits(4, spec.id, 'pp')}@x" if webinar else None,
        "phoneAndVideoSystemPanelistPassword": _digits(8, spec.id, "pvspp") if webinar else None,
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
        recurrence=_recurrence(spec),
    )
    return record


def scheduled_id(spec: SeriesSpec, k: int) -> str:
    return f"{spec.id}_{spec.start_of(k).strftime('%Y%m%dT%H%M%SZ')}"


def instance_id(spec: SeriesSpec, k: int, j: int) -> str:
    return f"{spec.id}_I_{10**17 + _hash(spec.id, k, j, 'instance') % (9 * 10**17)}"


def scheduled_record(
    spec: SeriesSpec, k: int, now: datetime, tz_name: str = "UTC", changes: Changes = NO_CHANGES
) -> Record:
    """Scheduled occurrence k (also used for `GET /meetings/{scheduledId}`)."""
    entry = next(_entries(spec, now, [_occurrence(spec, changes, k)], None))  # scheduled first
    return _rendered(spec, entry, tz_name)


_HAS_BITS = ("hasChat", "hasTranscription", "hasPolls", "hasQA", "hasSlido", "hasClosedCaption")


def _render(spec: SeriesSpec, entry: _Entry, tz_name: str) -> Record:
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
    bits = _hash(ident, "has")
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


# --- the collection ----------------------------------------------------------------------


class Dataset:
    """All series of a fake Webex, looked up by id or by who may see them, and what was
    deleted or moved since.

    Changes are copy-on-write (a new set, a new dict, new :class:`Changes`), so readers
    on other server threads need no lock and see each change whole.
    """

    def __init__(self, series: Sequence[SeriesSpec]) -> None:
        self._by_id = {spec.id: spec for spec in series}
        if len(self._by_id) != len(series):
            raise ValueError("series ids must be unique")
        self._lock = threading.Lock()  # one writer at a time
        self._gone: frozenset[str] = frozenset()  # deleted series
        self._changes: dict[str, Changes] = {}
        # Discovery asks the same question for each of its pages: answer it once. Every
        # change (a deletion, a move) replaces it with an empty one.
        self._overlapping: dict[tuple[str, datetime, datetime], list[SeriesSpec]] = {}

    def get(self, series_id: str) -> SeriesSpec | None:
        """The series, unless it is unknown or was deleted."""
        return None if series_id in self._gone else self._by_id.get(series_id)

    def changes(self, series_id: str) -> Changes:
        return self._changes.get(series_id, NO_CHANGES)

    def ids(self, for_email: str | None = None) -> list[str]:
        gone = self._gone
        return [
            s.id
            for s in self._by_id.values()
            if s.id not in gone and (for_email is None or s.visible_to(for_email))
        ]

    def overlapping(self, email: str, start: datetime, end: datetime) -> list[SeriesSpec]:
        """Series the user hosts or is invited to with an occurrence in [start, end)."""
        key = (email.lower(), start, end)
        cache = self._overlapping
        found = cache.get(key)
        if found is None:
            gone, changes = self._gone, self._changes
            found = sorted(
                (
                    s
                    for s in self._by_id.values()
                    if s.visible_to(email)
                    and s.id not in gone
                    and _overlaps(s, start, end, changes.get(s.id, NO_CHANGES))
                ),
                key=lambda s: (s.first_start, s.id),
            )
            if len(cache) >= 64:
                cache.clear()
            cache[key] = found
        return list(found)

    def series_of(self, meeting_id: str) -> SeriesSpec | None:
        """The series a series, scheduled meeting or instance id belongs to, if it exists."""
        return self.get(meeting_id.partition("_")[0])

    def find_scheduled(self, meeting_id: str) -> tuple[SeriesSpec, int] | None:
        """Map ``<seriesId>_<YYYYMMDDTHHMMSSZ>`` back to its occurrence, by arithmetic.

        The id keeps naming the original start after a move; deleted ones are not found.
        """
        series_id, _, stamp = meeting_id.partition("_")
        spec = self.get(series_id)
        try:
            moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
        if spec is None:
            return None
        k = spec.first_index_from(moment)
        if k >= spec.count or spec.start_of(k) != moment or k in self.changes(spec.id).deleted:
            return None
        return spec, k

    def delete(self, meeting_id: str) -> None:
        """Delete a series (all of it) or one scheduled meeting (with its instances).

        LookupError: unknown or already deleted; ValueError: an instance id.
        """
        with self._lock:
            if self.get(meeting_id) is not None:
                self._gone = self._gone | {meeting_id}
                self._overlapping = {}
                return
            spec, k = self._scheduled(meeting_id, "deleted")
            self._changes = {**self._changes, spec.id: self.changes(spec.id).deleting(k)}
            self._overlapping = {}

    def move(
        self, meeting_id: str, start: datetime, end: datetime | None, now: datetime
    ) -> tuple[SeriesSpec, int]:
        """Give a scheduled meeting a new start and end (default: its current duration),
        as Webex's "Update a Meeting" does; it keeps its id.

        LookupError: unknown or deleted; ValueError: not a scheduled meeting, already
        started, new start in the past or end not after start.
        """
        with self._lock:
            spec, k = self._scheduled(meeting_id, "updated")
            changes = self.changes(spec.id)
            current = _occurrence(spec, changes, k)
            if now >= current.start:
                raise ValueError("A meeting that has started or ended cannot be updated.")
            if start < now:
                raise ValueError("start cannot be in the past.")
            new_end = start + (current.end - current.start) if end is None else end
            if new_end <= start:
                raise ValueError("end must be after start.")
            self._changes = {**self._changes, spec.id: changes.moving(k, start, new_end)}
            self._overlapping = {}
            return spec, k

    def _scheduled(self, meeting_id: str, verb: str) -> tuple[SeriesSpec, int]:
        found = self.find_scheduled(meeting_id)
        if found is not None:
            return found
        series_id, _, rest = meeting_id.partition("_")
        if self.get(series_id) is not None and rest.startswith("I_"):
            raise ValueError(
                f"A meeting instance cannot be {verb}: it has happened. "
                "Use its scheduled meeting or meeting series id."
            )
        if verb == "updated" and self.get(meeting_id) is not None:
            raise ValueError("The sandbox updates scheduled meetings only, not a whole series.")
        raise LookupError(meeting_id)

    def deleted_ids(self) -> list[str]:
        """Deleted series, then deleted scheduled meetings of the series that remain."""
        gone, changes = self._gone, self._changes
        occurrences = [
            scheduled_id(self._by_id[series_id], k)
            for series_id, change in changes.items()
            if series_id not in gone
            for k in sorted(change.deleted)
        ]
        return sorted(gone) + occurrences

    def moved(self) -> dict[str, tuple[datetime, datetime]]:
        """Moved scheduled meetings (of series that remain): id -> new (start, end)."""
        gone, changes = self._gone, self._changes
        return {
            scheduled_id(self._by_id[series_id], k): times
            for series_id, change in changes.items()
            if series_id not in gone
            for k, times in sorted(change.moved.items())
        }


# --- ready-made datasets -----------------------------------------------------------------

PEOPLE = {
    "alice@example.com": "Alice Smith",
    "bob@example.com": "Bob Jones",
    "carol@example.com": "Carol White",
    "dave@example.com": "Dave Brown",
    "erin@example.com": "Erin Green",
}


def _midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _series(name: str, host: str, **fields: Any) -> SeriesSpec:
    return SeriesSpec(
        id=stable_hex("sandbox", name), host_email=host, host_name=PEOPLE[host], **fields
    )


def default_series(now: datetime) -> list[SeriesSpec]:
    """Six series around ``now`` covering every state (ids do not depend on ``now``).

    Alice hosts four (she is invited to none), bob hosts the webinar, carol hosts one and
    is invited to alice's 1:1 and bob's webinar; dave and erin are invitees only. At ``now``
    itself carol's series has an instance in progress, alice's team sync is `ready`
    (it starts 5 minutes later) and alice's short incident series has expired.
    """
    day, week = timedelta(days=1), timedelta(days=7)
    base = _midnight(now)
    alice, bob, carol, dave, erin = PEOPLE
    return [
        _series("daily-standup", alice, title="Daily Standup",
                first_start=base - 120 * day + timedelta(hours=9), interval=day, count=181,
                duration=timedelta(minutes=15), missed_every=11, invitees=(dave, erin)),
        _series("team-sync", alice, title="Team Sync",
                first_start=base - 52 * week + timedelta(hours=12, minutes=5), interval=week,
                count=61, duration=timedelta(hours=1), missed_every=7, restarted_every=5,
                modified_every=4, invitees=(dave, erin), full_options=True),
        _series("alice-carol-1on1", alice, title="Alice / Carol 1:1",
                first_start=base - 13 * week + day + timedelta(hours=15, minutes=30),
                interval=week, count=26, duration=timedelta(minutes=30), missed_every=6,
                invitees=(carol,)),
        _series("all-hands", bob, title="All-Hands Webinar",
                first_start=base - 8 * 28 * day + 3 * day + timedelta(hours=17),
                interval=28 * day, count=12, duration=timedelta(minutes=90),
                restarted_every=4, modified_every=3, scheduled_type="webinar",
                invitees=(carol, dave), password="AllH@nds26", full_options=True),
        _series("incident-review", alice, title="Incident Review Sprint",
                first_start=base - 65 * day + timedelta(hours=10), interval=day, count=10,
                duration=timedelta(minutes=30), invitees=(dave,)),
        _series("design-review", carol, title="Design Review",
                first_start=base - 20 * week + timedelta(hours=11, minutes=30), interval=week,
                count=30, duration=timedelta(hours=1), missed_every=5),
    ]  # fmt: skip


def bulk_series(
    count: int, meetings_each: int, *, now: datetime, host_email: str = "alice@example.com"
) -> list[SeriesSpec]:
    """``count`` identical-shape series for benchmarks, with exact record counts.

    Every series has ``meetings_each`` hourly occurrences of 30 minutes, the first at
    ``midnight(now, UTC) + 2 days``, so all of them are in the future: as long as the server
    clock stays at ``now``, a series query whose [from, to) covers
    ``[midnight + 2 days, midnight + 2 days + meetings_each hours)`` returns exactly
    ``meetings_each`` records, all `scheduledMeeting` in state `scheduled`, and no
    instances; a narrower range returns the occurrences starting inside it. Every option
    is on, so records are as large as Webex's fullest.
    """
    if count < 0 or meetings_each < 1:
        raise ValueError("bulk_series needs count >= 0 and meetings_each >= 1")
    first = _midnight(now) + timedelta(days=2)
    return [
        SeriesSpec(
            id=stable_hex("bulk", host_email.lower(), i),
            title=f"Bulk Series {i:05d}",
            host_email=host_email,
            host_name=PEOPLE.get(host_email.lower(), host_email.partition("@")[0].title()),
            first_start=first,
            interval=timedelta(hours=1),
            count=meetings_each,
            duration=timedelta(minutes=30),
            full_options=True,
        )
        for i in range(count)
    ]
