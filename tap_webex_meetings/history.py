"""What lets a nightly run skip the organisation's history: finished series, narrowed discovery.

Webex models every one-off meeting as a series of one occurrence, so an organisation holds
tens of thousands of series that are over, in which nothing can change (an ended meeting
cannot be updated). Two things keep a run from paying for them:

- **Finished series.** A series is *finished* by a run that read it completely when Webex's
  series record says it is over (``state`` ``expired``, or no ``recurrence`` and its ``end``
  passed), nothing upcoming was listed or is remembered, everything listed has settled
  (``ended``/``missed``), and the run started at least ``lookback_days`` plus Webex's
  15-minute delay for instance details after the latest ``end`` it saw. Its partition
  leaves ``partitions`` for ``finished`` in the stream state, grouped by that run's start
  (about 35 bytes a series), and it is not listed again; that instant is its bookmark if
  Webex shows it active again (a host extended it).
- **Narrowed discovery.** A run that discovered and read every series records, per host,
  when it started (``discovered`` in the ``meeting_series`` state). The next run lists
  ``meetingSeries`` only from that instant minus ``lookback_days`` and the 15 minutes: a
  series that was not finished then ends after it, and a new or changed one has meetings
  after it. A first run, an earlier ``start_date``, a new ``host_emails`` entry or another
  shard split discover over the whole range.
- **Backfill.** A complete run records the ``start_date`` its series were read from
  (``start_date`` in the ``series_meetings`` state). A run configured with an earlier one
  reads every known series from it, finished ones included, instead of from its bookmark:
  the weeks before the old ``start_date`` were never read. A later one changes nothing.
- **Full extract.** Webex does not report deletions, and the tap's memory of them (see
  :mod:`deletions`) lives in the state, which a first run or ``meltano run --full-refresh``
  lacks. So a run whose state holds nothing an earlier run wrote (a state of finished series
  only is not empty: the warehouse holds their meetings) stamps every record with one table
  version, then sends ACTIVATE_VERSION per stream: target-postgres drops every row of an older
  version, i.e. every meeting the run did not find. Not with shards: a shard's
  ACTIVATE_VERSION would drop the other shards' rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tap_webex_meetings import deletions, timeutils
from tap_webex_meetings.policy import Policy, instant

MEETINGS_STREAM = "series_meetings"
SERIES_STREAM = "meeting_series"
# Stream state keys: finished series and the start_date their series were read from
# (series_meetings), the last discovery (meeting_series).
FINISHED = "finished"
READ_FROM = "start_date"
DISCOVERED = "discovered"
SETTLED_STATES = frozenset({"ended", "missed"})
TOKEN_USER = ""  # the hosts key of discovery through the token's own user


class FinishedSeries:
    """The ``finished`` stream state: ``{"<run start stamp>": ["<series id>", ...]}``.

    Looked up by id through an index built once; the lists stay the state's own, so STATE
    messages carry every change without a copy.
    """

    def __init__(self, stream_state: dict[str, Any]) -> None:
        self._groups: dict[str, list[str]] = stream_state.setdefault(FINISHED, {})
        self._of: dict[str, str] = {
            series_id: stamp for stamp, ids in self._groups.items() for series_id in ids
        }

    def __len__(self) -> int:
        return len(self._of)

    def __contains__(self, series_id: object) -> bool:
        return series_id in self._of

    def add(self, series_id: str, run_start: datetime) -> None:
        stamp = deletions.stamp(run_start)
        self._groups.setdefault(stamp, []).append(series_id)
        self._of[series_id] = stamp

    def reopen(self, series_id: str) -> datetime | None:
        """Take the series out (Webex shows it active again); its finishing instant."""
        stamp = self._of.pop(series_id, None)
        if stamp is None:
            return None
        # An emptied group stays, as []: Meltano deep-merges a failed run's STATE into the
        # last one, and a key that vanished would come back from there.
        self._groups[stamp].remove(series_id)
        return deletions.parse_stamp(stamp)

    def forget_later_than(self, run_start: datetime) -> list[str]:
        """Drop groups finished after ``run_start`` (a clock once ahead); their stamps."""
        later = [
            stamp
            for stamp, ids in self._groups.items()
            if ids and deletions.parse_stamp(stamp) > run_start
        ]
        for stamp in later:
            for series_id in self._groups[stamp]:
                self._of.pop(series_id, None)
            self._groups[stamp] = []  # emptied, not removed: see reopen
        return later


@dataclass(frozen=True)
class Discovery:
    """Where each host's discovery starts this run: ``start_date`` or narrowed."""

    starts: dict[str, datetime]  # host ("" for the token's user) -> from
    narrowed: frozenset[str]  # hosts whose window is narrowed
    future: dict[str, str]  # hosts whose recorded discovery is later than the run's start


def split_of(shard_index: int, shard_count: int) -> str:
    return f"{shard_index}/{shard_count}"


def discovery_windows(
    marker: Mapping[str, Any] | None, *, hosts: Iterable[str], split: str, policy: Policy
) -> Discovery:
    """Each host's ``from``: narrowed where the last complete discovery allows it (see
    :meth:`Policy.discovery_start`): same ``start_date`` or a later one, same shard split.
    """
    starts: dict[str, datetime] = {}
    narrowed: set[str] = set()
    future: dict[str, str] = {}
    marker = marker or {}
    recorded_start = instant(marker.get("start_date"))
    usable = (
        recorded_start is not None
        and policy.start_date >= recorded_start
        and marker.get("split") == split
    )
    recorded_hosts = marker.get("hosts")
    marked: Mapping[str, Any] = recorded_hosts if isinstance(recorded_hosts, dict) else {}
    for host in hosts:
        last = instant(marked.get(host)) if usable else None
        if last is not None and policy.in_future(last):
            future[host] = str(marked[host])
        start = policy.discovery_start(last)
        starts[host] = policy.start_date if start is None else start
        if start is not None:
            narrowed.add(host)
    return Discovery(starts, frozenset(narrowed), future)


def discovery_marker(
    *, hosts: Iterable[str], start_date: datetime, split: str, run_start: datetime
) -> dict[str, Any]:
    """The ``discovered`` value a complete run leaves for the next one."""
    at = timeutils.isoformat_utc(run_start)
    return {
        "start_date": timeutils.isoformat_utc(start_date),
        "split": split,
        "hosts": dict.fromkeys(hosts, at),
    }


# What a run of this tap leaves in a stream's state: series partitions, finished series, the
# start_date they were read from, the discovery marker.
WRITTEN_BY_A_RUN = ("partitions", FINISHED, READ_FROM, DISCOVERED)


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
