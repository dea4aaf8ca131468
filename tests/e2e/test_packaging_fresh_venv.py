"""The README's Install commands, as written, in a fresh venv (the e2e half of
tests/integration/test_packaging.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.integration.test_packaging import ROOT, readme_install_blocks


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
