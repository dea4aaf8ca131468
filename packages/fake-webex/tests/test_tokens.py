"""Bearer tokens (expiry, admin scope for hostEmail) and the OAuth refresh grant."""

from __future__ import annotations

from fake_support import CAROL, FROM, SERIES, STANDUP, TO, assert_webex_error, get, refresh
from fake_webex import FakeWebex


def test_token_expires_after_its_requests(fake: FakeWebex) -> None:
    params = {"meetingSeriesId": STANDUP}
    assert [get(fake, token="short-lived", params=params).status_code for _ in range(2)] == [
        200
    ] * 2
    assert_webex_error(get(fake, token="short-lived", params=params), 401)


def test_admin_host_email_sees_as_that_user(fake: FakeWebex) -> None:
    params = {"meetingType": "meetingSeries", "from": FROM, "to": TO, "max": 100}
    as_carol = get(fake, token=CAROL, params=params).json()["items"]
    for_carol = get(fake, params={**params, "hostEmail": "carol@example.com"}).json()["items"]
    assert [s["id"] for s in as_carol] == [s["id"] for s in for_carol]
    assert sorted(s["id"] for s in as_carol) == sorted(fake.series_ids("carol@example.com"))
    design = SERIES["Design Review"].id
    assert get(fake, params={"meetingSeriesId": design}).status_code == 404
    hosted = get(fake, params={"meetingSeriesId": design, "hostEmail": "carol@example.com"})
    assert hosted.status_code == 200


def test_oauth_refresh_and_rotation(fake: FakeWebex) -> None:
    answer = refresh(fake).json()
    assert answer["refresh_token"] == "sandbox-refresh"
    assert answer["expires_in"] == fake.token_lifetime_seconds
    assert answer["refresh_token_expires_in"] == 7_776_000
    assert answer["token_type"] == "Bearer"
    assert get(fake, token=answer["access_token"], params={"meetingSeriesId": STANDUP}).ok

    fake.rotate_refresh_tokens = True
    rotated = refresh(fake).json()["refresh_token"]
    assert rotated != "sandbox-refresh"
    try:
        body = refresh(fake).json()  # the old refresh token is gone
        assert body["error"] == "invalid_grant"
        assert body["trackingId"]
        assert refresh(fake, rotated).status_code == 200
    finally:
        fake.refresh_tokens.clear()
        fake.refresh_tokens.add("sandbox-refresh")


def test_oauth_errors(fake: FakeWebex) -> None:
    assert refresh(fake, secret="wrong").status_code == 401
    response = refresh(fake, token="expired")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
