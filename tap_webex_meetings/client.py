"""The one place that talks HTTP to Webex: auth, paging, errors, retries.

Streams declare what to ask for; this base class decides how. It turns Webex's answers
into singer-sdk's own exceptions (``RetriableAPIError`` for what may pass, ``FatalAPIError``
subclasses for what will not), so the SDK's retry loop does the rest, with waits taken
from ``Retry-After`` when Webex gives a usable one (the policy: retries.py).

Somewhat over 400 lines because it is one class of singer-sdk hooks, each a few lines
with the reason it is overridden; what is not a hook lives in webex.py and retries.py.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Generator, Iterable
from datetime import datetime, timezone
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import ParseResult, quote

import backoff
import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import HeaderLinkPaginator
from singer_sdk.singerlib import MetadataMapping, RecordMessage
from singer_sdk.streams.rest import HTTPRequest, PageContext, RESTStream
from typing_extensions import override

from tap_webex_meetings import retries, secret_fields, stream_maps, timeutils, webex
from tap_webex_meetings.auth import WebexOAuthAuthenticator
from tap_webex_meetings.credentials import clean_secret
from tap_webex_meetings.errors import (
    AccessTokenExpiredError,
    NotFoundError,
    PagingLoopError,
    TokenRefusedError,
    WebexAPIError,
)
from tap_webex_meetings.pages import PageEnd, QueryGuard
from tap_webex_meetings.ratelimit import RateGate
from tap_webex_meetings.reachability import UnreachableError
from tap_webex_meetings.transport import DeadlineExceeded, WebexSession, without_query

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_webex_meetings.policy import Policy
    from tap_webex_meetings.settings import Settings
    from tap_webex_meetings.state import ThrottledStateWriter
    from tap_webex_meetings.summary import RunSummary


class WebexTap(Protocol):
    """What streams need from the tap: settings, and what every request of the run shares."""

    settings: Settings
    policy: Policy
    authenticator: WebexOAuthAuthenticator | BearerTokenAuthenticator
    rate_gate: RateGate
    state_writer: ThrottledStateWriter
    summary: RunSummary
    table_version: int | None


class WebexLinkPaginator(HeaderLinkPaginator):
    """singer-sdk's ``Link: <...>; rel="next"`` paginator, reading Webex's link repaired."""

    def __init__(self) -> None:
        super().__init__()
        self._followed: set[str] = set()

    @override
    def get_next_url(self, response: requests.Response) -> str | None:
        """The next page's URL, or None at the end (see :func:`webex.next_page_url`).

        A link already followed would page forever (the SDK only spots the same link twice
        in a row): the run stops with a message instead.
        """
        url = webex.next_page_url(response)
        if url is not None:
            if url in self._followed:
                raise PagingLoopError(url)
            self._followed.add(url)
        return url

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page may still link to more: keep following the link, if any."""
        return True


class WebexStream(RESTStream[ParseResult | None]):
    """Base of every stream: the Webex Meetings API as singer-sdk expects it."""

    # Webex records are JSON already: the SDK's per-value conformance only costs time (half
    # the tap's CPU). Unknown top-level fields are dropped in post_process instead.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # Instances one query can list (a class attribute so tests can meet it with small data).
    instance_cap = webex.INSTANCE_CAP
    # The field an entry must have as a parsable timestamp to be a record (None: none).
    entry_moment: str | None = "start"
    # Timestamps an entry may lack, but not have wrong (out of range breaks date arithmetic).
    entry_moments_if_present: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_written = False
        self._known_fields = frozenset(self.schema["properties"])
        # Webex's date-times (start, end), rendered in the timezone header's offset.
        self._moments = tuple(
            name
            for name, spec in self.schema["properties"].items()
            if spec.get("format") == "date-time" and not name.startswith("_sdc_")
        )
        self._unknown_fields_seen: set[str] = set()
        # Parsed once in validate_response, used in parse_response: one JSON parse a page.
        # Workers of the prefetcher share the stream, hence the lock.
        self._payloads: weakref.WeakKeyDictionary[requests.Response, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._payloads_lock = threading.Lock()
        self._sessions = threading.local()

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's own ERROR lines (through ``Stream.log``) go to DEBUG.

        singer-sdk 0.54 logs only "An unhandled error occurred ..." at ERROR this way, once
        per stream level, without saying why; ``tap.py`` prints the reason as the one ERROR
        line a user reads (unexpected errors still get their traceback at DEBUG). The tap's
        own messages use ``self.logger``, not this.
        """
        super().log(
            message,
            *args,
            level=logging.DEBUG if level >= logging.ERROR else level,
            **kwargs,
        )

    @property
    def webex_tap(self) -> WebexTap:
        """The tap, seen through what the streams need of it."""
        # private singer-sdk attribute: 0.54 gives a stream no public way to its tap.
        return cast("WebexTap", self._tap)

    @property
    def settings(self) -> Settings:
        """Validated settings of this run."""
        return self.webex_tap.settings

    @property
    @override
    def url_base(self) -> str:
        """``api_url`` (default https://webexapis.com/v1)."""
        return self.settings.api_url

    @property
    @override
    def authenticator(self) -> WebexOAuthAuthenticator | BearerTokenAuthenticator:
        """The tap's authenticator, shared so that a refreshed token serves every stream."""
        return self.webex_tap.authenticator

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """``timezone`` always; ``password`` only when ``meeting_password`` is set."""
        headers = {"Accept": "application/json", "timezone": self.settings.timezone}
        if password := clean_secret(self.config.get("meeting_password")):
            headers["password"] = password
        return headers

    @property
    @override
    def timeout(self) -> int:
        """``request_timeout``: a hung connection fails the try instead of the whole run."""
        return cast("int", self.settings.request_timeout)

    @property
    @override
    def requests_session(self) -> requests.Session:
        """One session per thread, to ``api_url``'s origin only (see :mod:`transport`).

        Per thread because prefetch workers must not share the SDK's one session:
        singer-sdk reassigns its ``auth`` before every request.
        """
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = WebexSession(
                self.url_base, self.settings.request_timeout
            )
        return session

    @override
    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """The request, not yet authenticated: ``_request`` authenticates each try.

        The SDK also authenticates here, outside its retry loop: a token refresh that
        failed once (a 503) failed the run, and a token short of its expiry margin was
        refreshed twice per request. Inside the loop it is retried like the request.
        """
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: ParseResult | None
    ) -> dict[str, Any]:
        """The first page's query: what :meth:`list_params` says (later pages: the link)."""
        return self.list_params(context)

    def list_params(self, context: Context | None) -> dict[str, str]:
        """Query parameters of the first page of a listing."""
        raise NotImplementedError

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The SDK's pages, checked before they are believed (see :mod:`pages`)."""
        guard = QueryGuard(
            webex.subject(None, context or {}),
            self.logger,
            self.webex_tap.summary.count_skipped,
            self.entry_problem,
            (context or {}).get("meetingSeriesId"),
        )
        return guard.records(super().request_records(context))

    def entry_problem(self, item: Any) -> str | None:
        """Why a listed entry is not a record of this stream (skipped with a warning)."""
        return webex.entry_problem(
            item, self.primary_keys[0], self.entry_moment, self.entry_moments_if_present
        )

    def fetch_meeting(self, meeting_id: str, host_email: str | None = None) -> dict[str, Any]:
        """``GET /meetings/{meeting_id}``: the meeting or series; :class:`NotFoundError` on 404.

        Its own call, not a listing: one request (retried like any other) whose body
        ``validate_response`` has already checked to be the meeting asked for. An id that
        cannot go into a URL is never sent (see :func:`webex.path_problem`).
        """
        if problem := webex.path_problem(meeting_id):
            raise FatalAPIError(
                f"Refused to look up meeting {meeting_id[:100]!r}: its id cannot go into a URL "
                f"({problem})"
            )
        request = self.build_prepared_request(
            method="GET",
            url=f"{self.url_base}{webex.MEETINGS_PATH}/{quote(meeting_id, safe='')}",
            params=webex.query_params({"hostEmail": host_email}),
            headers=self.http_headers,
        )
        # private singer-sdk method: the send that request_records itself decorates
        response = self.request_decorator(self._request)(request, None)
        with self._payloads_lock:
            payload: dict[str, Any] = self._payloads.pop(response)
        return payload

    def look_up(self, meeting_id: str, host_email: str | None = None) -> dict[str, Any] | None:
        """The meeting or series Webex has under ``meeting_id``; None when it answers 404."""
        try:
            return self.fetch_meeting(meeting_id, host_email)
        except NotFoundError:
            return None

    @property
    @override
    def metadata(self) -> MetadataMapping:
        """Passwords and the host key stay out unless ``secret_fields`` names them."""
        metadata = super().metadata
        secret_fields.restrict(metadata, self.config)
        return metadata

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict[str, Any]:
        """Date-times in UTC; drop fields the schema does not know.

        UTC whatever ``timezone`` is (the record's own ``timezone`` still names the zone):
        several loaders store ``-05:00`` as local time. A new Webex field must not break a
        target: said once per run at INFO, as Webex sends some (``hasSummary``) on every
        run, and a scheduled run must not warn about what nobody can change.
        """
        for name in self._moments:
            value = row.get(name)
            if isinstance(value, str) and not value.endswith("Z"):
                row[name] = timeutils.utc_text(value)
        if row.keys() <= self._known_fields:
            return row
        unknown = row.keys() - self._known_fields
        if new := unknown - self._unknown_fields_seen:
            self._unknown_fields_seen |= new
            self.logger.info("Ignoring fields not in the %s schema: %s", self.name, sorted(new))
        return {key: value for key, value in row.items() if key not in unknown}

    @cached_property
    def _deselected_fields(self) -> tuple[str, ...] | None:
        """Top-level fields the catalog deselects; None if it deselects nested ones too."""
        deselected: list[str] = []
        for breadcrumb, selected in self.mask.items():
            if selected or not breadcrumb:
                continue
            if len(breadcrumb) != 2:  # not ("properties", name)
                return None
            deselected.append(breadcrumb[1])
        return tuple(deselected)

    @override  # private singer-sdk hook (no upstream issue yet): the per-record walk is inside
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages, without its walk through every nested object.

        singer-sdk removes deselected fields by visiting every nested object of every
        record (2 of 7 s on 20,000 Webex records); when only top-level fields are
        deselected (the passwords), popping those is the same. Conformance is off
        (``TYPE_CONFORMANCE_LEVEL``), so there is nothing else to do before the maps.
        """
        deselected = self._deselected_fields
        if deselected is None:
            try:
                yield from super()._generate_record_messages(record)
            except Exception as exc:  # only the maps run in there
                raise stream_maps.failure(self.name, record, exc) from exc
            return
        for name in deselected:
            record.pop(name, None)
        for stream_map in self.stream_maps:
            try:
                mapped = stream_map.transform(record)
            except Exception as exc:  # a user's expression: anything (see stream_maps.py)
                raise stream_maps.failure(stream_map.stream_alias, record, exc) from exc
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,  # private, read as the SDK itself does
                    time_extracted=datetime.now(timezone.utc),
                )

    @override
    def _write_schema_message(self) -> None:  # private singer-sdk hook (no upstream issue yet)
        """Once per run: singer-sdk would repeat the 30 KB schema for every series.

        Also where the stream's records get their table version, before the first of them:
        the tap's, for every stream of a full extract (see full_extract.py), else none.
        """
        if not self._schema_written:
            self._stream_version = self.webex_tap.table_version  # private: on each RECORD
            super()._write_schema_message()
            self._schema_written = True

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        """The end of the run; after a full extract, ACTIVATE_VERSION (see full_extract.py).

        Sent once every record is out (the SDK finalizes children first), so a run that
        fails midway deletes nothing. Also for a stream that found nothing (a child whose
        parent listed no series): its SCHEMA first, as it sent none, or the rows of what
        was deleted since the last run would stay.
        """
        super().finalize_state_progress_markers(state)
        if self.selected and self.webex_tap.table_version is not None:
            self._write_schema_message()  # once per run: a no-op if records were sent
            self._write_activate_version_message(self.webex_tap.table_version)  # private

    @override
    def get_new_paginator(self) -> WebexLinkPaginator:
        """Webex pages through ``Link`` headers."""
        return WebexLinkPaginator()

    @override
    def get_http_request(self, *, page: PageContext[ParseResult | None]) -> HTTPRequest:
        """First page from :meth:`get_url_params`; later pages from the next URL as it is.

        The next URL already carries every query parameter (restored where Webex dropped
        them), so sending params again would repeat them.
        """
        if page.next_page_token:
            return HTTPRequest(url=page.next_page_token.geturl(), headers=self.http_headers)
        return super().get_http_request(page=page)

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Sort Webex's answer into success, retry, skip or stop, with a readable reason."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            self._accept(response)
            return
        message, tracking_id = webex.error_details(response)
        summary = (
            f"{status} {message} (trackingId {tracking_id or 'not given'}), "
            f"for {webex.subject_of(response.request.url or '')}"
        )
        if status in retries.RETRY_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(summary, response)
        if status == HTTPStatus.UNAUTHORIZED:
            self._on_unauthorized(response, summary)
        if status == HTTPStatus.FORBIDDEN:
            raise WebexAPIError(
                status,
                message,
                tracking_id,
                f"The token lacks a scope: {webex.USER_SCOPE} is needed to list meetings, "
                f"and {webex.ADMIN_SCOPE} (an admin's token) to use host_emails.",
            )
        if status == HTTPStatus.NOT_FOUND:
            if not webex.is_webex_error(response):  # a proxy's: says nothing of Webex's data
                raise RetriableAPIError(
                    f"404 that is not Webex's (not its error body but "
                    f"{webex.what_came_back(response)}) from "
                    f"{without_query(response.request.url or '')}, for "
                    f"{webex.subject_of(response.request.url or '')}",
                    response,
                )
            raise NotFoundError(status, message, tracking_id)
        raise WebexAPIError(status, message, tracking_id)

    def _accept(self, response: requests.Response) -> None:
        """Parse the body now, inside the retry loop: what is not a listing page (or, for a
        lookup, a meeting) is retried, never read as "no meetings" (or "deleted").

        Webex answers 200; a 204, a 304 or an empty, truncated or HTML body comes from
        something in between, and may pass.
        """
        url = response.request.url or ""
        asked = webex.lookup_id(url)
        expected = "a meeting" if asked is not None else "a page of meetings"
        status = response.status_code
        if status != HTTPStatus.OK:
            raise RetriableAPIError(
                f"{status} {response.reason or ''}, not {expected}, for {webex.subject_of(url)}",
                response,
            )
        try:
            payload = webex.parse_json(response) if response.content else None
        except ValueError as exc:
            raise RetriableAPIError(
                f"200 with a bad body ({exc}), for {webex.subject_of(url)}", response
            ) from None
        problem = (
            "an empty body"
            if payload is None
            else (
                webex.lookup_problem(payload, asked)
                if asked is not None
                else webex.listing_problem(payload)
            )
        )
        if problem:
            raise RetriableAPIError(
                f"200 that is not {expected} ({problem}), for {webex.subject_of(url)}",
                response,
            )
        with self._payloads_lock:
            self._payloads[response] = payload
        auth = self.authenticator
        if isinstance(auth, WebexOAuthAuthenticator):
            auth.token_accepted = True

    def _on_unauthorized(self, response: requests.Response, summary: str) -> None:
        auth = self.authenticator
        if isinstance(auth, WebexOAuthAuthenticator):
            sent = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
            if auth.may_refresh_after_refusal(sent):
                raise AccessTokenExpiredError(f"{summary}; refreshing the access token", response)
            raise TokenRefusedError(
                f"Webex refused a freshly refreshed access token ({summary}). Check that the "
                f"integration has the scope {webex.USER_SCOPE}."
            )
        raise TokenRefusedError(
            f"Webex refused the access token ({summary}). A personal access token expires "
            "12 hours after it is created: set a fresh access_token, or use a Webex "
            "integration's client_id, client_secret and refresh_token for scheduled runs."
        )

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """The entries of one page (or the one meeting of a lookup), then a :class:`PageEnd`.

        Checked by :class:`QueryGuard` in :meth:`request_records`, which knows the query.
        """
        with self._payloads_lock:
            payload = self._payloads.pop(response)  # validate_response put it there
        entries = [payload] if webex.lookup_id(response.request.url or "") else payload["items"]
        return [*entries, PageEnd(has_next="next" in response.links)]

    # Retries: the SDK's backoff loop, with Webex's Retry-After and our bounds.

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """The SDK's retry loop, each try held back while a 429 holds the rate gate.

        Overridden because backoff would log each retry a second time ("Backing off ...")
        and the end once more ("Giving up ..."): :meth:`backoff_handler` and ``tap.py`` say
        each once (``logger=None``). The exceptions are the SDK's own list (singer-sdk 0.54).
        """
        gate = self.webex_tap.rate_gate
        summary = self.webex_tap.summary

        def gated(request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            gate.wait()
            summary.count_request()  # each try, answered or not: retries add up
            return func(request, context)

        decorated: RequestFunc = backoff.on_exception(
            self.backoff_wait_generator,
            retries.RETRIABLE,
            max_tries=self.backoff_max_tries,
            giveup=retries.give_up,
            on_backoff=self.backoff_handler,
            jitter=self.backoff_jitter,
            logger=None,
        )(gated)
        return decorated

    @override
    def backoff_max_tries(self) -> int:
        """``retry_max_tries``."""
        return self.settings.retry_max_tries

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """Waits from ``Retry-After`` (seconds or HTTP date), else exponential: 1, 2, 4 s…"""
        exception = yield 0.0
        attempt = 0
        while True:
            attempt += 1
            exception = yield self._retry_wait(exception, attempt)

    def _retry_wait(self, exception: Exception | None, attempt: int) -> float:
        return retries.wait_before_retry(exception, attempt, self.settings.retry_max_wait)

    @override
    def backoff_jitter(self, value: float) -> float:
        """Add up to 20 % (never less than the wait Webex asked for), within the bound."""
        return retries.jittered(value, self.settings.retry_max_wait)

    @override
    def backoff_handler(self, details: Details) -> None:
        """Log the retry as a WARNING; after repeated 504s, ask for smaller pages."""
        self.webex_tap.summary.count_retry()
        exception = details.get("exception")
        response = getattr(exception, "response", None)
        if isinstance(exception, RetriableAPIError) and response is not None:
            reason = str(exception)
            if response.status_code in retries.RETRY_STATUSES:
                self.webex_tap.rate_gate.hold(details.get("wait", 0.0))
            if response.status_code == HTTPStatus.GATEWAY_TIMEOUT and details["tries"] >= 2:
                reason += "; " + retries.shrink_page_size(details["args"][0])
        elif isinstance(exception, (DeadlineExceeded, UnreachableError)):
            reason = str(exception)  # ours: it names the URL and the deadline or the cause
        else:
            reason = type(exception).__name__ if exception else "unknown error"
        request, context = details["args"][:2]
        self.logger.warning(
            "Retrying %s%s in %.1f s (try %d of %d): %s",
            self.name,
            _whose(request, context),
            details.get("wait", 0.0),
            details["tries"],
            self.backoff_max_tries(),
            reason,
        )


def _whose(request: requests.PreparedRequest, context: Context | None) -> str:
    """`` of series X`` (or ``, lookup of X``): which series a retried request is about."""
    if meeting_id := webex.lookup_id(request.url or ""):
        return f", lookup of {meeting_id}"
    if context and (series_id := context.get("meetingSeriesId")):
        return f" of series {series_id}"
    host = (context or {}).get("hostEmail")
    return f", discovery of {host}'s series" if host else ", discovery of the series"
