"""What the demo prints from the warehouse (scripts/show_models.py): figures that add up."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import duckdb

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def show_models() -> object:
    sys.path.insert(0, str(SCRIPTS))  # it imports show_warehouse from its own folder
    spec = importlib.util.spec_from_file_location("show_models", SCRIPTS / "show_models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_series_table_adds_up_while_a_meeting_is_in_progress(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("CREATE SCHEMA analytics")
    connection.execute(
        """CREATE TABLE analytics.webex__series_summary AS SELECT 'Daily Standup' AS title,
           10 AS occurrences_scheduled, 6 AS occurrences_held, 1 AS occurrences_missed,
           1 AS occurrences_in_progress, 2 AS occurrences_upcoming,
           1.5 AS median_minutes_late, 90.0 AS total_minutes_held"""
    )
    lines = show_models().series_table(connection, "analytics")  # type: ignore[attr-defined]

    header, _, row = lines
    assert "in progress" in header
    scheduled, *parts = (int(n) for n in re.findall(r"\b\d+\b(?!\.)", row)[:5])
    assert scheduled == sum(parts) == 10, row
