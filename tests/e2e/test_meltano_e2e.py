"""End to end through Meltano: `meltano run tap-webex-meetings <loader>`, twice, into DuckDB
and into a real PostgreSQL, against a fake Webex that follows the wall clock.

What a user of the pipeline relies on, checked row by row in the warehouse: every meeting
of the range is there exactly once, in the state Webex reports, nothing the tap emitted was
lost on the way, no secret column was loaded, and a later run adds the new meetings and
updates the changed ones from Meltano's saved state instead of duplicating them.

The server follows the wall clock because the tap's own clock is the wall clock (its run
start caps the bookmarks); the server is moved ahead between runs, never behind. A moving
clock means a meeting may change state while the tap pages, so the truth is taken just
before and just after each run, and a row must agree with one of the two.
"""

from __future__ import annotations

import importlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fake_webex import FakeWebex

from tap_webex_meetings.webex import SENSITIVE_FIELDS
from tests.meltano_support import (
    DEMO,
    REPO,
    Meltano,
    Postgres,
    base_env,
    captured,
    emitted_records,
    hub_definition,
    read_duckdb,
    schema_of,
)
from tests.tap_runner import series_in_state

pytestmark = pytest.mark.e2e

UTC = timezone.utc
USER = "alice@example.com"  # whom the sandbox token acts as
LOOKAHEAD = timedelta(days=30)  # the tap's default lookahead_days
Truth = dict[str, dict[str, Any]]
# What --about reports that Meltano understands (batch and structured-logging it does not use).
CAPABILITIES = ("catalog", "discover", "state", "about", "stream-maps", "schema-flattening")


@dataclass(frozen=True)
class Meeting:
    """One stored row, in the loader-independent shape the checks compare."""

    series_id: str
    meeting_type: str
    state: str
    start: str


@dataclass(frozen=True)
class Tables:
    """What a loader left: columns, live series and meeting rows (ids repeated if duplicated),
    and the ids it keeps marked deleted (a loader without hard deletes).
    """

    columns: dict[str, list[str]]
    series: list[tuple[str, str]]  # (id, title)
    meeting_ids: list[str]
    meetings: dict[str, Meeting]
    deleted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Run:
    """One `meltano run`: its log, and the truth just before and just after it."""

    log: str
    before: Truth
    after: Truth


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


# --- reading the warehouses ----------------------------------------------------------------


def duckdb_tables(path: Path) -> Tables:
    data = read_duckdb(path)
    meetings = data["series_meetings"]
    return Tables(
        columns={name: [c.lower() for c in cols] for name, cols in data["columns"].items()},
        series=[(row["id"], row["title"]) for row in data["meeting_series"]],
        meeting_ids=[row["id"] for row in meetings],
        meetings={
            row["id"]: Meeting(
                row["meetingSeriesId"], row["meetingType"], row["state"], row["start"]
            )
            for row in meetings
        },
    )


def postgres_tables(database: Postgres, schema: str) -> Tables:
    """Live rows by the README's query (``_sdc_deleted_at IS NULL``), and the marked ones."""
    series = database.query(
        f"SELECT id, title FROM {schema}.meeting_series WHERE _sdc_deleted_at IS NULL"
    )
    meetings = database.query(
        f"""SELECT id, "meetingSeriesId", "meetingType", state,
                   to_char(start, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM {schema}.series_meetings WHERE _sdc_deleted_at IS NULL"""
    )
    deleted = database.query(
        f"SELECT id FROM {schema}.series_meetings WHERE _sdc_deleted_at IS NOT NULL "
        f"UNION ALL SELECT id FROM {schema}.meeting_series WHERE _sdc_deleted_at IS NOT NULL"
    )
    return Tables(
        columns={
            name: [c.lower() for c in database.columns(schema, name)]
            for name in ("meeting_series", "series_meetings")
        },
        series=[(row[0], row[1]) for row in series],
        meeting_ids=[row[0] for row in meetings],
        meetings={row[0]: Meeting(*row[1:]) for row in meetings},
        deleted=frozenset(row[0] for row in deleted),
    )


# --- the truth -----------------------------------------------------------------------------


def truth(server: FakeWebex, start: datetime) -> Truth:
    """Every meeting the tap must have now: its series' meetings from ``start`` to the tap's
    range end (wall clock + lookahead), as the server reports them at its own clock.
    """
    server_now = server.now
    tap_now = server_now - server.ahead_of_wall_clock
    return {
        meeting["id"]: meeting
        for series_id in server.series_ids(USER)
        for meeting in server.expected_meetings(
            series_id, start, tap_now + LOOKAHEAD, at=server_now
        )
    }


def run_pipeline(meltano: Meltano, server: FakeWebex, start: datetime, loader: str) -> Run:
    before = truth(server, start)
    completed = meltano("run", "tap-webex-meetings", loader)
    return Run(completed.stdout + completed.stderr, before, truth(server, start))


def as_meeting(record: dict[str, Any]) -> Meeting:
    return Meeting(
        record["meetingSeriesId"], record["meetingType"], record["state"], record["start"]
    )


def check_warehouse(
    tables: Tables, run: Run, server: FakeWebex, history: frozenset[str] = frozenset()
) -> None:
    """Exactly the true meetings, once each, as the server reported them during the run;
    ``history``: past meetings of a series deleted since, which stay (only what was upcoming
    is tombstoned).
    """
    duplicates = [key for key, count in Counter(tables.meeting_ids).items() if count > 1]
    assert duplicates == [], f"{len(duplicates)} ids stored twice, e.g. {duplicates[:3]}"
    stored = set(tables.meetings) - history
    assert history <= set(tables.meetings), "the past of a deleted series must stay"
    missing = set(run.before) - stored
    assert not missing, f"{len(missing)} meetings missing, e.g. {sorted(missing)[:3]}"
    unexpected = stored - set(run.after)
    assert not unexpected, f"{len(unexpected)} unexpected rows, e.g. {sorted(unexpected)[:3]}"
    wrong = {
        key: row
        for key, row in tables.meetings.items()
        if key not in history
        and row not in {as_meeting(run.after[key]), as_meeting(run.before.get(key, run.after[key]))}
    }
    assert not wrong, f"{len(wrong)} rows differ from the server, e.g. {list(wrong.items())[:2]}"

    titles = {spec.id: spec.title for spec in server.series}
    assert sorted(tables.series) == sorted((key, titles[key]) for key in server.series_ids(USER))

    sensitive = {field.lower() for field in SENSITIVE_FIELDS}
    for name, columns in tables.columns.items():
        assert columns, f"table {name} has no columns"
        assert not sensitive & set(columns), f"{name} has secret columns"


def check_no_loss(tables: Tables, run: Run) -> None:
    """A first run stores one row per record the tap emitted: the loader dropped nothing."""
    emitted = emitted_records(run.log)
    assert emitted["series_meetings"] == len(tables.meeting_ids) > 300, emitted
    assert emitted["meeting_series"] == len(tables.series), emitted


def check_state(meltano: Meltano, loader: str, server: FakeWebex) -> None:
    """Meltano saved one bookmark per series, none after the tap's (wall) clock; a series
    found deleted keeps its partition, marked, so that it is not asked about again.
    """
    state = meltano.state(f"dev:tap-webex-meetings-to-{loader}")
    partitions = state["bookmarks"]["series_meetings"]["partitions"]
    assert series_in_state(state) == set(server.series_ids(USER))
    for partition in partitions:
        bookmark = datetime.fromisoformat(partition["replication_key_value"])
        assert bookmark <= datetime.now(UTC)


def check_incremental(first: Tables, second: Tables, run: Run, deleted: set[str]) -> None:
    """The second run added meetings and moved states, from the saved state, in place."""
    assert set(first.meetings) - deleted <= set(second.meetings), "rows of the first run vanished"
    new = set(second.meetings) - set(first.meetings)
    assert any(second.meetings[key].meeting_type == "meeting" for key in new), new
    moved = {
        (first.meetings[key].state, row.state)
        for key, row in second.meetings.items()
        if key in first.meetings and first.meetings[key].state != row.state
    }
    assert moved & {("scheduled", "ended"), ("scheduled", "missed")}, moved
    emitted = emitted_records(run.log)["series_meetings"]
    assert 0 < emitted < len(second.meetings) / 3, f"not incremental: {emitted} records"


# --- the tests -------------------------------------------------------------------------------


def point_tap_at(meltano: Meltano, server: FakeWebex) -> datetime:
    """Only environment variables point meltano.yml's tap at the fake; its start_date."""
    start = server.now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=120)
    meltano.point_at(server, start)
    meltano.env["TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS"] = "5"
    return start


def pipeline_test(
    meltano: Meltano,
    server: FakeWebex,
    loader: str,
    read: Callable[[], Tables],
) -> None:
    """Full run, checks; the server two days ahead; incremental run, checks."""
    start = point_tap_at(meltano, server)
    first_run = run_pipeline(meltano, server, start, loader)
    first = read()
    check_warehouse(first, first_run, server)
    check_no_loss(first, first_run)
    check_state(meltano, loader, server)

    deleted, history = delete_some(server, first)  # what the first run saw as upcoming
    server.advance(timedelta(days=2))
    second_run = run_pipeline(meltano, server, start, loader)
    second = read()
    check_warehouse(second, second_run, server, history)
    check_incremental(first, second, second_run, deleted)
    check_deleted(second, deleted, hard=loader in ("target-duckdb", "target-webex-duckdb"))
    check_state(meltano, loader, server)


def delete_some(server: FakeWebex, first: Tables) -> tuple[set[str], frozenset[str]]:
    """Delete two upcoming meetings of one series and a whole series with upcoming ones.

    Returns the ids (meetings and series) the warehouse must no longer count as live, and the
    rows of the deleted series that stay: its past, which the tap does not tombstone.
    """
    now = server.now
    by_series: dict[str, list[str]] = {}
    for key, row in sorted(first.meetings.items(), key=lambda item: item[1].start):
        if row.meeting_type == "scheduledMeeting" and datetime.fromisoformat(row.start) > now:
            by_series.setdefault(row.series_id, []).append(key)
    (_busiest, meetings), (gone_series, gone_meetings), *_ = sorted(
        by_series.items(), key=lambda item: -len(item[1])
    )
    for key in meetings[1:3]:
        server.delete(key)
    server.delete(gone_series)
    deleted = {*meetings[1:3], gone_series, *gone_meetings}
    history = (
        frozenset(key for key, row in first.meetings.items() if row.series_id == gone_series)
        - deleted
    )
    return deleted, history


def check_deleted(tables: Tables, deleted: set[str], *, hard: bool) -> None:
    """No deleted meeting or series is live; a loader without hard deletes keeps it marked."""
    live = set(tables.meetings) | {key for key, _ in tables.series}
    assert not live & deleted, f"ghost rows: {sorted(live & deleted)[:3]}"
    if hard:
        assert tables.deleted == frozenset()
    else:
        assert tables.deleted == deleted


def test_meltano_run_into_duckdb_full_then_incremental(
    meltano: Meltano, server: FakeWebex, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    meltano.into_duckdb(warehouse)
    pipeline_test(meltano, server, "target-duckdb", lambda: duckdb_tables(warehouse))


def test_meltano_run_into_webex_duckdb_full_then_incremental(
    meltano: Meltano, server: FakeWebex, tmp_path: Path
) -> None:
    """The project's own loader: the same checks, on the same tables as target-duckdb's."""
    readme = (REPO / "docs" / "loaders.md").read_text()
    assert ".venv-meltano/bin/meltano run tap-webex-meetings target-webex-duckdb\n" in readme
    warehouse = tmp_path / "warehouse.duckdb"
    meltano.into_duckdb(warehouse)
    pipeline_test(meltano, server, "target-webex-duckdb", lambda: duckdb_tables(warehouse))


@pytest.mark.parametrize("loader", ["target-postgres", "target-webex-postgres"])
def test_meltano_run_into_postgres_full_then_incremental(
    meltano: Meltano, server: FakeWebex, postgres: Postgres, tmp_path: Path, loader: str
) -> None:
    if loader == "target-webex-postgres":  # docs/loaders.md's command
        readme = (REPO / "docs" / "loaders.md").read_text()
        assert f".venv-meltano/bin/meltano run tap-webex-meetings {loader}\n" in readme
    schema = schema_of(tmp_path)
    meltano.into_postgres(postgres, schema)
    pipeline_test(meltano, server, loader, lambda: postgres_tables(postgres, schema))


def test_meltano_run_into_jsonl_creates_its_folder_and_loses_nothing(
    meltano: Meltano, server: FakeWebex, tmp_path: Path
) -> None:
    """target-jsonl appends, so one run: every record once, in a folder it had to create."""
    folder = tmp_path / "not" / "there" / "yet"
    meltano.env["TARGET_JSONL_DESTINATION_PATH"] = str(folder)
    run = run_pipeline(meltano, server, point_tap_at(meltano, server), "target-jsonl")

    def read(stream: str) -> list[dict[str, Any]]:
        lines = (folder / f"{stream}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    series, meetings = read("meeting_series"), read("series_meetings")
    tables = Tables(
        columns={
            name: sorted({key.lower() for record in records for key in record})
            for name, records in (("meeting_series", series), ("series_meetings", meetings))
        },
        series=[(record["id"], record["title"]) for record in series],
        meeting_ids=[record["id"] for record in meetings],
        meetings={record["id"]: as_meeting(record) for record in meetings},
    )
    check_warehouse(tables, run, server)
    check_no_loss(tables, run)


def test_demo_script_runs_full_then_incremental(installed: Path, tmp_path: Path) -> None:
    """The README's first command, twice, with its outputs and state moved to tmp_path."""
    env = base_env(tmp_path / "meltano.db")
    env["DEMO_OUTPUT"] = str(tmp_path / "demo")
    outputs = []
    for _ in range(2):
        completed = captured(["bash", str(DEMO)], env)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        outputs.append(completed.stdout)
    first, second = outputs
    assert "==> First run" in first
    assert "==> Incremental run" in second
    for output in outputs:
        assert re.search(r"series_meetings: (\d+) rows, \1 distinct ids \(one row per id\)", output)
        standup = re.search(r"^Daily Standup((?: +\d+){5}) +\d+\.\d\d", output, re.M)
        assert standup, output
        scheduled, *parts = (int(n) for n in standup.group(1).split())
        assert scheduled == sum(parts), standup.group(0)  # held, missed, in progress, upcoming
        assert "a restarted meeting: Team Sync of" in output
    changed = re.search(
        r"this run added (\d+) meetings, removed (\d+) deleted in Webex, and changed", second
    )
    assert changed, second
    assert changed.group(2) == "1", second  # the meeting the demo deleted is gone
    assert "==> A host deleted" in second


def test_meltano_yml_declares_every_tap_setting(meltano: Meltano) -> None:
    """meltano.yml keeps up with the tap (``--about`` through ``meltano invoke``): every
    setting with its kind, description and default, secrets marked sensitive, and the
    sensitive fields deselected in Meltano's own view of the catalog.
    """
    about = json.loads(
        meltano(
            "--log-level=warning", "invoke", "tap-webex-meetings", "--about", "--format=json"
        ).stdout
    )
    yaml = importlib.import_module("yaml")  # PyYAML comes with singer-sdk; no stubs needed
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-webex-meetings"]
    assert set(tap["capabilities"]) == set(CAPABILITIES) <= set(about["capabilities"])

    # Meltano's tap is the installed one: meltano.yml declares exactly its settings, as
    # scripts/hub_definition.py generates them (tests/integration/test_hub_definition.py
    # checks the rest).
    declared = [setting["name"] for setting in tap["settings"]]
    assert declared == list(about["settings"]["properties"])
    text = (REPO / "meltano.yml").read_text()
    assert hub_definition().meltano_yml(about, text) == text

    listing = meltano("--log-level=warning", "select", "tap-webex-meetings", "--list", "--all")
    status = {
        match.group(2): match.group(1)
        for match in re.finditer(r"^\t\[(\w+) *\] (\S+)$", listing.stdout, re.MULTILINE)
    }
    sensitive = {
        f"{s}.{f}" for s in ("meeting_series", "series_meetings") for f in SENSITIVE_FIELDS
    }
    assert {key: status.get(key) for key in sensitive} == dict.fromkeys(sensitive, "excluded")
    meetings = ("meeting_series.", "series_meetings.")
    others = {v for k, v in status.items() if k.startswith(meetings) and k not in sensitive}
    assert others == {"selected", "automatic"}, others
    # meeting_participants is opt-in (its own scope, a request per instance): not selected.
    participants = {v for k, v in status.items() if k.startswith("meeting_participants.")}
    assert participants == {"excluded"}, participants
