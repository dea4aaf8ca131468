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


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:00:00-05:00",  # no UTC datetime: year 10000
        "0001-01-01T00:30:00+05:00",  # year 0
        "9000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ],
)
def test_instants_out_of_range_are_refused_by_every_parser(text: str) -> None:
    """One range for Webex timestamps, settings and the state: no overflow downstream."""
    with pytest.raises(timeutils.OutOfRangeError, match="outside the years 1970 to 8999"):
        timeutils.parse_api_timestamp(text)
    with pytest.raises(timeutils.OutOfRangeError, match="outside the years 1970 to 8999"):
        timeutils.parse_datetime(text)


def test_the_range_bounds_shifted_by_ten_years_still_fit() -> None:
    earliest = timeutils.parse_api_timestamp("1970-01-01T00:00:00Z")
    latest = timeutils.parse_api_timestamp("8999-12-31T23:59:59.999999Z")
    ten_years = timedelta(days=3650)
    assert (earliest - ten_years).year == 1960
    assert (latest + ten_years).year == 9009


def test_api_timestamps_in_other_offsets_are_the_same_instant() -> None:
    shanghai = timeutils.parse_api_timestamp("2026-06-15T20:00:00+08:00")
    utc = timeutils.parse_api_timestamp("2026-06-15T12:00:00Z")
    new_york = timeutils.parse_api_timestamp("2026-06-15T08:00:00-04:00")
    assert shanghai == utc == new_york == datetime(2026, 6, 15, 12, tzinfo=UTC)
    # 19:00 in Shanghai is 11:00Z: earlier, although its text sorts after "12:00:00Z".
    earlier = timeutils.parse_api_timestamp("2026-06-15T19:00:00+08:00")
    assert earlier == datetime(2026, 6, 15, 11, tzinfo=UTC)
    assert earlier < utc
    assert {timeutils.isoformat_utc(t) for t in (shanghai, utc, new_york)} == {
        "2026-06-15T12:00:00+00:00"
    }


BERLIN_ACROSS_DST = [
    ("2026-03-29T01:30:00+01:00", datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),  # before spring
    ("2026-03-29T03:30:00+02:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # an hour later
    ("2026-10-25T02:30:00+02:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # before autumn
    ("2026-10-25T02:10:00+01:00", datetime(2026, 10, 25, 1, 10, tzinfo=UTC)),  # 40 min later
]


@pytest.mark.parametrize(("text", "instant"), BERLIN_ACROSS_DST)
def test_wall_clock_times_across_dst_are_read_as_their_instants(
    text: str, instant: datetime
) -> None:
    assert timeutils.parse_api_timestamp(text) == instant  # keeps the record's offset
    parsed = timeutils.parse_datetime(text)
    assert parsed == instant
    assert parsed.utcoffset() == timedelta(0)


def test_bookmarks_are_utc_and_read_back_as_the_same_instant() -> None:
    for text, instant in BERLIN_ACROSS_DST:
        bookmark = timeutils.isoformat_utc(timeutils.parse_api_timestamp(text))
        assert bookmark == instant.strftime("%Y-%m-%dT%H:%M:%S+00:00")
        assert timeutils.parse_datetime(bookmark) == instant
    # Written in one offset, bookmarks compare as strings the way their instants do.
    bookmarks = [timeutils.isoformat_utc(instant) for _, instant in BERLIN_ACROSS_DST]
    instants = [instant for _, instant in BERLIN_ACROSS_DST]
    assert sorted(bookmarks) == [timeutils.isoformat_utc(t) for t in sorted(instants)]


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


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-02T09:00:00-05:00", "2026-11-02T14:00:00Z"),
        ("2026-06-15T17:00:00+08:00", "2026-06-15T09:00:00Z"),
        ("2026-06-15T09:00:00Z", "2026-06-15T09:00:00Z"),
        ("2026-06-15T09:00:00.250+00:00", "2026-06-15T09:00:00.250000Z"),
        ("not a time", "not a time"),
    ],
)
def test_a_record_moment_is_utc_text_whatever_its_offset(text: str, utc: str) -> None:
    assert timeutils.utc_text(text) == utc
