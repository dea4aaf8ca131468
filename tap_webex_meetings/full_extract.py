"""A run without state is a full extract: afterwards the warehouse must hold only what it found.

Webex does not report deletions, and the tap's memory of them (see :mod:`deletions`) lives in
the state, which a first run or ``meltano run --full-refresh`` does not have. So a full
extract stamps every record with one table version and, once every record is out, sends
Singer's ACTIVATE_VERSION for each stream: a loader that honours it (target-postgres) deletes
or marks deleted every row of an older version, i.e. every meeting the run did not find.

Not with shards: each shard extracts part of the series into the same tables, and its
ACTIVATE_VERSION would drop the other shards' rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MEETINGS_STREAM = "series_meetings"


def table_version(state: Mapping[str, Any], *, shard_count: int, started_ms: int) -> int | None:
    """The version of this run's rows (its start, in seconds) if it is a full extract, else None.

    A full extract: no series has a partition in the state yet, and one instance extracts
    every series.
    """
    partitions = state.get("bookmarks", {}).get(MEETINGS_STREAM, {}).get("partitions")
    if partitions or shard_count != 1:
        return None
    return started_ms // 1000
