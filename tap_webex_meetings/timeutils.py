"""Dates and times: parse ISO 8601 (only), compare and store as UTC instants.

Contract: every datetime that leaves this module is timezone-aware and in UTC. Webex
renders ``start``/``end`` in the zone of the ``timezone`` header (``+08:00`` for
Asia/Shanghai), so two timestamps may only be compared after :func:`to_utc`; records carry
them as :func:`utc_text`; bookmarks are always written by :func:`isoformat_utc`, so they
also compare correctly as strings.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pendulum


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time; a value without offset is taken as UTC.

    Strictly ISO 8601: a lenient parser reads ``02.01.2025`` as 2025-02-01, guessing.
    """
    parsed = pendulum.parse(value, strict=True, tz="UTC")
    if not isinstance(parsed, datetime):
        raise ValueError(f"{value!r} is not a date or date-time")
    return to_utc(parsed)


def parse_api_timestamp(value: str) -> datetime:
    """Parse a ``start``/``end`` of a Webex record (fast path: records are many)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def utc_text(value: str) -> str:
    """A Webex ``start``/``end`` in any offset as UTC text (``2026-06-15T09:00:00Z``).

    Records carry UTC whatever the ``timezone`` header: several loaders store the local time
    of an offset such as ``-05:00`` as if it were UTC. Text that is no timestamp stays as it
    is (the stream's own checks name it).
    """
    if value.endswith("Z"):
        return value
    try:
        parsed = parse_api_timestamp(value)
    except ValueError:
        return value
    return to_utc(parsed).isoformat().replace("+00:00", "Z")


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
