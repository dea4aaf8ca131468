"""A first run is a full extract: afterwards the warehouse must hold only what it found.

Webex does not report deletions, and the tap's memory of them (see :mod:`deletions`) lives in
the state, which a first run or ``meltano run --full-refresh`` does not have. So a full
extract stamps every record with one table version and, once every record is out, sends
Singer's ACTIVATE_VERSION for each stream: a loader that honours it (target-postgres) deletes
or marks deleted every row of an older version, i.e. every meeting the run did not find.

Only a state that holds nothing an earlier run wrote is a first run: a state whose series are
all finished has no partitions left, yet the warehouse holds their meetings, which that run
does not send again (see :mod:`history`).

Not with shards: each shard extracts part of the series into the same tables, and its
ACTIVATE_VERSION would drop the other shards' rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_webex_meetings import history
from tap_webex_meetings.policy import Policy

MEETINGS_STREAM = "series_meetings"
SERIES_STREAM = "meeting_series"
# What a run of this tap leaves in a stream's state: series partitions, finished series, the
# start_date they were read from, the discovery marker.
WRITTEN_BY_A_RUN = ("partitions", history.FINISHED, history.READ_FROM, history.DISCOVERED)


def table_version(state: Mapping[str, Any], *, shard_count: int, started_ms: int) -> int | None:
    """The version of this run's rows (its start, in seconds) if it is a full extract, else None.

    A full extract: one instance extracts every series, and the state holds nothing an
    earlier run wrote for either stream.
    """
    if not Policy.full_extract(shard_count, earlier_run_in(state)):
        return None
    return started_ms // 1000


def earlier_run_in(state: Mapping[str, Any]) -> bool:
    """Whether an earlier run left anything in the state of either stream."""
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, Mapping):
        return False
    for stream in (MEETINGS_STREAM, SERIES_STREAM):
        stream_state = bookmarks.get(stream)
        if isinstance(stream_state, Mapping) and any(
            stream_state.get(key) for key in WRITTEN_BY_A_RUN
        ):
            return True
    return False
