"""One fake Webex per test module, put back in its default state for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_support import CAROL, TOKEN
from fake_webex import DEFAULT_NOW, FakeWebex, Faults, Token


def _reset(fake: FakeWebex) -> None:
    fake.set_now(DEFAULT_NOW)
    fake.faults = Faults()
    fake.link_quirks = set()
    fake.instance_cap = 10_000
    fake.cap_ends_listing = False
    fake.rotate_refresh_tokens = False
    fake.clear_requests()


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeWebex]:
    tokens = {
        TOKEN: Token("alice@example.com", admin=True),
        CAROL: Token("carol@example.com"),
        "short-lived": Token("alice@example.com", expires_after_requests=2),
    }
    with FakeWebex(tokens=tokens) as fake:
        yield fake


@pytest.fixture
def fake(shared_server: FakeWebex) -> Iterator[FakeWebex]:
    """The module's one server, in its default state (clock, faults, quirks, cap)."""
    _reset(shared_server)
    yield shared_server
    _reset(shared_server)
