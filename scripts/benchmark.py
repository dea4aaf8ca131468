"""Performance benchmark of the installed ``tap-webex-meetings`` against the fake Webex.

Run it from the project's virtual environment (the tap must be installed in it)::

    .venv/bin/python scripts/benchmark.py                      # every case but the big ones
    .venv/bin/python scripts/benchmark.py --big --repeat 1     # also 10000x5 and 200k
    .venv/bin/python scripts/benchmark.py --case 20k --repeat 5 --json bench.json
    .venv/bin/python scripts/benchmark.py --case 200x50 --workers 8
    .venv/bin/python scripts/benchmark.py --case 2500x5 --profile output/tap.prof  # + cProfile
    .venv/bin/python scripts/benchmark.py --case 60k --case 200k --case 2500x5 --repeat 1 \
        --pipeline target-duckdb --pipeline target-postgres       # + `meltano run` into each

For each case a fake Webex (``tap-webex-meetings-sandbox --bulk``) is started in its own
process on 127.0.0.1, so it never shares a GIL or a core's time slice with what is
measured. Its records carry every property Webex documents, nested objects filled, as
Webex's fullest do (records thinner than Webex's would flatter the tap). Then, alternately
and ``--repeat`` times, two kinds of subprocess run against it:

* the **tap**: the ``tap-webex-meetings`` console script next to ``sys.executable``, with a
  config file, exactly as a user or Meltano runs it, stdout to a file;
* the **baseline**: a plain ``requests.Session`` loop that sends the same requests one at a
  time (same URL, params and headers as the tap's first page, then ``Link: rel="next"``,
  series after series, plus the same series lookup or discovery requests) and writes every
  series and meeting as a Singer RECORD line to the same kind of file. It is the cost of
  the HTTP requests and of the JSON in and out, without singer-sdk: what the tap could at
  best do with one request at a time.

With ``--pipeline LOADER`` (``target-duckdb``, ``target-webex-duckdb``, ``target-postgres``,
``target-webex-postgres``; repeatable) a third kind
runs in the same rotation: ``meltano run tap-webex-meetings LOADER`` in this project (after
``meltano install``), its plugins and loader settings as meltano.yml has them, the tap
pointed at the fake through environment variables. Each such run starts from a fresh Meltano
system database and an empty warehouse (a new DuckDB file; the PostgreSQL schema dropped, on
a throwaway server from ``scripts/ensure_postgres.sh``), prepared untimed. Its peak memory is
the peak of the summed RSS of Meltano, the tap and the loader (sampled every 0.1 s), its
CPU seconds those of the whole tree, and its ``rows`` are counted in the warehouse
afterwards: every meeting once (rows and distinct ids) and every series, or ``check`` fails.

After each run (not timed) its stdout file is read: meetings RECORD lines, and bytes per
message type (RECORD, STATE, ...). The files live in a temporary folder, or in ``--output
DIR`` (last run of each kind), where they are kept.

Cases (``--case``, repeatable; default: all but the big ones, which ``--big`` adds):

* ``500x5``, ``2500x5``, ``10000x5`` (big): that many series of 5 meetings, discovered by
  the tap (no ``meeting_series_ids``: ceil(series/100) discovery pages, then one query per
  series). Time per series, STATE bytes and peak RSS must not grow with the series count.
* ``20k``: one series of 20,000 meetings; ``60k`` and ``200k`` (big): one series of 60,000
  or 200,000 meetings.
  Both pass ``meeting_series_ids`` (one lookup request, then pages).
* ``200x50``: 200 series of 50 meetings, discovered, with 50 ms of server latency per
  request; the tap runs twice, with ``max_workers: 1`` and with its default (or
  ``--workers N``).

* ``history``: 50 recurring series plus H one-off meetings over the past year (H = 0 and
  20,000; ``--big`` adds 100,000), discovered, three runs a day apart; requests (against
  their floor), seconds and STATE of each run, and its own targets (``bench/history.py``).

The date range is exactly the one the bulk data covers: ``start_date`` is the first
meeting's start and ``end_date`` one hour after the last one's, so every generated meeting
is extracted.

Columns (each a median over the repetitions):

* ``records``: series_meetings RECORD lines on stdout; a run whose count is not
  series x meetings fails its ``check``.
* ``requests``: API requests the server recorded during one run (its ``/_sandbox/status``
  count before and after), and ``check``: ``ok`` when, in every run, the server's request
  log shows exactly the expected lookup / discovery requests and ceil(meetings/page_size)
  page requests for each series and date window, all answered 200.
* ``seconds``: wall time of the subprocess, from start to exit (Python start-up included).
* ``rec/s``: records / seconds.
* ``ratio``: baseline seconds / tap seconds (1.0: the tap is as fast as the bare loop).
* ``peak MiB``: the subprocess's peak resident memory (``ru_maxrss`` of ``os.wait4``).
* ``cpu s``: CPU seconds (user + system) of the subprocess; ``srv cpu s``: CPU seconds the
  fake server spent meanwhile (Linux). With one request at a time the two mostly take
  turns, so seconds ~ cpu s + srv cpu s + latency: what is left for the tap to win is
  its own ``cpu s``.
* ``RECORD MB``, ``STATE MB``, ``#STATE``: bytes of RECORD and STATE lines, STATE messages.

A second table puts the series cases side by side (ms per series, STATE/RECORD, size of
the last STATE). Below, ``targets`` compares the numbers with the project's goals: 2500x5
ratio >= 0.5, time per series at 2,500 (and 10,000) series <= 1.3x that at 500, STATE
bytes <= 1/4 of RECORD bytes, peak RSS at 2,500 series within 60 MiB of 500; 20k ratio >=
0.9; 200x50 parallel >= 5x ``max_workers=1``; 200k peak RSS within 20 MB of 20k; exact
request counts; with ``--pipeline``, for each loader: ``meltano run`` at most 2x the tap
alone's wall time at 60k, 200k and 2500x5, peak of the process tree at most 600 MiB at 200k
and within 100 MiB of 60k's. ``--check`` makes a missed target exit 1. A failed or
timed-out run always exits 2. ``--profile PATH`` adds one cProfile run of the tap per case
and reports its top cumulative entries.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType


def parse_args(
    argv: Sequence[str] | None, names: Sequence[str], loaders: Sequence[str]
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the installed tap-webex-meetings against the fake Webex.",
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=list(names),
        help="case to run (repeatable); default: all but the big ones",
    )
    parser.add_argument("--big", action="store_true", help="also run the big cases (10000x5, 200k)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind (median)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="max_workers of the parallel 200x50 run (default: the tap's own default)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds before any subprocess is killed"
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="keep what the runs print (last run of each kind) in DIR",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="after the runs, profile one more tap run with cProfile and print the top",
    )
    parser.add_argument(
        "--pipeline",
        action="append",
        choices=loaders,
        help="also time `meltano run tap-webex-meetings LOADER` in this project (repeatable)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers stop


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["--baseline-worker"]:  # the baseline subprocess: import little
        from bench.baseline import baseline_worker  # noqa: PLC0415

        return baseline_worker(Path(arguments[1]))
    from bench.cases import CASES, TAP_COMMAND  # noqa: PLC0415
    from bench.history import history_json, history_report, history_targets, run_history  # noqa: PLC0415
    from bench.pipeline import LOADERS, meltano_executable, missing_plugins  # noqa: PLC0415
    from bench.report import report, targets, to_json  # noqa: PLC0415
    from bench.runner import Bench, CaseResult  # noqa: PLC0415

    args = parse_args(arguments, [*CASES, "history"], LOADERS)
    names = args.case or [*(n for n, case in CASES.items() if args.big or not case.big), "history"]
    if not TAP_COMMAND.exists():
        print(f"{TAP_COMMAND} not found: run with the venv's python", file=sys.stderr)
        return 2
    if args.pipeline:
        if not meltano_executable().exists():
            print(
                f"{meltano_executable()} not found: see docs/meltano.md",
                file=sys.stderr,
            )
            return 2
        if missing := missing_plugins(args.pipeline):
            print(f"not installed: {', '.join(missing)}: run `meltano install`", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    results: dict[str, CaseResult] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tap-webex-bench-") as folder,
        Bench(args, Path(folder)) as bench,
    ):
        args.case = names
        history_runs = (
            run_history(args.timeout, Path(folder), big=args.big) if "history" in names else []
        )
        for name in names:
            if name == "history":
                continue
            case = CASES[name]
            print(f"{name}: {case.describe()}", file=sys.stderr, flush=True)
            results[name] = bench.run_case(case)
            failed = [r for row in results[name].rows.values() for r in row.runs if not r.ok]
            if failed:
                print(f"{name}: a run failed ({failed[0].check}); stopping", file=sys.stderr)
                report(results, bench)
                return 2
    total = time.perf_counter() - started
    if results:
        report(results, bench)
    if history_runs:
        history_report(history_runs)
    print(f"\nwhole benchmark: {total:.0f} s")
    if args.json is not None:
        data = to_json(results, bench, total)
        if history_runs:
            data["history"] = history_json(history_runs)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"results written to {args.json}")
    missed = [t for t in [*targets(results), *history_targets(history_runs)] if t["met"] is False]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers and runs were stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
