"""The tap's settings: their JSON schema (the public interface) and their validation.

The schema is what ``--about`` and Meltano show. :func:`problems` adds the checks a schema
cannot express (dates that parse, ``end_date`` after ``start_date``, a token or a complete
OAuth triple, ``https``), so that a bad value stops the tap before its first request with
a message that names the setting. :class:`Settings` is the validated, typed view the
streams read; credentials stay out of it on purpose (``auth.py`` reads the tokens, the
client only turns ``meeting_password`` into its header).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_webex_meetings import credentials, sharding, stream_maps, timeutils, webex

OAUTH_SETTINGS = ("client_id", "client_secret", "refresh_token")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# Ids of one meeting of a series, as Webex forms them: what a user copies from a listing.
_MEETING_IDS = (
    (re.compile(r"^(?P<series>[^_\s]+)_\d{8}T\d{6}Z$"), "a scheduled meeting"),
    (re.compile(r"^(?P<series>[^_\s]+)_I_\d+$"), "a meeting instance"),
)

# Bounds that keep every date arithmetic and every wait sane (a year ~9000 is
# timeutils.LATEST; a timeout or wait of 1e12 s overflows the clock).
MAX_DAYS = 3650
MAX_SECONDS = 3600

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        title="Access token",
        description=(
            "Webex bearer token with the scope meeting:schedules_read (and "
            "meeting:admin_schedule_read for host_emails). A personal access token lasts 12 "
            "hours; for scheduled runs use client_id, client_secret and refresh_token."
        ),
    ),
    th.Property(
        "client_id",
        th.StringType,
        title="OAuth client ID",
        description="Client ID of your Webex integration.",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        title="OAuth client secret",
        description="Client secret of your Webex integration.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        title="OAuth refresh token",
        description=(
            "Refresh token of your Webex integration; the tap exchanges it at "
            "{api_url}/access_token for access tokens as they expire."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=webex.DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the Webex API; https unless it is a loopback address.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        required=True,
        title="Start date",
        description=(
            "Earliest meeting start to extract, ISO 8601 (e.g. 2025-01-01T00:00:00Z); "
            "years 1970 to 8999."
        ),
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        title="End date",
        description=(
            "Latest meeting start to extract (exclusive); years 1970 to 8999. Default: run "
            "start + lookahead_days."
        ),
    ),
    th.Property(
        "lookahead_days",
        th.IntegerType(minimum=0, maximum=MAX_DAYS),
        default=30,
        title="Lookahead days",
        description=(
            "Upcoming scheduled meetings within this many days are extracted and refreshed "
            "(0..3650)."
        ),
    ),
    th.Property(
        "lookback_days",
        th.NumberType(minimum=0, maximum=MAX_DAYS),
        default=1,
        title="Lookback days",
        description=(
            "Each incremental run re-reads each series from its bookmark minus this many days, "
            "because meetings change state (ended, missed) after the fact (0..3650)."
        ),
    ),
    th.Property(
        "meeting_series_ids",
        th.ArrayType(th.StringType),
        title="Meeting series IDs",
        description=(
            "Extract exactly these series. Default: every series found for the token's user "
            "(and host_emails) over the date range."
        ),
    ),
    th.Property(
        "host_emails",
        th.ArrayType(th.StringType),
        title="Host emails",
        description="Also discover the series these users host (admin scope "
        "meeting:admin_schedule_read).",
    ),
    th.Property(
        "meeting_type",
        th.StringType,
        allowed_values=[t for t in webex.MEETING_TYPES if t != webex.SERIES_TYPE],
        title="Meeting type",
        description="Only meetings of this meetingType.",
    ),
    th.Property(
        "state",
        th.StringType,
        allowed_values=list(webex.MEETING_STATES),
        title="State",
        description="Only meetings in this state.",
    ),
    th.Property(
        "is_modified",
        th.BooleanType,
        title="Is modified",
        description="true: only modified scheduled meetings; false: only unmodified ones. "
        "Unset (default): all. Sent only when set.",
    ),
    th.Property(
        "meeting_password",
        th.StringType,
        secret=True,
        title="Meeting password",
        description="Sent as the password header, for protected meetings you do not host.",
    ),
    th.Property(
        "timezone",
        th.StringType,
        default="UTC",
        title="Time zone",
        description=(
            "IANA time zone Webex renders times in (sent as the timezone header), named in "
            "each record's timezone field; start and end are emitted in UTC whatever it is."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=webex.MAX_PAGE_SIZE),
        default=webex.MAX_PAGE_SIZE,
        title="Page size",
        description="Meetings per request (max), 1..100.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0, maximum=MAX_SECONDS),
        default=60,
        title="Request timeout",
        description="Seconds before a request is abandoned and retried (> 0, at most 3600).",
    ),
    th.Property(
        "retry_max_tries",
        th.IntegerType(minimum=1),
        default=8,
        title="Retry max tries",
        description="Tries of one request (429, 423, 5xx, resets, timeouts) before the run fails.",
    ),
    th.Property(
        "max_workers",
        th.IntegerType(minimum=1, maximum=32),
        default=8,
        title="Max workers",
        description=(
            "Series whose pages are fetched at the same time. Records still arrive one series "
            "at a time; a 429 pauses every worker. 1: one request at a time."
        ),
    ),
    th.Property(
        "shard_count",
        th.IntegerType(minimum=1),
        default=1,
        title="Shard count",
        description=(
            "Split the series across this many tap instances (stable hash of the series id); "
            "run one per shard_index, each with its own state."
        ),
    ),
    th.Property(
        "shard_index",
        th.IntegerType(minimum=0),
        default=0,
        title="Shard index",
        description="Which shard this instance extracts: 0 .. shard_count-1.",
    ),
    th.Property(
        "shard_plan",
        th.StringType,
        title="Shard plan",
        description=(
            "The split an orchestrator planned for this instance, <shard_index>/<shard_count> "
            "(e.g. 1/4; the Airflow DAG sets it). It replaces shard_index and shard_count; if "
            "either is set to something else, the tap stops before any request."
        ),
    ),
    th.Property(
        "secret_fields",
        th.ArrayType(th.StringType),
        title="Secret fields",
        description=(
            "Fields that let a reader join or start a meeting as host, emitted only when named "
            "here (and selected): " + ", ".join(webex.SENSITIVE_FIELDS) + ". Default: none."
        ),
    ),
    th.Property(
        "retry_max_wait_seconds",
        th.NumberType(minimum=0, maximum=MAX_SECONDS),
        default=300,
        title="Retry max wait",
        description=(
            "Upper bound of a single wait between tries, whatever Retry-After says (0..3600)."
        ),
    ),
).to_dict()


# Settings the typed view leaves out: the credentials (auth.py and the client read them from
# the config, so no repr of Settings can show one), what secret_fields.py reads, and the
# plan that from_config folds into shard_index and shard_count.
UNTYPED = frozenset(
    {*OAUTH_SETTINGS, "access_token", "meeting_password", "secret_fields", "shard_plan"}
)
PROPERTIES: dict[str, dict[str, Any]] = CONFIG_SCHEMA["properties"]
DEFAULTS: dict[str, Any] = {
    name: spec["default"] for name, spec in PROPERTIES.items() if "default" in spec
}


@dataclass(frozen=True)
class Settings:
    """The validated settings, typed and named as in the schema (tests/test_settings.py)."""

    api_url: str
    start_date: datetime
    end_date: datetime | None
    lookahead_days: int
    lookback_days: float
    meeting_series_ids: tuple[str, ...]
    host_emails: tuple[str, ...]
    meeting_type: str | None
    state: str | None
    is_modified: bool | None
    timezone: str
    page_size: int
    request_timeout: float
    retry_max_tries: int
    max_workers: int
    shard_count: int
    shard_index: int
    retry_max_wait_seconds: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read settings that :func:`problems` found valid; defaults come from the schema."""
        values = with_defaults(config)
        values["shard_index"], values["shard_count"] = sharding.split(values)
        values["api_url"] = str(values["api_url"]).rstrip("/")
        values["meeting_series_ids"] = [
            series_id
            for series_id in values.get("meeting_series_ids") or ()
            if _meeting_id_kind(series_id) is None
        ]
        return cls(**{f.name: _typed(values.get(f.name), PROPERTIES[f.name]) for f in fields(cls)})

    @property
    def lookahead(self) -> timedelta:
        return timedelta(days=self.lookahead_days)

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)

    def range_end(self, run_start: datetime) -> datetime:
        """``to`` of every query: ``end_date``, else run start + ``lookahead_days``."""
        return self.end_date or run_start + self.lookahead


def _typed(value: Any, spec: Mapping[str, Any]) -> Any:
    """A valid setting's value as the type its schema says; a list without repeats."""
    types = spec.get("type", [])
    if value is None:
        return () if "array" in types else None
    if spec.get("format") == "date-time":
        return timeutils.parse_datetime(value)
    if "array" in types:
        return tuple(dict.fromkeys(value))
    if "integer" in types:
        return int(value)
    return float(value) if "number" in types else value


def with_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with the schema's default for every setting that is not set (or null)."""
    return {**DEFAULTS, **{name: value for name, value in config.items() if value is not None}}


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


def list_from_text(value: str) -> Any:
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return [item.strip() for item in value.split(",") if item.strip()]


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
        if isinstance(series_id, str) and (kind := _meeting_id_kind(series_id)):
            what, series = kind
            notes.append(
                f"meeting_series_ids: {series_id!r} is {what} of the series {series}, "
                f"not a series (its series id is {series})"
            )
    return notes


def _meeting_id_kind(series_id: str) -> tuple[str, str] | None:
    """(what it is, its series id) for the id of one meeting; None for anything else."""
    for pattern, what in _MEETING_IDS:
        if match := pattern.match(series_id):
            return what, match["series"]
    return None


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
