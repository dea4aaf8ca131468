"""The installed singer-sdk is one the fence around its private surfaces was checked against.

The tap overrides private SDK hooks and reads private attributes (docs/ARCHITECTURE.md, "The
fence around singer-sdk"); a release outside the range pinned in pyproject.toml may rename
them without a type error. Widening the range means checking each row of that table first.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pinned_ranges() -> list[SpecifierSet]:
    """The version range of every singer-sdk requirement in pyproject.toml."""
    lines = re.findall(r'^\s*"(singer-sdk[^"]*)",?\s*$', PYPROJECT.read_text(), re.MULTILINE)
    return [Requirement(line).specifier for line in lines]


def test_pyproject_pins_one_bounded_singer_sdk_range() -> None:
    ranges = pinned_ranges()
    assert len(ranges) == 2, ranges  # the dependency and the dev extra's [testing]
    assert len(set(ranges)) == 1, f"singer-sdk pinned to different ranges: {ranges}"
    (pinned,) = set(ranges)
    assert "0.54.9" in pinned
    bounded = any(spec.operator in {"<", "<=", "~=", "=="} for spec in pinned)
    assert bounded, f"singer-sdk {pinned} has no upper bound"


def test_installed_singer_sdk_is_within_the_checked_range() -> None:
    installed = version("singer-sdk")
    pinned = pinned_ranges()[0]
    if installed not in pinned:
        pytest.fail(
            f"singer-sdk {installed} is installed, but the fence around its private surfaces "
            f"was checked against {pinned} (pyproject.toml): check docs/ARCHITECTURE.md's "
            "fence table against it before widening the range",
            pytrace=False,
        )
