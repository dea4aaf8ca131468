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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tap_webex_meetings import deletions, timeutils

# Webex shows an instance's details up to this long after it ends.
DETAILS_DELAY = timedelta(minutes=15)
# Stream state keys: finished series and the start_date their series were read from
# (series_meetings), the last discovery (meeting_series).
FINISHED = "finished"
READ_FROM = "start_date"
DISCOVERED = "discovered"
EXPIRED = "expired"
SETTLED_STATES = frozenset({"ended", "missed"})
TOKEN_USER = ""  # the hosts key of discovery through the token's own user


@dataclass(frozen=True)
class SeriesFacts:
    """What a series record says about whether the series can still change."""

    over: bool  # expired, or a one-off meeting that has ended
    end: datetime | None  # the record's end (a one-off's only occurrence)


def facts_of(record: Mapping[str, Any], run_start: datetime) -> SeriesFacts:
    """Read a ``meetingSeries`` record (discovery or a lookup).

    An ``end`` that is there but not a timestamp in range says nothing certain: such a
    series is not taken to be over (it is never finished, only read again).
    """
    end_text = record.get("end")
    end = _instant(end_text, timeutils.parse_api_timestamp)
    if end is None and end_text is not None:
        return SeriesFacts(over=False, end=None)
    one_off_over = not record.get("recurrence") and end is not None and end < run_start
    return SeriesFacts(over=record.get("state") == EXPIRED or one_off_over, end=end)


def finish_horizon(latest_end: datetime, lookback: timedelta) -> datetime:
    """The earliest run start whose complete read may finish a series that ended then."""
    return latest_end + lookback + DETAILS_DELAY


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

    def ids(self) -> Iterable[str]:
        return self._of.keys()

    def instant_of(self, series_id: str) -> datetime | None:
        """The start of the run that finished the series (its bookmark), if finished."""
        stamp = self._of.get(series_id)
        return deletions.parse_stamp(stamp) if stamp is not None else None

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


def is_backfill(read_from: Any, start_date: datetime) -> bool:
    """Whether this run reads every known series from ``start_date``: it is earlier than
    the recorded ``start_date`` they were read from (none recorded: not a backfill).
    """
    recorded = _instant(read_from)
    return recorded is not None and start_date < recorded


def discovery_windows(
    marker: Mapping[str, Any] | None,
    *,
    hosts: Iterable[str],
    start_date: datetime,
    lookback: timedelta,
    split: str,
    run_start: datetime,
    range_end: datetime,
) -> Discovery:
    """Each host's ``from``: narrowed where the last complete discovery allows it.

    Not when the narrowed window would be empty (an ``end_date`` before it: a backfill),
    which Webex refuses.
    """
    starts: dict[str, datetime] = {}
    narrowed: set[str] = set()
    future: dict[str, str] = {}
    marker = marker or {}
    recorded_start = _instant(marker.get("start_date"))
    usable = (
        recorded_start is not None and start_date >= recorded_start and marker.get("split") == split
    )
    recorded_hosts = marker.get("hosts")
    marked: Mapping[str, Any] = recorded_hosts if isinstance(recorded_hosts, dict) else {}
    for host in hosts:
        last = _instant(marked.get(host)) if usable else None
        if last is not None and last > run_start:
            future[host] = str(marked[host])
        start = start_date if last is None else max(start_date, last - lookback - DETAILS_DELAY)
        if last is None or last > run_start or start >= range_end:
            starts[host] = start_date
            continue
        starts[host] = start
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


def _instant(
    value: Any, parse: Callable[[str], datetime] = timeutils.parse_datetime
) -> datetime | None:
    """``value`` parsed by ``parse`` (a state's value by default), or None if it is none."""
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except ValueError:
        return None
