"""A data engineer's own Meltano project, as the README sets it up: ``meltano init``, the
Hub definition added with ``meltano add --from-ref``, the tap installed from the wheel,
``meltano run`` with Meltano's defaults (``select`` is ``*.*``: every property).

Each test asserts what the user sees: the rows the loader wrote, the exit code, the one line.
"""

from __future__ import annotations

import importlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_webex import FakeWebex

from tap_webex_meetings.webex import SENSITIVE_FIELDS
from tests.meltano_support import (
    base_env,
    captured,
    emitted_records,
    meltano_executable,
    readme_meltano_add,
)

pytestmark = pytest.mark.e2e
yaml = importlib.import_module("yaml")  # PyYAML comes with singer-sdk; it has no type stubs

# What `meltano add loader target-jsonl` gives from Meltano Hub (not reachable from the tests).
TARGET_JSONL = {
    "name": "target-jsonl",
    "namespace": "target_jsonl",
    "pip_url": "target-jsonl==0.1.4",
    "executable": "target-jsonl",
    "settings": [{"name": "destination_path", "kind": "string"}],
}


@pytest.fixture(scope="module")
def project(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new Meltano project with the tap (from the wheel) and target-jsonl, installed once."""
    folder = tmp_path_factory.mktemp("own")
    env = user_env(folder)
    shell("meltano init project --no-usage-stats", folder, env)
    project = folder / "project"
    shell(readme_meltano_add(), project, env)
    meltano_yml = project / "meltano.yml"
    config = yaml.safe_load(meltano_yml.read_text())
    (tap,) = config["plugins"]["extractors"]
    assert "select" not in tap  # Meltano's default: every stream and property
    tap["pip_url"] = str(wheel)  # the user's edit of meltano.yml (README, Install)
    config["plugins"]["loaders"] = [TARGET_JSONL]
    meltano_yml.write_text(yaml.safe_dump(config))
    shell("meltano install", project, env)
    return project


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


def user_env(folder: Path) -> dict[str, str]:
    env = base_env(folder / "meltano.db")
    env["PATH"] = f"{meltano_executable().parent}:{env['PATH']}"  # meltano on PATH
    return env


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    completed = captured(["bash", "-euo", "pipefail", "-c", command], env, cwd=cwd, timeout=900)
    assert completed.returncode == 0, (command, completed.stderr[-3000:])
    return completed


def run(
    project: Path, server: FakeWebex, tmp_path: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    """``meltano run tap-webex-meetings target-jsonl``, settings in the environment."""
    env = user_env(tmp_path)
    env.update(
        TAP_WEBEX_MEETINGS_API_URL=server.api_url,
        TAP_WEBEX_MEETINGS_ACCESS_TOKEN="sandbox-token",
        TAP_WEBEX_MEETINGS_START_DATE=server.now.date().replace(day=1).isoformat(),
        TARGET_JSONL_DESTINATION_PATH=str(tmp_path),
    )
    env.update({f"TAP_WEBEX_MEETINGS_{name.upper()}": value for name, value in settings.items()})
    command = ["meltano", "run", "tap-webex-meetings", "target-jsonl"]
    return captured(command, env, cwd=project, timeout=600)


def loaded(folder: Path, stream: str) -> list[dict[str, object]]:
    (path,) = folder.glob(f"{stream}-*.jsonl")  # target-jsonl stamps the file name
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_no_password_or_host_key_reaches_the_warehouse_by_default(
    project: Path, server: FakeWebex, tmp_path: Path
) -> None:
    completed = run(project, server, tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]

    for stream in ("meeting_series", "series_meetings"):
        rows = loaded(tmp_path, stream)
        assert rows, stream
        leaked = {field for row in rows for field in SENSITIVE_FIELDS if field in row}
        assert leaked == set(), stream
    emitted = emitted_records(completed.stderr)["series_meetings"]
    assert len(loaded(tmp_path, "series_meetings")) == emitted > 0


def test_a_secret_field_named_by_the_setting_is_loaded_on_purpose(
    project: Path, server: FakeWebex, tmp_path: Path
) -> None:
    completed = run(project, server, tmp_path, secret_fields="password,hostKey")
    assert completed.returncode == 0, completed.stderr[-3000:]

    rows = loaded(tmp_path, "series_meetings")
    present = {field for row in rows for field in SENSITIVE_FIELDS if row.get(field)}
    assert present == {"password", "hostKey"}


@pytest.mark.parametrize("typed", ["01.11.2026", "13.11.2026"])
def test_a_local_date_is_refused_not_guessed(
    project: Path, server: FakeWebex, tmp_path: Path, typed: str
) -> None:
    completed = run(project, server, tmp_path, start_date=typed)

    assert completed.returncode != 0
    named = [line for line in completed.stderr.splitlines() if "start_date" in line]
    assert len(named) == 1, completed.stderr[-3000:]
    assert named[0].endswith(
        f"start_date: '{typed}' is not an ISO 8601 date or date-time "
        "(e.g. 2025-01-01 or 2025-01-01T00:00:00Z)"
    ), named
    assert "Traceback" not in completed.stderr
    assert server.requests == []
