"""End to end through the dbt models: `meltano run tap-webex-meetings <loader>
dbt-<warehouse>:build` against the fake Webex, twice, with a day between in which a host
deletes a meeting and a whole series and moves another meeting; into DuckDB and PostgreSQL.

The models' figures are compared with figures computed from the fake's own answers
(:meth:`FakeWebex.expected_meetings`, in UTC), never from the raw tables. The tap runs with a
time zone other than UTC, so its records carry other offsets, and the models must still be
in UTC. The fake follows the wall clock, so meetings near "now" may change state while the
pipeline runs: exact figures are compared for meetings that started at least ``SETTLED``
before the run, and counts that only grow (held, missed) are bounded by the truth just
before and just after it.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tests.meltano_support import (
    PLUGINS,
    REPO,
    Meltano,
    Postgres,
)

pytestmark = pytest.mark.e2e

UTC = timezone.utc
USER = "alice@example.com"  # whom the sandbox token acts as: the tap finds the series she sees
LOOKAHEAD = timedelta(days=30)  # the tap's default lookahead_days
SETTLED = timedelta(hours=3)  # longer than any sandbox meeting plus Webex's 15-minute delay
README = (REPO / "docs" / "models.md").read_text()  # the models' page
DBT_DUCKDB_PYTHON = PLUGINS / "utilities" / "dbt-duckdb" / "venv" / "bin" / "python"
DBT_DONE = re.compile(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)")
Query = Callable[[str], list[list[str]]]


# --- the truth: what the fake Webex answers ------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """A scheduled meeting as the API lists it, with the instances listed for it."""

    id: str
    series_id: str
    host_email: str
    start: datetime
    end: datetime
    state: str
    instances: tuple[tuple[datetime, datetime | None], ...]

    @property
    def status(self) -> str:
        """The models' status, from Webex's answers (README: "What the models decide")."""
        if any(end is None for _, end in self.instances):
            return "in_progress"
        if self.instances or self.state == "ended":
            return "held"
        return "missed" if self.state == "missed" else "upcoming"


@dataclass(frozen=True)
class Truth:
    """Every scheduled meeting the tap reads at one moment, and that moment."""

    at: datetime
    meetings: dict[str, Occurrence]


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def truth(server: FakeWebex, start: datetime) -> Truth:
    """The API's records of every series the user sees, from ``start`` to the tap's range end."""
    server_now = server.now
    tap_now = server_now - server.ahead_of_wall_clock
    meetings: dict[str, Occurrence] = {}
    for series_id in server.series_ids(USER):
        records = server.expected_meetings(series_id, start, tap_now + LOOKAHEAD, at=server_now)
        instances: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for record in records:
            if record["meetingType"] == "meeting":
                end = parse(record["end"]) if record["end"] else None
                instances[record["scheduledMeetingId"]].append((parse(record["start"]), end))
        for record in records:
            if record["meetingType"] == "scheduledMeeting":
                meetings[record["id"]] = Occurrence(
                    record["id"],
                    series_id,
                    record["hostEmail"].lower(),
                    parse(record["start"]),
                    parse(record["end"]),
                    record["state"],
                    tuple(sorted(instances[record["id"]], key=lambda times: times[0])),
                )
    return Truth(server_now, meetings)


def minutes(delta: timedelta) -> str:
    """Minutes to the hundredth, as the models round them (half up; no ties from seconds)."""
    exact = Decimal(int(delta.total_seconds())) / 60
    return str(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def figures(meeting: Occurrence) -> dict[str, str]:
    """What webex__meetings must say of a settled meeting."""
    row = {"status": meeting.status, "instance_count": str(len(meeting.instances))}
    row |= {"scheduled_start_at": stamp(meeting.start), "scheduled_end_at": stamp(meeting.end)}
    if meeting.instances:
        first, last = meeting.instances[0][0], meeting.instances[-1][1]
        assert last is not None
        held = sum(
            Decimal(minutes(end - begin)) for begin, end in meeting.instances if end is not None
        )
        row |= {
            "actual_start_at": stamp(first),
            "actual_end_at": stamp(last),
            "minutes_late": minutes(first - meeting.start),
            "minutes_over": minutes(last - meeting.end),
            "minutes_held": str(held),
        }
    else:
        row |= dict.fromkeys(
            ("actual_start_at", "actual_end_at", "minutes_late", "minutes_over", "minutes_held"),
            "",
        )
    return row


def series_figures(meetings: list[Occurrence]) -> dict[str, Decimal]:
    """What webex__series_summary must say of these meetings of one series."""
    lateness = [Decimal(minutes(m.instances[0][0] - m.start)) for m in meetings if m.instances]
    held = [figures(m)["minutes_held"] for m in meetings if m.status == "held"]
    return {
        "held": Decimal(sum(m.status == "held" for m in meetings)),
        "missed": Decimal(sum(m.status == "missed" for m in meetings)),
        "restarted": Decimal(sum(len(m.instances) > 1 for m in meetings)),
        "median_minutes_late": statistics.median(lateness) if lateness else Decimal(-1),
        "total_minutes_held": sum((Decimal(value or "0") for value in held), Decimal(0)),
    }


# --- the models ------------------------------------------------------------------------------

MEETING_COLUMNS = (
    "scheduled_meeting_id",
    "series_id",
    "status",
    "scheduled_start_at",
    "scheduled_end_at",
    "actual_start_at",
    "actual_end_at",
    "instance_count",
    "minutes_late",
    "minutes_over",
    "minutes_held",
)


@dataclass
class Warehouse:
    """Where a pipeline ends: its loader, its dbt utility, and a query on its models."""

    loader: str
    utility: str
    query: Query
    schema: str  # of the models

    def meetings(self) -> dict[str, dict[str, str]]:
        columns = ", ".join(MEETING_COLUMNS)
        flags = "case when is_modified then 'modified' else '' end"
        rows = self.query(f"SELECT {columns}, {flags} FROM {self.schema}.webex__meetings")
        meetings = {
            row[0]: dict(zip((*MEETING_COLUMNS, "modified"), row, strict=True)) for row in rows
        }
        assert len(meetings) == len(rows), "webex__meetings has an id twice"
        return meetings

    def series(self) -> dict[str, dict[str, str]]:
        columns = (
            "series_id, title, series_state, case when is_deleted then 'deleted' else '' end, "
            "occurrences_held, occurrences_missed, occurrences_restarted, occurrences_upcoming, "
            "coalesce(median_minutes_late, -1), total_minutes_held"
        )
        names = [
            "series_id",
            "title",
            "series_state",
            "deleted",
            "held",
            "missed",
            "restarted",
            "upcoming",
            "median_minutes_late",
            "total_minutes_held",
        ]
        rows = self.query(f"SELECT {columns} FROM {self.schema}.webex__series_summary")
        return {row[0]: dict(zip(names, row, strict=True)) for row in rows}

    def host_days(self) -> dict[tuple[str, str], tuple[str, str, str]]:
        rows = self.query(
            "SELECT host_email, cast(meeting_date as varchar), meetings_held, meetings_missed, "
            f"minutes_held FROM {self.schema}.webex__host_daily"
        )
        return {(row[0], row[1]): (row[2], row[3], row[4]) for row in rows}

    def instances(self, scheduled_meeting_id: str) -> list[tuple[str, str]]:
        rows = self.query(
            f"SELECT started_at, ended_at FROM {self.schema}.stg_webex__meeting_instances "
            f"WHERE scheduled_meeting_id = '{scheduled_meeting_id}' ORDER BY started_at"
        )
        return [(row[0], row[1]) for row in rows]


def duckdb_query(path: Path) -> Query:
    """Rows as text, read with dbt-duckdb's own duckdb (the version that wrote the models)."""
    script = (
        "import duckdb, json, sys\n"
        "rows = duckdb.connect(sys.argv[1], read_only=True).execute(sys.argv[2]).fetchall()\n"
        "print(json.dumps([['' if v is None else str(v) for v in row] for row in rows]))\n"
    )

    def query(sql: str) -> list[list[str]]:
        completed = subprocess.run(
            [str(DBT_DUCKDB_PYTHON), "-c", script, str(path), sql],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        rows: list[list[str]] = json.loads(completed.stdout)
        return rows

    return query


# --- the pipeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One `meltano run`: its log, and the truth just before and just after it."""

    log: str
    before: Truth
    after: Truth

    @property
    def settled_before(self) -> datetime:
        return self.before.at - SETTLED


def run_pipeline(meltano: Meltano, server: FakeWebex, start: datetime, wh: Warehouse) -> Run:
    before = truth(server, start)
    command = ("run", "tap-webex-meetings", wh.loader, f"{wh.utility}:build")
    if wh.loader == "target-webex-duckdb":  # the README's; PostgreSQL's is told in words
        assert f"meltano {' '.join(command)}" in README
    completed = meltano(*command)
    log = completed.stdout + completed.stderr
    done = DBT_DONE.findall(log)
    assert len(done) == 1, f"no dbt summary in the log:\n{log[-3000:]}"
    passed, warned, failed, skipped = (int(n) for n in done[0])
    assert (warned, failed, skipped) == (0, 0, 0), done
    assert passed > 30, done
    return Run(log, before, truth(server, start))


def normal(row: dict[str, str]) -> dict[str, str | Decimal]:
    """Numbers as numbers: DuckDB and PostgreSQL print a decimal zero differently."""
    return {
        name: Decimal(value)
        if value and (name.startswith("minutes") or name.endswith("count"))
        else value
        for name, value in row.items()
    }


def check_meetings(
    rows: dict[str, dict[str, str]], run: Run, kept: dict[str, Occurrence] | None = None
) -> None:
    """Every settled meeting of the live series is there once, with Webex's times in UTC,
    status and minutes, and no other settled one is; of a deleted series, ``kept`` (its past
    as the first run read it) is there, the rest of it is checked apart.
    """
    kept = kept or {}
    settled = {
        key: meeting
        for key, meeting in {**run.before.meetings, **kept}.items()
        if meeting.start < run.settled_before
    }
    live = {meeting.series_id for meeting in run.before.meetings.values()}
    stored = {
        key: row
        for key, row in rows.items()
        if row["scheduled_start_at"] < stamp(run.settled_before)
        and (row["series_id"] in live or key in kept)
    }
    assert sorted(stored) == sorted(settled)
    wrong = {
        key: (stored[key], figures(meeting))
        for key, meeting in settled.items()
        if normal({name: stored[key][name] for name in figures(meeting)})
        != normal(figures(meeting))
    }
    assert not wrong, f"{len(wrong)} meetings differ from Webex, e.g. {list(wrong.items())[:2]}"
    statuses = Counter(meeting.status for meeting in settled.values())
    assert statuses["held"] > 100, statuses
    assert statuses["missed"] > 10, statuses
    assert any(len(meeting.instances) == 2 for meeting in settled.values()), "no restarted one"


def check_series(wh: Warehouse, run: Run) -> None:
    """Per live series: held and missed between the truth before and after the run, the
    median lateness and the minutes held as one of the two says.
    """
    summary = wh.series()
    for series_id in {meeting.series_id for meeting in run.after.meetings.values()}:
        row = summary[series_id]
        assert row["deleted"] == "", row
        low, high = (
            series_figures([m for m in truth.meetings.values() if m.series_id == series_id])
            for truth in (run.before, run.after)
        )
        for name in ("held", "missed", "restarted"):
            assert low[name] <= Decimal(row[name]) <= high[name], (name, row, low, high)
        for name in ("median_minutes_late", "total_minutes_held"):
            value = Decimal(row[name])
            assert any(abs(value - bound[name]) <= Decimal("0.005") for bound in (low, high)), (
                name,
                row,
                low[name],
                high[name],
            )


def check_host_days(wh: Warehouse, run: Run, until: date, kept: dict[str, Occurrence]) -> None:
    """Per host and UTC day before ``until``: meetings held, missed and minutes held."""
    expected: dict[tuple[str, str], list[Occurrence]] = defaultdict(list)
    for meeting in {**run.before.meetings, **kept}.values():
        if meeting.start.date() < until:
            expected[(meeting.host_email, meeting.start.date().isoformat())].append(meeting)
    stored = {key: row for key, row in wh.host_days().items() if key[1] < until.isoformat()}
    assert sorted(stored) == sorted(expected)
    for key, meetings in expected.items():
        numbers = series_figures(meetings)
        expected_row = (numbers["held"], numbers["missed"], numbers["total_minutes_held"])
        assert tuple(Decimal(value) for value in stored[key]) == expected_row, key


def check_restarted(wh: Warehouse, run: Run) -> None:
    """A restarted meeting's two instances, each with its own times, in UTC."""
    restarted = [
        meeting
        for meeting in run.before.meetings.values()
        if len(meeting.instances) == 2 and meeting.start < run.settled_before
    ]
    meeting = max(restarted, key=lambda m: m.start)
    assert wh.instances(meeting.id) == [(stamp(a), stamp(b)) for a, b in meeting.instances]


@dataclass(frozen=True)
class Changes:
    """What a host did in Webex between the runs."""

    deleted_meeting: str
    moved_meeting: str
    new_start: datetime
    deleted_series: str
    deleted_title: str


def change_webex(server: FakeWebex, first: Truth) -> Changes:
    """Delete a standup after the next one and the 1:1 series, move a team sync two hours
    later. The next standup stays: the second run reads it again, changed (ended or missed).
    """
    titles = {spec.id: spec.title for spec in server.series}
    by_title = {titles[series_id]: series_id for series_id in server.series_ids(USER)}
    upcoming = sorted(first.meetings.values(), key=lambda m: m.start)
    standup = next(
        m
        for m in upcoming
        if m.series_id == by_title["Daily Standup"] and m.start > first.at + timedelta(days=1)
    )
    sync = next(
        m
        for m in upcoming
        if m.series_id == by_title["Team Sync"] and m.start > first.at + timedelta(days=2)
    )
    server.delete(standup.id)
    new_start = sync.start + timedelta(hours=2)
    server.move(sync.id, new_start)
    gone = by_title["Alice / Carol 1:1"]
    server.delete(gone)
    return Changes(standup.id, sync.id, new_start, gone, titles[gone])


def pipeline_test(meltano: Meltano, server: FakeWebex, wh: Warehouse, tz_name: str) -> None:
    start = server.now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=120)
    meltano.point_at(server, start)
    meltano.env.update(
        TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS="5",
        TAP_WEBEX_MEETINGS_TIMEZONE=tz_name,  # records carry this zone's offsets, not Z
    )
    first = run_pipeline(meltano, server, start, wh)
    rows = wh.meetings()
    check_meetings(rows, first)
    check_series(wh, first)
    check_host_days(wh, first, first.settled_before.date(), {})
    check_restarted(wh, first)

    changes = change_webex(server, first.after)
    assert {changes.deleted_meeting, changes.moved_meeting} <= set(rows)
    server.advance(timedelta(days=1))
    second = run_pipeline(meltano, server, start, wh)
    rows = wh.meetings()
    # The deleted series' past stays as the first run read it; what was upcoming then is gone.
    kept = {
        key: meeting
        for key, meeting in first.before.meetings.items()
        if meeting.series_id == changes.deleted_series and meeting.start < first.settled_before
    }
    check_meetings(rows, second, kept)
    check_series(wh, second)
    check_host_days(wh, second, first.settled_before.date(), kept)

    assert changes.deleted_meeting not in rows, "a meeting deleted in Webex is still there"
    moved = rows[changes.moved_meeting]
    assert (moved["scheduled_start_at"], moved["status"], moved["modified"]) == (
        stamp(changes.new_start),
        "upcoming",
        "modified",
    )
    left = [
        row
        for row in rows.values()
        if row["series_id"] == changes.deleted_series
        and row["scheduled_start_at"] >= stamp(first.before.at)
    ]
    assert left == [], "upcoming meetings of a deleted series are still there"
    summary = wh.series()[changes.deleted_series]
    assert (summary["title"], summary["series_state"], summary["deleted"]) == (
        changes.deleted_title,
        "deleted",
        "deleted",
    )
    assert summary["upcoming"] == "0", summary


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


@pytest.mark.parametrize("loader", ["target-duckdb", "target-webex-duckdb"])
def test_dbt_models_in_duckdb_full_then_a_day_later(
    meltano: Meltano, server: FakeWebex, tmp_path: Path, loader: str
) -> None:
    """`... <loader> dbt-duckdb:build`: the same models on either DuckDB loader's tables
    (both delete the rows of deleted meetings)."""
    warehouse = tmp_path / "warehouse.duckdb"
    meltano.into_duckdb(warehouse)
    meltano.env["DBT_DUCKDB_PATH"] = str(warehouse)
    wh = Warehouse(loader, "dbt-duckdb", duckdb_query(warehouse), "analytics")
    pipeline_test(meltano, server, wh, "Asia/Kolkata")  # +05:30


@pytest.mark.parametrize("loader", ["target-postgres", "target-webex-postgres"])
def test_dbt_models_in_postgres_full_then_a_day_later(
    meltano: Meltano, server: FakeWebex, postgres: Postgres, tmp_path: Path, loader: str
) -> None:
    """`... <loader> dbt-postgres:build`, the loader appending: a stream map takes
    the streams' keys away, so the loader cannot upsert and the raw table keeps every
    version of a meeting read twice and the tombstones; the models take the latest version
    of each and leave the deleted out.
    """
    suffix = tmp_path.name.lower().replace("-", "_")[-40:]
    raw, models = f"webex_{suffix}", f"analytics_{suffix}"
    keyless: dict[str, list[str]] = {"__key_properties__": []}
    meltano.into_postgres(postgres, raw)
    meltano.env.update(
        TAP_WEBEX_MEETINGS_STREAM_MAPS=json.dumps(
            {"meeting_series": keyless, "series_meetings": keyless}
        ),
    )
    meltano.env.update(
        DBT_POSTGRES_HOST=postgres.settings["PGHOST"],
        DBT_POSTGRES_PORT=postgres.settings["PGPORT"],
        DBT_POSTGRES_USER=postgres.settings["PGUSER"],
        DBT_POSTGRES_PASSWORD=postgres.settings["PGPASSWORD"],
        DBT_POSTGRES_DBNAME=postgres.settings["PGDATABASE"],
        DBT_POSTGRES_SOURCE_SCHEMA=raw,
        DBT_POSTGRES_SCHEMA=models,
    )
    wh = Warehouse(loader, "dbt-postgres", postgres.query, models)
    pipeline_test(meltano, server, wh, "America/New_York")  # -04:00 or -05:00
    ((tombstones, versions),) = postgres.query(
        f"SELECT count(_sdc_deleted_at), count(*) - count(DISTINCT id) FROM {raw}.series_meetings"
    )
    assert int(tombstones) > 1, "the raw table should keep the tombstones"
    assert int(versions) > 20, "the raw table should keep the versions of meetings read again"
