"""One meeting, the timezone header and the Webex error body of refused requests."""

from __future__ import annotations

from datetime import datetime

import pytest
from fake_support import (
    CAROL,
    FROM,
    SERIES,
    STANDUP,
    SYNC,
    TO,
    TOKEN,
    WIDE_END,
    WIDE_START,
    assert_webex_error,
    get,
)
from fake_webex import FakeWebex


def test_timezone_header_renders_offsets(fake: FakeWebex) -> None:
    params = {"meetingSeriesId": SYNC.id, "from": FROM, "to": TO, "max": 5}
    utc = get(fake, params=params).json()["items"]
    shanghai = get(fake, params=params, headers={"timezone": "Asia/Shanghai"}).json()["items"]
    assert utc[0]["start"].endswith("Z")
    assert utc[0]["timezone"] == "UTC"
    assert shanghai[0]["start"].endswith("+08:00")
    assert shanghai[0]["timezone"] == "Asia/Shanghai"
    for a, b in zip(utc, shanghai, strict=True):
        assert datetime.fromisoformat(a["start"].replace("Z", "+00:00")) == datetime.fromisoformat(
            b["start"]
        )
    new_york = get(fake, params=params, headers={"timezone": "America/New_York"}).json()
    assert new_york["items"][0]["start"].endswith(("-04:00", "-05:00"))
    assert_webex_error(get(fake, params=params, headers={"timezone": "Mars/Olympus"}), 400)


@pytest.mark.parametrize(
    ("token", "params", "status"),
    [
        (None, {}, 401),
        ("wrong", {}, 401),
        (CAROL, {"hostEmail": "alice@example.com"}, 403),
        (TOKEN, {"meetingSeriesId": "0" * 32}, 404),
        (CAROL, {"meetingSeriesId": STANDUP}, 404),  # carol is not invited
        (TOKEN, {"meetingSeriesId": STANDUP, "from": TO, "to": FROM}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "from": "yesterday"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "max": "0"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "max": "101"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "max": "null"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "meetingType": "webinar"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "state": "done"}, 400),
        (TOKEN, {"meetingSeriesId": STANDUP, "isModified": "maybe"}, 400),
    ],
)
def test_errors_carry_a_webex_error_body(
    fake: FakeWebex, token: str | None, params: dict[str, str], status: int
) -> None:
    body = assert_webex_error(get(fake, token=token, params=params), status)
    if status == 403:
        assert "meeting:admin_schedule_read" in body["message"]


def test_get_one_meeting(fake: FakeWebex) -> None:
    series = get(fake, f"/meetings/{SYNC.id}").json()
    assert series["meetingType"] == "meetingSeries"
    assert series["id"] == SYNC.id
    scheduled_id = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END)[0]["id"]
    assert get(fake, f"/meetings/{scheduled_id}").json()["id"] == scheduled_id
    assert_webex_error(get(fake, "/meetings/" + "f" * 32), 404)


def test_records_have_the_api_fields(fake: FakeWebex) -> None:
    items = fake.expected_meetings(SYNC.id, WIDE_START, WIDE_END)
    scheduled = next(m for m in items if m["meetingType"] == "scheduledMeeting")
    instance = next(m for m in items if m["meetingType"] == "meeting")
    for name in ("meetingNumber", "password", "hostKey", "telephony", "sipAddress", "isModified"):
        assert name in scheduled
    assert scheduled["id"] == f"{SYNC.id}_{SYNC.start_of(0).strftime('%Y%m%dT%H%M%SZ')}"
    assert scheduled["telephony"]["callInNumbers"][0]["tollType"] in ("toll", "tollFree")
    for name in ("password", "hostKey", "meetingNumber", "isModified"):
        assert instance[name] is None  # they do not apply to ended instances
    assert instance["id"].startswith(f"{SYNC.id}_I_")
    assert len(instance["id"].split("_I_")[1]) == 18
    webinar = SERIES["All-Hands Webinar"].id
    first = fake.expected_meetings(webinar, WIDE_START, WIDE_END)[0]
    assert first["scheduledType"] == "webinar"
    assert "panelistPassword" in first
