"""``shard_plan``: the split an orchestrator planned, ``<shard_index>/<shard_count>``.

The Airflow DAG decides the split once per run (from Airflow's metadata database) and gives
each shard's tap its part as ``shard_plan``. The plan is the split. A ``shard_count`` or
``shard_index`` set to something else by another source (a worker's environment, ``.env``,
``meltano.yml``) would make this shard extract other series than its siblings assume, and
the run would skip some series without an error, so the tap refuses to start instead.
``shard_count: 1`` and ``shard_index: 0`` are the defaults (not split): they never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLAN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_UNSPLIT = {"shard_index": 0, "shard_count": 1}


def planned(plan: Any) -> tuple[int, int] | None:
    """``(shard_index, shard_count)`` of a well-formed plan, else None."""
    match = _PLAN.match(plan) if isinstance(plan, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def split(values: Mapping[str, Any]) -> tuple[int, int]:
    """``(shard_index, shard_count)`` this instance extracts: the plan's, else the settings'."""
    plan = planned(values.get("shard_plan"))
    return plan or (int(values["shard_index"]), int(values["shard_count"]))


def problems(values: Mapping[str, Any]) -> list[str]:
    """What is wrong with the split; ``values`` has every default filled in."""
    plan = values.get("shard_plan")
    if plan is None:
        index, count = values["shard_index"], values["shard_count"]
        if isinstance(index, int) and isinstance(count, int) and index >= count:
            return [f"shard_index: {index} must be below shard_count ({count})"]
        return []
    parsed = planned(plan)
    if parsed is None:
        return [f"shard_plan: {plan!r} is not <shard_index>/<shard_count> (e.g. 1/4)"]
    index, count = parsed
    if count < 1:
        return [f"shard_plan: {plan!r}: the shard count must be 1 or more"]
    if index >= count:
        return [f"shard_plan: {plan!r}: the shard index must be 0 .. {count - 1}"]
    disagreeing = [
        f"{name} {values[name]}"
        for name, value in (("shard_index", index), ("shard_count", count))
        if values[name] not in (value, _UNSPLIT[name])
    ]
    if disagreeing:
        return [
            f"shard_plan: this run was planned as shard {index} of {count}, but "
            f"{' and '.join(disagreeing)} set elsewhere disagree; unset them or make them "
            "agree: shards of one run split the series one way"
        ]
    return []
