"""End to end through the attendance models: `meltano run tap-webex-meetings <loader>
dbt-<warehouse>:build` against the fake Webex with ``meeting_participants`` selected, into
DuckDB and PostgreSQL; webex__attendance, webex__attendance_participants and
webex__attendance_by_host must say what the fake's participants say, exactly.

The figures are computed from the fake's own dataset (:meth:`FakeWebex.expected_participants`
and :meth:`FakeWebex.expected_meetings`, in UTC), never from the raw tables. The tap runs in a
time zone other than UTC: the joins inside ``devices`` keep that zone's offset, and the models
must still be in UTC. The fake follows the wall clock, so an instance whose participants
appeared (its end + 15 minutes) while the pipeline ran may have been read or not: it has
either none or all of them; one whose participants appeared before the run must have all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from fake_webex import FakeWebex

from tests.e2e.test_dbt_e2e import DBT_DONE, LOOKAHEAD, USER, Query, duckdb_query, parse, stamp
from tests.meltano_support import Meltano, Postgres

pytestmark = pytest.mark.e2e

DETAILS_DELAY = timedelta(minutes=15)  # Webex lists an instance's participants this long after
SETTLED = timedelta(hours=3)  # longer than any sandbox meeting plus that delay
SELECT = ["meeting_series.*", "series_meetings.*", "meeting_participants.*"]
HUNDREDTH = Decimal("0.01")


# --- the truth: what the fake Webex answers ------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """A meeting instance as the API lists it, and the participants it lists for it."""

    id: str
    scheduled_meeting_id: str
    host_email: str
    start: datetime
    end: datetime | None
    scheduled_start: datetime | None
    people: tuple[dict[str, Any], ...] | None  # None while Webex answers 404

    def shown_before(self, moment: datetime) -> bool:
        """Whether its participants had appeared by ``moment`` (the tap reads them then)."""
        return self.end is not None and self.end + DETAILS_DELAY <= moment


def truth(server: FakeWebex, start: datetime) -> dict[str, Instance]:
    """Every meeting instance of the series the user sees, from ``start``, with its people."""
    now = server.now
    tap_now = now - server.ahead_of_wall_clock
    instances: dict[str, Instance] = {}
    for series_id in server.series_ids(USER):
        records = server.expected_meetings(series_id, start, tap_now + LOOKAHEAD, at=now)
        scheduled = {
            record["id"]: parse(record["start"])
            for record in records
            if record["meetingType"] == "scheduledMeeting"
        }
        for record in records:
            if record["meetingType"] != "meeting":
                continue
            try:
                people = tuple(server.expected_participants(record["id"], at=now))
            except LookupError:
                people = None
            instances[record["id"]] = Instance(
                record["id"],
                record["scheduledMeetingId"],
                record["hostEmail"].lower(),
                parse(record["start"]),
                parse(record["end"]) if record["end"] else None,
                scheduled.get(record["scheduledMeetingId"]),
                people,
            )
    return instances


def rounded(value: Fraction | Decimal | int) -> Decimal:
    """To the hundredth, half up, as the models round (decimal, away from zero)."""
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(value)
    )
    return exact.quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def seconds_present(joins: list[tuple[datetime, datetime]]) -> int:
    """Seconds covered by the joins, overlapping ones counted once."""
    total, reach = 0, None
    for joined, left in sorted(joins):
        if reach is None or joined > reach:
            total += int((left - joined).total_seconds())
            reach = left
        elif left > reach:
            total += int((left - reach).total_seconds())
            reach = left
    return total


def person_figures(person: dict[str, Any], instance: Instance) -> dict[str, Any]:
    """What webex__attendance_participants must say of one participant."""
    joins = [(parse(d["joinedTime"]), parse(d["leftTime"])) for d in person.get("devices") or []]
    if not joins:
        joins = [(parse(person["joinedTime"]), parse(person["leftTime"]))]
    first = min(joined for joined, _ in joins)
    late = None
    if instance.scheduled_start is not None:
        late = rounded(Fraction(int((first - instance.scheduled_start).total_seconds()), 60))
    return {
        "email": (person.get("email") or "").lower(),
        "flags": flags(person.get("host"), person.get("invitee")),
        "join_count": len(joins),
        "first_joined_at": stamp(first),
        "last_left_at": stamp(max(left for _, left in joins)),
        "seconds": seconds_present(joins),
        "minutes_late": late,
    }


def flags(host: object, invitee: object) -> str:
    return ("host " if host else "") + ("invitee" if invitee else "")


def instance_figures(people: list[dict[str, Any]]) -> dict[str, Any]:
    """What webex__attendance must say of an instance with these participants' figures."""
    late = [max(p["minutes_late"], Decimal(0)) for p in people if p["minutes_late"] is not None]
    return {
        "participants": len(people),
        "invitees_attended": sum("invitee" in p["flags"] for p in people),
        "participants_without_email": sum(p["email"] == "" for p in people),
        "person_minutes": rounded(Fraction(sum(p["seconds"] for p in people), 60)),
        "participants_late": sum(value > 0 for value in late),
        "avg_minutes_late": rounded(Fraction(sum(late)) / len(late)) if late else None,
        "max_minutes_late": max(late) if late else None,
    }


# --- the models ------------------------------------------------------------------------------


def number(value: str) -> Decimal | None:
    return Decimal(value) if value else None


@dataclass(frozen=True)
class Models:
    """The attendance models of one warehouse, as text rows."""

    query: Query
    schema: str

    def attendance(self) -> dict[str, dict[str, Any]]:
        rows = self.query(
            "SELECT meeting_instance_id, scheduled_meeting_id, host_email, "
            "cast(started_at as varchar), participants, invitees_attended, "
            "participants_without_email, person_minutes, participants_late, "
            f"avg_minutes_late, max_minutes_late FROM {self.schema}.webex__attendance"
        )
        found = {
            row[0]: {
                "scheduled_meeting_id": row[1],
                "host_email": row[2],
                "started_at": row[3],
                "participants": int(row[4]),
                "invitees_attended": int(row[5]),
                "participants_without_email": int(row[6]),
                "person_minutes": Decimal(row[7]),
                "participants_late": int(row[8]),
                "avg_minutes_late": number(row[9]),
                "max_minutes_late": number(row[10]),
            }
            for row in rows
        }
        assert len(found) == len(rows), "webex__attendance has an instance twice"
        return found

    def participants(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.query(
            "SELECT meeting_instance_id, participant_id, coalesce(email, ''), "
            "case when is_host then 'host ' else '' end "
            "|| case when is_invitee then 'invitee' else '' end, join_count, "
            "cast(first_joined_at as varchar), cast(last_left_at as varchar), "
            f"seconds_attended, minutes_late FROM {self.schema}.webex__attendance_participants"
        )
        found = {
            (row[0], row[1]): {
                "email": row[2],
                "flags": row[3],
                "join_count": int(row[4]),
                "first_joined_at": row[5],
                "last_left_at": row[6],
                "seconds": int(row[7]),
                "minutes_late": number(row[8]),
            }
            for row in rows
        }
        assert len(found) == len(rows), "webex__attendance_participants has a participant twice"
        return found

    def by_host(self) -> dict[str, dict[str, Any]]:
        rows = self.query(
            "SELECT host_email, meetings, meeting_instances, participants, invitees_attended, "
            f"person_minutes, participants_late, avg_minutes_late "
            f"FROM {self.schema}.webex__attendance_by_host"
        )
        names = (
            "meetings",
            "meeting_instances",
            "participants",
            "invitees_attended",
            "person_minutes",
            "participants_late",
            "avg_minutes_late",
        )
        return {row[0]: dict(zip(names, map(number, row[1:]), strict=True)) for row in rows}


# --- the pipeline and the checks ---------------------------------------------------------------


def run_pipeline(meltano: Meltano, loader: str, utility: str) -> str:
    completed = meltano("run", "tap-webex-meetings", loader, f"{utility}:build")
    log = completed.stdout + completed.stderr
    done = DBT_DONE.findall(log)
    assert len(done) == 1, f"no dbt summary in the log:\n{log[-3000:]}"
    _, warned, failed, skipped = (int(n) for n in done[0])
    assert (warned, failed, skipped) == (0, 0, 0), done
    return log


def check_attendance(
    models: Models, before: datetime, after: datetime, fake: dict[str, Instance]
) -> None:
    """Each instance as the fake says: all its participants if they appeared before the run,
    none if they appeared after it, one of the two if they appeared while it ran."""
    rows = models.attendance()
    people = models.participants()
    settled = {key for key, instance in fake.items() if instance.start < before - SETTLED}
    assert settled <= set(rows), "instances of the fake are missing"
    assert set(rows) <= set(fake), "instances the fake does not have"
    assert {key for key, _ in people} <= set(rows), "participants of no instance"
    read: dict[str, list[dict[str, Any]]] = {}
    for key, row in rows.items():
        instance = fake[key]
        assert (row["scheduled_meeting_id"], row["host_email"], row["started_at"]) == (
            instance.scheduled_meeting_id,
            instance.host_email,
            stamp(instance.start),
        ), key
        must = instance.shown_before(before)
        may = instance.shown_before(after) and instance.people is not None
        if must or (may and row["participants"] > 0):
            assert instance.people is not None, key
            expected = {p["id"]: person_figures(p, instance) for p in instance.people}
            stored = {pid: value for (iid, pid), value in people.items() if iid == key}
            assert stored == expected, key
            read[key] = list(expected.values())
        else:
            read[key] = []
        expected_row = instance_figures(read[key])
        assert {name: row[name] for name in expected_row} == expected_row, key
    assert sum(1 for key in read if fake[key].shown_before(before)) > 10, "too few instances read"
    check_by_host(models, fake, read)
    everyone = [p for key in read for p in fake[key].people or () if read[key]]
    # what the fake must have served for this test to mean something
    assert any(not p.get("email") for p in everyone), "no phone-only participant"
    assert any(len(p.get("devices") or ()) > 1 for p in everyone), "nobody joined twice"
    assert any(p.get("invitee") for p in everyone), "no invitee came"
    assert any(not p.get("invitee") and not p.get("host") for p in everyone), "no guest"
    restarted = defaultdict(list)
    for key in read:
        restarted[fake[key].scheduled_meeting_id].append(key)
    assert any(len(keys) > 1 for keys in restarted.values()), "no restarted meeting"


def check_by_host(
    models: Models, fake: dict[str, Instance], read: dict[str, list[dict[str, Any]]]
) -> None:
    """Per host, over the instances in the warehouse: the fake's figures added up."""
    hosts: dict[str, list[str]] = defaultdict(list)
    for key in read:
        hosts[fake[key].host_email].append(key)
    expected = {}
    for host, keys in hosts.items():
        people = [p for key in keys for p in read[key]]
        late = [max(p["minutes_late"], Decimal(0)) for p in people if p["minutes_late"] is not None]
        expected[host] = {
            "meetings": Decimal(len({fake[key].scheduled_meeting_id for key in keys})),
            "meeting_instances": Decimal(len(keys)),
            "participants": Decimal(len(people)),
            "invitees_attended": Decimal(sum("invitee" in p["flags"] for p in people)),
            "person_minutes": rounded(Fraction(sum(p["seconds"] for p in people), 60)),
            "participants_late": Decimal(sum(value > 0 for value in late)),
            "avg_minutes_late": rounded(Fraction(sum(late)) / len(late)) if late else None,
        }
    assert models.by_host() == expected


def pipeline_test(
    meltano: Meltano,
    server: FakeWebex,
    loader: str,
    utility: str,
    models: Models,
    days_back: tuple[int, ...] = (30,),
) -> None:
    """One run per entry of ``days_back``, each from that many days before today (an
    earlier start_date than the run before is a backfill: every ended instance read again),
    the models checked after each."""
    meltano.env.update(
        TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS="5",
        TAP_WEBEX_MEETINGS__SELECT=json.dumps(SELECT),  # not selected by default
    )
    for days in days_back:
        start = server.now.replace(hour=0, minute=0, second=0, microsecond=0)
        start -= timedelta(days=days)
        meltano.point_at(server, start)
        before = server.now
        run_pipeline(meltano, loader, utility)
        after = server.now
        check_attendance(models, before, after, truth(server, start))


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


def test_attendance_in_duckdb_matches_the_fakes_participants(
    meltano: Meltano, server: FakeWebex, tmp_path: Path
) -> None:
    """`... target-webex-duckdb dbt-duckdb:build`, the tap in India's time (+05:30)."""
    warehouse = tmp_path / "warehouse.duckdb"
    meltano.into_duckdb(warehouse)
    meltano.env.update(DBT_DUCKDB_PATH=str(warehouse), TAP_WEBEX_MEETINGS_TIMEZONE="Asia/Kolkata")
    models = Models(duckdb_query(warehouse), "analytics")
    pipeline_test(meltano, server, "target-webex-duckdb", "dbt-duckdb", models)


def test_attendance_in_postgres_matches_the_fakes_participants_read_twice(
    meltano: Meltano, server: FakeWebex, postgres: Postgres, tmp_path: Path
) -> None:
    """`... target-postgres dbt-postgres:build`, then again from an earlier start_date (a
    backfill reads every ended instance again), the loader appending (a stream map takes
    the keys away): the raw table keeps each participant twice, the models count them once.
    New York time (-05:00).
    """
    suffix = tmp_path.name.lower().replace("-", "_")[-40:]
    raw, schema = f"webex_{suffix}", f"analytics_{suffix}"
    keyless: dict[str, list[str]] = {"__key_properties__": []}
    meltano.into_postgres(postgres, raw)
    meltano.env.update(
        TAP_WEBEX_MEETINGS_TIMEZONE="America/New_York",
        TAP_WEBEX_MEETINGS_STREAM_MAPS=json.dumps(
            {"meeting_series": keyless, "series_meetings": keyless, "meeting_participants": keyless}
        ),
        DBT_POSTGRES_HOST=postgres.settings["PGHOST"],
        DBT_POSTGRES_PORT=postgres.settings["PGPORT"],
        DBT_POSTGRES_USER=postgres.settings["PGUSER"],
        DBT_POSTGRES_PASSWORD=postgres.settings["PGPASSWORD"],
        DBT_POSTGRES_DBNAME=postgres.settings["PGDATABASE"],
        DBT_POSTGRES_SOURCE_SCHEMA=raw,
        DBT_POSTGRES_SCHEMA=schema,
    )
    models = Models(postgres.query, schema)
    pipeline_test(meltano, server, "target-postgres", "dbt-postgres", models, (30, 32))
    ((versions,),) = postgres.query(
        f'SELECT count(*) - count(DISTINCT ("meetingId", id)) FROM {raw}.meeting_participants'
    )
    assert int(versions) > 50, "the raw table should keep participants read twice"
