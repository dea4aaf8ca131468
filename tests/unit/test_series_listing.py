"""One series' listing: every meeting once past Webex's instance cap, and what became of
the remembered meetings the listing lacks (404: a tombstone; found: still there)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tap_webex_meetings.deletions import DELETED_AT, Meeting, Memory, MemoryBuilder, stamp
from tap_webex_meetings.errors import NotFoundError, WebexAPIError
from tap_webex_meetings.listing import Listing, Outcome, SeriesListing, SeriesQuery
from tap_webex_meetings.timeutils import parse_datetime

SERIES = "ab" * 16
START = datetime(2026, 6, 1, tzinfo=timezone.utc)
END = datetime(2026, 7, 1, tzinfo=timezone.utc)
LOGGER = logging.getLogger("test_series_listing")


def scheduled(at: datetime) -> dict[str, Any]:
    return {
        "id": f"{SERIES}_{stamp(at)}",
        "meetingType": "scheduledMeeting",
        "start": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def instance(number: int, at: datetime) -> dict[str, Any]:
    return {
        "id": f"{SERIES}_I_{number}",
        "meetingType": "meeting",
        "start": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class Webex:
    """What ``request_records`` and ``look_up`` see of one series: a query lists at most
    ``cap`` instances (from its ``from``), and every scheduled meeting."""

    def __init__(self, meetings: list[dict[str, Any]], cap: int, *, in_order: bool = False) -> None:
        """``in_order``: listed as given (else by start); ``ends_listing``: Webex's other
        reading of the cap, where the listing ends at the cap's last instance."""
        self.meetings = list(meetings) if in_order else sorted(meetings, key=lambda m: m["start"])
        self.cap = cap
        self.ends_listing = False
        self.queries: list[dict[str, Any]] = []
        self.lookups: list[tuple[str, str | None]] = []
        self.answers: dict[str, dict[str, Any] | Exception] = {}
        self.gone = False  # the series' listing answers 404

    def fetch(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.queries.append(params)
        if self.gone:
            raise NotFoundError(404, "The requested resource could not be found.", "T_404")
        since = parse_datetime(params["from"])
        instances = 0
        for meeting in self.meetings:
            if parse_datetime(meeting["start"]) < since:
                continue
            if params.get("meetingType") not in (None, meeting["meetingType"]):
                continue
            if instances == self.cap and self.ends_listing:
                return
            if meeting["meetingType"] == "meeting":
                if instances == self.cap:
                    continue  # the cap counts instances; every scheduled meeting is listed
                instances += 1
            yield dict(meeting)

    def look_up(self, meeting_id: str, host: str | None) -> dict[str, Any] | None:
        """The meeting, or None where Webex answers 404 (as ``WebexStream.look_up``)."""
        self.lookups.append((meeting_id, host))
        answer = self.answers.get(meeting_id)
        if isinstance(answer, Exception):
            raise answer
        return answer


def listing(
    webex: Webex, remembered: Sequence[Meeting] = (), params: dict[str, str] | None = None
) -> SeriesListing:
    builder = MemoryBuilder(SERIES)
    for meeting in remembered:
        builder.add(meeting)
    query = SeriesQuery(
        series_id=SERIES,
        start=START,
        end=END,
        params={"meetingSeriesId": SERIES, **(params or {})},
        remembered=Memory.decode(SERIES, builder.encode()),
        known=True,
        bookmark=None,
        run_start=END,
    )
    return SeriesListing(query, webex.fetch, webex.look_up, webex.cap, LOGGER)


def drained(listed: Listing) -> tuple[list[dict[str, Any]], Outcome]:
    """A listing's records, then its outcome."""
    records: list[dict[str, Any]] = []
    while True:
        try:
            records.append(next(listed))
        except StopIteration as end:
            return records, end.value


def meeting_of(record: dict[str, Any]) -> Meeting:
    return Meeting(record["id"], record["meetingType"], parse_datetime(record["start"]))


def test_a_series_under_the_cap_costs_one_query() -> None:
    meetings = [scheduled(START + timedelta(days=d)) for d in range(5)]
    meetings += [instance(d, START + timedelta(days=d)) for d in range(5)]
    webex = Webex(meetings, cap=10)
    listed = list(listing(webex).pages())
    assert sorted(r["id"] for r in listed) == sorted(m["id"] for m in meetings)
    assert [q["from"] for q in webex.queries] == ["2026-06-01T00:00:00Z"]
    assert webex.lookups == []


def test_past_the_instance_cap_every_meeting_comes_once(caplog: pytest.LogCaptureFixture) -> None:
    # 25 instances, two of them at each start: the cap (10) falls between equal starts.
    instances = [instance(n, START + timedelta(hours=n // 2)) for n in range(25)]
    schedule = [scheduled(START + timedelta(days=d)) for d in range(3)]
    webex = Webex(instances + schedule, cap=10)
    caplog.set_level(logging.INFO, LOGGER.name)

    listed = [r["id"] for r in listing(webex).pages()]

    assert sorted(listed) == sorted(m["id"] for m in instances + schedule)
    assert len(listed) == len(set(listed)), "no meeting twice"
    assert len(webex.queries) >= 3
    assert all(q["meetingType"] == "meeting" for q in webex.queries[1:]), "scheduled: once"
    assert webex.queries[1]["from"] == instances[9]["start"], "from the last instance listed"
    assert any("cap" in r.getMessage() and SERIES in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("ends_listing", [False, True])
def test_instances_that_start_before_their_scheduled_meeting_come_once_past_the_cap(
    ends_listing: bool,
) -> None:
    """Webex lists by occurrence: a scheduled meeting, then its instances, which may start
    early (the host joined 5 minutes before)."""
    meetings: list[dict[str, Any]] = []
    for d in range(1, 41):
        at = START + timedelta(days=d)
        meetings += [scheduled(at), instance(d, at - timedelta(minutes=5))]
    webex = Webex(meetings, cap=10, in_order=True)
    webex.ends_listing = ends_listing

    listed = [r["id"] for r in listing(webex).pages()]

    assert sorted(listed) == sorted(m["id"] for m in meetings)
    assert len(listed) == len(set(listed)), "no meeting twice"
    types = {q.get("meetingType") for q in webex.queries[1:]}
    assert types == ({None} if ends_listing else {"meeting"})


def test_a_cap_full_of_one_instant_does_not_page_forever() -> None:
    same = START + timedelta(hours=1)
    webex = Webex([instance(n, same) for n in range(12)], cap=10)
    listed = [r["id"] for r in listing(webex).pages()]
    assert len(listed) == 10  # Webex cannot list the rest: what it can, once
    assert len(webex.queries) == 2


def test_remembered_meetings_in_the_listing_are_not_looked_up() -> None:
    meetings = [scheduled(START + timedelta(days=d)) for d in range(5)]
    webex = Webex(meetings, cap=10)
    listed = list(listing(webex, [meeting_of(m) for m in meetings]).meetings())
    assert listed == meetings
    assert webex.lookups == []


def test_a_remembered_meeting_webex_no_longer_has_is_a_tombstone() -> None:
    kept, gone = scheduled(START + timedelta(days=1)), scheduled(START + timedelta(days=2))
    webex = Webex([kept], cap=10)  # ``gone``: its lookup answers 404

    listed = list(listing(webex, [meeting_of(kept), meeting_of(gone)]).meetings())

    assert listed[0] == kept
    assert webex.lookups == [(gone["id"], None)]
    (tombstone,) = listed[1:]
    assert isinstance(tombstone, dict)
    assert {k: tombstone[k] for k in ("id", "meetingType", "start")} == gone
    assert tombstone["meetingSeriesId"] == SERIES
    assert parse_datetime(tombstone[DELETED_AT]) > START


def test_a_remembered_meeting_that_moved_is_still_there_with_its_new_start() -> None:
    moved = scheduled(START + timedelta(days=3))
    webex = Webex([], cap=10)
    webex.answers[moved["id"]] = {**moved, "start": "2026-06-04T15:00:00+02:00"}

    listed, outcome = drained(
        listing(webex, [meeting_of(moved)], {"hostEmail": "bob@example.com"}).listing()
    )

    assert webex.lookups == [(moved["id"], "bob@example.com")], "asked as its host"
    assert listed == []
    assert outcome == Outcome(
        still_there=[
            Meeting(moved["id"], "scheduledMeeting", datetime(2026, 6, 4, 13, tzinfo=timezone.utc))
        ]
    )


def test_a_remembered_meeting_beyond_the_window_is_not_asked_about() -> None:
    later = scheduled(END + timedelta(days=10))
    webex = Webex([], cap=10)
    listed, outcome = drained(listing(webex, [meeting_of(later)]).listing())
    assert (listed, outcome) == ([], Outcome(still_there=[meeting_of(later)]))
    assert webex.lookups == []


def test_any_other_answer_to_a_lookup_stops_the_listing() -> None:
    gone = scheduled(START + timedelta(days=2))
    webex = Webex([], cap=10)
    webex.answers[gone["id"]] = WebexAPIError(500, "Internal Server Error.", "ROUTER_X")
    with pytest.raises(WebexAPIError, match="ROUTER_X"):
        list(listing(webex, [meeting_of(gone)]).meetings())


def test_a_series_gone_tombstones_every_remembered_meeting() -> None:
    remembered = [meeting_of(scheduled(START + timedelta(days=d))) for d in range(4)]
    webex = Webex([], cap=10)
    tombstones = list(listing(webex, remembered).all_remembered_deleted())
    assert [t["id"] for t in tombstones] == [m.id for m in remembered]
    assert all(t[DELETED_AT] for t in tombstones)
    assert webex.lookups == []


def test_a_known_series_that_answers_404_is_gone_with_every_remembered_meeting() -> None:
    remembered = [meeting_of(scheduled(START + timedelta(days=d))) for d in range(2)]
    webex = Webex([], cap=10)
    webex.gone = True
    listed, outcome = drained(listing(webex, remembered).listing())
    assert [t["id"] for t in listed] == [m.id for m in remembered]
    assert all(t[DELETED_AT] for t in listed)
    assert outcome == Outcome(gone=True)
    assert webex.lookups == []


def test_a_new_series_that_answers_404_is_one_warning_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    webex = Webex([], cap=10)
    webex.gone = True
    new = listing(webex)
    new.query = replace(new.query, known=False)
    assert drained(new.listing()) == ([], Outcome())
    (line,) = (r.getMessage() for r in caplog.records)
    assert line.startswith(f"Meeting series {SERIES} was not found; extracting the other series.")
