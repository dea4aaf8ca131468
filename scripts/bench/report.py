"""Tables, targets and JSON of a benchmark's results."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from .cases import PAGE_SIZE, TAP_COMMAND
from .runner import Bench, CaseResult, Row

# The targets of issue 8 (tap and baseline measured in the same run).
MIN_RATIO_2500 = 0.5  # 2,500 series x 5: tap at least half the baseline's speed
MAX_PER_SERIES_GROWTH = 1.3  # tap seconds per series at 2,500 (and 10,000) vs at 500
MAX_STATE_SHARE = 0.25  # STATE bytes at most a quarter of RECORD bytes
MAX_RSS_GROWTH_MIB = 60  # peak RSS at 2,500 series within this of 500 series
MIN_RATIO_20K = 0.9  # 1 series x 20,000 full records
MIN_PARALLEL_SPEEDUP = 5.0  # 200 x 50 at 50 ms: default workers vs max_workers 1
MAX_RSS_GROWTH_200K_MB = 20  # 200,000 meetings vs 20,000: flat in the number of records
SMALL, LARGE, HUGE = "500x5", "2500x5", "10000x5"
# The targets of issue 17: `meltano run` (the whole process tree) against the tap alone.
MAX_PIPELINE_FACTOR = 2.0  # pipeline wall time at most this x the tap's, in the same run
MAX_PIPELINE_PEAK_MIB = 600  # at 200,000 meetings
MAX_PIPELINE_GROWTH_MIB = 100  # 200,000 meetings vs 60,000
PIPELINE_CASES = ("60k", "200k", LARGE)


def goal(
    name: str, value: float | None, bound: float, *, at_least: bool = False, unit: str = ""
) -> dict[str, Any]:
    """One target: its value and met / missed against ``bound``; n/a (None) when not run."""
    if value is None:
        return {"target": name, "value": "not run", "met": None}
    met = value >= bound if at_least else value <= bound
    return {"target": name, "value": f"{value:.2f}{unit}", "met": met}


def blank_or(value: float | None) -> str:
    """A table cell: two decimals, or blank for what was not measured."""
    return "" if value is None else f"{value:.2f}"


def tap_row(result: CaseResult) -> Row | None:
    row = result.rows.get("tap")
    return row if row is not None and row.runs else None


def per_series(result: CaseResult) -> float | None:
    """Tap seconds per series."""
    row = tap_row(result)
    return None if row is None else row.seconds / result.case.series


def state_share(result: CaseResult) -> float | None:
    """STATE bytes / RECORD bytes on the tap's stdout."""
    row = tap_row(result)
    if row is None or not row.median("record_bytes"):
        return None
    return row.median("state_bytes") / row.median("record_bytes")


def speedup(result: CaseResult) -> float | None:
    serial = result.rows.get("tap max_workers=1")
    parallel = [r for label, r in result.rows.items() if label.startswith("tap ") and r != serial]
    if serial is None or not parallel or not serial.runs or not parallel[0].runs:
        return None
    return serial.seconds / parallel[0].seconds


def pipeline_rows(result: CaseResult) -> list[Row]:
    return [row for row in result.rows.values() if row.runs and row.runs[0].loader]


def pipeline_factor(result: CaseResult, row: Row) -> float | None:
    """Pipeline seconds / the tap alone's seconds, in the same run."""
    tap = tap_row(result)
    return None if tap is None else row.seconds / tap.seconds


def format_pipelines(results: list[CaseResult]) -> str:
    """`meltano run` next to the tap alone: time, whole-tree memory, rows loaded."""
    cases = [(r, pipeline_rows(r)) for r in results if pipeline_rows(r)]
    if not cases:
        return ""
    header = (
        f"{'case':<8} {'run':<30} {'seconds':>8} {'x tap':>6} {'cpu s':>7} "
        f"{'peak MiB':>9} {'rows':>8} {'rows/s':>8} {'check':<5} {'peak MiB meltano/tap/loader'}"
    )
    lines = [header, "-" * len(header)]
    for result, rows in cases:
        tap = tap_row(result)
        shown = [("tap alone", tap)] if tap is not None else []
        for label, row in shown + [(row.label, row) for row in rows]:
            factor = pipeline_factor(result, row)
            lines.append(
                f"{result.case.name:<8} {label:<30} {row.seconds:8.2f} "
                f"{blank_or(factor):>6} "
                f"{row.median('cpu_seconds'):7.2f} {row.peak_rss_mib:9.1f} {row.records:>8} "
                f"{row.rate():8,.0f} {'ok' if row.check == 'ok' else 'FAIL':<5} "
                f"{parts_of(row)}"
            )
    return "\n".join(lines)


def parts_of(row: Row) -> str:
    """Each part's own peak (the last run's), e.g. ``125/85/308``; blank for the tap alone."""
    parts = row.runs[-1].peak_by_role if row.runs else {}
    if not parts:
        return ""
    return "/".join(f"{parts.get(role, 0):.0f}" for role in ("meltano", "tap", "loader"))


def pipeline_targets(results: dict[str, CaseResult]) -> list[dict[str, Any]]:
    """Issue 17's goals for each loader that ran."""
    found: list[dict[str, Any]] = []
    loaders = sorted({row.label for result in results.values() for row in pipeline_rows(result)})
    for label in loaders:
        for name in PIPELINE_CASES:
            result = results.get(name)
            row = result.rows.get(label) if result else None
            factor = pipeline_factor(result, row) if result and row and row.runs else None
            found.append(
                goal(
                    f"{name} {label} <= {MAX_PIPELINE_FACTOR:g}x the tap alone",
                    factor,
                    MAX_PIPELINE_FACTOR,
                    unit="x",
                )
            )
        big = results["200k"].rows.get(label) if "200k" in results else None
        peak = big.peak_rss_mib if big and big.runs else None
        found.append(
            goal(
                f"200k {label} peak <= {MAX_PIPELINE_PEAK_MIB} MiB",
                peak,
                MAX_PIPELINE_PEAK_MIB,
                unit=" MiB",
            )
        )
        small = results["60k"].rows.get(label) if "60k" in results else None
        growth = None
        if peak is not None and small and small.runs:
            growth = peak - small.peak_rss_mib
        found.append(
            goal(
                f"200k {label} peak within {MAX_PIPELINE_GROWTH_MIB} MiB of 60k",
                growth,
                MAX_PIPELINE_GROWTH_MIB,
                unit=" MiB",
            )
        )
    return found


def format_table(results: list[CaseResult]) -> str:
    header = (
        f"{'case':<8} {'run':<24} {'records':>8} {'requests':>8} {'check':<5} "
        f"{'seconds':>8} {'rec/s':>8} {'ratio':>6} {'peak MiB':>9} {'cpu s':>7} "
        f"{'srv cpu s':>9} {'RECORD MB':>9} {'STATE MB':>9} {'#STATE':>7}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        for row in result.rows.values():
            if not row.runs or row.runs[0].loader:
                continue
            ratio = result.ratio(row.label) if row.label != "baseline" else None
            server_cpu = "?" if row.server_cpu_seconds is None else f"{row.server_cpu_seconds:.2f}"
            lines.append(
                f"{result.case.name:<8} {row.label:<24} {row.records:>8} {row.requests:>8} "
                f"{'ok' if row.check == 'ok' else 'FAIL':<5} {row.seconds:8.2f} "
                f"{row.rate():8,.0f} {blank_or(ratio):>6} "
                f"{row.peak_rss_mib:9.1f} {row.median('cpu_seconds'):7.2f} {server_cpu:>9} "
                f"{row.median('record_bytes') / 1e6:9.1f} {row.median('state_bytes') / 1e6:9.1f} "
                f"{row.median('state_messages'):7.0f}"
            )
    return "\n".join(lines)


def format_scaling(results: list[CaseResult]) -> str:
    """The series cases side by side: what must grow linearly does."""
    rows = [r for r in results if r.case.discover and not r.case.compare_workers and tap_row(r)]
    if not rows:
        return ""
    header = (
        f"{'case':<8} {'series':>7} {'tap s':>8} {'base s':>8} {'ratio':>6} "
        f"{'tap ms/series':>13} {'base ms/series':>14} {'STATE/RECORD':>12} "
        f"{'last STATE kB':>13} {'peak MiB':>9}"
    )
    lines = [header, "-" * len(header)]
    for result in rows:
        tap = tap_row(result)
        assert tap is not None
        base = result.rows.get("baseline")
        base_s = base.seconds if base and base.runs else None
        share = state_share(result)
        lines.append(
            f"{result.case.name:<8} {result.case.series:>7} {tap.seconds:8.2f} "
            f"{blank_or(base_s):>8} "
            f"{blank_or(result.ratio()):>6} "
            f"{tap.seconds / result.case.series * 1000:13.2f} "
            f"{'' if base_s is None else f'{base_s / result.case.series * 1000:.2f}':>14} "
            f"{blank_or(share):>12} "
            f"{tap.median('last_state_bytes') / 1000:13.1f} {tap.peak_rss_mib:9.1f}"
        )
    return "\n".join(lines)


def targets(results: dict[str, CaseResult]) -> list[dict[str, Any]]:
    """The project's goals, each met / missed / n/a (not run)."""
    found: list[dict[str, Any]] = []

    def ratio_of(name: str) -> float | None:
        result = results.get(name)
        return None if result is None else result.ratio()

    found.append(
        goal(f"{LARGE} ratio >= {MIN_RATIO_2500}", ratio_of(LARGE), MIN_RATIO_2500, at_least=True)
    )
    small = per_series(results[SMALL]) if SMALL in results else None
    for name in (LARGE, HUGE):
        if name == HUGE and name not in results:
            continue  # a --big case: only judged when run
        big = per_series(results[name]) if name in results else None
        growth = None if small is None or big is None else big / small
        found.append(
            goal(
                f"{name} tap time per series <= {MAX_PER_SERIES_GROWTH}x {SMALL}'s",
                growth,
                MAX_PER_SERIES_GROWTH,
                unit="x",
            )
        )
        share = state_share(results[name]) if name in results else None
        found.append(
            goal(
                f"{name} STATE bytes <= {MAX_STATE_SHARE} x RECORD bytes",
                share,
                MAX_STATE_SHARE,
                unit="x",
            )
        )
    rss = None
    if SMALL in results and LARGE in results:
        small_row, large_row = tap_row(results[SMALL]), tap_row(results[LARGE])
        if small_row and large_row:
            rss = large_row.peak_rss_mib - small_row.peak_rss_mib
    found.append(
        goal(
            f"{LARGE} peak RSS within {MAX_RSS_GROWTH_MIB} MiB of {SMALL}",
            rss,
            MAX_RSS_GROWTH_MIB,
            unit=" MiB",
        )
    )
    found.append(
        goal(f"20k ratio >= {MIN_RATIO_20K}", ratio_of("20k"), MIN_RATIO_20K, at_least=True)
    )
    if "200k" in results:
        growth = None
        rows = tap_row(results["200k"]), tap_row(results["20k"]) if "20k" in results else None
        if rows[0] and rows[1]:
            growth = (rows[0].peak_rss_mib - rows[1].peak_rss_mib) * 1024 * 1024 / 1e6
        found.append(
            goal(
                f"200k peak RSS within {MAX_RSS_GROWTH_200K_MB} MB of 20k",
                growth,
                MAX_RSS_GROWTH_200K_MB,
                unit=" MB",
            )
        )
    factor = speedup(results["200x50"]) if "200x50" in results else None
    found.append(
        goal(
            f"200x50 parallel >= {MIN_PARALLEL_SPEEDUP:g}x max_workers=1",
            factor,
            MIN_PARALLEL_SPEEDUP,
            at_least=True,
            unit="x",
        )
    )
    found += pipeline_targets(results)
    for result in results.values():
        tap_rows = [r for label, r in result.rows.items() if label != "baseline" and r.runs]
        exact = all(row.check == "ok" for row in result.rows.values())
        detail = ", ".join(f"{row.label}: {row.requests}" for row in result.rows.values())
        found.append(
            {
                "target": f"{result.case.name} exact requests ({result.expected.total} a run)",
                "value": detail,
                "met": exact and bool(tap_rows),
            }
        )
    return found


def report(results: dict[str, CaseResult], bench: Bench) -> None:
    print()
    for result in results.values():
        took = f" (took {result.elapsed:.0f} s)" if result.elapsed else ""
        print(f"{result.case.name}: {result.case.describe()}{took}")
        print(f"  range {result.plan.start} .. {result.plan.end}; ", end="")
        print(result.expected.describe(result.case))
        for row in result.rows.values():
            run = row.runs[-1] if row.runs else None
            if run is not None:
                print(
                    f"  {row.label}: {run.lookups} lookups, {run.discovery} discovery, "
                    f"{run.page_requests} pages in {run.windows} windows "
                    f"(pages per window {run.pages_per_window}) -> {row.check}"
                )
        if result.case.compare_workers:
            factor = speedup(result)
            if "max_workers" not in bench.tap_settings:
                print(
                    "  note: max_workers is not a setting of this tap yet (it is passed and "
                    "ignored): both tap runs are one request at a time"
                )
            if factor is not None:
                print(f"  speed-up of parallel vs max_workers=1: {factor:.2f}x")
        if result.profile:
            print("  profile of one tap run, top cumulative (cum s, own s, calls, function):")
            for line in result.profile:
                print(f"    {line}")
    print(f"\nmedians of {bench.args.repeat} runs; ratio = baseline seconds / tap seconds\n")
    print(format_table(list(results.values())))
    scaling = format_scaling(list(results.values()))
    if scaling:
        print(f"\n{scaling}")
    pipelines = format_pipelines(list(results.values()))
    if pipelines:
        print("\nthe pipeline (meltano run; peak of the whole process tree) next to the tap alone:")
        print(f"\n{pipelines}")
    print("\ntargets:")
    for target in targets(results):
        mark = {True: "met", False: "MISSED", None: "n/a"}[target["met"]]
        print(f"  {mark:<6} {target['target']}: {target['value']}")


def to_json(results: dict[str, CaseResult], bench: Bench, seconds: float) -> dict[str, Any]:
    cases: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        cases[name] = {
            "description": result.case.describe(),
            "case": asdict(result.case),
            "range": {"start": result.plan.start, "end": result.plan.end},
            "elapsed_seconds": result.elapsed,
            "expected_requests": {**asdict(result.expected), "total": result.expected.total},
            "rows": {
                label: {
                    "records": row.records,
                    "requests": row.requests,
                    "check": row.check,
                    "seconds": row.seconds,
                    "records_per_second": row.rate(),
                    "peak_rss_mib": row.peak_rss_mib,
                    "cpu_seconds": row.median("cpu_seconds"),
                    "server_cpu_seconds": row.server_cpu_seconds,
                    "record_bytes": row.median("record_bytes"),
                    "state_bytes": row.median("state_bytes"),
                    "state_messages": row.median("state_messages"),
                    "ratio": result.ratio(label) if label != "baseline" else None,
                    "times_tap_alone": (
                        pipeline_factor(result, row) if row.runs[0].loader else None
                    ),
                    "runs": [asdict(run) for run in row.runs],
                }
                for label, row in result.rows.items()
                if row.runs
            },
            "tap_seconds_per_series": per_series(result),
            "state_share": state_share(result),
            "profile_top_cumulative": result.profile,
        }
        if result.case.compare_workers:
            cases[name]["speedup_parallel_vs_1"] = speedup(result)
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tap_command": str(TAP_COMMAND),
        "tap_knows_max_workers": "max_workers" in bench.tap_settings,
        "repeat": bench.args.repeat,
        "page_size": PAGE_SIZE,
        "total_seconds": seconds,
        "cases": cases,
        "targets": targets(results),
    }
