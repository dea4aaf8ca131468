"""Every singer-sdk private surface the loaders' base uses is in this package's README."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_sdk_fence import fence_rows, package_uses, stale, unlisted

HERE = Path(__file__).resolve().parent.parent
PACKAGE = HERE / "target_webex_common"
README = HERE / "README.md"


def test_the_scan_finds_the_overridden_private_hooks() -> None:
    """A scan that finds nothing would pass the other two."""
    found = {(use.surface, use.module) for use in package_uses(PACKAGE)}
    assert {("_parse_timestamps_in_record", "sink.py"), ("_handle_termination", "target.py")} <= (
        found
    )


def test_every_private_sdk_use_is_in_the_readme_fence_table() -> None:
    missing = unlisted(package_uses(PACKAGE), fence_rows(README))
    assert not missing, f"missing from the fence table in {README}: {', '.join(missing)}"


def test_every_row_of_the_readme_fence_table_is_still_used() -> None:
    gone = stale(package_uses(PACKAGE), fence_rows(README))
    assert not gone, f"fence table rows no code uses any more: {', '.join(gone)}"
