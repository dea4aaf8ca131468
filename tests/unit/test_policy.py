"""The rules of a run (policy.py), each on its own: no server, no tap, one clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from tap_webex_meetings.policy import DETAILS_DELAY, Policy, SeriesFacts

NOW = datetime(2026, 6, 20, 12, tzinfo=timezone.utc)
START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
POLICY = Policy(
    now=NOW, start_date=START_DATE, end_date=None, lookback=DAY, lookahead=timedelta(days=30)
)


def test_the_range_ends_at_the_end_date_or_the_lookahead_from_the_runs_clock() -> None:
    assert POLICY.range_end == NOW + timedelta(days=30)
    end = datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert replace(POLICY, end_date=end).range_end == end


def test_a_series_is_read_from_its_bookmark_minus_the_lookback_never_before_start_date() -> None:
    assert POLICY.series_start(None) == START_DATE
    assert POLICY.series_start(NOW) == NOW - DAY  # the lookback only: the README's window
    assert POLICY.series_start(START_DATE + timedelta(hours=1)) == START_DATE
    assert POLICY.series_start(START_DATE - DAY) == START_DATE


def test_an_earlier_start_date_than_the_known_series_were_read_from_is_a_backfill() -> None:
    later = START_DATE + 10 * DAY
    backfill = replace(POLICY, read_from=later)
    assert backfill.backfill
    assert backfill.series_start(NOW) == START_DATE
    assert not replace(POLICY, read_from=START_DATE).backfill
    assert not replace(POLICY, read_from=START_DATE - DAY).backfill
    assert not POLICY.backfill  # nothing recorded: a first run


def test_the_recorded_start_date_is_read_from_the_state_value() -> None:
    class Settings:
        start_date, end_date, lookback, lookahead = START_DATE, None, DAY, DAY

    assert Policy.of(Settings, NOW, "2026-02-01T00:00:00+00:00").backfill
    assert not Policy.of(Settings, NOW, "not a date").backfill
    assert not Policy.of(Settings, NOW, None).backfill


def test_a_narrowed_discovery_subtracts_the_lookback_and_the_details_delay() -> None:
    last = NOW - 2 * DAY
    assert POLICY.discovery_start(last) == last - DAY - DETAILS_DELAY
    assert POLICY.discovery_start(None) is None
    assert POLICY.discovery_start(NOW + timedelta(seconds=1)) is None  # a clock once ahead
    assert POLICY.discovery_start(START_DATE + timedelta(hours=1)) == START_DATE
    ended = replace(POLICY, end_date=last - 2 * DAY)  # the window would be empty
    assert ended.discovery_start(last) is None


def test_discovery_finds_every_series_the_finishing_rule_left_open() -> None:
    """The narrowed window is the finishing rule's inverse, whatever the lookback."""
    for lookback in (timedelta(0), timedelta(hours=6), DAY, 3 * DAY):
        last_run = replace(POLICY, now=NOW - 5 * DAY, lookback=lookback)
        this_run = replace(POLICY, lookback=lookback)
        window = this_run.discovery_start(last_run.now)
        assert window is not None
        open_end = window + timedelta(seconds=1)  # ended just inside the window
        assert not last_run.finishable(open_end)
        assert last_run.finishable(window)


def test_a_series_is_finishable_once_the_lookback_and_the_details_delay_have_passed() -> None:
    end = NOW - DAY - DETAILS_DELAY
    assert POLICY.finishable(end)
    assert not POLICY.finishable(end + timedelta(seconds=1))
    assert replace(POLICY, lookback=timedelta(0)).finishable(NOW - DETAILS_DELAY)


def test_what_a_series_record_says_about_being_over() -> None:
    ended = (NOW - DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    ahead = (NOW + DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert POLICY.facts_of({"state": "expired"}) == SeriesFacts(over=True, end=None)
    assert POLICY.facts_of({"end": ended}) == SeriesFacts(over=True, end=NOW - DAY)
    assert not POLICY.facts_of({"end": ahead}).over
    assert not POLICY.facts_of({"end": ended, "recurrence": "FREQ=DAILY"}).over
    assert POLICY.facts_of({"end": "yesterday"}) == SeriesFacts(over=False, end=None)


def test_a_finished_series_still_over_is_skipped_unless_a_backfill_reads_it() -> None:
    over = SeriesFacts(over=True, end=NOW - 10 * DAY)
    assert POLICY.skips(over)
    assert not POLICY.skips(SeriesFacts(over=False, end=None))
    assert not replace(POLICY, read_from=START_DATE + DAY).skips(over)


def test_instants_after_the_runs_clock_are_not_believed_and_meetings_after_it_are_upcoming() -> (
    None
):
    assert POLICY.in_future(NOW + timedelta(microseconds=1))
    assert not POLICY.in_future(NOW)
    assert POLICY.upcoming(NOW)
    assert not POLICY.upcoming(NOW - timedelta(microseconds=1))


def test_a_series_missed_by_a_narrowed_discovery_may_change_within_a_day_of_the_window() -> None:
    window = NOW - DAY
    assert POLICY.may_change(window - DAY, window)
    assert not POLICY.may_change(window - DAY - timedelta(seconds=1), window)
    assert not POLICY.may_change(None, window)


def test_only_one_instance_with_an_empty_state_is_a_full_extract() -> None:
    assert Policy.full_extract(shard_count=1, earlier_run=False)
    assert not Policy.full_extract(shard_count=1, earlier_run=True)
    assert not Policy.full_extract(shard_count=2, earlier_run=False)


def test_participants_are_due_once_their_details_are_out_and_not_read_before() -> None:
    end = NOW - timedelta(hours=3)
    assert POLICY.participants_due(end, read_through=None, last_run=None)  # new series
    assert not POLICY.participants_due(NOW - DETAILS_DELAY / 2, read_through=None, last_run=None)
    # The run before started after the details were out, and the bookmark is past them: read.
    assert not POLICY.participants_due(end, read_through=NOW - DAY / 24, last_run=NOW - DAY / 24)
    # Out after the last run and the bookmark: newly ended for this run.
    assert POLICY.participants_due(end, read_through=NOW - DAY, last_run=NOW - DAY)
    assert POLICY.participants_due(end, read_through=NOW - DAY, last_run=None)
