"""The way out, read once: proxies from the environment, deadlines whatever their order.

The session resolves the environment (proxies, the CA bundle) once, not on every send,
and the deadline watchdog is woken only for a deadline earlier than those it waits for:
both must still do what a user relies on.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import requests

from tap_webex_meetings.transport import DeadlineExceeded, WebexSession
from tests.hostile import Answer, Received, ScriptedServer, meeting, series_then
from tests.integration.test_hostile import scripted_config
from tests.tap_runner import run_cli

MEETING = meeting("S_20260610T090000Z", "2026-06-10T09:00:00Z")


def test_a_proxy_named_in_the_environment_carries_every_request() -> None:
    """``HTTP_PROXY`` as a corporate network sets it: the API is reached through it
    (nothing listens at the api_url itself)."""

    def pages(request: Received) -> Answer:
        return Answer(body={"items": [MEETING]})

    with ScriptedServer(series_then(pages)) as proxy:
        config = scripted_config(proxy, api_url="http://127.0.0.2:9/v1")
        output = run_cli(config, env={"HTTP_PROXY": proxy.origin, "NO_PROXY": ""}, timeout=60)

    assert output.exit_code == 0, output.stderr
    assert output.ids() == [MEETING["id"]]
    assert {request.headers["host"] for request in proxy.requests} == {"127.0.0.2:9"}


def test_a_short_deadline_armed_after_a_long_one_still_ends_its_request_on_time() -> None:
    """A request due in 1 s, sent while one due in 30 s hangs, fails after about 1 s."""

    def trickled(request: Received) -> Answer:
        return Answer(body="x" * 24, trickle=0.25)  # each read well within 1 s

    with ScriptedServer(trickled) as server:
        url = f"{server.api_url}/meetings"
        slow = threading.Thread(target=_get_quietly, args=(server.api_url, url), daemon=True)
        slow.start()
        time.sleep(0.5)  # the 30 s deadline is armed first
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"within request_timeout \(1 s\)"):
            WebexSession(server.api_url, 1).get(url)
        elapsed = time.monotonic() - started

    assert elapsed < 5, elapsed


def _get_quietly(api_url: str, url: str) -> None:
    """A request due in 30 s; how it ends is not this test's concern."""
    with contextlib.suppress(requests.RequestException):
        WebexSession(api_url, 30).get(url)
