"""What a user installs: the wheel carries the schemas; the command works without settings."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.tap_runner import TAP_COMMAND

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_schema_files_and_the_sandbox(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("tap_webex_meetings-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for stream in ("meeting_series", "series_meetings"):
            packaged = json.loads(archive.read(f"tap_webex_meetings/schemas/{stream}.json"))
            assert packaged == json.loads((ROOT / "schemas" / f"{stream}.json").read_text())
    assert "tap_webex_meetings/sandbox/server.py" in names
    assert not any(name.startswith("tests/") for name in names)


def test_about_and_discover_need_no_settings(tmp_path: Path) -> None:
    about = subprocess.run(
        [TAP_COMMAND, "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert settings["access_token"]["writeOnly"] is True
    assert settings["client_secret"]["writeOnly"] is True

    discover = subprocess.run(
        [TAP_COMMAND, "--discover"], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    catalog = json.loads(discover.stdout)
    assert sorted(s["tap_stream_id"] for s in catalog["streams"]) == [
        "meeting_series",
        "series_meetings",
    ]
