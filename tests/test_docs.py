"""The README stays true: its settings table and the commands CI runs."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from tap_webex_meetings.settings import CONFIG_SCHEMA
from tap_webex_meetings.tap import TapWebexMeetings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_documents_every_setting() -> None:
    builtin: dict[str, Any] = {"properties": {}}
    TapWebexMeetings.append_builtin_config(builtin)  # stream maps, flattening: the SDK's docs
    ours = set(CONFIG_SCHEMA["properties"]) - set(builtin["properties"])
    documented = set(re.findall(r"^\| (\w+) \| (?:True|False) \|", README, flags=re.MULTILINE))
    assert documented == ours


def test_ci_runs_the_readme_test_command() -> None:
    first_screen = README.split("---", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", first_screen)
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == "bash scripts/test.sh"


def test_the_fast_tier_command_selects_every_test_but_the_end_to_end_ones() -> None:
    """The README's fast tier, as written, with ``--collect-only``: its options work."""
    (command,) = re.findall(r"^(bash scripts/test.sh -m .+?)\s+#", README, flags=re.MULTILINE)
    completed = subprocess.run(
        [*shlex.split(command), "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    collected = re.search(r"(\d+)/(\d+) tests collected \((\d+) deselected\)", completed.stdout)
    assert collected, completed.stdout[-2000:]
    selected, total, deselected = (int(group) for group in collected.groups())
    assert selected > 300
    assert deselected >= 5
    assert selected + deselected == total
