"""Helpers of the fake Webex's tests: its default series, and plain HTTP calls with
``requests`` (no tap code), so a failure is a bug of the fake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fake_webex
import requests
from fake_webex import DEFAULT_NOW, FakeWebex, default_series

UTC = timezone.utc
TOKEN = "sandbox-token"
CAROL = "carol-token"
FROM, TO = "2025-01-01T00:00:00Z", "2027-06-01T00:00:00Z"
WIDE_START, WIDE_END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
SERIES = {spec.title: spec for spec in default_series(DEFAULT_NOW)}
STANDUP = SERIES["Daily Standup"].id
SYNC = SERIES["Team Sync"]
Item = dict[str, Any]


def get(
    fake: FakeWebex, path: str = "/meetings", *, token: str | None = TOKEN, **kw: Any
) -> requests.Response:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(fake.api_url + path, headers=headers, timeout=10, **kw)


def page_verbatim(
    fake: FakeWebex, params: dict[str, Any], path: str = "/meetings"
) -> tuple[list[Item], int]:
    """A naive client: follows each next link exactly as given."""
    response = get(fake, path, params=params)
    items, pages = [], 1
    while True:
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        if "next" not in response.links:
            return items, pages
        response = requests.get(
            response.links["next"]["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        pages += 1


def page_correctly(
    fake: FakeWebex, params: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[list[Item], int]:
    """A correct client: takes only the cursor from a next link and re-sends its params."""
    query = dict(params)
    items, pages = [], 0
    while True:
        response = get(fake, params=query, headers=headers or {})
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        pages += 1
        if "next" not in response.links:
            return items, pages
        cursor = parse_qs(urlsplit(response.links["next"]["url"]).query)["cursor"][-1]
        query = {**params, "cursor": cursor}


def assert_webex_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["message"]
    assert body["errors"][0]["description"]
    assert body["trackingId"].startswith("ROUTER_")
    assert response.headers["TrackingID"] == body["trackingId"]
    return body


def refresh(
    fake: FakeWebex, token: str = "sandbox-refresh", secret: str = "sandbox-secret"
) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client",
        "client_secret": secret,
        "refresh_token": token,
    }
    return requests.post(fake.api_url + "/access_token", data=form, timeout=10)


def start_cli(*args: str) -> subprocess.Popen[str]:
    """``python -m fake_webex --port 0 ARGS``, importing this checkout."""
    root = Path(fake_webex.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "fake_webex", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wall() -> datetime:
    return datetime.now(UTC)
