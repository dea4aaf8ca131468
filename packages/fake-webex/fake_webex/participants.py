"""``GET /v1/meetingParticipants``: who joined each meeting instance of the fake Webex.

Nothing is stored: like the meetings, an instance's participants are derived from a hash of
``(series id, occurrence, instance)``, so the same instance always has the same people. What
a client must cope with is in there: the host; invitees who came (a quarter of them do not,
and are not listed, as Webex lists only those who joined); a guest who was not invited; a
phone-only participant with no email; several joins per person (``devices[]``, each with its
``joinedTime`` and ``leftTime``); breakout sessions in series with every option on; a field
the OpenAPI file does not declare; pages linked by ``Link`` with ``max`` (1..100, default 10),
under the same link quirks and faults as the meetings listing.

Webex lists an instance's participants once the instance is in progress (real-time ones) and
all who joined once it has ended; before its details appear (15 minutes after it starts, see
:data:`~.occurrences.DETAILS_DELAY`), or for an unknown, deleted or hidden instance: 404.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from .dataset import Dataset
from .occurrences import DETAILS_DELAY, occurrence_of
from .params import parse_max, parse_timezone
from .records import instance_id
from .replies import ApiError, RecordedRequest, Reply, json_reply
from .samples import PEOPLE
from .series import Record, SeriesSpec, format_time, parse_time, stable_hash
from .tokens import Token

PATH = "/v1/meetingParticipants"
NOT_FOUND = "The requested meeting could not be found."
SITE_URL = "sandbox.webex.com"
# A field Webex sends that the OpenAPI file does not declare: a client must drop it, not fail.
UNDECLARED_FIELD = "networkQuality"


class Live(Protocol):
    """What the participants listing reads from the fake at each request."""

    @property
    def now(self) -> datetime: ...

    @property
    def api_url(self) -> str: ...

    @property
    def link_quirks(self) -> set[str]: ...


@functools.lru_cache(maxsize=1024)
def _instances_of(spec: SeriesSpec) -> dict[str, tuple[int, int]]:
    """Instance id -> (occurrence, instance): ids are hashes, so the map is built once."""
    found = {}
    for k in range(spec.count):
        if spec.is_missed(k):
            continue
        restarted = spec.restarted_every > 0 and (k + 1) % spec.restarted_every == 0
        for j in range(2 if restarted else 1):
            found[instance_id(spec, k, j)] = (k, j)
    return found


def _uuid(*parts: object) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _name_of(email: str) -> str:
    return PEOPLE.get(email.lower()) or email.partition("@")[0].replace(".", " ").title()


class Participants:
    """Answers ``/v1/meetingParticipants`` from ``dataset`` as ``live`` (clock, links) says."""

    def __init__(self, dataset: Dataset, live: Live) -> None:
        self._dataset = dataset
        self._live = live

    def answer(self, request: RecordedRequest, token: Token) -> Reply:
        params = {name: values[-1] for name, values in request.params.items()}
        limit = parse_max(params.get("max"))
        tz_name = parse_timezone(request.headers.get("timezone"))
        user = params.get("hostEmail") or token.email
        meeting_id = params.get("meetingId")
        if not meeting_id:
            raise ApiError(400, "meetingId is required.")
        spec = self._dataset.series_of(meeting_id)
        if spec is None or not (spec.host_email.lower() == user.lower() or token.admin):
            raise ApiError(404, NOT_FOUND)  # only the host (or an admin) may list them
        try:
            offset = int(params.get("cursor") or 0)
        except ValueError:
            raise ApiError(400, "Invalid cursor.") from None
        people = self.of(meeting_id, tz_name)
        if people is None:
            raise ApiError(404, NOT_FOUND)
        page = people[offset : offset + limit]
        headers = {}
        if offset + limit < len(people):
            headers["Link"] = self._next_link(request, offset + limit, limit)
        return json_reply(200, {"items": page}, headers)

    def of(
        self, meeting_id: str, tz_name: str = "UTC", at: datetime | None = None
    ) -> list[Record] | None:
        """The participants Webex lists for an instance at ``at`` (default now), in its
        order; None when it answers 404 (unknown, deleted, not yet shown).
        """
        now = self._live.now if at is None else at
        spec = self._dataset.series_of(meeting_id)
        found = _instances_of(spec).get(meeting_id) if spec is not None else None
        if spec is None or found is None:
            return None
        k, j = found
        changes = self._dataset.changes(spec.id)
        if k in changes.deleted:
            return None
        occurrence = occurrence_of(spec, changes, k)
        times = spec.instance_times(k, occurrence.start, occurrence.end - occurrence.start)
        start, end = times[j]
        if now < start + DETAILS_DELAY:
            return None
        people = participants(Instance(spec, k, j, start, end), tz_name)
        if now >= end + DETAILS_DELAY:
            return people
        # In progress: those who joined by now, still in the meeting as far as Webex knows.
        return [
            {**person, "state": "joined", "leftTime": None, "devices": []}
            for person in people
            if parse_time(person["joinedTime"]) <= now
        ]

    def _next_link(self, request: RecordedRequest, offset: int, limit: int) -> str:
        """The next page on the host asked, under the fake's link quirks (see listing.py)."""
        quirks = self._live.link_quirks
        if "literal_string" in quirks:
            return "string"
        kept = (
            []
            if "drop_params" in quirks
            else [
                (name, value)
                for name, values in request.params.items()
                if name not in ("cursor", "max")
                for value in values
            ]
        )
        max_value = "null" if "max_null" in quirks else str(limit)
        query = urlencode([*kept, ("max", max_value), ("cursor", str(offset))])
        host = request.headers.get("host")
        api_url = self._live.api_url
        if host:
            api_url = f"{urlsplit(api_url).scheme}://{host}/v1"
        return f'<{api_url}/meetingParticipants?{query}>; rel="next"'


@dataclass(frozen=True)
class Instance:
    """Instance ``j`` of occurrence ``k`` of a series, as it ran: ``start`` to ``end``."""

    spec: SeriesSpec
    k: int
    j: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Person:
    """Someone who joined: ``key`` seeds the hashes; no ``email`` for a phone-only caller."""

    key: str
    email: str | None
    host: bool = False
    invitee: bool = False


def participants(instance: Instance, tz_name: str = "UTC") -> list[Record]:
    """Everyone who joined the instance, in the order Webex lists them."""
    spec = instance.spec
    seed = (spec.id, instance.k, instance.j)
    who = [Person(spec.host_email, spec.host_email, host=True)]
    who += [
        Person(email, email, invitee=True)
        for email in spec.invitees
        if stable_hash(*seed, email, "came") % 4 != 0
    ]
    if stable_hash(*seed, "guest") % 3 == 0:
        guest = f"guest{stable_hash(*seed, 'guest-n') % 50}@partner.example"
        who.append(Person(guest, guest))
    if stable_hash(*seed, "phone") % 4 == 0:
        who.append(Person("phone", None))
    return [
        _participant(instance, tz_name, person)
        for person in sorted(who, key=lambda p: stable_hash(*seed, p.key, "order"))
    ]


def _participant(instance: Instance, tz_name: str, person: Person) -> Record:
    spec, k, j, start, end = instance.spec, instance.k, instance.j, instance.start, instance.end
    email = person.email
    seed = (spec.id, k, j, person.key)
    meeting_id = instance_id(spec, k, j)
    length = end - start
    joins = 1 + stable_hash(*seed, "joins") % 3  # one to three joins: devices[]
    devices = []
    for n in range(joins):
        # Each join lies in its own share of the meeting; the first may be late.
        share_start = start + length * n / joins
        slack = max(1, int(length.total_seconds() / joins / 3))
        late = timedelta(seconds=stable_hash(*seed, n, "late") % slack)
        joined = share_start + late
        left = start + length * (n + 1) / joins - timedelta(seconds=30 * (n + 1 < joins))
        phone = email is None or stable_hash(*seed, n, "pstn") % 5 == 0
        device: Record = {
            "correlationId": _uuid(*seed, n, "correlation"),
            "deviceType": "tp_phone" if email is None else "webex_meeting_center_mac",
            "audioType": "pstn" if phone else "voip",
            "joinedTime": format_time(joined, tz_name),
            "leftTime": format_time(left, tz_name),
            "durationSecond": int((left - joined).total_seconds()),
        }
        if phone:
            device["callType"] = "callIn"
        devices.append(device)
    first, last = devices[0]["joinedTime"], devices[-1]["leftTime"]
    record: Record = {
        "id": f"{spec.id}_{_uuid(*seed, 'participant')}",
        "host": person.host,
        "coHost": False,
        "email": email,
        "displayName": _name_of(email) if email else f"Call-in User {stable_hash(*seed) % 90}",
        "invitee": person.invitee,
        "muted": stable_hash(*seed, "muted") % 2 == 0,
        "meetingStartTime": format_time(start, tz_name),
        "video": "off" if email is None or stable_hash(*seed, "video") % 3 == 0 else "on",
        "state": "end",
        "joinedTime": first,
        "leftTime": last,
        "siteUrl": SITE_URL,
        "meetingId": meeting_id,
        "hostEmail": spec.host_email,
        "devices": devices,
        UNDECLARED_FIELD: ("good", "fair", "poor")[stable_hash(*seed, "network") % 3],
    }
    if email is None:
        del record["email"]  # Webex leaves out what does not apply
    if spec.full_options and email is not None and stable_hash(*seed, "breakout") % 2 == 0:
        room = 1 + stable_hash(*seed, "room") % 3
        record["breakoutSessionsAttended"] = [
            {
                "id": _uuid(spec.id, k, j, "breakout", room),
                "name": f"Breakout session {room}",
                "joinedTime": format_time(start + length / 3, tz_name),
                "leftTime": format_time(start + length / 2, tz_name),
            }
        ]
    return record
