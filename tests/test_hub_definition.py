"""Every copy of the settings (Hub file, meltano.yml, docs/settings.md) is the schema's."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.meltano_support import hub_definition
from tests.tap_runner import TAP_COMMAND

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "hub_definition.py"
HUB_KEYS = {
    "name",
    "namespace",
    "variant",
    "label",
    "description",
    "pip_url",
    "repo",
    "executable",
    "capabilities",
    "settings",
    "settings_group_validation",
    "keywords",
    "maintenance_status",
}
yaml = importlib.import_module("yaml")  # PyYAML comes with singer-sdk


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def hub() -> dict[str, Any]:
    (path,) = (ROOT / "meltano-hub" / "extractors" / "tap-webex-meetings").glob("*.yml")
    definition: dict[str, Any] = load(path)
    return definition


def meltano_tap() -> dict[str, Any]:
    extractors = load(ROOT / "meltano.yml")["plugins"]["extractors"]
    (tap,) = [p for p in extractors if p["name"] == "tap-webex-meetings"]
    return dict(tap)


def about() -> dict[str, Any]:
    output = subprocess.run(
        [TAP_COMMAND, "--about", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    info: dict[str, Any] = json.loads(output)
    return info


def test_every_copy_of_the_settings_is_what_the_script_generates_now() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_a_setting_added_to_meltano_yml_by_hand_is_regenerated_away() -> None:
    """meltano.yml's tap settings are the schema's: an entry added by hand does not stay."""
    current = (ROOT / "meltano.yml").read_text()
    entry = "        - {name: client_id, kind: string}\n"
    edited = current.replace(entry, entry + "        - {name: client_ids, kind: string}\n")
    assert edited != current
    assert hub_definition().meltano_yml(about(), edited) == current


def test_docs_settings_has_a_row_for_every_setting() -> None:
    documented = re.findall(r"^\| `(\w+)`", (ROOT / "docs" / "settings.md").read_text(), re.M)
    assert documented == list(about()["settings"]["properties"])


def test_hub_definition_has_the_hub_fields() -> None:
    definition = hub()
    assert set(definition) >= HUB_KEYS
    assert definition["maintenance_status"] in {"active", "beta", "development", "inactive"}
    assert definition["executable"] == definition["name"] == "tap-webex-meetings"
    for entry in definition["settings"]:
        assert {"name", "label", "kind", "description"} <= set(entry), entry


def test_hub_agrees_with_about_and_meltano_yml() -> None:
    definition, tap, info = hub(), meltano_tap(), about()
    assert set(definition["capabilities"]) == set(tap["capabilities"]) == set(info["capabilities"])
    assert definition["namespace"] == tap["namespace"]
    assert definition["settings_group_validation"] == tap["settings_group_validation"]

    names = [s["name"] for s in definition["settings"]]
    assert names == [s["name"] for s in tap["settings"]] == list(info["settings"]["properties"])
    secrets = {n for n, p in info["settings"]["properties"].items() if p.get("writeOnly")}
    assert {s["name"] for s in definition["settings"] if s.get("sensitive")} == secrets
    assert {s["name"] for s in tap["settings"] if s.get("sensitive")} == secrets
