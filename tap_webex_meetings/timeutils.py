"""Dates and times: parse ISO 8601 (only), compare and store as UTC instants.

Every datetime that leaves this module is aware and in UTC: Webex renders ``start``/``end``
in the ``timezone`` header's offset, so they compare only after :func:`to_utc`. Bookmarks
are written by :func:`isoformat_utc` (so they compare as strings too). Every instant read
from outside lies within :data:`EARLIEST` .. :data:`LATEST` or is refused with
:class:`OutOfRangeError` (a ``ValueError``): converting and shifting it never overflows.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pendulum

# See the module docstring; shifts by settings (days) stay below 10 years.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
RANGE = "outside the years 1970 to 8999"


class OutOfRangeError(ValueError):
    """A date-time that parses but lies outside :data:`EARLIEST` .. :data:`LATEST`."""


def within_range(value: datetime) -> datetime:
    """``value`` (naive means UTC) as a UTC instant, or :class:`OutOfRangeError`."""
    try:
        utc = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    except OverflowError:  # 0001-01-01T00:30:00+05:00 has no UTC datetime
        raise OutOfRangeError(f"{value.isoformat()} is {RANGE}") from None
    if not EARLIEST <= utc < LATEST:
        raise OutOfRangeError(f"{value.isoformat()} is {RANGE}")
    return utc


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time; a value without offset is taken as UTC.

    Strictly ISO 8601: a lenient parser reads ``02.01.2025`` as 2025-02-01, guessing.
    """
    try:
        parsed = pendulum.parse(value, strict=True, tz="UTC")
    except OverflowError:  # pendulum converts to UTC itself
        raise OutOfRangeError(f"{value} is {RANGE}") from None
    if not isinstance(parsed, datetime):
        raise ValueError(f"{value!r} is not a date or date-time")
    return to_utc(within_range(parsed))


def parse_api_timestamp(value: str) -> datetime:
    """Parse a ``start``/``end`` of a Webex record, as UTC (fast path: records are many).

    ``ValueError`` when it is no ISO 8601 date-time, :class:`OutOfRangeError` when it is
    one out of range.
    """
    return within_range(datetime.fromisoformat(value.replace("Z", "+00:00")))


def utc_text(value: str) -> str:
    """A Webex ``start``/``end`` in any offset as UTC text (``2026-06-15T09:00:00Z``): several
    loaders store ``-05:00`` as local time. Text that is no timestamp stays as it is."""
    if value.endswith("Z"):
        return value
    try:
        parsed = parse_api_timestamp(value)  # UTC already
    except ValueError:
        return value
    return parsed.isoformat().replace("+00:00", "Z")


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC, as a plain ``datetime`` (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    utc = value.astimezone(timezone.utc)
    return datetime(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
        tzinfo=timezone.utc,
    )


def isoformat_utc(value: datetime) -> str:
    """The form of bookmarks: ``2026-06-15T12:00:00+00:00`` (what singer-sdk writes too)."""
    return to_utc(value).isoformat()


def query_format(value: datetime) -> str:
    """The form sent as ``from``/``to``: ``2026-06-15T12:00:00Z``."""
    return to_utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone Webex will accept in the ``timezone`` header."""
    try:
        pendulum.timezone(name)
    except Exception:  # pendulum raises several types for unknown or malformed names
        return False
    return True
