"""Fault injection: what can go wrong between a client and Webex, reproducibly.

Random faults: every decision comes from one ``random.Random(seed)`` that draws the same
amount of randomness per request, so a sequential client sees the same faults on every
run. Scripted faults (:class:`Injections`): the next matching requests get a given answer.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from .replies import RecordedRequest, Reply, error_reply, is_meetings_request, json_reply, phrase

RETRY_AFTER_MODES = ("seconds", "http_date", "missing", "garbage")
GARBAGE_RETRY_AFTER = "rand(30),add(30)"  # seen in the wild from Webex
SERVER_ERRORS = (500, 502, 503, 504)


@dataclass(frozen=True)
class Faults:
    """Fault rates and shapes; everything is off by default.

    The ``rate_*`` of 429, 423, 5xx, reset, truncated and non-JSON are exclusive
    outcomes of one draw (their sum must be <= 1); slowness is drawn separately.
    """

    seed: int = 0
    rate_429: float = 0.0
    retry_after: str = "seconds"  # one of RETRY_AFTER_MODES, or "mixed" to cycle through them
    retry_after_seconds: int = 1
    rate_423: float = 0.0
    rate_5xx: float = 0.0
    rate_reset: float = 0.0  # close the connection without answering
    rate_truncated: float = 0.0  # 200 whose body is shorter than its Content-Length
    rate_non_json: float = 0.0  # 200 with an HTML body, like a proxy error page
    slow_seconds: float = 0.0
    rate_slow: float = 0.0
    stall_after: int | None = None  # after this many API requests, every request hangs
    stall_seconds: float = 30.0
    max_page_size: int | None = None  # `max` above this gets 504 "please try to reduce max"

    def __post_init__(self) -> None:
        rates = [getattr(self, f.name) for f in fields(self) if f.name.startswith("rate_")]
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("fault rates must be between 0 and 1")
        if sum(rates) - self.rate_slow > 1.0 + 1e-9:
            raise ValueError("exclusive fault rates add up to more than 1")
        if self.retry_after not in (*RETRY_AFTER_MODES, "mixed"):
            raise ValueError(f"retry_after must be one of {RETRY_AFTER_MODES} or 'mixed'")
        if self.retry_after_seconds < 0 or self.slow_seconds < 0 or self.stall_seconds < 0:
            raise ValueError("durations must not be negative")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        """Build from JSON-like data; unknown keys are an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as exc:  # e.g. a string where a rate belongs
            raise ValueError(f"invalid fault settings: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Faults] = {
    "none": Faults(),
    "flaky": Faults(rate_429=0.10, retry_after="mixed", rate_5xx=0.05, rate_reset=0.02),
}


def parse_faults(text: str) -> Faults:
    """A preset name (``none``, ``flaky``) or a JSON object of :class:`Faults` fields."""
    if text in PRESETS:
        return PRESETS[text]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"faults must be one of {sorted(PRESETS)} or a JSON object") from exc
    if isinstance(data, str) and data in PRESETS:
        return PRESETS[data]
    if not isinstance(data, dict):
        raise ValueError(f"faults must be one of {sorted(PRESETS)} or a JSON object")
    return Faults.from_dict(data)


@dataclass(frozen=True)
class Decision:
    """What to do with one API request.

    ``kind``: "ok", "throttle" (429/423), "error" (5xx), "too_large" (504 for max),
    "reset", "truncated" or "non_json". ``delay`` is slept before answering.
    """

    kind: str = "ok"
    status: int = 200
    delay: float = 0.0
    retry_after_header: str | None = None
    retry_after: float | None = None  # the seconds the header meant (None: missing/garbage)


class FaultInjector:
    """Turns a :class:`Faults` config into per-request decisions, thread-safely."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._requests = 0
        self._throttles = 0

    def decide(self, requested_max: int | None) -> Decision:
        f = self.faults
        with self._lock:
            self._requests += 1
            roll, slow_roll, code = self._rng.random(), self._rng.random(), self._rng.random()
            stalled = f.stall_after is not None and self._requests > f.stall_after
            delay = (f.stall_seconds if stalled else 0.0) + (
                f.slow_seconds if slow_roll < f.rate_slow else 0.0
            )
            if f.max_page_size is not None and (requested_max or 10) > f.max_page_size:
                return Decision("too_large", 504, delay)
            outcomes = (
                ("throttle", f.rate_429, 429),
                ("throttle", f.rate_423, 423),
                ("error", f.rate_5xx, SERVER_ERRORS[int(code * len(SERVER_ERRORS))]),
                ("reset", f.rate_reset, 0),
                ("truncated", f.rate_truncated, 200),
                ("non_json", f.rate_non_json, 200),
            )
            for kind, rate, status in outcomes:
                if roll < rate:
                    if kind == "throttle":
                        return self._throttle(status, delay)
                    return Decision(kind, status, delay)
                roll -= rate
            return Decision("ok", 200, delay)

    def _throttle(self, status: int, delay: float) -> Decision:
        f = self.faults
        mode = f.retry_after
        if mode == "mixed":
            mode = RETRY_AFTER_MODES[self._throttles % len(RETRY_AFTER_MODES)]
        self._throttles += 1
        header, meant = retry_after_header(mode, f.retry_after_seconds)
        return Decision("throttle", status, delay, header, meant)


def retry_after_header(mode: str, seconds: int) -> tuple[str | None, float | None]:
    """The Retry-After value for a mode, and how many seconds it asks a client to wait."""
    if mode == "seconds":
        return str(seconds), float(seconds)
    if mode == "http_date":
        # Rounded up, so a client waiting until that date waits at least `seconds`.
        return formatdate(math.ceil(time.time()) + seconds, usegmt=True), float(seconds)
    if mode == "garbage":
        return GARBAGE_RETRY_AFTER, None
    return None, None


def fault_reply(decision: Decision) -> Reply | None:
    """The answer a random fault replaces the real one with (None: answer normally)."""
    if decision.kind == "reset":
        return Reply(0, action="reset")
    if decision.kind == "too_large":
        return error_reply(
            504,
            "The server did not respond in time. "
            "If your query uses max parameter, please try to reduce it.",
        )
    if decision.kind == "error":
        return error_reply(decision.status, f"{phrase(decision.status)}. Try again later.")
    if decision.kind == "throttle":
        message = "Too many requests." if decision.status == 429 else "The resource is locked."
        reply = error_reply(decision.status, message)
        if decision.retry_after_header is not None:
            reply.headers["Retry-After"] = decision.retry_after_header
        reply.retry_after = decision.retry_after
        return reply
    return None


@dataclass
class _Injection:
    status: int
    times: int
    match: Callable[[RecordedRequest], bool] | None
    headers: dict[str, str]
    body: dict[str, Any] | str | None


class Injections:
    """Scripted answers for the next matching requests, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []

    def add(
        self,
        status: int,
        times: int,
        match: Callable[[RecordedRequest], bool] | None,
        headers: dict[str, str],
        body: dict[str, Any] | str | None,
    ) -> None:
        with self._lock:
            self._injections.append(_Injection(status, times, match, headers, body))

    def take(self, request: RecordedRequest) -> Reply | None:
        """The scripted answer to this request, used up; None when none matches."""
        if not request.path.startswith("/v1/"):
            return None
        with self._lock:
            for injection in self._injections:
                matcher = injection.match or is_meetings_request
                if injection.times > 0 and matcher(request):
                    injection.times -= 1
                    break
            else:
                return None
            self._injections = [i for i in self._injections if i.times > 0]
        return _scripted_reply(injection)


def _scripted_reply(injection: _Injection) -> Reply:
    if injection.status == 0:
        return Reply(0, action="reset")
    body = injection.body
    if isinstance(body, str):
        reply = Reply(injection.status, body.encode(), {"Content-Type": "text/plain"})
    elif body is not None:
        reply = json_reply(injection.status, body)
    elif injection.status >= 400:
        reply = error_reply(injection.status, f"{phrase(injection.status)}.")
    else:
        reply = json_reply(injection.status, {"items": []})
    reply.headers.update(injection.headers)
    retry_after = {k.lower(): v for k, v in injection.headers.items()}.get("retry-after")
    reply.retry_after = _retry_after_seconds(retry_after)
    return reply


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
