"""Date handling: any ISO 8601 in, UTC instants out, correct across offsets and DST."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_webex_meetings import timeutils

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T18:00:00+08:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T05:00:00-05:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_datetime_returns_the_utc_instant(text: str, expected: datetime) -> None:
    parsed = timeutils.parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["garbage", "2026-13-01", "", "yesterday"])
def test_parse_datetime_rejects_what_is_not_iso_8601(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        timeutils.parse_datetime(text)


def test_api_timestamps_in_other_offsets_compare_as_instants() -> None:
    shanghai = timeutils.parse_api_timestamp("2026-06-15T20:00:00+08:00")
    utc = timeutils.parse_api_timestamp("2026-06-15T12:00:00Z")
    new_york = timeutils.parse_api_timestamp("2026-06-15T08:00:00-04:00")
    assert shanghai == utc == new_york
    # As strings, 11:00Z written in Shanghai time sorts after 12:00Z: hence UTC bookmarks.
    earlier, later = "2026-06-15T19:00:00+08:00", "2026-06-15T12:00:00Z"
    assert max(earlier, later) == earlier
    assert timeutils.isoformat_utc(
        timeutils.parse_api_timestamp(earlier)
    ) < timeutils.isoformat_utc(timeutils.parse_api_timestamp(later))
    assert {timeutils.isoformat_utc(t) for t in (shanghai, utc, new_york)} == {
        "2026-06-15T12:00:00+00:00"
    }


def test_bookmark_strings_sort_like_instants_across_dst() -> None:
    berlin_times = [
        "2026-03-29T01:30:00+01:00",  # before the spring change
        "2026-03-29T03:30:00+02:00",  # one hour later, after it
        "2026-10-25T02:30:00+02:00",  # before the autumn change
        "2026-10-25T02:10:00+01:00",  # 40 minutes later, wall clock earlier
    ]
    instants = [timeutils.parse_api_timestamp(t) for t in berlin_times]
    bookmarks = [timeutils.isoformat_utc(t) for t in instants]
    assert sorted(bookmarks) == [timeutils.isoformat_utc(t) for t in sorted(instants)]
    assert instants[3] > instants[2]


def test_query_format_is_utc_with_z() -> None:
    value = datetime(2026, 6, 15, 20, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert timeutils.query_format(value) == "2026-06-15T12:00:00Z"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("UTC", True),
        ("Asia/Shanghai", True),
        ("America/New_York", True),
        ("Mars/Olympus_Mons", False),
        ("+08:00", False),
        ("", False),
    ],
)
def test_timezone_names_are_checked_against_the_iana_database(name: str, valid: bool) -> None:
    assert timeutils.is_valid_timezone(name) is valid
