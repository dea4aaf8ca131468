"""The log a person reads: a few lines, then one summary that adds up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tap_webex_meetings.sandbox import FakeWebex
from tests.tap_runner import config_for, finished_ids, run_cli

SUMMARY = re.compile(
    r"Extracted (?P<series>\d+) series \((?P<series_deleted>\d+) deleted\) and "
    r"(?P<records>\d+) meeting records \((?P<new>\d+) new, (?P<updated>\d+) updated, "
    r"(?P<deleted>\d+) deleted\) with (?P<requests>\d+) requests \((?P<retries>\d+) retries\) "
    r"in [\d.]+ s; bookmarks of (?P<bookmarked>\d+) series from (?P<low>\S+) to (?P<high>\S+); "
    r"(?P<discovered>\d+) series discovered, (?P<skipped>\d+) skipped as finished$"
)


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    """The CLI's run start is the wall clock: so is the server's, for "upcoming" to agree."""
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


def summary_of(stderr: str) -> dict[str, str]:
    (found,) = [m for line in stderr.splitlines() if (m := SUMMARY.search(line))]
    return found.groupdict()


def test_a_run_ends_with_one_summary_line_that_adds_up(server: FakeWebex) -> None:
    output = run_cli(config_for(server))
    assert output.exit_code == 0, output.stderr

    summary = summary_of(output.stderr)
    assert int(summary["series"]) == len(output.ids("meeting_series")) == 4
    assert int(summary["records"]) == len(output.ids()) == int(summary["new"])
    assert summary["updated"] == summary["deleted"] == summary["retries"] == "0"
    assert int(summary["requests"]) == len(server.requests)
    assert int(summary["discovered"]) == 4
    # The expired incident review is finished by this run: no bookmark, a finished series.
    assert int(summary["bookmarked"]) == 3
    assert len(finished_ids(output.last_state)) == 1
    assert summary["skipped"] == "0"  # finished before this run
    lines = output.stderr.strip().splitlines()
    assert "METRIC" not in output.stderr
    assert len(lines) < 10, lines  # a person reads the log: no line per series or request


def test_the_next_run_counts_new_updated_and_deleted(server: FakeWebex) -> None:
    first = run_cli(config_for(server))
    standup = next(s for s in server.series if s.title == "Daily Standup")
    k = standup.first_index_from(server.now) + 2
    server.delete(f"{standup.id}_{standup.start_of(k):%Y%m%dT%H%M%SZ}")
    server.advance(timedelta(days=1))

    second = run_cli(config_for(server), state=first.last_state)

    summary = summary_of(second.stderr)
    tombstones = [r for r in second.records() if r.get("_sdc_deleted_at")]
    assert summary["deleted"] == str(len(tombstones)) == "1"
    assert int(summary["updated"]) > 0
    assert int(summary["new"]) + int(summary["updated"]) + 1 == len(second.ids())
    first_ids = set(first.ids())
    assert int(summary["new"]) == len(set(second.ids()) - first_ids)


def test_a_retry_is_counted_and_logged_once(server: FakeWebex) -> None:
    server.inject(503, times=1)
    output = run_cli(config_for(server, retry_max_wait_seconds=0.1))
    assert output.exit_code == 0, output.stderr
    assert summary_of(output.stderr)["retries"] == "1"
    assert len([line for line in output.stderr.splitlines() if "Retrying" in line]) == 1


def test_debug_shows_the_sdk_metrics(server: FakeWebex) -> None:
    output = run_cli(config_for(server), env={"TAP_WEBEX_MEETINGS_LOGLEVEL": "DEBUG"})
    assert output.exit_code == 0, output.stderr
    assert '"metric":"record_count"' in output.stderr.replace(" ", "")
    assert "Beginning sync of 'series_meetings'" in output.stderr
