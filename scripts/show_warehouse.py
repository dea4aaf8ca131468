"""Print what `meltano run tap-webex-meetings target-webex-duckdb` left in the DuckDB warehouse.

Run it with a Python that has ``duckdb`` (the demo uses target-webex-duckdb's own plugin venv, so
the reader is the same duckdb version as the writer):

    python scripts/show_warehouse.py output/warehouse.duckdb

``--previous FILE --save FILE`` compare with the ids and states saved after the last run, so
an incremental run shows what it added and what changed; ``--run-log`` adds how many records
the tap emitted (its summary line in the Meltano log). ``--json`` prints the rows
instead, for tests. target-duckdb lower-cases column names (``meetingType`` -> meetingtype).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = "webex"
# The tap's last INFO line (tap_webex_meetings/summary.py), which says what it emitted.
SUMMARY = re.compile(r"Extracted (\d+) series \((\d+) deleted\) and (\d+) meeting records")


def connect(path: Path) -> Any:
    """Open read-only, so a reader never blocks or changes the loader's file."""
    duckdb = importlib.import_module("duckdb")  # not a dependency of the tap: loaded at run time
    return duckdb.connect(str(path), read_only=True)


def warehouse_parser(doc: str | None, schema: str, schema_help: str) -> argparse.ArgumentParser:
    """The command line of a warehouse reader (this one, show_models.py): file and schema."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("database", type=Path, help="DuckDB file, e.g. output/warehouse.duckdb")
    parser.add_argument("--schema", default=schema, help=schema_help)
    return parser


def open_warehouse(path: Path, program: str) -> Any | None:
    """The file, opened read-only; None after one line if it does not exist."""
    if not path.exists():
        print(f"{program}: {path} does not exist", file=sys.stderr)
        return None
    return connect(path)


def fetch(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(sql).fetchall()]


def rows(connection: Any, schema: str) -> dict[str, Any]:
    """Both tables' column names, and the columns a check needs as JSON-ready dicts."""
    series = fetch(connection, f"SELECT id, title, state FROM {schema}.meeting_series ORDER BY id")
    meetings = fetch(
        connection,
        f"""SELECT id, meetingseriesid, meetingtype, state, strftime(start, '%Y-%m-%dT%H:%M:%SZ')
            FROM {schema}.series_meetings ORDER BY start, id""",
    )
    columns = fetch(
        connection,
        f"""SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = '{schema}' ORDER BY table_name, ordinal_position""",
    )
    return {
        "columns": {
            name: [column for table, column in columns if table == name]
            for name in ("meeting_series", "series_meetings")
        },
        "meeting_series": [dict(zip(("id", "title", "state"), row, strict=True)) for row in series],
        "series_meetings": [
            dict(zip(("id", "meetingSeriesId", "meetingType", "state", "start"), row, strict=True))
            for row in meetings
        ],
    }


def emitted_records(run_log: Path) -> Counter[str]:
    """Records the tap emitted per stream, from its summary line (none if it has none)."""
    counts: Counter[str] = Counter()
    for line in run_log.read_text(errors="replace").splitlines():
        if match := SUMMARY.search(line):
            series, deleted_series, meetings = (int(group) for group in match.groups())
            counts.update(meeting_series=series + deleted_series, series_meetings=meetings)
    return counts


def table(connection: Any, schema: str) -> list[str]:
    """Meetings per series, type and state: the shape of the data at a glance."""
    summary = fetch(
        connection,
        f"""SELECT coalesce(s.title, m.meetingseriesid), m.meetingtype, m.state, count(*)
            FROM {schema}.series_meetings m
            LEFT JOIN {schema}.meeting_series s ON s.id = m.meetingseriesid
            GROUP BY ALL ORDER BY 1, 2, 3""",
    )
    width = max([len("series"), *(len(str(row[0])) for row in summary)])
    lines = [f"{'series':<{width}}  {'meetingType':<16}  {'state':<10}  {'meetings':>8}"]
    lines.append("-" * len(lines[0]))
    lines += [f"{t:<{width}}  {kind:<16}  {state:<10}  {n:>8}" for t, kind, state, n in summary]
    return lines


def totals(connection: Any, schema: str) -> list[str]:
    lines = []
    for name in ("meeting_series", "series_meetings"):
        ((count, distinct),) = fetch(
            connection, f"SELECT count(*), count(DISTINCT id) FROM {schema}.{name}"
        )
        verdict = "one row per id" if count == distinct else "DUPLICATE IDS"
        lines.append(f"{name}: {count} rows, {distinct} distinct ids ({verdict})")
    return lines


def changes(current: dict[str, str], previous: dict[str, str]) -> list[str]:
    """What this run added, removed and which states it moved, compared with the snapshot."""
    new = current.keys() - previous.keys()
    removed = previous.keys() - current.keys()
    moved = Counter(
        f"{previous[key]} -> {state}"
        for key, state in current.items()
        if key in previous and previous[key] != state
    )
    detail = ", ".join(f"{label}: {n}" for label, n in sorted(moved.items()))
    return [
        f"this run added {len(new)} meetings, removed {len(removed)} deleted in Webex, and "
        f"changed the state of {sum(moved.values())}"
        + (f" ({detail})" if detail else "")
        + f"; {len(current)} meetings in total"
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = warehouse_parser(__doc__, SCHEMA, "target-duckdb default_target_schema")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--run-log", type=Path, help="Meltano log of the run, for record counts")
    parser.add_argument("--previous", type=Path, help="snapshot saved by an earlier --save")
    parser.add_argument("--save", type=Path, help="save ids and states here for the next run")
    args = parser.parse_args(argv)
    connection = open_warehouse(args.database, "show_warehouse")
    if connection is None:
        return 1
    try:
        data = rows(connection, args.schema)
        if args.json:
            print(json.dumps(data, indent=1))
            return 0
        print("\n".join(table(connection, args.schema)))
        print()
        print("\n".join(totals(connection, args.schema)))
    finally:
        connection.close()
    if args.run_log is not None and args.run_log.exists():
        emitted = emitted_records(args.run_log)
        print(
            "the tap emitted "
            + ", ".join(f"{emitted[name]} {name} records" for name in sorted(emitted))
            + " in this run"
        )
    states = {row["id"]: str(row["state"]) for row in data["series_meetings"]}
    if args.previous is not None and args.previous.exists():
        print("\n".join(changes(states, json.loads(args.previous.read_text()))))
    if args.save is not None:
        args.save.write_text(json.dumps(states))
    return 0


if __name__ == "__main__":
    sys.exit(main())
