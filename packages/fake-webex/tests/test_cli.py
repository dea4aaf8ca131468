"""The sandbox command: where it listens, its clock, its anchor."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from fake_support import STANDUP, TOKEN, Item, start_cli, wall
from fake_webex import FakeWebex, default_series


def test_cli_prints_where_it_listens_and_stops_on_sigterm() -> None:
    process = start_cli("--seed", "1")
    try:
        assert process.stdout is not None
        api_line, token_line = process.stdout.readline(), process.stdout.readline()
        assert api_line.startswith("api_url=http://127.0.0.1:")
        assert not api_line.strip().endswith(":0/v1")
        assert token_line.strip() == "access_token=sandbox-token"
        api_url = api_line.strip().removeprefix("api_url=")
        response = requests.get(
            api_url + "/meetings",
            params={"meetingType": "meetingSeries"},
            headers={"Authorization": "Bearer sandbox-token"},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        # Not communicate(): it reads the pipe itself and loses what readline() buffered.
        assert process.stdout is not None
        assert process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == 0, err
    assert "_sandbox/clock" in out


def test_cli_ready_file_appears_complete_once_it_listens(tmp_path: Path) -> None:
    """What scripts/demo.sh waits for: never a log that may not exist yet."""
    ready = tmp_path / "sandbox.ready"
    process = start_cli("--ready-file", str(ready))
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert process.poll() is None, "the sandbox exited"
            assert time.monotonic() < deadline, "no ready file after 60 s"
            time.sleep(0.02)
        lines = dict(line.split("=", 1) for line in ready.read_text().splitlines())
        assert set(lines) == {"api_url", "access_token", "clock"}
        assert lines["clock"].endswith(", the wall clock"), lines
        response = requests.get(
            lines["api_url"] + "/meetings",
            params={"meetingType": "meetingSeries"},
            headers={"Authorization": f"Bearer {lines['access_token']}"},
            timeout=10,
        )
        assert response.status_code == 200
        assert [path.name for path in tmp_path.iterdir()] == ["sandbox.ready"]
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _cli_status(*args: str) -> tuple[dict[str, Any], list[Item]]:
    """Start the CLI with ``args``; its status and the Daily Standup's meetings, then stop."""
    process = start_cli(*args)
    try:
        assert process.stdout is not None
        api_url = process.stdout.readline().strip().removeprefix("api_url=")
        assert api_url.startswith("http://127.0.0.1:"), process.stderr
        status = requests.get(api_url.removesuffix("/v1") + "/_sandbox/status", timeout=10).json()
        params = {"meetingSeriesId": STANDUP, "max": "100"}
        params["from"], params["to"] = (_iso(moment) for moment in _LAST_WEEKS)
        items = requests.get(
            api_url + "/meetings",
            params=params,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()["items"]
    finally:
        process.terminate()
        process.communicate(timeout=10)
    return status, items


def test_cli_follows_the_wall_clock_unless_now_is_given() -> None:
    before = wall()
    status, _ = _cli_status("--ahead-hours", "24")
    assert status["follows_wall_clock"] is True
    assert status["ahead_of_wall_clock_hours"] == 24
    now = datetime.fromisoformat(status["now"].replace("Z", "+00:00"))
    assert (
        before + timedelta(hours=24) - timedelta(seconds=1) <= now <= wall() + timedelta(hours=24)
    )

    frozen, _ = _cli_status("--now", "2026-06-15T12:00:00Z")
    assert frozen["follows_wall_clock"] is False
    assert frozen["now"] == "2026-06-15T12:00:00Z"


def test_cli_anchor_keeps_the_same_meetings_on_a_later_day() -> None:
    """A restart days later with the first run's anchor serves the same meetings (same
    instance ids), so a warehouse loaded before is updated, not filled with look-alikes.
    """
    anchor = wall() - timedelta(days=3)
    _, anchored = _cli_status("--anchor", _iso(anchor))
    with FakeWebex(series=default_series(anchor), follow_wall_clock=True) as same:
        truth = same.expected_meetings(STANDUP, *_LAST_WEEKS)
    _, unanchored = _cli_status()

    def instances(items: list[Item]) -> dict[str, str]:
        """Scheduled meeting -> id of its (first) instance."""
        return {m["scheduledMeetingId"]: m["id"] for m in items if m["meetingType"] == "meeting"}

    assert instances(anchored) == instances(truth) != {}
    moved = instances(unanchored)
    shared = instances(anchored).keys() & moved.keys()
    assert shared, "the same weeks have instances"
    assert all(instances(anchored)[key] != moved[key] for key in shared), "ids follow the anchor"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Three weeks up to a day ago: every meeting there has ended or was missed, whatever the
# exact clock, and a Daily Standup query fits in one page.
_LAST_WEEKS = (wall() - timedelta(days=22), wall() - timedelta(days=1))
