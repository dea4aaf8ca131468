"""The unit tier: no network, no processes. A test here that opens a connection or starts a
command fails with one line saying so: it belongs in tests/integration/."""

from __future__ import annotations

import socket
import subprocess
from typing import NoReturn

import pytest


def _refuse(what: str) -> NoReturn:
    raise RuntimeError(f"{what} in the unit tier: move the test to tests/integration/")


@pytest.fixture(autouse=True)
def _no_sockets_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Binding a listener and connecting both go through these; a socketpair (used by
    # asyncio's and threading's internals) does not.
    monkeypatch.setattr(socket.socket, "connect", lambda *_: _refuse("a socket connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda *_: _refuse("a socket connect"))
    monkeypatch.setattr(socket.socket, "bind", lambda *_: _refuse("a listening socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", lambda *_, **__: _refuse("a subprocess"))
