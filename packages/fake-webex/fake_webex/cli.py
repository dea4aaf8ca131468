"""``tap-webex-meetings-sandbox``: run the fake Webex in the foreground to try the tap.

The first two lines on stdout are machine-readable (``api_url=...``, ``access_token=...``)
so scripts and tests can start it with ``--port 0`` and read where it listens; a script
that must not read a log before it exists waits for ``--ready-file`` instead.

Its clock follows the wall clock (plus whatever ``/_sandbox/clock`` or ``--ahead-hours``
added), because the tap caps its bookmarks at its own wall-clock run start: a sandbox
behind that would hide state changes from a correct tap. ``--now`` pins a frozen clock.
``--anchor`` keeps the same meetings (same ids) across restarts on later days.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import TypeVar

from .faults import PRESETS, Faults, parse_faults
from .listing import LINK_QUIRKS
from .samples import bulk_series, default_series, history_series
from .series import SeriesSpec, parse_time
from .server import FakeWebex
from .tokens import DEFAULT_TOKEN

T = TypeVar("T")

HELP = """\
Fake Webex Meetings API running (clock: {now}, {clock}).
  Token {token} acts as {email}, an admin (hostEmail works), who sees {series} series.
  List series:  curl -H 'Authorization: Bearer {token}' \\
                  '{api}/meetings?meetingType=meetingSeries&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z'
  Move clock:   curl -X POST {base}/_sandbox/clock -d '{{"advance_hours": 24}}'
                (or -d '{{"now": "{later}"}}'; meetings end, instances appear)
  Delete:       curl -X DELETE -H 'Authorization: Bearer {token}' {api}/meetings/<meetingId>
                (a series id deletes the series, a scheduled meeting id one meeting)
  Move one:     curl -X PUT -H 'Authorization: Bearer {token}' \\
                  -H 'Content-Type: application/json' {api}/meetings/<scheduledMeetingId> \\
                  -d '{{"start": "{later}", "end": "{later_end}"}}'
  Faults:       curl -X POST {base}/_sandbox/faults -d '{{"rate_429": 0.2, "retry_after": "mixed"}}'
  Status:       curl {base}/_sandbox/status
  OAuth:        POST {api}/access_token with client_id=sandbox-client
                client_secret=sandbox-secret refresh_token=sandbox-refresh
Stop with Ctrl-C."""


def _arg(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Let argparse report a parser's own ValueError message instead of a generic one."""

    def wrapped(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return wrapped


def _quirks(text: str) -> set[str]:
    quirks = {q.strip() for q in text.split(",") if q.strip()}
    if quirks - LINK_QUIRKS:
        raise ValueError(f"link quirks must be among {', '.join(sorted(LINK_QUIRKS))}")
    return quirks


def _bulk(text: str) -> tuple[int, int]:
    """``COUNTxMEETINGS``, e.g. ``200x50``: see :func:`bulk_series`."""
    count, sep, meetings = text.lower().partition("x")
    if not sep or not count.isdigit() or not meetings.isdigit() or int(meetings) < 1:
        raise ValueError(f"expected COUNTxMEETINGS such as 200x50, not {text!r}")
    return int(count), int(meetings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tap-webex-meetings-sandbox",
        description="Run a local fake Webex Meetings API with realistic meeting series.",
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1", help="loopback addresses only")
    parser.add_argument(
        "--now",
        type=_arg(parse_time),
        help="freeze the clock at this moment (ISO 8601); default: follow the wall clock",
    )
    parser.add_argument(
        "--ahead-hours",
        type=float,
        default=0.0,
        help="start the clock this many hours ahead (of the wall clock, or of --now)",
    )
    parser.add_argument(
        "--anchor",
        type=_arg(parse_time),
        help="build the series around this moment (ISO 8601) instead of the clock's start, "
        "so that restarts on later days serve the same meetings",
    )
    parser.add_argument(
        "--faults",
        type=_arg(parse_faults),
        default=Faults(),
        help=f"preset ({', '.join(PRESETS)}) or JSON object of Faults fields",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault decisions")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument(
        "--link-quirks",
        type=_arg(_quirks),
        default=set(),
        help=f"comma-separated paging quirks: {', '.join(sorted(LINK_QUIRKS))}",
    )
    parser.add_argument(
        "--instance-cap",
        type=int,
        default=10_000,
        metavar="N",
        help="instances one query may list, like Webex's 10,000 (small: try a client's "
        "continuation past it)",
    )
    parser.add_argument(
        "--cap-ends-listing",
        action="store_true",
        help="at the cap the whole listing ends (scheduled meetings after it too), the other "
        "reading of Webex's words; default: only instances past the cap are dropped",
    )
    parser.add_argument(
        "--bulk",
        type=_arg(_bulk),
        metavar="COUNTxMEETINGS",
        help="serve COUNT synthetic series of MEETINGS hourly meetings each (benchmarks) "
        "instead of the default series",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="N",
        help="also serve N one-off meetings spread over the past year (a series each, as "
        "Webex has them): an organisation with a long history",
    )
    parser.add_argument("--verbose", action="store_true", help="log request lines to stderr")
    parser.add_argument(
        "--ready-file",
        type=Path,
        help="once it listens, write api_url=, access_token= and clock= lines to this file "
        "(atomically: it exists only when complete), for scripts that wait for the sandbox",
    )
    return parser


def _write_ready_file(path: Path, server: FakeWebex) -> None:
    """Written under another name and renamed, so a reader never sees it half-written."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(
        f"api_url={server.api_url}\naccess_token={DEFAULT_TOKEN}\n"
        f"clock=clock: {server.now.strftime('%Y-%m-%dT%H:%M:%SZ')}, {_clock_kind(server)}\n"
    )
    partial.replace(path)


def _clock_kind(server: FakeWebex) -> str:
    if not server.follows_wall_clock:
        return "frozen"
    hours = server.ahead_of_wall_clock.total_seconds() / 3600
    return f"wall clock + {hours:g} h" if hours else "the wall clock"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    faults: Faults = args.faults if args.seed is None else replace(args.faults, seed=args.seed)
    now: datetime | None = args.now
    ahead = timedelta(hours=args.ahead_hours)
    anchor: datetime = args.anchor or (now or datetime.now(timezone.utc)) + ahead
    try:
        series: list[SeriesSpec] = (
            default_series(anchor) if args.bulk is None else bulk_series(*args.bulk, now=anchor)
        ) + history_series(args.history, now=anchor)
        server = FakeWebex(
            series=series,
            now=now,
            follow_wall_clock=now is None,
            faults=faults,
            latency_seconds=args.latency_ms / 1000,
            host=args.host,
            port=args.port,
            link_quirks=args.link_quirks,
            instance_cap=args.instance_cap,
            cap_ends_listing=args.cap_ends_listing,
            verbose=args.verbose,
        )
        server.advance(ahead)
        server.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"tap-webex-meetings-sandbox: port {args.port} is in use; "
                "--port 0 picks a free one",
                file=sys.stderr,
            )
            return 1
        print(f"tap-webex-meetings-sandbox: cannot start: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"tap-webex-meetings-sandbox: cannot start: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        token = server.tokens[DEFAULT_TOKEN]
        print(f"api_url={server.api_url}")
        print(f"access_token={DEFAULT_TOKEN}")
        print(
            HELP.format(
                now=server.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                clock=_clock_kind(server),
                later=(server.now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                later_end=(server.now + timedelta(days=7, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                token=DEFAULT_TOKEN,
                email=token.email,
                series=len(server.series_ids(token.email)),
                api=server.api_url,
                base=server.base_url,
            ),
            flush=True,
        )
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, server)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
