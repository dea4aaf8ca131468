"""The log a person reads: a few lines, then one summary that adds up."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from fake_webex import FakeWebex
from fake_webex.faults import PRESETS

from tap_webex_meetings.summary import PROGRESS_EVERY_SECONDS, RunSummary
from tap_webex_meetings.tap import TapWebexMeetings
from tests.fake_clock import StepClock
from tests.tap_runner import config_for, finished_ids, run_cli, sync_tap

SUMMARY = re.compile(
    r"Extracted (?P<series>\d+) series \((?P<series_deleted>\d+) deleted\) and "
    r"(?P<records>\d+) meeting records \((?P<new>\d+) new, (?P<updated>\d+) updated, "
    r"(?P<deleted>\d+) deleted\) with (?P<requests>\d+) requests? \((?P<first>\d+) \+ "
    r"(?P<retries>\d+) retr(?:y|ies)\) "
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


def test_the_sdk_line_per_series_bookmark_shows_only_at_debug(server: FakeWebex) -> None:
    """singer-sdk's "Starting incremental sync" comes once per series: DEBUG, not INFO."""
    first = run_cli(config_for(server))
    again = run_cli(config_for(server), state=first.last_state)  # bookmarks to start from
    assert again.exit_code == 0, again.stderr
    assert "Starting incremental sync" not in again.stderr
    debug = run_cli(
        config_for(server), state=first.last_state, env={"TAP_WEBEX_MEETINGS_LOGLEVEL": "DEBUG"}
    )
    assert "Starting incremental sync of 'series_meetings'" in debug.stderr


def test_under_faults_every_retry_names_its_series_and_the_requests_add_up() -> None:
    """The sandbox's flaky preset: 429s with odd Retry-After, 5xx and connection resets."""
    with FakeWebex(follow_wall_clock=True, faults=replace(PRESETS["flaky"], seed=3)) as server:
        output = run_cli(
            config_for(server, retry_max_wait_seconds=0.01, max_workers=2, page_size=10)
        )
        received = len(server.requests)
        series_ids = set(server.series_ids("alice@example.com"))
    assert output.exit_code == 0, output.stderr
    summary = summary_of(output.stderr)
    requests, first, retries = (int(summary[k]) for k in ("requests", "first", "retries"))
    retry_lines = [line for line in output.stderr.splitlines() if "Retrying" in line]
    assert retries == len(retry_lines) > 3, output.stderr
    assert requests == first + retries == received
    named = [
        re.search(r"Retrying (\w+)(?: of series (\w+)|, (lookup|discovery) )", line)
        for line in retry_lines
    ]
    assert all(named), retry_lines
    assert {m.group(2) for m in named if m and m.group(2)} <= series_ids
    assert any(m and m.group(2) for m in named), retry_lines


def test_a_progress_line_about_every_30_seconds(server: FakeWebex) -> None:
    """Each request reads the clock once: 7 s a request is a line every 5 requests."""
    tap = TapWebexMeetings(config=config_for(server, max_workers=1))
    lines: list[str] = []
    tap.summary = RunSummary(report=lines.append, clock=StepClock(7.0))
    run = sync_with(tap)
    assert run > 0
    requests = len(server.requests)
    assert len(lines) == requests // 5, lines
    pattern = re.compile(
        r"^Progress: (\d+) series done of (\d+) found so far, (\d+) meeting records, "
        r"(\d+) requests? \((\d+) \+ (\d+) retr(?:y|ies)\) in (\d+) s$"
    )
    parsed = [pattern.match(line) for line in lines]
    assert all(parsed), lines
    values = [tuple(int(g) for g in m.groups()) for m in parsed if m]
    assert [v[3] for v in values] == [5 * (i + 1) for i in range(len(values))]
    assert all(v[0] <= v[1] <= 4 for v in values)
    assert values == sorted(values)
    assert values[-1][2] <= run
    assert all(v[6] >= PROGRESS_EVERY_SECONDS for v in values)


def test_the_tap_logs_progress_at_info(server: FakeWebex, caplog: pytest.LogCaptureFixture) -> None:
    tap = TapWebexMeetings(config=config_for(server))
    tap.summary = RunSummary(report=tap.summary.report, clock=StepClock(31.0))
    with caplog.at_level(logging.INFO):
        sync_with(tap)
    progress = [r for r in caplog.records if r.getMessage().startswith("Progress: ")]
    assert progress, caplog.text
    assert {r.levelno for r in progress} == {logging.INFO}


def sync_with(tap: TapWebexMeetings) -> int:
    """Run ``tap`` in-process; how many meeting records it emitted."""
    return len(sync_tap(tap).records())


def test_one_request_and_one_retry_are_counted_in_the_singular() -> None:
    summary = RunSummary(clock=StepClock(0.5))
    summary.count_request()
    assert "with 1 request (1 + 0 retries) in" in summary.line([])
    summary.count_retry()
    summary.count_request()
    assert "with 2 requests (1 + 1 retry) in" in summary.line([])
