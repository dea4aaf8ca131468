"""A state file is checked before it is believed: one line saying what is wrong with it.

singer-sdk reads ``--state`` with a JSON parser and trusts its shape: a corrupt file is a
parser message that does not say it is the state, a wrong shape a traceback somewhere in
the run. Here the whole shape this tap reads is checked before any request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from tap_webex_meetings import deletions, history, timeutils


def problem_of_text(text: str) -> str | None:
    """What is wrong with a state file's text, or None."""
    if not text.strip():
        return "the file is empty (a state is a JSON object, e.g. {})"
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    return problem_of(value)


def problem_of(state: Any) -> str | None:
    """What is wrong with a state value, or None (the first problem found)."""
    return next(_problems(state), None)


def _problems(state: Any) -> Iterator[str]:
    if not isinstance(state, dict):
        yield f"a state is a JSON object, not {_kind(state)}"
        return
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        yield f"bookmarks is {_kind(bookmarks)}, not an object"
        return
    for stream, stream_state in bookmarks.items():
        if not isinstance(stream_state, dict):
            yield f"bookmarks.{stream} is {_kind(stream_state)}, not an object"
            return
    meetings = bookmarks.get("series_meetings", {})
    yield from _partition_problems(meetings.get("partitions", []))
    yield from _finished_problems(meetings.get(history.FINISHED, {}))
    discovered = bookmarks.get("meeting_series", {}).get(history.DISCOVERED)
    if discovered is not None and not isinstance(discovered, dict):
        yield f"bookmarks.meeting_series.discovered is {_kind(discovered)}, not an object"


def _partition_problems(partitions: Any) -> Iterator[str]:
    where = "bookmarks.series_meetings.partitions"
    if not isinstance(partitions, list):
        yield f"{where} is {_kind(partitions)}, not a list"
        return
    for i, partition in enumerate(partitions):
        here = f"{where}[{i}]"
        if not isinstance(partition, dict):
            yield f"{here} is {_kind(partition)}, not an object"
            return
        context = partition.get("context")
        if not isinstance(context, Mapping) or not isinstance(context.get("meetingSeriesId"), str):
            yield f"{here} has no context with a meetingSeriesId"
            return
        value = partition.get("replication_key_value")
        if value is not None and not _is_date(value):
            series = context["meetingSeriesId"]
            yield f"{here} (series {series}): bookmark {value!r} is not a date-time"
            return
        upcoming = partition.get(deletions.UPCOMING)
        if upcoming is not None and not isinstance(upcoming, list):
            yield f"{here}.upcoming is {_kind(upcoming)}, not a list"
            return


def _finished_problems(finished: Any) -> Iterator[str]:
    where = "bookmarks.series_meetings.finished"
    if not isinstance(finished, dict):
        yield f"{where} is {_kind(finished)}, not an object"
        return
    for stamp, ids in finished.items():
        try:
            deletions.parse_stamp(stamp)
        except ValueError:
            yield f"{where}: {stamp!r} is not an instant like 20261130T050000Z"
            return
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            yield f"{where}.{stamp} is not a list of series ids"
            return


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        timeutils.parse_datetime(value)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", dict: "an object", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


def distrust_the_future(state: dict[str, Any], now: datetime) -> list[str]:
    """Forget what a clock that was once ahead wrote: bookmarks, finished series, discovery.

    Where such a series really stopped is unknown, so it is read as if it had no bookmark
    (never skipping a meeting); series finished "after now" are not trusted to be finished,
    and discovery goes over the whole range again to find them. Returns one line per
    thing forgotten, for the log.
    """
    bookmarks = state.get("bookmarks", {})
    meetings = bookmarks.get("series_meetings", {})
    forgotten = []
    for partition in meetings.get("partitions", []):
        value = partition.get("replication_key_value")
        if value is not None and timeutils.parse_datetime(value) > now:
            del partition["replication_key_value"]
            forgotten.append(
                f"Meeting series {partition['context']['meetingSeriesId']}: its bookmark "
                f"{value} is later than this run's start {timeutils.isoformat_utc(now)} (a "
                "clock that was ahead?); reading it as if it had none"
            )
    finished = history.FinishedSeries(meetings) if history.FINISHED in meetings else None
    later = finished.forget_later_than(now) if finished is not None else []
    if later:
        if history.DISCOVERED in bookmarks.get("meeting_series", {}):
            bookmarks["meeting_series"][history.DISCOVERED] = {}  # merged, not removed
        forgotten.append(
            f"Series finished at {', '.join(later)}, later than this run's start "
            f"{timeutils.isoformat_utc(now)}, are not trusted to be finished; discovering "
            "over the whole range again"
        )
    return forgotten
