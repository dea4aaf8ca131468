"""Webex facts in isolation: next-page links with their quirks, error bodies, Retry-After."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tap_webex_meetings import answers, webex
from tap_webex_meetings.retries import parse_retry_after

FIRST = (
    "https://webexapis.com/v1/meetings?meetingSeriesId=abc&from=2026-01-01T00%3A00%3A00Z"
    "&to=2026-02-01T00%3A00%3A00Z&max=100"
)


def _response(
    link: str | None, *, body: object = None, request_url: str = FIRST
) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    if link is not None:
        response.headers["Link"] = link
    # requests has no public way to give a Response a body.
    response._content = json.dumps(body if body is not None else {"items": []}).encode()  # noqa: SLF001
    request = requests.PreparedRequest()
    request.prepare(method="GET", url=request_url)
    response.request = request
    response.url = request_url
    return response


def _params(url: str | None) -> dict[str, list[str]]:
    assert url is not None
    return parse_qs(urlsplit(url).query)


def test_next_link_is_followed_as_given() -> None:
    nxt = "https://webexapis.com/v1/meetings?meetingSeriesId=abc&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&max=100&cursor=Y3Vy"
    params = _params(webex.next_page_url(_response(f'<{nxt}>; rel="next"')))
    assert params["cursor"] == ["Y3Vy"]
    assert all(len(values) == 1 for values in params.values())


def test_dropped_query_parameters_are_restored_from_the_request() -> None:
    url = webex.next_page_url(
        _response('<https://webexapis.com/v1/meetings?cursor=Y3Vy>; rel="next"')
    )
    params = _params(url)
    assert params == {
        "cursor": ["Y3Vy"],
        "meetingSeriesId": ["abc"],
        "from": ["2026-01-01T00:00:00Z"],
        "to": ["2026-02-01T00:00:00Z"],
        "max": ["100"],
    }


def test_stray_max_null_is_replaced_by_the_requested_max() -> None:
    link = '<https://webexapis.com/v1/meetings?cursor=Y3Vy&max=null>; rel="next"'
    assert _params(webex.next_page_url(_response(link)))["max"] == ["100"]


@pytest.mark.parametrize(
    "header", [None, "", "string", "<>; rel=next", 'rel="next"', '<not a url>; rel="next"']
)
def test_missing_or_unparseable_link_ends_paging(header: str | None) -> None:
    assert webex.next_page_url(_response(header)) is None


def test_link_without_next_relation_ends_paging() -> None:
    assert (
        webex.next_page_url(_response('<https://webexapis.com/v1/meetings?cursor=x>; rel="prev"'))
        is None
    )


def test_error_details_read_webex_error_body() -> None:
    response = _response(
        None,
        body={
            "message": "The requested resource could not be found.",
            "errors": [{"description": "The requested resource could not be found."}],
            "trackingId": "ROUTER_1234",
        },
    )
    response.status_code = 404
    assert answers.error_details(response) == (
        "The requested resource could not be found.",
        "ROUTER_1234",
    )


def test_an_oauth_error_is_named_once_with_its_description_once() -> None:
    response = _response(
        None,
        body={
            "error": "invalid_client",
            "message": "Invalid client_id or client_secret.",
            "errors": [{"description": "Invalid client_id or client_secret."}],
            "trackingId": "ROUTER_5678",
        },
    )
    response.status_code = 401
    assert answers.error_details(response) == (
        "invalid_client: Invalid client_id or client_secret.",
        "ROUTER_5678",
    )


def test_error_details_survive_a_non_json_body() -> None:
    response = _response(None)
    response._content = b"<html>Bad gateway</html>"  # noqa: SLF001  (no public setter)
    response.status_code = 502
    response.reason = "Bad Gateway"
    response.headers["TrackingID"] = "ROUTER_99"
    assert answers.error_details(response) == ("Bad Gateway", "ROUTER_99")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"items": [{"id": "a"}, "junk"]}, None),
        ({"items": []}, None),
        ({"items": None}, "items is a JSON null, not a list"),
        ({"items": "oops"}, "items is a JSON string, not a list"),
        ({}, "an object without items"),
        ([], "a JSON array, not an object"),
    ],
)
def test_a_listing_page_is_an_object_with_a_list_of_items(
    payload: object, problem: str | None
) -> None:
    assert answers.listing_problem(payload) == problem


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"id": "a", "start": "2026-06-20T09:00:00+02:00"}, None),
        ({"id": "a", "start": "2026-06-20T09:00:00Z"}, None),
        ({"start": "2026-06-20T09:00:00Z"}, "no id"),
        ({"id": 7, "start": "2026-06-20T09:00:00Z"}, "an id that is a JSON number"),
        ({"id": "a"}, "no start"),
        ({"id": "a", "start": "not-a-date"}, "start 'not-a-date' is not a timestamp"),
        ("junk", "a JSON string, not an object"),
    ],
)
def test_a_meeting_has_a_string_id_and_a_start_that_parses(
    item: object, problem: str | None
) -> None:
    assert webex.meeting_problem(item) == problem


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("194") == 194
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    waited = parse_retry_after(format_datetime(later, usegmt=True))
    assert waited is not None
    assert 28 <= waited <= 30


@pytest.mark.parametrize("value", [None, "", "rand(30),add(30)", "soon", "-5"])
def test_retry_after_garbage_means_no_hint(value: str | None) -> None:
    assert parse_retry_after(value) is None
