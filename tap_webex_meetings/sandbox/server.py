"""A local fake of the Webex Meetings API, for tests, a user sandbox and benchmarks.

It serves ``GET /v1/meetings`` (series queries and series discovery), ``GET
/v1/meetings/{id}``, ``DELETE /v1/meetings/{id}`` (a series or one scheduled meeting),
``PUT /v1/meetings/{scheduledMeetingId}`` (a new start and end), the OAuth refresh ``POST
/v1/access_token`` and a few unauthenticated ``/_sandbox/*`` control endpoints, from a
lazily generated dataset and a fake clock.
Everything a client did is kept in :attr:`FakeWebex.requests`, so tests can check how it
behaved (retries, waits, parameters), not only what it returned.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import secrets
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from typing_extensions import override

from .dataset import Dataset
from .faults import Decision, FaultInjector, Faults, parse_faults
from .occurrences import Position
from .query import Filters, series_page
from .records import scheduled_record, series_record, series_state
from .samples import default_series
from .series import UTC, Record, SeriesSpec, parse_time

T = TypeVar("T")

DEFAULT_NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DEFAULT_TOKEN = "sandbox-token"
DEFAULT_EMAIL = "alice@example.com"
ADMIN_SCOPE = "meeting:admin_schedule_read"
LINK_QUIRKS = frozenset({"drop_params", "max_null", "literal_string"})
DEFAULT_WINDOW = timedelta(days=7)
# "now" given in whole seconds may be that much behind the wall clock: taken as the wall clock.
CLOCK_TOLERANCE = timedelta(seconds=1)
JSON_TYPE = "application/json;charset=UTF-8"
MEETING_NOT_FOUND = "The requested meeting could not be found."


@dataclass(frozen=True)
class Token:
    """A bearer token; ``admin`` grants meeting:admin_schedule_read (for ``hostEmail``)."""

    email: str
    admin: bool = False
    expires_after_requests: int | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it and what it answered (status 0: connection reset).

    ``time`` is ``time.monotonic()`` at arrival; ``retry_after`` the seconds a 429/423
    Retry-After meant (None when it was missing or garbage). Form fields of a POST are
    merged into ``params``.
    """

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    items: int
    time: float
    retry_after: float | None = None


@dataclass
class _Injection:
    status: int
    times: int
    match: Callable[[RecordedRequest], bool] | None
    headers: dict[str, str]
    body: dict[str, Any] | str | None


@dataclass
class Reply:
    """A response before it is written; ``action`` may be "reset" or "truncate" instead."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    items: int = 0
    retry_after: float | None = None
    action: str = "send"


class ApiError(Exception):
    """Answered as a Webex error body with this status."""

    def __init__(self, status: int, message: str, *, oauth_error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.oauth_error = oauth_error


def _tracking_id() -> str:
    return f"ROUTER_{uuid.uuid4()}".upper()


def _json_reply(
    status: int, data: Any, headers: dict[str, str] | None = None, *, records: int | None = None
) -> Reply:
    """A JSON reply; ``records`` defaults to the length of an ``items`` list."""
    items = data.get("items") if isinstance(data, dict) else None
    count = records if records is not None else len(items) if isinstance(items, list) else 0
    all_headers = {"Content-Type": JSON_TYPE, "TrackingID": _tracking_id(), **(headers or {})}
    return Reply(status, json.dumps(data).encode(), all_headers, items=count)


def error_reply(status: int, message: str, *, oauth_error: str | None = None) -> Reply:
    """The Webex error body, with the same tracking id in the body and the header."""
    tracking = _tracking_id()
    body: dict[str, Any] = {"message": message, "errors": [{"description": message}]}
    if oauth_error:
        body = {"error": oauth_error, **body}
    body["trackingId"] = tracking
    return _json_reply(status, body, {"TrackingID": tracking})


def _loopback_only(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be a loopback address, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to listen on non-loopback address {host!r}")
    return host


def _encode_cursor(position: Position) -> str:
    raw = f"{position.occurrence}.{position.slot}.{position.instances}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str | None) -> Position | None:
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        occurrence, slot, instances = (int(part) for part in raw.split("."))
    except ValueError:
        raise ApiError(400, "Invalid cursor.") from None
    if min(occurrence, slot, instances) < 0:
        raise ApiError(400, "Invalid cursor.")
    return Position(occurrence, slot, instances)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], fake: FakeWebex) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    @override
    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.fake.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeWebex/1.0"
    # Headers and body go out in two writes: with Nagle on, a kept-alive client's delayed
    # ACK then stalls every response of more than a few kB by 40 ms.
    disable_nagle_algorithm = True

    @override
    def version_string(self) -> str:
        return self.server_version

    @property
    def _server(self) -> _Server:
        return cast(_Server, self.server)

    @override
    def setup(self) -> None:
        super().setup()
        with self._server.connections_lock:
            self._server.connections.add(self.connection)

    @override
    def finish(self) -> None:
        with self._server.connections_lock:
            self._server.connections.discard(self.connection)
        super().finish()

    @override
    def log_message(self, format: str, *args: Any) -> None:
        if self._server.fake.verbose:  # request lines carry no tokens; headers are not logged
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        arrived = time.monotonic()
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        if "form-urlencoded" in headers.get("content-type", ""):
            for name, values in parse_qs(body.decode(errors="replace")).items():
                params.setdefault(name, []).extend(values)
        request = RecordedRequest(self.command, url.path, params, headers, 0, 0, arrived)
        try:
            reply = self._server.fake.answer(request, body)
        except Exception as exc:  # a bug of the fake: make it loud, not a dropped connection
            traceback.print_exc()
            reply = error_reply(500, f"Sandbox error: {exc!r}")
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.action == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        body = reply.body
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if reply.action == "truncate":
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)


class FakeWebex:
    """The fake Webex: construct, ``start()`` (or use as a context manager), point a client
    at :attr:`api_url`, then inspect :attr:`requests`.

    Knobs that may be changed while it runs: :attr:`faults`, :attr:`link_quirks`
    (subset of LINK_QUIRKS), :attr:`instance_cap` (instances one query may list),
    :attr:`tokens`, :attr:`refresh_tokens` (remove one to make it "expired"),
    :attr:`rotate_refresh_tokens`, :attr:`token_lifetime_seconds`, :attr:`latency_seconds`,
    and the clock (:meth:`set_now`, :meth:`advance`). Meetings can be deleted and moved
    (:meth:`delete`, :meth:`move`, or over HTTP); :attr:`series` keeps every series it was
    built with, :meth:`series_ids` only those not deleted.

    The clock is frozen at ``now`` (default :data:`DEFAULT_NOW`), so tests are repeatable.
    With ``follow_wall_clock=True`` it is the wall clock plus an offset that only
    :meth:`set_now` and :meth:`advance` change, and that may never be negative: a tap's run
    start (its bookmark cap) is the wall clock, and a server behind it would hide state
    changes a correct tap must see. ``now`` then sets where it starts (default: the wall
    clock itself).
    """

    def __init__(
        self,
        series: list[SeriesSpec] | None = None,
        now: datetime | None = None,
        *,
        follow_wall_clock: bool = False,
        tokens: dict[str, Token] | None = None,
        oauth_clients: dict[str, str] | None = None,
        refresh_tokens: set[str] | None = None,
        faults: Faults | None = None,
        latency_seconds: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        instance_cap: int = 10_000,
        link_quirks: Iterable[str] = (),
        rotate_refresh_tokens: bool = False,
        token_lifetime_seconds: int = 1_209_600,
        oauth_email: str = DEFAULT_EMAIL,
        verbose: bool = False,
    ) -> None:
        self._host = _loopback_only(host)
        self._port = port
        self._lock = threading.RLock()
        self._follows_wall_clock = follow_wall_clock
        self._now = _aware(now or DEFAULT_NOW)  # the frozen clock
        self._offset = timedelta(0)  # ahead of the wall clock, when following it
        if follow_wall_clock:
            self._offset = self._checked_offset(_aware(now) - _wall_clock() if now else None)
        self.series = tuple(default_series(self.now) if series is None else series)
        self._dataset = Dataset(self.series)
        default_token = {DEFAULT_TOKEN: Token(DEFAULT_EMAIL, admin=True)}
        self.tokens = dict(default_token if tokens is None else tokens)
        default_client = {"sandbox-client": "sandbox-secret"}
        self.oauth_clients = dict(default_client if oauth_clients is None else oauth_clients)
        self.refresh_tokens = set({"sandbox-refresh"} if refresh_tokens is None else refresh_tokens)
        self.faults = faults or Faults()
        self.latency_seconds = latency_seconds
        self.instance_cap = instance_cap
        self.link_quirks = set(link_quirks)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.token_lifetime_seconds = token_lifetime_seconds
        self.refresh_token_lifetime_seconds = 7_776_000
        self.oauth_email = oauth_email
        self.verbose = verbose
        self._token_uses: dict[str, int] = {}
        self._requests: list[RecordedRequest] = []
        self._injections: list[_Injection] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeWebex:
        if self._httpd is not None:
            raise RuntimeError("FakeWebex is already running")
        self._stopping.clear()
        self._httpd = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fake-webex", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes stalled or slow requests
        httpd.shutdown()
        with httpd.connections_lock:
            for connection in list(httpd.connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeWebex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeWebex is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1"

    # --- clock, faults, recording ------------------------------------------------------

    @property
    def follows_wall_clock(self) -> bool:
        """Whether :attr:`now` is the wall clock plus :attr:`ahead_of_wall_clock`."""
        return self._follows_wall_clock

    @property
    def now(self) -> datetime:
        with self._lock:
            return _wall_clock() + self._offset if self._follows_wall_clock else self._now

    @property
    def ahead_of_wall_clock(self) -> timedelta:
        """How far a wall-clock-following clock is ahead (zero for a frozen clock)."""
        with self._lock:
            return self._offset

    def set_now(self, moment: datetime) -> None:
        """Move the clock to ``moment``; when following the wall clock, not behind it."""
        with self._lock:
            if self._follows_wall_clock:
                self._offset = self._checked_offset(_aware(moment) - _wall_clock())
            else:
                self._now = _aware(moment)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta``; when following the wall clock, not behind it."""
        with self._lock:
            if self._follows_wall_clock:
                self._offset = self._checked_offset(self._offset + delta)
            else:
                self._now += delta

    @staticmethod
    def _checked_offset(offset: timedelta | None) -> timedelta:
        """The offset, refused when behind the wall clock by more than a rounding error."""
        if offset is None:
            return timedelta(0)
        if offset < -CLOCK_TOLERANCE:
            raise ValueError(
                "the sandbox clock follows the wall clock and cannot go behind it "
                "(a tap would miss state changes); start it with --now for a frozen clock"
            )
        return max(offset, timedelta(0))

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._injector = FaultInjector(value)  # a new config restarts its random sequence

    @property
    def link_quirks(self) -> set[str]:
        """Paging quirks of the next links (see LINK_QUIRKS); the set may be edited in place."""
        return self._link_quirks

    @link_quirks.setter
    def link_quirks(self, value: Iterable[str]) -> None:
        quirks = set(value)
        if quirks - LINK_QUIRKS:
            raise ValueError(f"unknown link quirks: {', '.join(sorted(quirks - LINK_QUIRKS))}")
        self._link_quirks = quirks

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def inject(
        self,
        status: int,
        *,
        times: int = 1,
        match: Callable[[RecordedRequest], bool] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (0: reset).

        Without ``match`` it applies to ``/v1/meetings*``; pass a match to script
        ``/v1/access_token``. Scripted answers win over auth and random faults.
        """
        with self._lock:
            self._injections.append(_Injection(status, times, match, dict(headers or {}), body))

    # --- dataset views -----------------------------------------------------------------

    def series_ids(self, for_email: str | None = None) -> list[str]:
        """Series that exist (deleted ones are left out; :attr:`series` has them all)."""
        return self._dataset.ids(for_email)

    def delete(self, meeting_id: str) -> None:
        """What ``DELETE /v1/meetings/{meetingId}`` does, without HTTP, auth or recording.

        A series id deletes the whole series; a scheduled meeting id only that occurrence,
        with the instances it had or would have. Raises LookupError for an unknown or
        already deleted id (HTTP: 404) and ValueError for an instance id (HTTP: 400).
        """
        self._dataset.delete(meeting_id)

    def move(self, meeting_id: str, start: datetime, end: datetime | None = None) -> Record:
        """What ``PUT /v1/meetings/{scheduledMeetingId}`` with a new start and end does,
        without HTTP, auth or recording; returns the updated record (UTC times).

        The occurrence keeps its id, gets ``isModified: true`` and is listed by its new
        start. ``end`` defaults to the new start plus the occurrence's current duration.
        Raises LookupError for an unknown or deleted id (HTTP: 404) and ValueError when it
        is not a scheduled meeting, has started, or the new times are in the past or
        reversed (HTTP: 400).
        """
        return self._move(meeting_id, _aware(start), None if end is None else _aware(end))

    def deleted_ids(self) -> list[str]:
        """Deleted series ids, then deleted scheduled meeting ids of remaining series."""
        return self._dataset.deleted_ids()

    def expected_meetings(
        self,
        series_id: str,
        start: datetime,
        end: datetime,
        *,
        meeting_type: str | None = None,
        state: str | None = None,
        is_modified: bool | None = None,
        host_email: str | None = None,
        apply_cap: bool = False,
        at: datetime | None = None,
    ) -> list[Record]:
        """Every record of the series with start in [start, end), in API order, with UTC
        timestamps: what a correct client paging through that query receives. Computed
        from the dataset, not over HTTP.

        By default this is the whole truth, which a client must work around the instance
        cap to get; ``apply_cap=True`` gives what one query lists once :attr:`instance_cap`
        is reached. ``host_email`` must be able to see the series (else the API says 404).
        ``at`` asks for the records as of that moment of the clock instead of :attr:`now`
        (a clock that follows the wall clock moves while a client pages).
        """
        spec = self._dataset.get(series_id)
        if spec is None:  # the API answers 404 for it
            raise LookupError(f"unknown or deleted series {series_id}")
        if host_email is not None and not spec.visible_to(host_email):
            raise LookupError(f"{host_email} cannot see series {series_id}")
        if _aware(start) > _aware(end):
            raise ValueError("start must not be after end")
        filters = Filters(meeting_type, state, is_modified)
        cap = self.instance_cap if apply_cap else sys.maxsize
        moment = self.now if at is None else _aware(at)
        changes = self._dataset.changes(spec.id)
        items, _ = series_page(
            spec, moment, _aware(start), _aware(end), filters, cap=cap, changes=changes
        )
        return cast(list[Record], json.loads(json.dumps(items)))  # records share nested parts

    # --- request handling --------------------------------------------------------------

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def answer(self, request: RecordedRequest, body: bytes) -> Reply:
        """Answer one request and record it (before the answer is written, so a client
        that got its answer always finds its request recorded).
        """
        self._pause(self.latency_seconds)
        if request.path.startswith("/_sandbox/"):
            return self._control(request, body)
        reply = self._scripted(request) or self._route(request, body)
        status = 0 if reply.action == "reset" else reply.status
        items = 0 if reply.action == "truncate" else reply.items
        done = replace(request, status=status, items=items, retry_after=reply.retry_after)
        with self._lock:
            self._requests.append(done)
        return reply

    def _scripted(self, request: RecordedRequest) -> Reply | None:
        if not request.path.startswith("/v1/"):
            return None
        with self._lock:
            for injection in self._injections:
                matcher = injection.match or _is_meetings_request
                if injection.times > 0 and matcher(request):
                    injection.times -= 1
                    break
            else:
                return None
            self._injections = [i for i in self._injections if i.times > 0]
        return _scripted_reply(injection)

    def _route(self, request: RecordedRequest, body: bytes) -> Reply:
        if request.path == "/v1/access_token":
            if request.method != "POST":
                return error_reply(405, "Method not allowed.")
            return self._oauth(request)
        if not _is_meetings_request(request):
            return error_reply(404, "The requested resource could not be found.")
        one_meeting = request.path != "/v1/meetings"
        if request.method != "GET" and not (one_meeting and request.method in ("DELETE", "PUT")):
            return error_reply(405, "Method not allowed.")
        decision = Decision()
        try:
            token = self._authenticate(request)
            decision = self._injector.decide(_lenient_int(request.params.get("max")))
            self._pause(decision.delay)
            reply = _fault_reply(decision) or self._meetings(request, token, body)
        except ApiError as exc:
            reply = error_reply(exc.status, exc.message)
        if decision.kind == "non_json":
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Reply(200, html, {"Content-Type": "text/html"})
        if decision.kind == "truncated":
            reply.status, reply.action = 200, "truncate"
        return reply

    def _authenticate(self, request: RecordedRequest) -> Token:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise ApiError(
                401,
                "The request requires a valid access token set in the Authorization "
                "request header.",
            )
        with self._lock:
            token = self.tokens.get(value)
            if token is None:
                raise ApiError(401, "The provided access token is invalid.")
            uses = self._token_uses[value] = self._token_uses.get(value, 0) + 1
        if token.expires_after_requests is not None and uses > token.expires_after_requests:
            raise ApiError(401, "The provided access token has expired.")
        if request.params.get("hostEmail", [""])[-1] and not token.admin:
            raise ApiError(
                403,
                f"hostEmail requires the {ADMIN_SCOPE} scope: the caller is not an admin.",
            )
        return token

    def _meetings(self, request: RecordedRequest, token: Token, body: bytes) -> Reply:
        params = {name: values[-1] for name, values in request.params.items()}
        tz_name = _timezone(request.headers.get("timezone"))
        user = params.get("hostEmail") or token.email
        if request.path == "/v1/meetings":
            return self._list(request, params, user, tz_name)
        meeting_id = unquote(request.path.removeprefix("/v1/meetings/"))
        if request.method != "GET":
            owner = self._dataset.series_of(meeting_id)
            if owner is None or not (owner.visible_to(user) or token.admin):
                raise ApiError(404, MEETING_NOT_FOUND)
            if request.method == "DELETE":
                _as_api_error(self._dataset.delete, meeting_id)
                return Reply(204, headers={"TrackingID": _tracking_id()})
            start, end = _new_times(body)
            record = _as_api_error(self._move, meeting_id, start, end, tz_name)
            return _json_reply(200, record, records=1)
        spec = self._dataset.get(meeting_id)
        if spec is not None and (spec.visible_to(user) or token.admin):
            return _json_reply(200, series_record(spec, self.now, tz_name), records=1)
        found = self._dataset.find_scheduled(meeting_id)
        if found is not None and (found[0].visible_to(user) or token.admin):
            changes = self._dataset.changes(found[0].id)
            record = scheduled_record(found[0], found[1], self.now, tz_name, changes)
            return _json_reply(200, record, records=1)
        raise ApiError(404, MEETING_NOT_FOUND)

    def _move(
        self, meeting_id: str, start: datetime, end: datetime | None, tz_name: str = "UTC"
    ) -> Record:
        now = self.now
        spec, k = self._dataset.move(meeting_id, start, end, now)
        return scheduled_record(spec, k, now, tz_name, self._dataset.changes(spec.id))

    def _list(
        self, request: RecordedRequest, params: dict[str, str], user: str, tz_name: str
    ) -> Reply:
        limit = _parse_max(params.get("max"))
        try:
            modified = _parse_bool("isModified", params.get("isModified"))
            filters = Filters(params.get("meetingType"), params.get("state"), modified)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        now = self.now
        start, end = _window(params.get("from"), params.get("to"), filters.meeting_type, now)
        after = _decode_cursor(params.get("cursor"))
        if "meetingSeriesId" in params:
            spec = self._dataset.get(params["meetingSeriesId"])
            if spec is None or not spec.visible_to(user):
                raise ApiError(404, "The requested meeting series could not be found.")
            items, following = series_page(
                spec,
                now,
                start,
                end,
                filters,
                after=after,
                limit=limit,
                cap=self.instance_cap,
                tz_name=tz_name,
                changes=self._dataset.changes(spec.id),
            )
        else:
            if filters.meeting_type not in (None, "meetingSeries"):
                raise ApiError(400, "The sandbox lists scheduled meetings by meetingSeriesId only.")
            series = self._dataset.overlapping(user, start, end)
            series = [
                s for s in series if filters.accepts("meetingSeries", series_state(s, now), None)
            ]
            first = after.occurrence if after else 0
            # Only the page is rendered: discovery of n series stays O(n) per page.
            items = [series_record(s, now, tz_name) for s in series[first : first + limit]]
            following = Position(first + limit) if len(series) > first + limit else None
        headers = {}
        if following is not None:
            headers["Link"] = self._next_link(request.params, following, limit)
        return _json_reply(200, {"items": items}, headers)

    def _next_link(self, params: dict[str, list[str]], position: Position, limit: int) -> str:
        quirks = set(self.link_quirks)
        if "literal_string" in quirks:
            return "string"
        cursor = _encode_cursor(position)
        kept = (
            []
            if "drop_params" in quirks
            else [
                (name, value)
                for name, values in params.items()
                if name not in ("cursor", "max")
                for value in values
            ]
        )
        max_value = "null" if "max_null" in quirks else str(limit)
        query = urlencode([*kept, ("max", max_value), ("cursor", cursor)])
        return f'<{self.api_url}/meetings?{query}>; rel="next"'

    def _oauth(self, request: RecordedRequest) -> Reply:
        form = {name: values[-1] for name, values in request.params.items()}
        try:
            if form.get("grant_type") != "refresh_token":
                raise ApiError(
                    400, "grant_type must be refresh_token.", oauth_error="unsupported_grant_type"
                )
            client_id = form.get("client_id", "")
            if not client_id or self.oauth_clients.get(client_id) != form.get("client_secret"):
                raise ApiError(
                    401, "Invalid client_id or client_secret.", oauth_error="invalid_client"
                )
            with self._lock:
                refresh = form.get("refresh_token", "")
                if refresh not in self.refresh_tokens:
                    raise ApiError(
                        400, "The refresh token is invalid or expired.", oauth_error="invalid_grant"
                    )
                access = f"sandbox-at-{secrets.token_urlsafe(24)}"
                self.tokens[access] = Token(self.oauth_email, admin=True)
                if self.rotate_refresh_tokens:
                    self.refresh_tokens.discard(refresh)
                    refresh = f"sandbox-rt-{secrets.token_urlsafe(24)}"
                    self.refresh_tokens.add(refresh)
        except ApiError as exc:
            return error_reply(exc.status, exc.message, oauth_error=exc.oauth_error)
        return _json_reply(
            200,
            {
                "access_token": access,
                "expires_in": self.token_lifetime_seconds,
                "refresh_token": refresh,
                "refresh_token_expires_in": self.refresh_token_lifetime_seconds,
                "token_type": "Bearer",
            },
        )

    def _control(self, request: RecordedRequest, body: bytes) -> Reply:
        """Unauthenticated sandbox controls; not recorded in :attr:`requests`."""
        route = (request.method, request.path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/status"):
                return self._status()
            data = json.loads(body or b"{}")
            if route == ("POST", "/_sandbox/clock"):
                if "now" in data:
                    self.set_now(parse_time(str(data["now"])))
                elif "advance_hours" in data:
                    self.advance(timedelta(hours=float(data["advance_hours"])))
                else:
                    raise ValueError('send {"now": "<ISO 8601>"} or {"advance_hours": <number>}')
                return self._status()
            if route == ("POST", "/_sandbox/faults"):
                self.faults = parse_faults(body.decode() or "{}")
                return _json_reply(200, self.faults.to_dict())
        except (ValueError, TypeError, AttributeError) as exc:
            return error_reply(400, str(exc))
        return error_reply(404, "Unknown sandbox endpoint.")

    def _status(self) -> Reply:
        return _json_reply(
            200,
            {
                "now": _iso(self.now),
                "follows_wall_clock": self._follows_wall_clock,
                "ahead_of_wall_clock_hours": self.ahead_of_wall_clock.total_seconds() / 3600,
                "api_url": self.api_url,
                "series": self.series_ids(),
                "deleted": self.deleted_ids(),
                "moved": {
                    meeting_id: [_iso(start), _iso(end)]
                    for meeting_id, (start, end) in self._dataset.moved().items()
                },
                "requests": len(self.requests),
            },
        )


# --- helpers -----------------------------------------------------------------------------


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes given to FakeWebex must be timezone-aware")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_api_error(action: Callable[..., T], *args: Any) -> T:
    """Run a dataset change; its LookupError is Webex's 404, its ValueError a 400."""
    try:
        return action(*args)
    except LookupError:
        raise ApiError(404, MEETING_NOT_FOUND) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _new_times(body: bytes) -> tuple[datetime, datetime]:
    """``start`` and ``end`` of an "Update a Meeting" body (other fields are ignored)."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    fields = data if isinstance(data, dict) else {}
    times = [_parse_param(name, str(fields.get(name) or "")) for name in ("start", "end")]
    if times[0] is None or times[1] is None:
        raise ApiError(400, "start and end are required: ISO 8601 date-times.")
    return times[0], times[1]


def _is_meetings_request(request: RecordedRequest) -> bool:
    return request.path == "/v1/meetings" or request.path.startswith("/v1/meetings/")


def _lenient_int(values: list[str] | None) -> int | None:
    return int(values[-1]) if values and values[-1].isdigit() else None


def _parse_max(value: str | None) -> int:
    if value is None:
        return 10
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise ApiError(400, f"max must be an integer from 1 to 100, not {value!r}.")
    return int(value)


def _parse_bool(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{name} must be true or false, not {value!r}.")
    return value.lower() == "true"


def _timezone(value: str | None) -> str:
    if not value:
        return "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, f"Invalid timezone: {value!r}.") from None
    return value


def _window(
    start_text: str | None, end_text: str | None, meeting_type: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """Webex's defaults: a 7-day window before now for instances, after now otherwise."""
    given_start = _parse_param("from", start_text)
    given_end = _parse_param("to", end_text)
    if given_start is not None:
        start = given_start
        end = given_end or start + DEFAULT_WINDOW
    elif given_end is not None:
        start, end = given_end - DEFAULT_WINDOW, given_end
    elif meeting_type == "meeting":
        start, end = now - DEFAULT_WINDOW, now
    else:
        start, end = now, now + DEFAULT_WINDOW
    if start > end:
        raise ApiError(400, "from cannot be after to.")
    return start, end


def _parse_param(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ApiError(400, f"{name} is not an ISO 8601 date-time: {text!r}.") from None


def _fault_reply(decision: Decision) -> Reply | None:
    if decision.kind == "reset":
        return Reply(0, action="reset")
    if decision.kind == "too_large":
        return error_reply(
            504,
            "The server did not respond in time. "
            "If your query uses max parameter, please try to reduce it.",
        )
    if decision.kind == "error":
        return error_reply(decision.status, f"{_phrase(decision.status)}. Try again later.")
    if decision.kind == "throttle":
        message = "Too many requests." if decision.status == 429 else "The resource is locked."
        reply = error_reply(decision.status, message)
        if decision.retry_after_header is not None:
            reply.headers["Retry-After"] = decision.retry_after_header
        reply.retry_after = decision.retry_after
        return reply
    return None


def _scripted_reply(injection: _Injection) -> Reply:
    if injection.status == 0:
        return Reply(0, action="reset")
    body = injection.body
    if isinstance(body, str):
        reply = Reply(injection.status, body.encode(), {"Content-Type": "text/plain"})
    elif body is not None:
        reply = _json_reply(injection.status, body)
    elif injection.status >= 400:
        reply = error_reply(injection.status, f"{_phrase(injection.status)}.")
    else:
        reply = _json_reply(injection.status, {"items": []})
    reply.headers.update(injection.headers)
    retry_after = {k.lower(): v for k, v in injection.headers.items()}.get("retry-after")
    reply.retry_after = _retry_after_seconds(retry_after)
    return reply


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
