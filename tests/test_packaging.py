"""What a user installs: the wheel carries the schemas and the type marker; the command
works without settings."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.tap_runner import TAP_COMMAND

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_wheel_ships_the_schema_files_the_type_marker_and_the_sandbox(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for stream in ("meeting_series", "series_meetings", "meeting_participants"):
            packaged = json.loads(archive.read(f"tap_webex_meetings/schemas/{stream}.json"))
            assert packaged == json.loads((ROOT / "schemas" / f"{stream}.json").read_text())
    assert "tap_webex_meetings/sandbox/server.py" in names
    assert "tap_webex_meetings/py.typed" in names  # PEP 561: mypy reads the tap's types
    # The project's loaders, and what they share.
    for package in ("target_webex_common", "target_webex_duckdb", "target_webex_postgres"):
        assert f"{package}/target.py" in names, package
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
        "meeting_participants",
        "meeting_series",
        "series_meetings",
    ]


@pytest.mark.parametrize("loader", ["target-webex-duckdb", "target-webex-postgres"])
def test_the_loaders_report_the_version_of_the_distribution_they_ship_in(loader: str) -> None:
    """Their log's first line and --about say which release wrote a warehouse."""
    command = str(Path(TAP_COMMAND).with_name(loader))
    about = subprocess.run(
        [command, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    assert json.loads(about.stdout)["version"] == version("tap-webex-meetings")


def readme_install_blocks() -> list[list[str]]:
    """The bash blocks of the README's Install section, line by line."""
    section = README.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip().splitlines() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_install_section_has_a_checkout_and_a_wheel_way() -> None:
    assert readme_install_blocks() == [
        ["pip install .", "tap-webex-meetings --about"],
        [
            "pip wheel --no-deps -w dist .",
            "pip install dist/tap_webex_meetings-*.whl",
            "tap-webex-meetings --about",
        ],
    ]


@pytest.mark.e2e
@pytest.mark.parametrize("way", ["checkout", "wheel"])
def test_readme_install_commands_work_in_a_fresh_venv(tmp_path: Path, way: str) -> None:
    """Each block as written, in a copy of the checkout's tracked files, in a new venv.

    The venv sees this one's site-packages after its own (a .pth file), so pip finds the
    dependencies installed and installs only the tap: no download, same commands.
    """
    checkout = tmp_path / "checkout"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    block = readme_install_blocks()[0 if way == "checkout" else 1]
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(block)],
        cwd=checkout,
        env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PIP_NO_INPUT": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "Name: tap-webex-meetings" in completed.stdout
    installed = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import tap_webex_meetings; print(tap_webex_meetings.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert installed.startswith(str(venv)), installed  # the venv's copy, not this checkout
