"""Series specs and the ready-made series: validated, deterministic, exact, lazy."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta

import pytest
from fake_support import FROM, SYNC, TO, UTC, get
from fake_webex import (
    DEFAULT_NOW,
    FakeWebex,
    SeriesSpec,
    bulk_series,
    default_series,
)


def test_series_spec_validation() -> None:
    good = SYNC
    with pytest.raises(ValueError, match="hex"):
        SeriesSpec(**{**good.__dict__, "id": "not-hex"})
    with pytest.raises(ValueError, match="interval"):
        SeriesSpec(**{**good.__dict__, "interval": timedelta(minutes=30)})


def test_default_series_are_deterministic() -> None:
    assert default_series(DEFAULT_NOW) == default_series(DEFAULT_NOW)
    later = default_series(DEFAULT_NOW + timedelta(days=3))
    assert [s.id for s in later] == [s.id for s in default_series(DEFAULT_NOW)]


def test_bulk_series_record_counts_are_exact() -> None:
    specs = bulk_series(3, 25, now=DEFAULT_NOW)
    first = datetime(2026, 6, 17, tzinfo=UTC)
    with FakeWebex(series=specs, now=DEFAULT_NOW) as bulk:
        for spec in specs:
            params = {
                "meetingSeriesId": spec.id,
                "from": first.isoformat(),
                "to": (first + timedelta(hours=25)).isoformat(),
                "max": 100,
            }
            items = get(bulk, params=params).json()["items"]
            assert len(items) == 25
            assert {(m["meetingType"], m["state"]) for m in items} == {
                ("scheduledMeeting", "scheduled")
            }
        found = get(bulk, params={"meetingType": "meetingSeries", "from": FROM, "to": TO})
        assert len(found.json()["items"]) == 3


def test_huge_series_is_generated_lazily(fake: FakeWebex) -> None:
    spec = SeriesSpec(
        id="ab" * 16,
        title="Forever",
        host_email="alice@example.com",
        host_name="Alice Smith",
        first_start=datetime(2000, 1, 1, 8, tzinfo=UTC),
        interval=timedelta(days=1),
        count=200_000,
        duration=timedelta(minutes=30),
    )
    with FakeWebex(series=[spec], now=datetime(2400, 1, 1, tzinfo=UTC)) as big:
        tracemalloc.start()
        try:
            response = get(
                big,
                params={"meetingSeriesId": spec.id, "from": "2399-12-01T00:00:00Z", "max": 100},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(response.json()["items"]) == 14  # 7 days: 7 scheduled + 7 instances
    # Memory, not time (a busy machine is slow, not big): 146,000 past occurrences made
    # even as bare datetimes would take several MB.
    assert peak < 2_000_000, peak
