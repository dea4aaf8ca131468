"""Fixtures: fake Webex servers on 127.0.0.1, fresh for each test that changes them; the
built wheel, the pinned Meltano with the project's plugins and one PostgreSQL, once per
session."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.meltano_support import (
    PLUGINS,
    PLUGINS_USED,
    Meltano,
    Postgres,
    base_env,
    meltano_executable,
    pinned_meltano_version,
    start_postgres,
    stop_postgres,
)

if TYPE_CHECKING:  # the unit tier runs without the fake Webex installed (packages/)
    from fake_webex import FakeWebex


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    """A fake Webex with the default series, its clock at 2026-06-15T12:00Z."""
    from fake_webex import FakeWebex  # noqa: PLC0415  (see TYPE_CHECKING above)

    with FakeWebex() as fake:
        yield fake


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout built as the README's Install section says (``pip wheel --no-deps``)."""
    folder = tmp_path_factory.mktemp("wheel")
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(folder),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = folder.glob("tap_webex_meetings-*.whl")
    return built


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One throwaway PostgreSQL for every end-to-end test that loads into it."""
    database, pgdata = start_postgres()
    try:
        yield database
    finally:
        stop_postgres(pgdata)


@pytest.fixture(scope="session")
def meltano_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned Meltano (``.venv-meltano``), its version checked."""
    path = meltano_executable()
    system_db = tmp_path_factory.mktemp("meltano-version") / "meltano.db"
    version = Meltano(path, base_env(system_db))("--version").stdout
    assert f"version {pinned_meltano_version()}" in version, version
    return path


@pytest.fixture(scope="session")
def installed(meltano_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`meltano install` of every plugin the tests run, once per session, for every module
    (they share the project's ``.meltano/``); quick when it already has their venvs."""
    system_db = tmp_path_factory.mktemp("meltano-install") / "meltano.db"
    Meltano(meltano_bin, base_env(system_db))("install", *PLUGINS_USED)
    return PLUGINS


@pytest.fixture
def meltano(installed: Path, meltano_bin: Path, tmp_path: Path) -> Meltano:
    """Meltano in the project, with a system database (so a state) of this test's own."""
    return Meltano(meltano_bin, base_env(tmp_path / "meltano.db"))
