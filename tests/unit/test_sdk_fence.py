"""Every use of a singer-sdk private surface is listed in docs/ARCHITECTURE.md's fence table.

ruff's ``SLF`` rule does not see private access through ``self``, which is how a subclass
of an SDK class reaches the SDK's internals; so this test reads the package's source
(AST) and finds them itself:

- an import from a private SDK module (``singer_sdk.helpers._state``) or of a private name
  (``from singer_sdk.plugin_base import _ConfigInput``);
- in a class derived from an SDK class, a ``_name`` read, written, called or defined on
  ``self``, ``cls`` or ``super()`` (or looked up by name, ``__dict__["_name"]``) that one
  of its SDK ancestors defines (a method, a class attribute, or an attribute its own code
  sets on ``self``);
- elsewhere, a ``_name`` of any object that an SDK ancestor defines and the package does not;
- the positional arguments of the SDK's private ``RESTStream._request``, which backoff
  passes to the ``backoff_handler`` hook as ``details["args"]``.

The table must list exactly these: each with the module where it is used, and no row for
a use that is gone.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tap_webex_meetings"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
FENCE_HEADING = "## The fence around singer-sdk"
BACKOFF_ARGS = 'details["args"]'


@dataclass(frozen=True)
class Use:
    """A private surface (as the table names it, or its last part) used in a module."""

    surface: str
    module: str  # relative to its package, e.g. "tap.py"
    line: int


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def is_sdk(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "singer_sdk"


@cache
def defined_by(cls: type) -> frozenset[str]:
    """Private names one class defines: its members and what its own code sets on self."""
    names = {name for name in vars(cls) if is_private(name)}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return frozenset(names)
    names |= {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id in {"self", "cls"}
        and is_private(node.attr)
    }
    return frozenset(names)


def sdk_private_names(cls: type) -> frozenset[str]:
    """Private names the SDK ancestors of ``cls`` define."""
    return frozenset().union(*(defined_by(base) for base in cls.__mro__ if is_sdk(base)))


def on_self(node: ast.Attribute) -> bool:
    value = node.value
    if isinstance(value, ast.Name):
        return value.id in {"self", "cls"}
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def import_uses(tree: ast.Module, module: str) -> Iterator[Use]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            path = node.module or ""
            if any(is_private(part) for part in path.split(".")):
                yield from (
                    Use(f"{path}.{alias.name}", module, node.lineno) for alias in node.names
                )
            else:
                yield from (
                    Use(alias.name, module, node.lineno)
                    for alias in node.names
                    if is_private(alias.name)
                )
        elif isinstance(node, ast.Import):
            yield from (
                Use(alias.name, module, node.lineno)
                for alias in node.names
                if alias.name.startswith("singer_sdk")
                and any(is_private(part) for part in alias.name.split("."))
            )


def class_uses(node: ast.ClassDef, cls: type, module: str) -> Iterator[Use]:
    """What a class derived from an SDK class uses of its SDK ancestors' private names."""
    private = sdk_private_names(cls)
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute) and on_self(child) and child.attr in private:
            yield Use(child.attr, module, child.lineno)
        elif isinstance(child, ast.FunctionDef) and child.name in private:
            yield Use(child.name, module, child.lineno)  # an override of a private hook
        elif isinstance(child, ast.Constant) and child.value in private:
            yield Use(child.value, module, child.lineno)  # looked up by name: __dict__["_x"]
        elif isinstance(child, ast.FunctionDef) and child.name == "backoff_handler":
            yield from (
                Use(BACKOFF_ARGS, module, sub.lineno)
                for sub in ast.walk(child)
                if isinstance(sub, ast.Subscript)
                and isinstance(sub.value, ast.Name)
                and sub.value.id == "details"
                and isinstance(sub.slice, ast.Constant)
                and sub.slice.value == "args"
            )


def package_uses(package: Path = PACKAGE) -> list[Use]:
    """The private uses of one package (a folder with ``__init__.py``, importable)."""
    uses: list[Use] = []
    sdk_names: set[str] = set()
    own_names: set[str] = set()
    trees: dict[str, ast.Module] = {}
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        tree = trees[module] = ast.parse(path.read_text(), filename=str(path))
        uses.extend(import_uses(tree, module))
        if path.name == "__main__.py":  # importing it runs the command
            continue
        name = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        loaded = importlib.import_module(name.removesuffix(".__init__"))
        for statement in tree.body:
            if not isinstance(statement, ast.ClassDef):
                continue
            cls = getattr(loaded, statement.name, None)
            if not isinstance(cls, type):
                continue
            if any(is_sdk(base) for base in cls.__mro__):
                sdk_names |= sdk_private_names(cls)
                uses.extend(class_uses(statement, cls, module))
            else:
                own_names |= defined_by(cls)
    foreign = sdk_names - own_names
    seen = {(use.module, use.line, use.surface) for use in uses}
    for module, tree in trees.items():
        uses.extend(
            Use(node.attr, module, node.lineno)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and not on_self(node)
            and node.attr in foreign
            and (module, node.lineno, node.attr) not in seen
        )
    return uses


@dataclass(frozen=True)
class Row:
    surfaces: tuple[str, ...]
    where: str


def fence_rows(document: Path = ARCHITECTURE) -> list[Row]:
    """The rows of the fence table: the code spans of its first column, its second."""
    section = document.read_text().split(FENCE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in {"private surface", ""} or set(cells[0]) <= {"-", ":"}:
            continue
        rows.append(Row(tuple(re.findall(r"`([^`]+)`", cells[0])), cells[1]))
    assert rows, f"no fence table under {FENCE_HEADING!r} in {document}"
    return rows


def names(span: str, surface: str) -> bool:
    """Whether a code span of the table names this surface (``Stream._tap`` names ``_tap``)."""
    return span == surface or span.endswith("." + surface)


def listed_in(use: Use, row: Row) -> bool:
    in_module = re.search(rf"(?<![\w/]){re.escape(use.module)}\b", row.where) is not None
    return in_module and any(names(span, use.surface) for span in row.surfaces)


def test_the_scan_finds_the_private_uses_it_is_meant_to_find() -> None:
    """The scan sees each kind of use (a private override, import, attribute, backoff's
    arguments): a scan that finds nothing would pass the other tests."""
    found = {(use.surface, use.module) for use in package_uses()}
    assert {
        ("_increment_stream_state", "partitioned.py"),  # a private hook overridden
        # a private module:
        ("singer_sdk.helpers._classproperty.classproperty", "config_reading.py"),
        ("_ConfigInput", "config_reading.py"),  # a private name
        ("_config", "tap.py"),  # an SDK attribute read through self
        (BACKOFF_ARGS, "client.py"),
    } <= found


def unlisted(uses: list[Use], rows: list[Row]) -> list[str]:
    """The uses no row lists (each package's fence test fails on these)."""
    return sorted(
        {
            f"{use.surface} ({use.module}:{use.line})"
            for use in uses
            if not any(listed_in(use, row) for row in rows)
        }
    )


def stale(uses: list[Use], rows: list[Row]) -> list[str]:
    """The rows no use needs any more."""
    return [
        f"{span} ({row.where})"
        for row in rows
        for span in row.surfaces
        if not any(names(span, use.surface) and listed_in(use, row) for use in uses)
    ]


def test_every_private_sdk_use_is_in_the_fence_table() -> None:
    missing = unlisted(package_uses(), fence_rows())
    assert not missing, (
        f"singer-sdk private uses missing from the fence table in {ARCHITECTURE.name}: "
        + ", ".join(missing)
    )


def test_every_row_of_the_fence_table_is_still_used() -> None:
    gone = stale(package_uses(), fence_rows())
    assert not gone, f"fence table rows no code uses any more: {', '.join(gone)}"
