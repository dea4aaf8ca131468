"""Deleting and moving meetings in the fake Webex, as Webex's "Delete a Meeting" and
"Update a Meeting" do, and its oracle (``expected_meetings``) agreeing afterwards.

Plain HTTP with ``requests`` and the Python API, no tap code: a failure is a bug of the fake.
Every test gets its own server, because changes cannot be undone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fake_support import start_cli
from fake_webex import DEFAULT_NOW, FakeWebex, SeriesSpec, Token, default_series

UTC = timezone.utc
TOKEN = "sandbox-token"
CAROL = "carol-token"  # invited to alice's 1:1 and bob's webinar only
FROM, TO = "2025-01-01T00:00:00Z", "2027-06-01T00:00:00Z"
WIDE_START, WIDE_END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
SERIES = {spec.title: spec for spec in default_series(DEFAULT_NOW)}
STANDUP = SERIES["Daily Standup"]  # daily at 09:00 UTC, alice's
SYNC = SERIES["Team Sync"]  # weekly, alice's; some occurrences modified, some restarted
Item = dict[str, Any]


@pytest.fixture
def fake() -> Iterator[FakeWebex]:
    tokens = {TOKEN: Token("alice@example.com", admin=True), CAROL: Token("carol@example.com")}
    with FakeWebex(tokens=tokens) as server:
        yield server


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(spec: SeriesSpec, k: int) -> str:
    """The scheduled meeting id of occurrence k."""
    return f"{spec.id}_{spec.start_of(k).strftime('%Y%m%dT%H%M%SZ')}"


def upcoming(spec: SeriesSpec, days: int) -> int:
    """The occurrence ``days`` days after the clock (the first at or after that moment)."""
    return spec.first_index_from(DEFAULT_NOW + timedelta(days=days)) + 1


def held_once(spec: SeriesSpec, days: int) -> int:
    """The first occurrence from ``days`` days after the clock that is held, not restarted."""
    k = upcoming(spec, days)
    while len(spec.instance_times(k)) != 1:
        k += 1
    return k


def call(
    fake: FakeWebex, method: str, path: str, *, token: str | None = TOKEN, **kw: Any
) -> requests.Response:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, fake.api_url + path, headers=headers, timeout=10, **kw)


def listing(
    fake: FakeWebex, series_id: str, start: str = FROM, end: str = TO, **params: Any
) -> list[Item]:
    """Every item of a series query, paged as a correct client does (cursor + own params)."""
    base = {"meetingSeriesId": series_id, "from": start, "to": end, "max": 100, **params}
    query, items = dict(base), []
    while True:
        response = call(fake, "GET", "/meetings", params=query)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        if "next" not in response.links:
            return items
        cursor = parse_qs(urlsplit(response.links["next"]["url"]).query)["cursor"][-1]
        query = {**base, "cursor": cursor}


def discovered(fake: FakeWebex) -> list[str]:
    params = {"meetingType": "meetingSeries", "from": FROM, "to": TO, "max": 100}
    response = call(fake, "GET", "/meetings", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def assert_webex_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errors"][0]["description"] == body["message"]
    assert response.headers["TrackingID"] == body["trackingId"]
    return str(body["message"])


def ids(items: list[Item]) -> list[str]:
    return [item["id"] for item in items]


# --- deleting ----------------------------------------------------------------------------


def test_deleting_a_scheduled_meeting_removes_it_and_its_would_be_instances(
    fake: FakeWebex,
) -> None:
    k = upcoming(STANDUP, 2)
    gone, neighbour = stamp(STANDUP, k), stamp(STANDUP, k + 1)
    assert not STANDUP.is_missed(k)
    assert not STANDUP.is_missed(k + 1)
    before = listing(fake, STANDUP.id)

    response = call(fake, "DELETE", f"/meetings/{gone}")

    assert (response.status_code, response.content) == (204, b"")
    after = listing(fake, STANDUP.id)
    assert ids(after) == [i for i in ids(before) if i != gone]
    assert_webex_error(call(fake, "GET", f"/meetings/{gone}"), 404)
    assert call(fake, "GET", f"/meetings/{neighbour}").status_code == 200
    assert call(fake, "GET", f"/meetings/{STANDUP.id}").status_code == 200
    assert fake.deleted_ids() == [gone]
    [recorded] = [r for r in fake.requests if r.method == "DELETE"]
    assert (recorded.path, recorded.status, recorded.items) == (f"/v1/meetings/{gone}", 204, 0)

    fake.set_now(STANDUP.start_of(k + 2))  # both would have happened by now
    parents = {m["scheduledMeetingId"] for m in listing(fake, STANDUP.id, meetingType="meeting")}
    assert neighbour in parents
    assert gone not in parents
    assert listing(fake, STANDUP.id) == fake.expected_meetings(STANDUP.id, WIDE_START, WIDE_END)


def test_deleting_a_past_scheduled_meeting_removes_its_instances_too(fake: FakeWebex) -> None:
    k = STANDUP.first_index_from(DEFAULT_NOW) - 3
    gone = stamp(STANDUP, k)
    assert not STANDUP.is_missed(k)
    assert gone in {m.get("scheduledMeetingId") for m in listing(fake, STANDUP.id)}

    fake.delete(gone)

    after = listing(fake, STANDUP.id)
    assert gone not in ids(after)
    assert gone not in {m.get("scheduledMeetingId") for m in after}


def test_deleting_a_series(fake: FakeWebex) -> None:
    occurrence = stamp(STANDUP, upcoming(STANDUP, 1))
    assert STANDUP.id in discovered(fake)

    assert call(fake, "DELETE", f"/meetings/{STANDUP.id}").status_code == 204

    params = {"meetingSeriesId": STANDUP.id, "from": FROM, "to": TO}
    assert_webex_error(call(fake, "GET", "/meetings", params=params), 404)
    assert_webex_error(call(fake, "GET", f"/meetings/{STANDUP.id}"), 404)
    assert_webex_error(call(fake, "GET", f"/meetings/{occurrence}"), 404)
    assert STANDUP.id not in discovered(fake)
    assert sorted(discovered(fake)) == sorted(fake.series_ids("alice@example.com"))
    assert STANDUP.id not in fake.series_ids()
    assert SYNC.id in discovered(fake)
    with pytest.raises(LookupError):
        fake.expected_meetings(STANDUP.id, WIDE_START, WIDE_END)
    assert_webex_error(call(fake, "DELETE", f"/meetings/{STANDUP.id}"), 404)
    assert_webex_error(call(fake, "DELETE", f"/meetings/{occurrence}"), 404)
    assert fake.deleted_ids() == [STANDUP.id]


def test_deleting_again_or_an_unknown_id_is_404(fake: FakeWebex) -> None:
    gone = stamp(SYNC, upcoming(SYNC, 7))
    fake.delete(gone)
    for meeting_id in (
        gone,
        "0" * 32,
        f"{SYNC.id}_20990101T000000Z",  # the right shape, but not an occurrence
        f"{SYNC.id}_garbage",
    ):
        message = assert_webex_error(call(fake, "DELETE", f"/meetings/{meeting_id}"), 404)
        assert message == "The requested meeting could not be found."
    with pytest.raises(LookupError):
        fake.delete(gone)


def test_deleting_an_instance_is_400_and_changes_nothing(fake: FakeWebex) -> None:
    before = listing(fake, SYNC.id)
    instance = next(m for m in before if m["meetingType"] == "meeting")

    message = assert_webex_error(call(fake, "DELETE", f"/meetings/{instance['id']}"), 400)

    assert "instance" in message
    assert listing(fake, SYNC.id) == before
    with pytest.raises(ValueError, match="instance"):
        fake.delete(instance["id"])


def test_delete_needs_a_token_that_sees_the_meeting(fake: FakeWebex) -> None:
    occurrence = stamp(STANDUP, upcoming(STANDUP, 1))
    assert_webex_error(call(fake, "DELETE", f"/meetings/{occurrence}", token=None), 401)
    assert_webex_error(call(fake, "DELETE", f"/meetings/{occurrence}", token="nope"), 401)
    assert_webex_error(call(fake, "DELETE", f"/meetings/{occurrence}", token=CAROL), 404)
    assert_webex_error(call(fake, "DELETE", f"/meetings/{STANDUP.id}", token=CAROL), 404)
    hosted = {"hostEmail": "alice@example.com"}
    assert_webex_error(
        call(fake, "DELETE", f"/meetings/{occurrence}", token=CAROL, params=hosted), 403
    )
    assert fake.deleted_ids() == []
    assert occurrence in ids(listing(fake, STANDUP.id))

    one_on_one = stamp(SERIES["Alice / Carol 1:1"], upcoming(SERIES["Alice / Carol 1:1"], 7))
    assert call(fake, "DELETE", f"/meetings/{one_on_one}", token=CAROL).status_code == 204


def test_only_single_meetings_take_delete_and_put(fake: FakeWebex) -> None:
    assert_webex_error(call(fake, "DELETE", "/meetings", params={"meetingSeriesId": SYNC.id}), 405)
    assert_webex_error(call(fake, "PUT", "/meetings", json={}), 405)
    assert_webex_error(call(fake, "PATCH", f"/meetings/{SYNC.id}", json={}), 405)
    assert fake.deleted_ids() == []


def test_concurrent_deletes_are_all_kept(fake: FakeWebex) -> None:
    first = upcoming(STANDUP, 1)
    wanted = [stamp(STANDUP, first + i) for i in range(24)]
    statuses: list[int] = []

    def delete(meeting_id: str) -> None:
        statuses.append(call(fake, "DELETE", f"/meetings/{meeting_id}").status_code)

    threads = [threading.Thread(target=delete, args=(m,)) for m in wanted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [204] * len(wanted)
    assert sorted(fake.deleted_ids()) == sorted(wanted)
    assert not set(wanted) & set(ids(listing(fake, STANDUP.id)))


# --- moving ------------------------------------------------------------------------------


def test_moving_a_scheduled_meeting(fake: FakeWebex) -> None:
    k = upcoming(SYNC, 14)
    meeting_id, old_start = stamp(SYNC, k), SYNC.start_of(k)
    assert not SYNC.is_modified(k)
    new_start = old_start + timedelta(days=2, hours=3)
    new_end = new_start + timedelta(minutes=45)

    response = call(
        fake,
        "PUT",
        f"/meetings/{meeting_id}",
        json={"title": "Team Sync", "start": iso(new_start), "end": iso(new_end)},
    )

    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["id"], moved["start"], moved["end"]) == (
        meeting_id,
        iso(new_start),
        iso(new_end),
    )
    assert (moved["meetingType"], moved["isModified"], moved["state"]) == (
        "scheduledMeeting",
        True,
        "scheduled",
    )
    assert call(fake, "GET", f"/meetings/{meeting_id}").json() == moved
    second = timedelta(seconds=1)
    at_new = listing(fake, SYNC.id, iso(new_start), iso(new_start + second))
    assert at_new == [moved]
    assert listing(fake, SYNC.id, iso(old_start), iso(old_start + second)) == []
    assert meeting_id in ids(listing(fake, SYNC.id, isModified="true"))
    assert meeting_id not in ids(listing(fake, SYNC.id, isModified="false"))
    [recorded] = [r for r in fake.requests if r.method == "PUT"]
    assert (recorded.path, recorded.status, recorded.items) == (
        f"/v1/meetings/{meeting_id}",
        200,
        1,
    )


def test_a_moved_meeting_is_shown_in_the_timezone_asked_for(fake: FakeWebex) -> None:
    k = upcoming(STANDUP, 3)
    start = STANDUP.start_of(k) + timedelta(hours=5)
    fake.move(stamp(STANDUP, k), start, start + timedelta(minutes=20))
    shown = call(
        fake, "GET", f"/meetings/{stamp(STANDUP, k)}", headers={"timezone": "Asia/Shanghai"}
    ).json()
    assert (shown["start"], shown["end"]) == (
        "2026-06-19T22:00:00+08:00",
        "2026-06-19T22:20:00+08:00",
    )


def test_paging_stays_exact_with_moved_meetings(fake: FakeWebex) -> None:
    """Occurrences moved earlier and later than their neighbours, then paged with small
    pages: every record once, ordered by start, the same as the oracle; and after the
    clock passes them, their instances are where they were moved to.
    """
    early, late = upcoming(STANDUP, 5), upcoming(STANDUP, 2)
    assert not STANDUP.is_missed(early)
    assert not STANDUP.is_missed(late)
    before = ids(listing(fake, STANDUP.id))
    first = STANDUP.start_of(upcoming(STANDUP, 1))
    early_start = first + timedelta(hours=10)  # between days 1 and 2
    late_start = STANDUP.start_of(upcoming(STANDUP, 6)) + timedelta(minutes=5)  # overlaps day 6
    fake.move(stamp(STANDUP, early), early_start, early_start + timedelta(minutes=15))
    fake.move(stamp(STANDUP, late), late_start, late_start + timedelta(hours=1))

    for size in (1, 2, 3, 7):
        items = listing(fake, STANDUP.id, max=size)
        assert items == fake.expected_meetings(STANDUP.id, WIDE_START, WIDE_END)
        assert sorted(ids(items)) == sorted(before)
        scheduled = [m["start"] for m in items if m["meetingType"] == "scheduledMeeting"]
        assert scheduled == sorted(scheduled)
    window = listing(fake, STANDUP.id, iso(first), iso(first + timedelta(days=7)), max=2)
    days = [m["id"] for m in window]
    assert days.index(stamp(STANDUP, early)) == 1
    assert days.index(stamp(STANDUP, late)) == days.index(stamp(STANDUP, upcoming(STANDUP, 6))) + 1

    fake.set_now(late_start + timedelta(days=1))
    instances = {
        m["scheduledMeetingId"]: m
        for m in listing(fake, STANDUP.id, max=3)
        if m["meetingType"] == "meeting"
    }
    for k, start in ((early, early_start), (late, late_start)):
        held = datetime.fromisoformat(instances[stamp(STANDUP, k)]["start"].replace("Z", "+00:00"))
        assert start <= held <= start + timedelta(minutes=9)
    assert listing(fake, STANDUP.id, max=3) == fake.expected_meetings(
        STANDUP.id, WIDE_START, WIDE_END
    )


def test_an_instance_in_a_window_is_listed_when_its_moved_meeting_starts_before_it(
    fake: FakeWebex,
) -> None:
    """A meeting moved to just before the next day's standup, and held a few minutes late:
    its instance starts after that standup. A window starting at the instance must list
    it, although its scheduled meeting (before the window) comes before the standup.
    """
    k = upcoming(STANDUP, 2)
    while True:  # an occurrence held once, late enough to start after the next one
        start = STANDUP.start_of(k + 1) - timedelta(minutes=2)
        times = STANDUP.instance_times(k, start, timedelta(minutes=30))
        if len(times) == 1 and times[0][0] > STANDUP.start_of(k + 1):
            break
        k += 1
    fake.move(stamp(STANDUP, k), start, start + timedelta(minutes=30))
    fake.set_now(start + timedelta(days=1))
    held = times[0][0]

    window = listing(fake, STANDUP.id, iso(held), iso(held + timedelta(hours=1)))

    instance = next(m for m in window if m.get("scheduledMeetingId") == stamp(STANDUP, k))
    assert instance["start"] == iso(held)
    assert stamp(STANDUP, k) not in ids(window), "its scheduled meeting is before the window"
    assert window == fake.expected_meetings(STANDUP.id, held, held + timedelta(hours=1))


def test_move_keeps_the_duration_unless_end_is_given(fake: FakeWebex) -> None:
    k = upcoming(SYNC, 7)
    start = SYNC.start_of(k) + timedelta(hours=2)
    record = fake.move(stamp(SYNC, k), start)
    assert record["end"] == iso(start + SYNC.duration)
    later = start + timedelta(hours=1)
    assert fake.move(stamp(SYNC, k), later)["end"] == iso(later + SYNC.duration)


def test_invalid_moves_are_refused(fake: FakeWebex) -> None:
    k = upcoming(SYNC, 7)
    meeting_id = stamp(SYNC, k)
    start = SYNC.start_of(k) + timedelta(hours=1)
    body = {"start": iso(start), "end": iso(start + timedelta(hours=1))}
    reversed_times = {"start": body["end"], "end": body["start"]}
    past = {"start": iso(DEFAULT_NOW - timedelta(hours=1)), "end": iso(DEFAULT_NOW)}
    started = stamp(SYNC, SYNC.first_index_from(DEFAULT_NOW) - 1)
    instance = next(m for m in listing(fake, SYNC.id) if m["meetingType"] == "meeting")["id"]
    modified = listing(fake, SYNC.id, isModified="true")
    for path, payload in (
        (meeting_id, reversed_times),
        (meeting_id, past),
        (meeting_id, {"start": body["start"]}),
        (meeting_id, {"start": "soon", "end": body["end"]}),
        (started, body),
        (SYNC.id, body),
        (instance, body),
    ):
        assert_webex_error(call(fake, "PUT", f"/meetings/{path}", json=payload), 400)
    assert_webex_error(call(fake, "PUT", f"/meetings/{meeting_id}", data=b"{"), 400)
    assert_webex_error(call(fake, "PUT", f"/meetings/{'0' * 32}_x", json=body), 404)
    fake.delete(meeting_id)
    assert_webex_error(call(fake, "PUT", f"/meetings/{meeting_id}", json=body), 404)
    assert (
        call(fake, "PUT", f"/meetings/{stamp(SYNC, k + 1)}", json=body, token=CAROL).status_code
        == 404
    )
    with pytest.raises(LookupError):
        fake.move(meeting_id, start)
    with pytest.raises(ValueError, match="past"):
        fake.move(stamp(SYNC, k + 1), DEFAULT_NOW - timedelta(hours=1))
    assert fake.deleted_ids() == [meeting_id]
    assert listing(fake, SYNC.id, isModified="true") == modified, "nothing moved"


def test_a_series_is_found_where_an_occurrence_was_moved_to(fake: FakeWebex) -> None:
    first = DEFAULT_NOW + timedelta(days=1)
    spec = SeriesSpec(
        id="cd" * 16,
        title="Short Series",
        host_email="alice@example.com",
        host_name="Alice Smith",
        first_start=first,
        interval=timedelta(days=1),
        count=3,
        duration=timedelta(minutes=30),
    )
    with FakeWebex(series=[spec]) as server:
        far = first + timedelta(days=30)
        server.move(f"{spec.id}_{spec.start_of(2).strftime('%Y%m%dT%H%M%SZ')}", far)
        params = {
            "meetingType": "meetingSeries",
            "from": iso(far - timedelta(hours=1)),
            "to": iso(far + timedelta(hours=1)),
        }
        found = call(server, "GET", "/meetings", params=params).json()["items"]
        assert ids(found) == [spec.id]


# --- the oracle and the controls ---------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"meetingType": "scheduledMeeting"},
        {"meetingType": "meeting"},
        {"state": "scheduled"},
        {"isModified": "true"},
        {"isModified": "false"},
    ],
)
def test_the_oracle_agrees_with_http_after_changes(
    fake: FakeWebex, filters: dict[str, str]
) -> None:
    """Changes made over HTTP on one server and with the Python API on another give the
    same listings, equal to the oracle of both, whatever the filter and page size.
    """
    scripted = FakeWebex().start()
    try:
        k = upcoming(SYNC, 0)
        start = SYNC.start_of(k + 2) + timedelta(days=3)
        for server in (fake, scripted):
            server.set_now(SYNC.start_of(k) - timedelta(hours=1))
        for path in (stamp(SYNC, k), stamp(SYNC, k + 5), stamp(STANDUP, upcoming(STANDUP, 2))):
            assert call(fake, "DELETE", f"/meetings/{path}").status_code == 204
            scripted.delete(path)
        body = {"start": iso(start), "end": iso(start + timedelta(minutes=50))}
        assert call(fake, "PUT", f"/meetings/{stamp(SYNC, k + 1)}", json=body).status_code == 200
        scripted.move(stamp(SYNC, k + 1), start, start + timedelta(minutes=50))
        later = SYNC.start_of(k + 8)
        for server in (fake, scripted):
            server.set_now(later)

        keywords: dict[str, Any] = {
            "meeting_type": filters.get("meetingType"),
            "state": filters.get("state"),
            "is_modified": {"true": True, "false": False}.get(filters.get("isModified", "")),
        }
        for series in (SYNC, STANDUP):
            expected = fake.expected_meetings(series.id, WIDE_START, WIDE_END, **keywords)
            assert expected == scripted.expected_meetings(
                series.id, WIDE_START, WIDE_END, **keywords
            )
            for size in (3, 100):
                assert listing(fake, series.id, max=size, **filters) == expected
                assert listing(scripted, series.id, max=size, **filters) == expected
    finally:
        scripted.stop()


def test_status_lists_deleted_and_moved_meetings(fake: FakeWebex) -> None:
    gone, moved = stamp(STANDUP, upcoming(STANDUP, 1)), stamp(SYNC, upcoming(SYNC, 7))
    fake.delete(gone)
    fake.delete(SERIES["Design Review"].id)
    start = SYNC.start_of(upcoming(SYNC, 7)) + timedelta(hours=1)
    fake.move(moved, start)
    status = requests.get(fake.base_url + "/_sandbox/status", timeout=10).json()
    assert status["deleted"] == [SERIES["Design Review"].id, gone]
    assert status["moved"] == {moved: [iso(start), iso(start + SYNC.duration)]}
    assert SERIES["Design Review"].id not in status["series"]


def test_the_sandbox_command_deletes_with_its_printed_token() -> None:
    """What the README and the start-up help tell a user to do, against the real command."""
    process = start_cli("--now", iso(DEFAULT_NOW))
    try:
        assert process.stdout is not None
        api_url = process.stdout.readline().strip().removeprefix("api_url=")
        token = process.stdout.readline().strip().removeprefix("access_token=")
        occurrence = stamp(STANDUP, upcoming(STANDUP, 1))
        auth = {"Authorization": f"Bearer {token}"}
        deleted = requests.delete(f"{api_url}/meetings/{occurrence}", headers=auth, timeout=10)
        assert deleted.status_code == 204
        again = requests.get(f"{api_url}/meetings/{occurrence}", headers=auth, timeout=10)
        assert again.status_code == 404
        status = requests.get(api_url.removesuffix("/v1") + "/_sandbox/status", timeout=10)
        assert status.json()["deleted"] == [occurrence]
    finally:
        process.terminate()
        process.communicate(timeout=10)


# --- series added and extended while the server runs --------------------------------------

INCIDENT = SERIES["Incident Review Sprint"]  # expired 55 days before the clock


def test_an_added_series_is_discovered_and_listed(fake: FakeWebex) -> None:
    new = replace(STANDUP, id="0" * 32, title="Added", count=3)
    fake.add_series(new)
    assert new.id in discovered(fake)
    listed = listing(fake, new.id)
    assert listed == fake.expected_meetings(new.id, WIDE_START, WIDE_END)
    assert len([i for i in listed if i["meetingType"] == "scheduledMeeting"]) == 3
    with pytest.raises(ValueError, match="taken"):
        fake.add_series(new)


def test_an_extended_series_is_active_again_with_its_new_occurrences(fake: FakeWebex) -> None:
    before = call(fake, "GET", f"/meetings/{INCIDENT.id}").json()
    assert before["state"] == "expired"
    longer = fake.extend(INCIDENT.id, INCIDENT.count + 70)  # now runs past the clock
    after = call(fake, "GET", f"/meetings/{INCIDENT.id}").json()
    assert after["state"] == "active"
    listed = listing(fake, INCIDENT.id)
    scheduled = [i["id"] for i in listed if i["meetingType"] == "scheduledMeeting"]
    assert len(scheduled) == longer.count
    assert stamp(INCIDENT, INCIDENT.count + 69) in scheduled
    assert fake.series_ids().count(INCIDENT.id) == 1
    with pytest.raises(ValueError, match="more occurrences"):
        fake.extend(INCIDENT.id, 5)
    fake.delete(INCIDENT.id)
    with pytest.raises(LookupError):
        fake.extend(INCIDENT.id, 500)
