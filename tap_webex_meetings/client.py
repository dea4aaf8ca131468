"""The one place that talks HTTP to Webex: the request, paging, and the SDK's retry loop.

Streams declare what to ask for; this base class decides how. Answers are judged by
answers.py (inside the retry loop), pages by pages.py, waits by retries.py; what leaves the
tap as messages is records.py's.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable
from http import HTTPStatus
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import ParseResult, quote

import backoff
import requests
from singer_sdk import SchemaDirectory
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_webex_meetings import answers, retries, webex
from tap_webex_meetings.auth import WebexOAuthAuthenticator
from tap_webex_meetings.credentials import clean_secret
from tap_webex_meetings.errors import NotFoundError
from tap_webex_meetings.pages import PageEnd, QueryGuard, WebexLinkPaginator
from tap_webex_meetings.reachability import UnreachableError
from tap_webex_meetings.records import RecordStream
from tap_webex_meetings.transport import DeadlineExceeded, WebexSession

if TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.authenticators import BearerTokenAuthenticator
    from singer_sdk.helpers.types import Context, RequestFunc

    from tap_webex_meetings.policy import Policy
    from tap_webex_meetings.retries import RateGate
    from tap_webex_meetings.settings import Settings
    from tap_webex_meetings.summary import RunSummary


def schema_dir() -> Traversable:
    """``schemas/``: in the installed wheel, or at the top of a checkout (editable)."""
    packaged = resources.files("tap_webex_meetings") / "schemas"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "schemas"


SCHEMAS = SchemaDirectory(schema_dir())  # every stream's schema = StreamSchema(SCHEMAS)


class StateWriter(Protocol):
    def flush(self) -> None: ...
    def flush_output(self) -> None: ...


class WebexTap(Protocol):
    """What streams need from the tap: settings, and what every request of the run shares."""

    settings: Settings
    policy: Policy
    authenticator: WebexOAuthAuthenticator | BearerTokenAuthenticator
    rate_gate: RateGate
    state_writer: StateWriter
    summary: RunSummary
    table_version: int | None


class WebexStream(RecordStream):
    """Base of every stream: the Webex Meetings API as singer-sdk expects it."""

    # Instances one query can list (a class attribute so tests can meet it with small data).
    instance_cap = webex.INSTANCE_CAP
    # The field an entry must have as a parsable timestamp to be a record (None: none).
    entry_moment: str | None = "start"
    # Timestamps an entry may lack, but not have wrong (out of range breaks date arithmetic).
    entry_moments_if_present: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per thread: a session (the SDK reassigns its ``auth`` per request), and the body
        # validate_response parsed for parse_response.
        self._local = threading.local()
        self._decorated: tuple[RequestFunc, RequestFunc] | None = None

    @property
    @override
    def webex_tap(self) -> WebexTap:
        """The tap, seen through what the streams need of it."""
        return cast("WebexTap", super().webex_tap)

    @property
    @override
    def url_base(self) -> str:
        return self.settings.api_url

    @property
    @override
    def authenticator(self) -> WebexOAuthAuthenticator | BearerTokenAuthenticator:
        """The tap's: a token refreshed by one stream serves every stream."""
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
        """``request_timeout``: a hung connection fails the try, not the run."""
        return cast("int", self.settings.request_timeout)

    @property
    @override
    def requests_session(self) -> requests.Session:
        """One session per thread, to ``api_url``'s origin only (see :mod:`transport`)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = WebexSession(
                self.url_base, self.settings.request_timeout
            )
        return session

    @override
    def build_prepared_request(self, *args: Any, **kwargs: Any) -> requests.PreparedRequest:
        """Not authenticated here (``_request`` does it per try): the SDK's, outside its
        retry loop, failed the run on one refresh 503 and refreshed a near-expiry token twice."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    @override
    def get_url_params(
        self, context: Context | None, next_page_token: ParseResult | None
    ) -> dict[str, Any]:
        """The first page's query (later pages follow the link)."""
        return self.list_params(context)

    def list_params(self, context: Context | None) -> dict[str, str]:
        """Query parameters of the first page of a listing: each stream's own."""
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
        """``GET /meetings/{id}``, retried like any request; :class:`NotFoundError` on 404."""
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
        return cast("dict[str, Any]", self._payload_of(response))

    def look_up(self, meeting_id: str, host_email: str | None = None) -> dict[str, Any] | None:
        """The meeting or series Webex has under ``meeting_id``; None when it answers 404."""
        try:
            return self.fetch_meeting(meeting_id, host_email)
        except NotFoundError:
            return None

    @override
    def get_new_paginator(self) -> WebexLinkPaginator:
        return WebexLinkPaginator()

    @override
    def get_http_request(self, *, page: PageContext[ParseResult | None]) -> HTTPRequest:
        if page.next_page_token:  # as it is: it carries every query parameter
            return HTTPRequest(url=page.next_page_token.geturl(), headers=self.http_headers)
        return super().get_http_request(page=page)

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Judge the answer inside the retry loop (see :mod:`answers`); keep its body."""
        if response.status_code >= HTTPStatus.BAD_REQUEST:
            raise answers.refusal(response, self.authenticator)
        lookup = webex.lookup_id(response.request.url or "")
        self._local.parsed = (response, lookup, answers.payload(response, lookup))
        auth = self.authenticator
        if isinstance(auth, WebexOAuthAuthenticator):
            auth.token_accepted = True

    def _payload_of(self, response: requests.Response) -> Any:
        parsed, _, body = self._local.parsed
        if parsed is not response:  # not the answer validate_response saw last
            raise RuntimeError("parse_response called for an answer not validated")
        self._local.parsed = (None, None, None)
        return body

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        """A page's entries (a lookup's meeting), then a :class:`PageEnd` for QueryGuard."""
        lookup = self._local.parsed[1]
        body = self._payload_of(response)
        entries = [body] if lookup else body["items"]
        return [*entries, PageEnd(has_next="next" in response.links)]

    @override
    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """The SDK's retry loop, each try held while a 429 holds the gate; built once per
        stream. backoff's own logging off: :meth:`backoff_handler` and ``tap.py`` say it once."""
        if self._decorated is not None and self._decorated[0] == func:
            return self._decorated[1]
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
        self._decorated = (func, decorated)
        return decorated

    @override
    def backoff_max_tries(self) -> int:
        return self.settings.retry_max_tries

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """Waits from ``Retry-After``, else exponential (see :mod:`retries`)."""
        exception = yield 0.0
        attempt = 0
        while True:
            attempt += 1
            exception = yield retries.wait_before_retry(
                exception, attempt, self.settings.retry_max_wait_seconds
            )

    @override
    def backoff_jitter(self, value: float) -> float:
        return retries.jittered(value, self.settings.retry_max_wait_seconds)

    @override
    def backoff_handler(self, details: Details) -> None:
        """Log the retry as a WARNING; after repeated 504s, ask for smaller pages."""
        self.webex_tap.summary.count_retry()
        exception = details.get("exception")
        response = getattr(exception, "response", None)
        if isinstance(exception, RetriableAPIError) and response is not None:
            reason = str(exception)
            if response.status_code in answers.RATE_LIMITED:
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
            retries.whose(request, context),
            details.get("wait", 0.0),
            details["tries"],
            self.backoff_max_tries(),
            reason,
        )
