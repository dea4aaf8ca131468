"""Every capability ``--about`` declares works, through the installed command.

The tap declares catalog, state, discover, about, stream-maps and schema-flattening (as
meltano.yml does); not the SDK's defaults batch, activate-version and structured-logging.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from fake_webex import FakeWebex

from tests.tap_runner import TAP_COMMAND, TapOutput, config_for, parse_messages, run_cli

DECLARED = ["catalog", "state", "discover", "about", "stream-maps", "schema-flattening"]
END = "2026-06-20T00:00:00Z"


def about() -> dict[str, Any]:
    completed = subprocess.run(
        [TAP_COMMAND, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    info: dict[str, Any] = json.loads(completed.stdout)
    return info


def discover(config: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "config.json")
        path.write_text(json.dumps(config))
        completed = subprocess.run(
            [TAP_COMMAND, "--config", str(path), "--discover"],
            capture_output=True,
            text=True,
            check=True,
        )
    catalog: dict[str, Any] = json.loads(completed.stdout)
    return catalog


def run_with_catalog(config: dict[str, Any], catalog: dict[str, Any]) -> TapOutput:
    with tempfile.TemporaryDirectory() as folder:
        config_path, catalog_path = Path(folder, "config.json"), Path(folder, "catalog.json")
        config_path.write_text(json.dumps(config))
        catalog_path.write_text(json.dumps(catalog))
        completed = subprocess.run(
            [TAP_COMMAND, "--config", str(config_path), "--catalog", str(catalog_path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return TapOutput(
        parse_messages(completed.stdout), completed.stderr, completed.returncode, completed.stdout
    )


def test_about_declares_exactly_what_is_tested_here_and_no_batch_config() -> None:
    info = about()
    assert info["capabilities"] == DECLARED
    assert "batch_config" not in info["settings"]["properties"]
    assert {"stream_maps", "flattening_enabled"} <= set(info["settings"]["properties"])


def test_discover_and_catalog_select_one_stream(server: FakeWebex) -> None:
    config = config_for(server, end_date=END)
    catalog = discover(config)
    assert sorted(s["tap_stream_id"] for s in catalog["streams"]) == [
        "meeting_participants",
        "meeting_series",
        "series_meetings",
    ]
    for stream in catalog["streams"]:
        root = next(e for e in stream["metadata"] if e["breadcrumb"] == [])
        root["metadata"]["selected"] = stream["tap_stream_id"] == "meeting_series"

    output = run_with_catalog(config, catalog)
    assert output.exit_code == 0, output.stderr
    assert output.records("meeting_series")
    assert output.records("series_meetings") == []


def test_state_resumes_each_series_from_its_bookmark(server: FakeWebex) -> None:
    config = config_for(server, end_date=END)
    first = run_cli(config)
    assert first.exit_code == 0, first.stderr
    server.clear_requests()

    second = run_cli(config, state=first.last_state)
    assert second.exit_code == 0, second.stderr
    starts = {
        r.params["from"][0] for r in server.requests if "meetingSeriesId" in r.params
    }  # each series from its bookmark minus lookback_days, not from start_date
    assert starts
    assert "2025-06-01T00:00:00Z" not in starts
    assert len(second.ids()) < len(first.ids())


def test_stream_maps_rename_and_drop_fields(server: FakeWebex) -> None:
    maps = {"meeting_series": {"title": None, "name": "title"}}
    output = run_cli(config_for(server, end_date=END, stream_maps=maps))
    assert output.exit_code == 0, output.stderr
    records = output.records("meeting_series")
    assert records
    assert all("title" not in r and r["name"] for r in records)


def test_schema_flattening_expands_nested_objects(server: FakeWebex) -> None:
    config = config_for(server, end_date=END, flattening_enabled=True, flattening_max_depth=1)
    output = run_cli(config)
    assert output.exit_code == 0, output.stderr
    properties = output.schema("series_meetings")["properties"]
    assert "telephony" not in properties
    assert any(name.startswith("telephony__") for name in properties)
    assert any(key.startswith("telephony__") for r in output.records() for key in r)
