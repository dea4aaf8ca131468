"""What a user installs: the wheel carries the schemas and the type marker; the command
works without settings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.tap_runner import TAP_COMMAND

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_wheel_ships_the_tap_alone_with_its_schemas_and_type_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for stream in ("meeting_series", "series_meetings", "meeting_participants"):
            packaged = json.loads(archive.read(f"tap_webex_meetings/schemas/{stream}.json"))
            assert packaged == json.loads((ROOT / "schemas" / f"{stream}.json").read_text())
        (entry_points,) = (name for name in names if name.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode().split("[console_scripts]")[1]
    assert "tap_webex_meetings/py.typed" in names  # PEP 561: mypy reads the tap's types
    # The fake Webex and the loaders are distributions of their own (packages/).
    assert {name.split("/")[0] for name in names if not name.endswith(".dist-info")} - {
        name.split("/")[0] for name in names if ".dist-info/" in name
    } == {"tap_webex_meetings"}
    assert [line.split("=")[0].strip() for line in scripts.split("\n") if "=" in line] == [
        "tap-webex-meetings"
    ]


PACKAGES = {
    "fake-webex": ("fake_webex/server.py", "tap-webex-meetings-sandbox"),
    "target-webex-common": ("target_webex_common/target.py", None),
    "target-webex-duckdb": ("target_webex_duckdb/target.py", "target-webex-duckdb"),
    "target-webex-postgres": ("target_webex_postgres/target.py", "target-webex-postgres"),
}


PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps")


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_builds_its_own_wheel(package: str, tmp_path: Path) -> None:
    """Its own name and version, its module alone, its command."""
    subprocess.run(
        [*PIP_WHEEL, "-w", str(tmp_path), str(ROOT / "packages" / package)],
        check=True,
        capture_output=True,
    )
    (built,) = tmp_path.glob("*.whl")
    assert built.name.startswith(package.replace("-", "_") + "-0.1.0-")
    module, command = PACKAGES[package]
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        scripts = "".join(
            archive.read(name).decode() for name in names if name.endswith("entry_points.txt")
        )
    assert module in names
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {
        module.split("/")[0]
    }
    assert [line.split("=")[0].strip() for line in scripts.splitlines() if "=" in line] == (
        [command] if command else []
    )


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
def test_the_loaders_report_their_own_version(loader: str) -> None:
    """Their log's first line and --about say which release wrote a warehouse."""
    command = str(Path(TAP_COMMAND).with_name(loader))
    about = subprocess.run(
        [command, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    assert json.loads(about.stdout)["version"] == version(loader)


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
