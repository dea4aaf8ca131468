"""Webex's answers judged before they are believed: success, retry, skip or stop.

Turned into singer-sdk's own exceptions (``RetriableAPIError`` for what may pass,
``FatalAPIError`` subclasses for what will not) so the SDK's retry loop does the rest. A
body is parsed inside that loop: what is not a listing page (or, for a lookup, the meeting
asked for) is retried, never read as "no meetings" (or "deleted"). Every message names the
status, Webex's message and trackingId, and what was asked for.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_webex_meetings import webex
from tap_webex_meetings.errors import (
    AccessTokenExpiredError,
    NotFoundError,
    TokenRefusedError,
    WebexAPIError,
)

# Waited out by every worker (see retries.RateGate), whatever the retry it is.
RATE_LIMITED = (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.LOCKED)
_LENIENT = msgspec.json.Decoder(float_hook=float)
_DECODE = msgspec.json.Decoder().decode


def payload(response: requests.Response, lookup: str | None) -> Any:
    """The parsed body of a 2xx/3xx answer: a listing page, or the meeting ``lookup`` names.

    Webex answers 200; a 204, a 304 or an empty, truncated or HTML body comes from
    something in between, and may pass: :class:`RetriableAPIError`.
    """
    expected = "a meeting" if lookup is not None else "a page of meetings"
    status = response.status_code
    if status != HTTPStatus.OK:
        raise RetriableAPIError(
            f"{status} {response.reason or ''}, not {expected}, for {_subject(response)}",
            response,
        )
    try:
        body = parse_json(response) if response.content else None
    except ValueError as exc:
        raise RetriableAPIError(
            f"200 with a bad body ({exc}), for {_subject(response)}", response
        ) from None
    if body is None:
        problem: str | None = "an empty body"
    elif lookup is not None:
        problem = lookup_problem(body, lookup)
    else:
        problem = listing_problem(body)
    if problem:
        raise RetriableAPIError(
            f"200 that is not {expected} ({problem}), for {_subject(response)}", response
        )
    return body


def refusal(response: requests.Response, authenticator: object) -> Exception:
    """What an answer of 400 or more means, as the exception to raise."""
    status = response.status_code
    message, tracking_id = error_details(response)
    summary = (
        f"{status} {message} (trackingId {tracking_id or 'not given'}), for {_subject(response)}"
    )
    if status in RATE_LIMITED or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return RetriableAPIError(summary, response)
    if status == HTTPStatus.UNAUTHORIZED:
        return _unauthorized(response, summary, authenticator)
    if status == HTTPStatus.FORBIDDEN:
        return WebexAPIError(
            status,
            message,
            tracking_id,
            f"The token lacks a scope: {webex.USER_SCOPE} is needed to list meetings, "
            f"and {webex.ADMIN_SCOPE} (an admin's token) to use host_emails.",
        )
    if status == HTTPStatus.NOT_FOUND:
        if not is_webex_error(response):  # a proxy's: says nothing of Webex's data
            return RetriableAPIError(
                f"404 that is not Webex's (not its error body but {what_came_back(response)}) "
                f"from {webex.without_query(response.request.url or '')}, for {_subject(response)}",
                response,
            )
        return NotFoundError(status, message, tracking_id)
    return WebexAPIError(status, message, tracking_id)


def _unauthorized(response: requests.Response, summary: str, authenticator: object) -> Exception:
    may_refresh = getattr(authenticator, "may_refresh_after_refusal", None)  # OAuth only
    if may_refresh is None:
        return TokenRefusedError(
            f"Webex refused the access token ({summary}). A personal access token expires "
            "12 hours after it is created: set a fresh access_token, or use a Webex "
            "integration's client_id, client_secret and refresh_token for scheduled runs."
        )
    sent = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
    if may_refresh(sent):
        return AccessTokenExpiredError(f"{summary}; refreshing the access token", response)
    return TokenRefusedError(
        f"Webex refused a freshly refreshed access token ({summary}). Check that the "
        f"integration has the scope {webex.USER_SCOPE}."
    )


def _subject(response: requests.Response) -> str:
    return webex.subject_of(response.request.url or "")


def parse_json(response: requests.Response, *, any_number: bool = False) -> Any:
    """The JSON body, or ``ValueError`` for an empty, truncated, non-JSON or absurdly
    nested body (msgspec raises ``RecursionError`` past about 1,000 levels).

    ``any_number``: a number beyond a float's range (``1e999``) is infinity, not a bad
    body (the token's ``expires_in``, which is then clamped). msgspec (singer-sdk's own
    writer) parses a page in half the time of the standard library.
    """
    try:
        return (_LENIENT.decode if any_number else _DECODE)(response.content)
    except msgspec.DecodeError as exc:
        raise ValueError(f"response body is not JSON ({exc})") from exc
    except RecursionError:
        raise ValueError("response body is JSON nested too deep") from None


def error_details(response: requests.Response) -> tuple[str, str | None]:
    """The Webex ``message`` and ``trackingId`` of an error answer.

    Webex answers ``{"message", "errors": [{"description"}], "trackingId"}``; proxies in
    front of it may answer HTML or nothing, so every part is optional.
    """
    tracking_id = response.headers.get("TrackingID")
    message = response.reason or f"HTTP {response.status_code}"
    try:
        body = parse_json(response)
    except ValueError:
        return message, tracking_id
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        descriptions = [
            str(error["description"])
            for error in body.get("errors") or []
            if isinstance(error, dict) and error.get("description")
        ]
        if descriptions and descriptions != [message]:
            message = f"{message} ({'; '.join(descriptions)})"
        if body.get("error"):  # OAuth errors of /access_token, e.g. invalid_grant
            message = f"{body['error']}: {message}"
        tracking_id = str(body.get("trackingId") or tracking_id or "") or None
    return message, tracking_id


def is_webex_error(response: requests.Response) -> bool:
    """Whether an error answer is Webex's own JSON error body, with a ``trackingId``.

    Only that may mean what its status says of Webex's data (a 404: deleted).
    """
    try:
        body = parse_json(response)
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and isinstance(body.get("trackingId"), str)
        and bool(body["trackingId"])
        and (isinstance(body.get("message"), str) or isinstance(body.get("errors"), list))
    )


def what_came_back(response: requests.Response) -> str:
    """The type and start of a response body, for a message: ``text/html: <html>…``."""
    kind = response.headers.get("Content-Type") or "no Content-Type"
    shown = " ".join(response.content[:120].decode("utf-8", "replace").split())
    return f"{kind}: {shown!r}" if shown else f"{kind}, empty body"


def listing_problem(body: Any) -> str | None:
    """Why a body is not a page of a listing (``{"items": [...]}``); None when it is one."""
    if not isinstance(body, dict):
        return f"a JSON {webex.json_type(body)}, not an object"
    if "items" not in body:
        return "an object without items"
    if not isinstance(body["items"], list):
        return f"items is a JSON {webex.json_type(body['items'])}, not a list"
    return None


def lookup_problem(body: Any, asked: str) -> str | None:
    """Why a lookup's body is not the meeting ``asked`` for: not a meeting, or another one."""
    if problem := webex.meeting_problem(body):
        return problem
    if body["id"] != asked:
        return f"the meeting {body['id']}, not the one asked for"
    return None
