"""A local fake of the Webex Meetings API, for tests, a user sandbox and benchmarks.

It serves ``GET /v1/meetings`` (series queries and series discovery), ``GET
/v1/meetings/{id}``, ``GET /v1/meetingParticipants`` (participants.py), ``DELETE
/v1/meetings/{id}`` (a series or one scheduled meeting),
``PUT /v1/meetings/{scheduledMeetingId}`` (a new start and end), the OAuth refresh ``POST
/v1/access_token`` and a few unauthenticated ``/_sandbox/*`` control endpoints, from a
lazily generated dataset and a fake clock.
Everything a client did is kept in :attr:`FakeWebex.requests`, so tests can check how it
behaved (retries, waits, parameters), not only what it returned.

:class:`FakeWebex` composes the parts and routes requests to them: the clock
(clock.py), tokens and OAuth (tokens.py), faults (faults.py), the meetings endpoints
(meetings.py, listing.py), the control endpoints (control.py) and the HTTP server
(http_server.py).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, cast

from .clock import Clock, aware
from .control import control
from .dataset import Dataset
from .faults import Decision, FaultInjector, Faults, Injections, fault_reply
from .http_server import HttpServer, loopback_only
from .listing import LINK_QUIRKS
from .meetings import Meetings
from .params import lenient_int
from .participants import PATH as PARTICIPANTS_PATH
from .participants import Participants
from .query import Filters, series_page
from .replies import ApiError, RecordedRequest, Reply, error_reply, is_meetings_request
from .samples import default_series
from .series import Record, SeriesSpec
from .tokens import DEFAULT_EMAIL, DEFAULT_TOKEN, Auth, Token


class FakeWebex:
    """The fake Webex: construct, ``start()`` (or use as a context manager), point a client
    at :attr:`api_url`, then inspect :attr:`requests`.

    Knobs that may be changed while it runs: :attr:`faults`, :attr:`link_quirks`
    (subset of LINK_QUIRKS), :attr:`instance_cap` (instances one query may list),
    :attr:`cap_ends_listing` (at the cap the whole listing ends, not only its instances),
    :attr:`tokens`, :attr:`refresh_tokens` (remove one to make it "expired"),
    :attr:`rotate_refresh_tokens`, :attr:`token_lifetime_seconds`, :attr:`latency_seconds`,
    and the clock (:meth:`set_now`, :meth:`advance`). Meetings can be deleted and moved
    (:meth:`delete`, :meth:`move`, or over HTTP), series added (:meth:`add_series`) and
    extended (:meth:`extend`); :attr:`series` keeps every series it served, as last
    extended, :meth:`series_ids` only those not deleted.

    The clock is frozen at ``now`` (default :data:`DEFAULT_NOW`), so tests are repeatable.
    With ``follow_wall_clock=True`` it is the wall clock plus an offset that only
    :meth:`set_now` and :meth:`advance` change, never behind the wall clock (see
    :mod:`.clock`); ``now`` then sets where it starts (default: the wall clock itself).
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
        cap_ends_listing: bool = False,
        link_quirks: Iterable[str] = (),
        rotate_refresh_tokens: bool = False,
        token_lifetime_seconds: int = 1_209_600,
        oauth_email: str = DEFAULT_EMAIL,
        verbose: bool = False,
    ) -> None:
        self._host = loopback_only(host)
        self._port = port
        self._clock = Clock(now, follow_wall_clock=follow_wall_clock)
        self.series = tuple(default_series(self.now) if series is None else series)
        self._dataset = Dataset(self.series)
        self._meetings = Meetings(self._dataset, self)
        self._participants = Participants(self._dataset, self)
        default_token = {DEFAULT_TOKEN: Token(DEFAULT_EMAIL, admin=True)}
        self.tokens = dict(default_token if tokens is None else tokens)
        default_client = {"sandbox-client": "sandbox-secret"}
        self.oauth_clients = dict(default_client if oauth_clients is None else oauth_clients)
        self.refresh_tokens = set({"sandbox-refresh"} if refresh_tokens is None else refresh_tokens)
        self.faults = faults or Faults()
        self.latency_seconds = latency_seconds
        self.instance_cap = instance_cap
        self.cap_ends_listing = cap_ends_listing
        self.link_quirks = set(link_quirks)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.token_lifetime_seconds = token_lifetime_seconds
        self.refresh_token_lifetime_seconds = 7_776_000
        self.oauth_email = oauth_email
        self.verbose = verbose
        self._auth = Auth(self)
        self._injections = Injections()
        self._lock = threading.Lock()  # of the request log
        self._requests: list[RecordedRequest] = []
        self._http: HttpServer | None = None
        self._stopping = threading.Event()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeWebex:
        if self._http is not None:
            raise RuntimeError("FakeWebex is already running")
        self._stopping.clear()
        self._http = HttpServer(self, self._host, self._port)
        return self

    def stop(self) -> None:
        http, self._http = self._http, None
        if http is None:
            return
        self._stopping.set()  # wakes stalled or slow requests
        http.stop()

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
        if self._http is None:
            raise RuntimeError("FakeWebex is not running; call start() first")
        return self._http.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1"

    # --- clock, faults, recording ------------------------------------------------------

    @property
    def follows_wall_clock(self) -> bool:
        """Whether :attr:`now` is the wall clock plus :attr:`ahead_of_wall_clock`."""
        return self._clock.follows_wall_clock

    @property
    def now(self) -> datetime:
        return self._clock.now

    @property
    def ahead_of_wall_clock(self) -> timedelta:
        """How far a wall-clock-following clock is ahead (zero for a frozen clock)."""
        return self._clock.ahead_of_wall_clock

    def set_now(self, moment: datetime) -> None:
        """Move the clock to ``moment``; when following the wall clock, not behind it."""
        self._clock.set_now(moment)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta``; when following the wall clock, not behind it."""
        self._clock.advance(delta)

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
        self._injections.add(status, times, match, dict(headers or {}), body)

    # --- dataset views -----------------------------------------------------------------

    def series_ids(self, for_email: str | None = None) -> list[str]:
        """Series that exist (deleted ones are left out; :attr:`series` has them all)."""
        return self._dataset.ids(for_email)

    def add_series(self, spec: SeriesSpec) -> None:
        """A host schedules a new series (one-off or recurring) while the server runs.

        ValueError if the id is taken (deleted series keep theirs).
        """
        self._dataset.add(spec)
        self.series = (*self.series, spec)

    def extend(self, series_id: str, count: int) -> SeriesSpec:
        """A host extends a recurring series to ``count`` occurrences (an expired one turns
        active again); the longer series. LookupError: unknown or deleted; ValueError: not
        longer, or a one-off meeting.
        """
        longer = self._dataset.extend(series_id, count)
        self.series = tuple(longer if s.id == series_id else s for s in self.series)
        return longer

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
        return self._meetings.move(meeting_id, aware(start), None if end is None else aware(end))

    def expected_participants(self, meeting_id: str, at: datetime | None = None) -> list[Record]:
        """The participants Webex lists for a meeting instance at ``at`` (default now), with
        UTC timestamps, in API order; LookupError when it answers 404 (unknown, deleted,
        details not shown yet). Computed from the dataset, not over HTTP.
        """
        found = self._participants.of(meeting_id, at=None if at is None else aware(at))
        if found is None:
            raise LookupError(f"no participants listed for {meeting_id}")
        return found

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
        if aware(start) > aware(end):
            raise ValueError("start must not be after end")
        filters = Filters(meeting_type, state, is_modified)
        cap = self.instance_cap if apply_cap else sys.maxsize
        moment = self.now if at is None else aware(at)
        changes = self._dataset.changes(spec.id)
        items, _ = series_page(
            spec,
            moment,
            aware(start),
            aware(end),
            filters,
            cap=cap,
            cap_ends_listing=self.cap_ends_listing,
            changes=changes,
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
            return control(self, self._dataset, request, body)
        reply = self._injections.take(request) or self._route(request, body)
        status = 0 if reply.action == "reset" else reply.status
        items = 0 if reply.action == "truncate" else reply.items
        done = replace(request, status=status, items=items, retry_after=reply.retry_after)
        with self._lock:
            self._requests.append(done)
        return reply

    def _route(self, request: RecordedRequest, body: bytes) -> Reply:
        if request.path == "/v1/access_token":
            if request.method != "POST":
                return error_reply(405, "Method not allowed.")
            return self._auth.refresh(request)
        participants = request.path == PARTICIPANTS_PATH
        if not (participants or is_meetings_request(request)):
            return error_reply(404, "The requested resource could not be found.")
        one_meeting = request.path.startswith("/v1/meetings/")
        if request.method != "GET" and not (one_meeting and request.method in ("DELETE", "PUT")):
            return error_reply(405, "Method not allowed.")
        decision = Decision()
        try:
            token = self._auth.authenticate(request)
            decision = self._injector.decide(lenient_int(request.params.get("max")))
            self._pause(decision.delay)
            reply = fault_reply(decision) or (
                self._participants.answer(request, token)
                if participants
                else self._meetings.answer(request, token, body)
            )
        except ApiError as exc:
            reply = error_reply(exc.status, exc.message)
        if decision.kind == "non_json":
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Reply(200, html, {"Content-Type": "text/html"})
        if decision.kind == "truncated":
            reply.status, reply.action = 200, "truncate"
        return reply
