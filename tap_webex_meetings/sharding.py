"""Split the series across parallel tap instances: each series in exactly one shard.

The hash is stable across machines, Python versions and runs (unlike ``hash()``), so a
series stays in its shard, and so does its state.
"""

from __future__ import annotations

import hashlib


def shard_of(series_id: str, shard_count: int) -> int:
    """The shard (0 .. shard_count-1) that extracts ``series_id``."""
    digest = hashlib.sha256(series_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard_count
