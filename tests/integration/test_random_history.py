"""Random histories of an organisation and its pipelines: no meeting lost or deleted in silence.

A Hypothesis state machine changes the fake Webex (series created, extended, deleted, moved,
the clock moved by minutes to weeks, a host added) and runs the real tap in process the way
a scheduler does (nightly, killed and resumed from its last STATE, ``--full-refresh``, every
shard of a split in any order, a changed split, an earlier ``start_date``), applying every
run's messages to a reference warehouse (:mod:`tests.history_model`). After every complete
run it checks what the README promises:

- the live ``series_meetings`` rows are exactly what Webex lists over the configured range
  at the run's start (nothing missing, no ghost, no tombstone for a meeting Webex has);
- every series a state keeps as ``finished`` is over in Webex;
- each run's requests stay within the README's cost rule (an upper bound, see
  :func:`tests.history_model.request_bound`);
- the participants emitted over the history are the fake's participants of every instance
  it shows ended (each at least once), and none of an instance not ended.

Documented limitations are encoded (``allowed``: rows that may stay): Webex only lets a host
delete what has not happened, and a run remembers only upcoming meetings, so the rows of a
deleted series that started before its deletion may stay; so may the rows a full refresh
cannot drop (sharded: no ACTIVATE_VERSION) of meetings deleted before it; and, after a
changed split, the meetings of a series that moved to another shard's state, deleted after
its last run in the old shard and before its first run in the new one (the new shard does
not remember them; the README, "Past one machine: shards").

Profiles (``HYPOTHESIS_PROFILE``): ``ci`` (default; fixed seed, no example database),
``long`` (thousands of histories, for a night).
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from fake_webex import DEFAULT_NOW, FakeWebex, SeriesSpec
from fake_webex.series import stable_hex
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule
from typing_extensions import override

from tap_webex_meetings import state as tap_state
from tap_webex_meetings.tap import TapWebexMeetings
from tests.history_model import (
    MEETINGS,
    PARTICIPANTS,
    UTC,
    LastRun,
    Scope,
    Warehouse,
    attendance_truth,
    finished_of,
    is_over,
    participant_problems,
    request_bound,
    truth,
)
from tests.tap_runner import TapOutput, every_stream_selected, sync_tap

settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=False,
)
settings.register_profile(
    "long",
    max_examples=5000,
    stateful_step_count=40,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

START = DEFAULT_NOW
START_DATE = START - timedelta(days=30)
LOOKAHEAD_DAYS, LOOKBACK_DAYS, PAGE_SIZE = 7, 1, 3
HOSTS = ("alice@example.com", "bob@example.com", "carol@example.com")
OTHER_HOSTS = HOSTS[1:]
KINDS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
CLOCK_STEPS = (5, 10, 16, 30, 60, 6 * 60, 24 * 60, 3 * 24 * 60, 14 * 24 * 60)  # minutes
SPLITS = (1, 2, 3)
ORDERS = st.permutations(range(max(SPLITS)))
FAR_PAST, FAR_FUTURE = START - timedelta(days=3650), START + timedelta(days=3650)


def start_of(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["start"]).replace("Z", "+00:00")).astimezone(UTC)


class History(RuleBasedStateMachine):
    """One organisation (alice, the token's user; bob and carol) and its pipelines."""

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeWebex(series=[], now=START).start()
        self.warehouse = Warehouse()
        self.states: dict[str, dict[str, Any]] = {}  # one per Meltano state id
        self.last: dict[str, LastRun] = {}  # each state id's last complete run
        self.start_date = START_DATE
        self.hosts: tuple[str, ...] = ()
        self.shards = 1
        self.allowed: set[str] = set()  # rows that may stay although Webex lacks them
        self.moved: dict[str, dict[str, tuple[datetime, datetime]]] = {}  # series -> id ->
        self.read_in: dict[str, str] = {}  # series -> state id of its last complete run
        self.deleted_since: dict[str, set[str]] = {}  # series -> deleted since that run
        self.made = 0
        self.wall = START.timestamp()
        self.runs = 0
        self.attended: set[tuple[str, str]] = set()  # participants emitted, ever

    @override
    def teardown(self) -> None:
        self.fake.stop()

    # --- Webex changes ------------------------------------------------------------------

    def _add(self, host: str, **fields: Any) -> None:
        self.made += 1
        self.fake.add_series(
            SeriesSpec(
                id=stable_hex("random-history", self.made),
                title=f"Series {self.made}",
                host_email=host,
                host_name=host.partition("@")[0].title(),
                **fields,
            )
        )

    @rule(
        host=st.sampled_from(HOSTS),
        kind=st.sampled_from(sorted(KINDS)),
        hours=st.integers(-24 * 45, 24 * 10),
        count=st.integers(1, 6),
        minutes=st.sampled_from((15, 30, 60)),
        missed_every=st.sampled_from((0, 2, 3)),
        restarted_every=st.sampled_from((0, 2)),
    )
    def new_series(
        self,
        host: str,
        kind: str,
        hours: int,
        count: int,
        minutes: int,
        missed_every: int,
        restarted_every: int,
    ) -> None:
        self._add(
            host,
            first_start=self._hour(hours),
            interval=KINDS[kind],
            count=count,
            duration=timedelta(minutes=minutes),
            missed_every=missed_every,
            restarted_every=restarted_every,
        )

    @rule(host=st.sampled_from(HOSTS), hours=st.integers(-24 * 20, 24 * 10), missed=st.booleans())
    def one_off(self, host: str, hours: int, missed: bool) -> None:
        self._add(
            host,
            first_start=self._hour(hours),
            interval=timedelta(days=1),
            count=1,
            duration=timedelta(minutes=30),
            missed_every=int(missed),
            recurring=False,
        )

    def _hour(self, hours: int) -> datetime:
        """``hours`` from the clock's hour; once a pipeline ran, not in the past (a host
        schedules meetings ahead: the past is the history the first run finds).
        """
        if self.runs:
            hours = abs(hours) + 1
        now = self.fake.now
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)

    def _live(self) -> list[SeriesSpec]:
        alive = set(self.fake.series_ids())
        return [spec for spec in self.fake.series if spec.id in alive]

    def _upcoming(self) -> list[tuple[str, datetime]]:
        """Scheduled meetings that have not started (only those can be deleted or moved)."""
        now = self.fake.now
        found = []
        for spec in self._live():
            for record in self.fake.expected_meetings(
                spec.id, now, FAR_FUTURE, meeting_type="scheduledMeeting"
            ):
                if start_of(record) > now + timedelta(minutes=10):
                    found.append((record["id"], start_of(record)))
        return found

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 50))
    def delete_series(self, pick: int) -> None:
        live = self._live()
        spec = live[pick % len(live)]
        now = self.fake.now
        happened = self.fake.expected_meetings(spec.id, FAR_PAST, FAR_FUTURE)
        self.allowed |= {r["id"] for r in happened if start_of(r) < now}
        self._deleted(spec.id, {r["id"] for r in happened})
        self.fake.delete(spec.id)

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 50))
    def delete_meeting(self, pick: int) -> None:
        upcoming = self._upcoming()
        if upcoming:
            meeting_id = upcoming[pick % len(upcoming)][0]
            self.fake.delete(meeting_id)
            series_id = meeting_id.partition("_")[0]
            self.moved.get(series_id, {}).pop(meeting_id, None)
            self._deleted(series_id, {meeting_id})

    def _deleted(self, series_id: str, meeting_ids: set[str]) -> None:
        if series_id in self.read_in:
            self.deleted_since.setdefault(series_id, set()).update(meeting_ids)

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 50), hours=st.integers(1, 24 * 5))
    def move_meeting(self, pick: int, hours: int) -> None:
        upcoming = self._upcoming()
        if not upcoming:
            return
        meeting_id, _ = upcoming[pick % len(upcoming)]
        record = self.fake.move(meeting_id, self._hour(hours))
        series_id = meeting_id.partition("_")[0]
        times = (start_of(record), start_of({"start": record["end"]}))
        self.moved.setdefault(series_id, {})[meeting_id] = times

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 50), more=st.integers(1, 4))
    def extend_finished(self, pick: int, more: int) -> None:
        now = self.fake.now
        over = [s for s in self._live() if s.recurring and s.last_end <= now]
        if over:
            spec = over[pick % len(over)]
            first_new = (now - spec.first_start) // spec.interval + 1  # the next one ahead
            longer = self.fake.extend(spec.id, first_new + more)
            for k in range(spec.count, first_new):  # a host schedules ahead, not in the past
                self.fake.delete(f"{spec.id}_{longer.start_of(k):%Y%m%dT%H%M%SZ}")

    @rule(minutes=st.sampled_from(CLOCK_STEPS))
    def advance_clock(self, minutes: int) -> None:
        self.fake.advance(timedelta(minutes=minutes))

    # --- configuration ------------------------------------------------------------------

    @precondition(lambda self: len(self.hosts) < len(OTHER_HOSTS))
    @rule(host=st.sampled_from(OTHER_HOSTS))
    def add_host(self, host: str) -> None:
        if host not in self.hosts:
            self.hosts = (*self.hosts, host)

    @rule(days=st.integers(1, 20))
    def earlier_start_date(self, days: int) -> None:
        self.start_date -= timedelta(days=days)

    @rule(count=st.sampled_from(SPLITS))
    def change_split(self, count: int) -> None:
        self.shards = count

    # --- pipelines ----------------------------------------------------------------------

    @rule(order=ORDERS)
    def nightly(self, order: list[int]) -> None:
        for index in self._shards(order):
            self._run(index)
        self._check()

    @rule(order=ORDERS, victim=st.integers(0, 2), cut=st.integers(0, 999))
    def killed_and_resumed(self, order: list[int], victim: int, cut: int) -> None:
        """Every shard runs; one is killed after a random message, then resumed."""
        shards = self._shards(order)
        killed = shards[victim % len(shards)]
        for index in shards:
            if index == killed:
                self._run(index, cut=cut)
            self._run(index)
        self._check()

    @rule(order=ORDERS)
    def full_refresh(self, order: list[int]) -> None:
        """``--full-refresh`` of every shard: each starts without state."""
        if self.shards > 1:  # no ACTIVATE_VERSION: what was deleted before may stay
            now = self.fake.now
            self.allowed |= self.warehouse.live_ids() - truth(self.fake, self._scope(), now)
        for index in self._shards(order):
            self.states.pop(self._state_id(index), None)
            self.last.pop(self._state_id(index), None)
            self._run(index)
        self._check()

    def _shards(self, order: list[int]) -> list[int]:
        return [index for index in order if index < self.shards]

    def _state_id(self, index: int) -> str:
        """Meltano's state id: the plain pipeline's, or a shard's (as the Airflow DAG has)."""
        return "all" if self.shards == 1 else f"shard-{index}"

    def _scope(self, index: int = 0, count: int = 1) -> Scope:
        return Scope(
            self.start_date,
            self.hosts,
            timedelta(days=LOOKAHEAD_DAYS),
            timedelta(days=LOOKBACK_DAYS),
            index,
            count,
        )

    def _config(self, index: int) -> dict[str, Any]:
        config: dict[str, Any] = {
            "api_url": self.fake.api_url,
            "access_token": "sandbox-token",
            "start_date": self.start_date.isoformat(),
            "lookahead_days": LOOKAHEAD_DAYS,
            "lookback_days": LOOKBACK_DAYS,
            "page_size": PAGE_SIZE,
            "max_workers": 2,
            "retry_max_tries": 1,
        }
        if self.hosts:
            config["host_emails"] = list(self.hosts)
        if self.shards > 1:  # alternately as the DAG (a plan) and by hand
            if index % 2:
                config["shard_plan"] = f"{index}/{self.shards}"
            else:
                config.update(shard_count=self.shards, shard_index=index)
        return config

    def _run(self, index: int, cut: int | None = None) -> None:
        """One pipeline: the tap with its state id's state, its messages into the warehouse.

        ``cut`` (per mille of the messages): killed after that message; the warehouse got
        the messages up to it, the state is the last STATE among them.
        """
        state_id = self._state_id(index)
        state = self.states.get(state_id, {})
        now = self.fake.now
        scope = self._scope(index, self.shards)
        bound = request_bound(
            self.fake, scope, state, self.last.get(state_id), now, PAGE_SIZE, self.moved
        )
        for series_id in [s for s in self.deleted_since if scope.in_shard(s)]:
            if self.read_in[series_id] != state_id:  # moved here: the limitation
                self.allowed |= self.deleted_since.pop(series_id)
        self.fake.clear_requests()
        out = self._sync(self._config(index), state, now)
        requests = sum(r.path.startswith("/v1/meetings") for r in self.fake.requests)
        messages = out.messages
        if cut is not None:
            messages = messages[: cut * len(messages) // 1000 + 1]
        self.load(messages)
        people = [
            m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == PARTICIPANTS
        ]
        wrong = participant_problems(self.fake, people, now)
        assert not wrong, f"participants that Webex does not list so: {wrong[:3]}"
        self.attended |= {(person["meetingId"], person["id"]) for person in people}
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        if states:
            self.states[state_id] = copy.deepcopy(states[-1])
        if cut is None:
            self.last[state_id] = LastRun(now, scope)
            for spec in self.fake.series:
                if scope.in_shard(spec.id):
                    self.read_in[spec.id] = state_id
                    self.deleted_since.pop(spec.id, None)
            assert requests <= bound, (
                f"run {state_id} made {requests} requests, the README's rule allows {bound}"
            )
            tombstoned = {
                m["record"]["id"]
                for m in messages
                if m["type"] == "RECORD"
                and m["stream"] == MEETINGS
                and m["record"].get("_sdc_deleted_at")
            }
            wrongly = tombstoned & truth(self.fake, self._scope(), now)
            assert not wrongly, f"tombstones for meetings Webex has: {sorted(wrongly)}"

    def _sync(self, config: dict[str, Any], state: dict[str, Any], now: datetime) -> TapOutput:
        """The tap in process, its clock the fake's, STATE after every series (so a kill
        can land between two).

        The SDK's wall clock (the full extract's table version) moves a second per run at
        least, as runs of a scheduler do.
        """
        self.wall = max(self.wall + 1, now.timestamp())
        wall: Callable[[], float] = lambda: self.wall  # noqa: E731
        with mock.patch.object(time, "time", wall):
            tap = TapWebexMeetings(
                config=config,
                state=copy.deepcopy(state),
                catalog=copy.deepcopy(every_stream_selected()),
                run_start=now,
            )
        self.runs += 1
        logging.disable(logging.WARNING)  # thousands of runs: their lines are not the point
        try:
            with mock.patch.object(tap_state, "STATE_INTERVAL_SECONDS", 0.0):
                return sync_tap(tap)
        finally:
            logging.disable(logging.NOTSET)

    def load(self, messages: list[dict[str, Any]]) -> None:
        """What a loader gets of one run: here the reference warehouse only."""
        self.warehouse.apply(messages)

    # --- invariants ---------------------------------------------------------------------

    def _check(self) -> None:
        """After every complete run of every shard: rows = Webex's truth; finished = over."""
        now = self.fake.now
        expected = truth(self.fake, self._scope(), now)
        live = self.warehouse.live_ids()
        missing = sorted(expected - live)
        ghosts = sorted(live - expected - self.allowed)
        assert not missing, f"meetings Webex has, missing from the warehouse: {missing}"
        assert not ghosts, f"rows of meetings Webex does not have: {ghosts}"
        unread = sorted(attendance_truth(self.fake, self._scope(), now) - self.attended)
        assert not unread, f"participants of ended instances never emitted: {unread[:5]}"
        self.check_loaders(live)
        for index in range(self.shards):
            state = self.states.get(self._state_id(index), {})
            scope = self._scope(index, self.shards)
            for series_id in finished_of(state):
                if scope.in_shard(series_id):
                    assert is_over(self.fake, series_id, now), f"{series_id} finished, not over"

    def check_loaders(self, live: set[str]) -> None:
        """Real loaders' live rows against the reference's (none here)."""


TestRandomHistory = History.TestCase
TestRandomHistory.settings = PROFILE


# --- the histories it found, shrunk, kept as they were printed ------------------------------


def replay(*steps: Callable[[History], object]) -> None:
    """Run a shrunk history step by step, as Hypothesis printed it."""
    history = History()
    try:
        for step in steps:
            step(history)
    finally:
        history.teardown()


def test_a_full_extract_that_finds_no_series_drops_the_meetings_of_deleted_ones() -> None:
    """A fresh pipeline (here: the split went back to 1) finds no series: it must still
    activate its version of ``series_meetings``, or the deleted series' meetings stay.
    """
    replay(
        lambda state: state.change_split(count=2),
        lambda state: state.new_series(
            count=1,
            host="alice@example.com",
            hours=0,
            kind="daily",
            minutes=15,
            missed_every=0,
            restarted_every=0,
        ),
        lambda state: state.killed_and_resumed(cut=0, order=[0, 1, 2], victim=0),
        lambda state: state.delete_series(pick=0),
        lambda state: state.change_split(count=1),
        lambda state: state.nightly(order=[0, 1, 2]),
    )


def test_a_meeting_deleted_just_before_a_new_split_keeps_its_row_until_a_full_refresh() -> None:
    """The documented limitation of a changed split: the old split's state remembered the
    upcoming meeting, the new shard does not, so its row stays; one unsharded
    ``--full-refresh`` (ACTIVATE_VERSION) drops it.
    """
    history = History()
    try:
        history.one_off(host="alice@example.com", hours=25, missed=False)
        history.nightly(order=[0, 1, 2])
        (meeting,) = history.warehouse.live_ids()
        history.delete_series(pick=0)
        history.change_split(count=3)
        history.nightly(order=[0, 1, 2])
        assert history.warehouse.live_ids() == {meeting}, "the limitation: its row stays"
        assert meeting in history.allowed, "and the model allows it"
        history.change_split(count=1)
        history.full_refresh(order=[0, 1, 2])
        assert history.warehouse.live_ids() == set()
    finally:
        history.teardown()


def test_a_run_after_every_series_finished_keeps_their_meetings() -> None:
    """Issue 31, failure 1: every known series finished, so the state holds no partition;
    the next run took itself for a full extract, and its ACTIVATE_VERSION dropped the
    finished series' meetings when it found a new one.
    """
    replay(
        lambda state: state.one_off(host="alice@example.com", hours=-72, missed=False),
        lambda state: state.nightly(order=[0, 1, 2]),
        lambda state: state.new_series(
            host="alice@example.com",
            kind="daily",
            hours=24,
            count=2,
            minutes=30,
            missed_every=0,
            restarted_every=0,
        ),
        lambda state: state.nightly(order=[0, 1, 2]),
    )


def test_a_killed_first_run_that_finished_a_series_keeps_its_meetings() -> None:
    """Failure 1 as the machine found it on main (ci profile): the killed first run's last
    STATE had finished the old one-off meeting and had no partition yet, so the resumed run
    was a full extract and its ACTIVATE_VERSION dropped the one-off's rows.
    """
    replay(
        lambda state: state.add_host(host="bob@example.com"),
        lambda state: state.advance_clock(minutes=5),
        lambda state: state.one_off(host="alice@example.com", hours=-374, missed=False),
        lambda state: state.new_series(
            count=5,
            host="alice@example.com",
            hours=0,
            kind="daily",
            minutes=15,
            missed_every=0,
            restarted_every=0,
        ),
        lambda state: state.killed_and_resumed(cut=223, order=[0, 1, 2], victim=0),
    )


def test_a_run_resumed_after_every_series_finished_keeps_their_meetings() -> None:
    """Failure 1 as the machine found it (with the fix of the empty full extract applied):
    the killed first run finished the only series, so its last STATE held no partition; the
    resumed run took itself for a full extract and dropped the finished series' meetings.
    """
    replay(
        lambda state: state.add_host(host="bob@example.com"),
        lambda state: state.add_host(host="carol@example.com"),
        lambda state: state.one_off(host="alice@example.com", hours=0, missed=False),
        lambda state: state.advance_clock(minutes=20160),
        lambda state: state.advance_clock(minutes=5),
        lambda state: state.killed_and_resumed(cut=643, order=[0, 1, 2], victim=0),
    )


def test_an_earlier_start_date_extracts_the_earlier_meetings_of_known_series() -> None:
    """Each known series goes on from its bookmark: the weeks before the old ``start_date``
    were never read (the README: discovery goes over the whole range again, no more).
    """
    replay(
        lambda state: state.new_series(
            host="alice@example.com",
            kind="weekly",
            hours=-24 * 40,
            count=8,
            minutes=30,
            missed_every=0,
            restarted_every=0,
        ),
        lambda state: state.nightly(order=[0, 1, 2]),
        lambda state: state.earlier_start_date(days=20),
        lambda state: state.nightly(order=[0, 1, 2]),
    )
