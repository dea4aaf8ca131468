"""Print a few lines of what the dbt models (transform/) say, from the DuckDB warehouse that
`meltano run tap-webex-meetings target-webex-duckdb dbt-duckdb:build` left:

    python scripts/show_models.py output/warehouse.duckdb

Run it with a Python that has ``duckdb`` 1.1.3 or newer (the demo uses target-webex-duckdb's
plugin venv). ``--schema`` is the dbt-duckdb utility's ``schema`` setting.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from show_warehouse import open_warehouse, warehouse_parser  # the script's own folder

SCHEMA = "analytics"


def series_table(connection: Any, schema: str) -> list[str]:
    """webex__series_summary: how each series went."""
    rows = connection.execute(
        f"""SELECT title, occurrences_scheduled, occurrences_held, occurrences_missed,
                   occurrences_in_progress, occurrences_upcoming, median_minutes_late,
                   total_minutes_held
            FROM {schema}.webex__series_summary ORDER BY title"""
    ).fetchall()
    width = max([len("series"), *(len(str(row[0])) for row in rows)])
    header = (
        f"{'series':<{width}}  {'scheduled':>9}  {'held':>5}  {'missed':>6}  {'in progress':>11}"
        f"  {'upcoming':>8}  {'median min late':>15}  {'minutes held':>12}"
    )
    lines = [header, "-" * len(header)]
    for title, scheduled, held, missed, running, upcoming, late, total in rows:
        late_text = "" if late is None else f"{late:.2f}"
        lines.append(
            f"{title:<{width}}  {scheduled:>9}  {held:>5}  {missed:>6}  {running:>11}"
            f"  {upcoming:>8}  {late_text:>15}  {total:>12.1f}"
        )
    return lines


def highlights(connection: Any, schema: str) -> list[str]:
    """One restarted meeting (webex__meetings) and the host's busiest day (webex__host_daily)."""
    lines = []
    restarted = connection.execute(
        f"""SELECT title, strftime(scheduled_start_at, '%Y-%m-%d %H:%M'), instance_count,
                   minutes_late, minutes_held, minutes_over
            FROM {schema}.webex__meetings WHERE instance_count > 1 AND status = 'held'
            ORDER BY scheduled_start_at DESC LIMIT 1"""
    ).fetchall()
    for title, start, instances, late, held, over in restarted:
        lines.append(
            f"a restarted meeting: {title} of {start} UTC ran as {instances} instances, started "
            f"{late:.2f} minutes late, held {held:.2f} minutes, ended {abs(over):.2f} minutes "
            + ("after" if over > 0 else "before")
            + " its scheduled end"
        )
    busiest = connection.execute(
        f"""SELECT host_email, meeting_date, meetings_held, meetings_missed, minutes_held
            FROM {schema}.webex__host_daily
            ORDER BY minutes_held DESC, meeting_date DESC LIMIT 1"""
    ).fetchall()
    for host, day, held, missed, held_minutes in busiest:
        lines.append(
            f"busiest host day: {host} on {day}: {held} meetings held ({held_minutes:.1f} "
            f"minutes), {missed} missed"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = warehouse_parser(__doc__, SCHEMA, "schema of the dbt models").parse_args(argv)
    connection = open_warehouse(args.database, "show_models")
    if connection is None:
        return 1
    try:
        print("\n".join(series_table(connection, args.schema)))
        print()
        print("\n".join(highlights(connection, args.schema)))
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
