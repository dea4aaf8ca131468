"""Request parameters of the fake Webex, parsed and refused as Webex does (a 400)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .replies import ApiError
from .series import parse_time

DEFAULT_WINDOW = timedelta(days=7)


def lenient_int(values: list[str] | None) -> int | None:
    """``max`` as the fault injector sees it: before it is validated."""
    return int(values[-1]) if values and values[-1].isdigit() else None


def parse_max(value: str | None) -> int:
    if value is None:
        return 10
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise ApiError(400, f"max must be an integer from 1 to 100, not {value!r}.")
    return int(value)


def parse_bool(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{name} must be true or false, not {value!r}.")
    return value.lower() == "true"


def parse_timezone(value: str | None) -> str:
    if not value:
        return "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, f"Invalid timezone: {value!r}.") from None
    return value


def parse_moment(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ApiError(400, f"{name} is not an ISO 8601 date-time: {text!r}.") from None


def window(
    start_text: str | None, end_text: str | None, meeting_type: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """Webex's defaults: a 7-day window before now for instances, after now otherwise."""
    given_start = parse_moment("from", start_text)
    given_end = parse_moment("to", end_text)
    if given_start is not None:
        start = given_start
        end = given_end or start + DEFAULT_WINDOW
    elif given_end is not None:
        start, end = given_end - DEFAULT_WINDOW, given_end
    elif meeting_type == "meeting":
        start, end = now - DEFAULT_WINDOW, now
    else:
        start, end = now, now + DEFAULT_WINDOW
    if start > end:
        raise ApiError(400, "from cannot be after to.")
    return start, end
