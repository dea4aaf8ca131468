"""Split the series across parallel tap instances: each series in exactly one shard.

The split is ``shard_plan`` (``<index>/<count>``, what the Airflow DAG gives each shard's
tap), else ``shard_index`` of ``shard_count``. A plan with a ``shard_index`` or
``shard_count`` set elsewhere to something else (a worker's environment, ``.env``) would make
this shard skip series its siblings leave to it, without an error: the tap refuses to start.
The hash is stable across machines, Python versions and runs (unlike ``hash()``), so a series
stays in its shard, and so does its state.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

_PLAN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_UNSPLIT = {"shard_index": 0, "shard_count": 1}  # the defaults never disagree with a plan


def shard_of(series_id: str, shard_count: int) -> int:
    """The shard (0 .. shard_count-1) that extracts ``series_id``."""
    digest = hashlib.sha256(series_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard_count


def split(values: Mapping[str, Any]) -> tuple[int, int]:
    """``(shard_index, shard_count)`` of settings :func:`problems` found valid."""
    plan = values.get("shard_plan")
    match = _PLAN.match(plan) if isinstance(plan, str) else None
    if match:
        return int(match.group(1)), int(match.group(2))
    return int(values["shard_index"]), int(values["shard_count"])


def problems(values: Mapping[str, Any]) -> list[str]:
    """What is wrong with the split; ``values`` has every default filled in."""
    plan = values.get("shard_plan")
    if plan is None:
        index, count = values["shard_index"], values["shard_count"]
        if isinstance(index, int) and isinstance(count, int) and index >= count:
            return [f"shard_index: {index} must be below shard_count ({count})"]
        return []
    if not (isinstance(plan, str) and _PLAN.match(plan)):
        return [f"shard_plan: {plan!r} is not <shard_index>/<shard_count> (e.g. 1/4)"]
    index, count = split(values)
    if count < 1:
        return [f"shard_plan: {plan!r}: the shard count must be 1 or more"]
    if index >= count:
        return [f"shard_plan: {plan!r}: the shard index must be 0 .. {count - 1}"]
    disagreeing = [
        f"{name} {values[name]}"
        for name, planned in (("shard_index", index), ("shard_count", count))
        if values[name] not in (planned, _UNSPLIT[name])
    ]
    if not disagreeing:
        return []
    return [
        f"shard_plan: this run was planned as shard {index} of {count}, but "
        f"{' and '.join(disagreeing)} set elsewhere disagree; unset them or make them agree: "
        "shards of one run split the series one way"
    ]
