"""The contributor's tools agree with each other: pre-commit runs the ruff and mypy that
pyproject.toml's dev extra pins, and CI runs CONTRIBUTING's fast tier."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
yaml = importlib.import_module("yaml")  # PyYAML comes with singer-sdk; it has no type stubs


def dev_pin(tool: str) -> str:
    (version,) = re.findall(
        rf'^\s*"{tool}==([^"]+)",', (ROOT / "pyproject.toml").read_text(), re.MULTILINE
    )
    return str(version)


def hooks() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {repo["repo"].rsplit("/", 1)[-1]: repo for repo in config["repos"]}


def test_pre_commit_runs_the_pinned_ruff_and_mypy() -> None:
    repos = hooks()
    assert repos["ruff-pre-commit"]["rev"] == f"v{dev_pin('ruff')}"
    assert {hook["id"] for hook in repos["ruff-pre-commit"]["hooks"]} == {
        "ruff-check",
        "ruff-format",
    }
    assert repos["mirrors-mypy"]["rev"] == f"v{dev_pin('mypy')}"
    (mypy,) = repos["mirrors-mypy"]["hooks"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    (sdk_range,) = set(re.findall(r'"singer-sdk\[\w+\]([^"]+)"', pyproject))
    assert f"singer-sdk[msgspec,testing]{sdk_range}" in mypy["additional_dependencies"]


def test_ci_workflow_runs_the_checks_and_the_readme_fast_tier() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = "\n".join(step.get("run", "") for step in workflow["jobs"]["checks"]["steps"])
    readme = (ROOT / "CONTRIBUTING.md").read_text()
    (fast_tier,) = re.findall(r"^(bash scripts/test.sh -m .+?)\s+#", readme, re.MULTILINE)
    for command in (
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy",
        fast_tier,
    ):
        assert command in steps, command
    (whole,) = workflow["jobs"]["whole-suite"]["steps"][-1:]
    assert whole["run"] == "bash .ci/run"
