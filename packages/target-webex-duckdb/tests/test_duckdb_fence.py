"""This loader uses no singer-sdk private surface (its base's are target-webex-common's)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_sdk_fence import package_uses

HERE = Path(__file__).resolve().parent.parent


def test_the_loader_uses_no_private_sdk_surface() -> None:
    uses = package_uses(HERE / "target_webex_duckdb")
    assert not uses, f"list these in {HERE / 'README.md'} (a fence table): {uses}"
