"""The random-history test's references: a warehouse as a loader must keep it, Webex's truth,
and the README's cost rule of a run, all computed without the tap's own rules.

- :class:`Warehouse` applies Singer messages as target-webex-duckdb (``hard_delete``) must:
  upsert by the stream's ``key_properties``, a record with ``_sdc_deleted_at`` deletes its
  row, ``ACTIVATE_VERSION`` drops the rows of older versions (and of none).
- :func:`truth` is what the fake Webex lists over the configured range at a run's start.
- :func:`request_bound` is the README's "What a nightly run costs", as an upper bound.
- :func:`attendance_truth` and :func:`participant_problems`: who Webex lists for its ended
  instances, and whether emitted participants are that.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fake_webex import FakeWebex, SeriesSpec

from tap_webex_meetings import deletions
from tap_webex_meetings.sharding import shard_of

UTC = timezone.utc
MEETINGS = "series_meetings"
SERIES = "meeting_series"
PARTICIPANTS = "meeting_participants"
TOKEN_USER = "alice@example.com"  # the sandbox token's user
DETAILS_DELAY = timedelta(minutes=15)  # Webex shows an instance's details this long after
Row = dict[str, Any]


@dataclass
class Warehouse:
    """Live rows per stream (key -> record) and the table version each was loaded with."""

    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: dict[str, dict[tuple[Any, ...], tuple[Row, int | None]]] = field(default_factory=dict)

    def apply(self, messages: Iterable[Mapping[str, Any]]) -> None:
        for message in messages:
            kind, stream = message["type"], message.get("stream", "")
            if kind == "SCHEMA":
                self.keys[stream] = tuple(message["key_properties"])
                self.rows.setdefault(stream, {})
            elif kind == "RECORD":
                record = message["record"]
                key = tuple(record[name] for name in self.keys[stream])
                table = self.rows[stream]
                if record.get(deletions.DELETED_AT):
                    table.pop(key, None)
                else:
                    table[key] = (record, message.get("version"))
            elif kind == "ACTIVATE_VERSION":
                version = message["version"]
                table = self.rows.get(stream, {})
                for key, (_, row_version) in list(table.items()):
                    if row_version is None or row_version < version:
                        del table[key]

    def live_ids(self, stream: str = MEETINGS) -> set[str]:
        return {record["id"] for record, _ in self.rows.get(stream, {}).values()}

    def copy(self) -> Warehouse:
        return Warehouse(dict(self.keys), copy.deepcopy(self.rows))


@dataclass(frozen=True)
class Scope:
    """What a pipeline is configured to extract: the range's start, hosts, its shard."""

    start_date: datetime
    hosts: tuple[str, ...]  # host_emails
    lookahead: timedelta
    lookback: timedelta
    shard_index: int = 0
    shard_count: int = 1

    def visible(self, spec: SeriesSpec) -> bool:
        return any(spec.visible_to(host) for host in (TOKEN_USER, *self.hosts))

    def in_shard(self, series_id: str) -> bool:
        return shard_of(series_id, self.shard_count) == self.shard_index

    def range_end(self, run_start: datetime) -> datetime:
        return run_start + self.lookahead


def live_series(fake: FakeWebex) -> list[SeriesSpec]:
    alive = set(fake.series_ids())
    return [spec for spec in fake.series if spec.id in alive]


def truth(fake: FakeWebex, scope: Scope, run_start: datetime) -> set[str]:
    """Every meeting Webex lists over [start_date, run start + lookahead_days) at the run's
    start, of every series the token's user or a ``host_emails`` entry sees (all shards).
    """
    found: set[str] = set()
    end = scope.range_end(run_start)
    for spec in live_series(fake):
        if scope.visible(spec):
            records = fake.expected_meetings(spec.id, scope.start_date, end, at=run_start)
            found.update(record["id"] for record in records)
    return found


def attendance_truth(fake: FakeWebex, scope: Scope, run_start: datetime) -> set[tuple[str, str]]:
    """``(meetingId, id)`` of everyone Webex lists for every instance it shows ``ended`` over
    the range at the run's start, of every series :func:`truth` covers.
    """
    found: set[tuple[str, str]] = set()
    end = scope.range_end(run_start)
    for spec in live_series(fake):
        if not scope.visible(spec):
            continue
        for record in fake.expected_meetings(
            spec.id, scope.start_date, end, meeting_type="meeting", at=run_start
        ):
            if record["state"] == "ended":
                people = fake.expected_participants(record["id"], at=run_start)
                found.update((person["meetingId"], person["id"]) for person in people)
    return found


def participant_problems(fake: FakeWebex, records: Iterable[Row], at: datetime) -> list[str]:
    """Why emitted participant records are not what Webex lists for an instance ended at
    ``at`` (the run's start); empty when each one is (schema fields and its series' id).
    """
    problems = []
    for record in records:
        meeting_id = record["meetingId"]
        try:
            listed = {p["id"]: p for p in fake.expected_participants(meeting_id, at=at)}
        except LookupError:
            problems.append(f"{meeting_id}: no participants in Webex at {at}")
            continue
        person = listed.get(record["id"])
        expected = {k: v for k, v in (person or {}).items() if k != "networkQuality"}
        expected["meetingSeriesId"] = meeting_id.partition("_")[0]
        if person is None or person.get("state") != "end" or record != expected:
            problems.append(f"{meeting_id} {record['id']}: {record} is not {person}")
    return problems


def is_over(fake: FakeWebex, series_id: str, at: datetime) -> bool:
    """Whether a series can no longer change: deleted, or its last occurrence has ended."""
    alive = set(fake.series_ids())
    spec = next((s for s in fake.series if s.id == series_id), None)
    return spec is None or series_id not in alive or spec.last_end <= at


def finished_of(state: Mapping[str, Any]) -> dict[str, datetime]:
    """Series id -> the instant the state says it was finished."""
    groups = state.get("bookmarks", {}).get(MEETINGS, {}).get("finished", {})
    return {
        series_id: deletions.parse_stamp(stamp)
        for stamp, ids in groups.items()
        for series_id in ids
    }


def partitions_of(state: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    partitions = state.get("bookmarks", {}).get(MEETINGS, {}).get("partitions", [])
    return {p["context"]["meetingSeriesId"]: p for p in partitions}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class LastRun:
    """The last complete run of one pipeline: its start and scope (what may narrow the next)."""

    start: datetime
    scope: Scope


def request_bound(
    fake: FakeWebex,
    scope: Scope,
    state: Mapping[str, Any],
    last: LastRun | None,
    run_start: datetime,
    page_size: int,
    moved: Mapping[str, Mapping[str, tuple[datetime, datetime]]],
) -> int:
    """The README's cost of a run, as an upper bound of its ``/v1/meetings`` requests.

    W = [last complete run's start - lookback_days - 15 min, run start + lookahead_days)
    when the last complete run had the same split, hosts and no later ``start_date``, else
    the whole range. After an earlier ``start_date`` than the last complete run's (a
    backfill), every known series is read from ``start_date``, finished ones included.
    Every query is counted as ``n // page_size + 1`` pages (a last empty
    page included); remembered meetings and known series missing from W are each counted as
    a lookup, whether the tap needs it or not: so it is a bound, not the exact count.
    """
    end = scope.range_end(run_start)
    total = 0
    narrowed = (
        last is not None
        and last.scope.shard_count == scope.shard_count
        and last.scope.shard_index == scope.shard_index
        and last.scope.start_date <= scope.start_date
    )
    backfill = last is not None and scope.start_date < last.scope.start_date
    found: set[str] = set()
    for host in (TOKEN_USER, *scope.hosts):
        w_start = scope.start_date
        if narrowed and last is not None and (host == TOKEN_USER or host in last.scope.hosts):
            w_start = max(scope.start_date, last.start - scope.lookback - DETAILS_DELAY)
        seen = [
            s
            for s in live_series(fake)
            if s.visible_to(host)
            and any(
                a < end and b > w_start
                for a, b in [(s.first_start, s.last_end), *moved.get(s.id, {}).values()]
            )
        ]
        total += len(seen) // page_size + 1
        found.update(s.id for s in seen if scope.in_shard(s.id))
    partitions = partitions_of(state)
    finished = finished_of(state)
    alive = set(fake.series_ids())
    for series_id in found | set(partitions) | (set(finished) & alive):
        if not scope.in_shard(series_id):
            continue
        partition = partitions.get(series_id, {})
        if "series_deleted_at" in partition:
            continue
        if series_id not in alive:
            total += 2  # looked up (missing from W) and listed: each answers 404
            continue
        if series_id in finished and is_over(fake, series_id, run_start) and not backfill:
            continue
        mark = partition.get("replication_key_value")
        bookmark = _instant(mark) if isinstance(mark, str) else finished.get(series_id)
        start = scope.start_date
        if bookmark is not None and not backfill:
            start = max(scope.start_date, bookmark - scope.lookback)
        listed = fake.expected_meetings(series_id, start, end, at=run_start) if start < end else []
        total += len(listed) // page_size + 1
        if series_id not in found:
            total += 1  # looked up: known, missing from W
        listed_ids = {record["id"] for record in listed}
        memory = deletions.remembered(partition, series_id)
        total += sum(meeting.id not in listed_ids for meeting in memory)
    return total
