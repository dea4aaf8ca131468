"""What a settings schema cannot read or check, each bad value a line naming the setting.

Dates that parse and come in order, a token or a complete OAuth triple, an ``https`` URL
ending in /v1, a time zone, email addresses, series ids (not one meeting's id), the split
(:mod:`sharding`) and stream maps: a bad value stops the tap before its first request.
Lists and numbers given as text are read first.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tap_webex_meetings import credentials, sharding, stream_maps, timeutils, webex
from tap_webex_meetings.settings import (
    MAX_DAYS,
    OAUTH_SETTINGS,
    PROPERTIES,
    list_from_text,
    meeting_id_kind,
    with_defaults,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def read_text_values(config: MutableMapping[str, Any]) -> None:
    """Lists and numbers given as text become lists and numbers, in place; so do numbers
    the SDK read from a JSON config file as ``Decimal`` (``timedelta`` refuses those).

    Meltano hands an environment variable's text through as it is typed (meltano.yml
    declares these settings ``kind: string``: its own array and decimal kinds turn
    ``a,b`` and ``0.5`` into tracebacks): a list is JSON (``["a","b"]``) or comma-separated
    (``a,b``), a number a decimal (``0.5``). Text that is neither stays, for the schema's
    one-line error.
    """
    for name, spec in PROPERTIES.items():
        value = config.get(name)
        types = spec.get("type", [])
        if isinstance(value, Decimal):  # how the SDK reads a number of a JSON config file
            config[name] = _plain_number(value, integer="integer" in types)
        if not isinstance(value, str):
            continue
        if "array" in types:
            config[name] = list_from_text(value)
        elif "number" in types and _NUMBER.match(value.strip()):
            config[name] = float(value)


def _plain_number(value: Decimal, *, integer: bool) -> int | float:
    """``30.0`` of an integer setting is 30; anything else a float, for the schema to judge."""
    if integer and value.is_finite() and abs(value) < 2**63 and value == int(value):
        return int(value)
    return float(value)


def problems(config: Mapping[str, Any], *, now: datetime) -> list[str]:
    """What the JSON schema cannot check, each message starting with the setting's name.

    ``now`` is the run's start: without ``end_date`` the range ends ``lookahead_days`` later.
    """
    found = [
        *_credential_problems(config),
        *credentials.problems(config),
        *_api_url_problems(config.get("api_url")),
    ]
    dates: dict[str, datetime] = {}
    for name in ("start_date", "end_date"):
        value = config.get(name)
        if value is None:
            continue  # "required" is the schema's to say
        try:
            dates[name] = timeutils.parse_datetime(str(value))
        except timeutils.OutOfRangeError:
            found.append(f"{name}: {value!r} is out of range (years 1970 to 8999)")
        except ValueError:
            found.append(
                f"{name}: {value!r} is not an ISO 8601 date or date-time "
                "(e.g. 2025-01-01 or 2025-01-01T00:00:00Z)"
            )
    if "start_date" in dates and "end_date" in dates and dates["end_date"] <= dates["start_date"]:
        found.append("end_date: must be after start_date")
    found += _range_end_problems(config, dates, now)
    timezone = config.get("timezone")
    if timezone is not None and not (
        isinstance(timezone, str) and timeutils.is_valid_timezone(timezone)
    ):
        found.append(f"timezone: {timezone!r} is not an IANA time zone (e.g. Europe/Berlin)")
    found += [
        f"host_emails: {email!r} is not an email address"
        for email in config.get("host_emails") or []
        if not (isinstance(email, str) and _EMAIL.match(email))
    ]
    found += [
        f"meeting_series_ids: {series_id!r} is not a series id"
        for series_id in config.get("meeting_series_ids") or []
        if not (
            isinstance(series_id, str) and series_id.strip() and not webex.path_problem(series_id)
        )
    ]
    found += [
        f"secret_fields: {name!r} is not one of {', '.join(webex.SENSITIVE_FIELDS)}"
        for name in config.get("secret_fields") or []
        if name not in webex.SENSITIVE_FIELDS
    ]
    meeting_ids = meeting_ids_in_series_ids(config)
    if meeting_ids and len(meeting_ids) == len(config.get("meeting_series_ids") or []):
        found += [f"{note}; no series left to extract" for note in meeting_ids]
    return found + sharding.problems(with_defaults(config)) + stream_maps.problems(config)


def meeting_ids_in_series_ids(config: Mapping[str, Any]) -> list[str]:
    """A line for each id of ``meeting_series_ids`` that is one meeting of a series.

    ``GET /meetings/{id}`` answers such an id with the meeting, which is no series to list.
    """
    notes = []
    for series_id in config.get("meeting_series_ids") or []:
        if isinstance(series_id, str) and (kind := meeting_id_kind(series_id)):
            what, series = kind
            notes.append(
                f"meeting_series_ids: {series_id!r} is {what} of the series {series}, "
                f"not a series (its series id is {series})"
            )
    return notes


def _range_end_problems(
    config: Mapping[str, Any], dates: Mapping[str, datetime], now: datetime
) -> list[str]:
    """A ``start_date`` at or past run start + ``lookahead_days`` leaves nothing to ask for."""
    start, lookahead = dates.get("start_date"), with_defaults(config)["lookahead_days"]
    if start is None or config.get("end_date") is not None:
        return []
    if not isinstance(lookahead, int | float) or not 0 <= lookahead <= MAX_DAYS:
        return []  # the schema's to say
    end = now + timedelta(days=lookahead)
    if start < end:
        return []
    return [
        f"start_date: {timeutils.query_format(start)} is not before the end of the range "
        f"(run start + lookahead_days = {timeutils.query_format(end)}); "
        "set end_date or an earlier start_date"
    ]


def _credential_problems(config: Mapping[str, Any]) -> list[str]:
    oauth_given = [name for name in OAUTH_SETTINGS if config.get(name)]
    if 0 < len(oauth_given) < len(OAUTH_SETTINGS):
        missing = [name for name in OAUTH_SETTINGS if name not in oauth_given]
        return [
            f"{', '.join(missing)}: missing; OAuth needs client_id, client_secret and refresh_token"
        ]
    if not oauth_given and not credentials.clean_access_token(config.get("access_token")):
        return [
            "access_token: required, or client_id, client_secret and refresh_token "
            "of a Webex integration"
        ]
    return []


def _api_url_problems(api_url: Any) -> list[str]:
    if api_url is None:
        return []
    parts = urlsplit(str(api_url))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [f"api_url: {api_url!r} is not an http(s) URL"]
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return [f"api_url: {api_url!r} must use https (http is allowed only for loopback)"]
    if not parts.path.rstrip("/").endswith("/v1"):  # else every request is a bare 404
        return [
            f"api_url: {api_url!r} does not end in /v1 (Webex's API is at {webex.DEFAULT_API_URL})"
        ]
    return []


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
