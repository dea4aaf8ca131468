"""What the tap knows about the Webex Meetings API, kept in one place.

Sources: the "List Meetings of a Meeting Series" page and Webex's OpenAPI file
(see ``tests/openapi``). Parameter names, enum values, the error body, the ``Link`` header
quirks and the scopes are facts of the API, not of this tap; nothing else should spell them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import requests

from tap_webex_meetings import timeutils

DEFAULT_API_URL = "https://webexapis.com/v1"
MEETINGS_PATH = "/meetings"
TOKEN_PATH = "/access_token"

MEETING_TYPES = ("meetingSeries", "scheduledMeeting", "meeting")
MEETING_STATES = (
    "active",
    "scheduled",
    "ready",
    "lobby",
    "inProgress",
    "ended",
    "missed",
    "expired",
)
SERIES_TYPE = "meetingSeries"
SCHEDULED_TYPE = "scheduledMeeting"
INSTANCE_TYPE = "meeting"

MAX_PAGE_SIZE = 100
# "For meetingType=meeting at most 10,000 instances can be listed, paging or not."
INSTANCE_CAP = 10_000

USER_SCOPE = "meeting:schedules_read"
ADMIN_SCOPE = "meeting:admin_schedule_read"

# Whoever reads these can join or start the meeting as host: never selected by default.
SENSITIVE_FIELDS = (
    "password",
    "phoneAndVideoSystemPassword",
    "hostKey",
    "panelistPassword",
    "phoneAndVideoSystemPanelistPassword",
)

logger = logging.getLogger(__name__)


# Never inside a URL path: requests and servers resolve dot segments, and these end one;
# nor control characters.
_NOT_IN_A_PATH = re.compile(r"[/?#\\\x00-\x1f\x7f]")


def path_problem(meeting_id: str) -> str | None:
    """Why an id cannot go into ``/meetings/{id}``; None when it can.

    ``..`` would become ``GET /v1/`` (dot segments are removed), whose 404 would read as the
    meeting deleted; ``/``, ``?``, ``#`` and control characters change what is asked for.
    Webex's ids are hex strings with ``_`` and digits: none of this is ever one of them.
    """
    if meeting_id in ("", ".", ".."):
        return "empty" if not meeting_id else "a dot segment"
    if _NOT_IN_A_PATH.search(meeting_id):
        return "it holds /, ?, #, \\ or a control character"
    return None


def entry_problem(
    item: Any, key: str = "id", moment: str | None = "start", also: tuple[str, ...] = ()
) -> str | None:
    """Why an entry of a listing (or a lookup's body) is not a record; None when it is one.

    A record has a string ``key`` (the primary key everywhere) that can go into a URL (see
    :func:`path_problem`) and, when ``moment`` names a field, a timestamp there that parses
    and is in range (for a meeting its ``start``: the bookmark and the deletion memory);
    each field of ``also`` is such a timestamp or absent.
    """
    if not isinstance(item, dict):
        return f"a JSON {json_type(item)}, not an object"
    value = item.get(key)
    if not isinstance(value, str):
        return f"no {key}" if value is None else f"an {key} that is a JSON {json_type(value)}"
    if problem := path_problem(value):
        return f"an {key} that cannot go into a URL ({problem})"
    if moment is not None and (problem := timestamp_problem(item, moment, required=True)):
        return problem
    for name in also:
        if problem := timestamp_problem(item, name, required=False):
            return problem
    return None


def timestamp_problem(item: dict[str, Any], name: str, *, required: bool) -> str | None:
    """Why ``item[name]`` is not a usable timestamp; None when it is one (or absent, allowed)."""
    stamp = item.get(name)
    if stamp is None and not required:
        return None
    if not isinstance(stamp, str):
        return f"no {name}" if stamp is None else f"a {name} that is a JSON {json_type(stamp)}"
    try:
        timeutils.parse_api_timestamp(stamp)
    except timeutils.OutOfRangeError:
        return f"{name} {stamp[:60]!r} is {timeutils.RANGE}"
    except ValueError:
        return f"{name} {stamp[:60]!r} is not a timestamp"
    return None


def meeting_problem(item: Any) -> str | None:
    """Why an entry is not a meeting: a string ``id`` and a ``start`` that parses."""
    return entry_problem(item, "id", "start")


def other_series(item: dict[str, Any], series_id: str) -> str | None:
    """The series an entry of ``series_id``'s listing says it belongs to, if another one."""
    owner = item.get("meetingSeriesId")
    return None if owner is None or owner == series_id else str(owner)[:100]


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string")):
        if isinstance(value, kind):
            return name
    return "number"


def lookup_id(url: str) -> str | None:
    """The id of a ``GET /meetings/{id}`` URL; None for a listing."""
    path = urlsplit(url).path
    head, _, tail = path.rpartition("/")
    return unquote(tail) if head.endswith(MEETINGS_PATH) and tail else None


def subject(meeting_id: str | None, params: Mapping[str, Any]) -> str:
    """What a request asks for, in words: the lookup of an id, an instance's participants, a
    series, or discovery."""
    if meeting_id:
        return f"the lookup of {meeting_id}"
    if instance := params.get("meetingId"):  # only /meetingParticipants takes it
        return f"the participants of meeting {instance}"
    if series_id := params.get("meetingSeriesId"):
        return f"series {series_id}"
    host = params.get("hostEmail")
    return "the meeting series listing" + (f" of {host}" if host else "")


def without_query(url: str) -> str:
    """``url`` up to its path: what a message names (the query may hold an email)."""
    parts = urlsplit(url)
    return parts._replace(query="", fragment="").geturl()


def subject_of(url: str) -> str:
    """:func:`subject` of a request URL."""
    return subject(lookup_id(url), dict(parse_qsl(urlsplit(url).query)))


def next_page_url(response: requests.Response) -> str | None:
    """The URL of the next page, from ``Link: <url>; rel="next"``, repaired.

    Webex puts the cursor inside that URL. Seen in the wild: the URL drops query parameters
    of the request (they are restored from the request that was answered), carries a stray
    ``max=null`` (stripped), or the header is the literal ``string`` of a spec mock (no next
    page). Anything unparseable ends paging with a warning rather than a crash.
    """
    header = response.headers.get("Link")
    if not header:
        return None
    url = response.links.get("next", {}).get("url")
    if not url:
        if "next" in header:
            logger.warning("Ignoring a Link header that cannot be parsed: %.200s", header)
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        logger.warning("Ignoring a next-page link that is not an absolute URL: %.200s", url)
        return None
    params = [(key, value) for key, value in parse_qsl(parts.query) if value != "null"]
    present = {key for key, _ in params}
    request_url = response.request.url or ""
    params += [
        (key, value) for key, value in parse_qsl(urlsplit(request_url).query) if key not in present
    ]
    return urlunsplit(parts._replace(query=urlencode(params)))


def query_params(values: Mapping[str, Any]) -> dict[str, str]:
    """Webex query parameters: booleans as ``true``/``false``; unset values left out."""
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for key, value in values.items()
        if value is not None
    }
