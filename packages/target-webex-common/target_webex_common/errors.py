"""Failures a loader says in one line: a value or a name the database refuses, a locked
table, a warehouse it cannot write; and the record behind a refused batch, found by the
database itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

_DECODER = msgspec.json.Decoder()


class LoadError(Exception):
    """A failure whose message is the whole story: logged as one ERROR line, exit 1."""


def first_line(exc: BaseException) -> str:
    """An exception's message, its first line (a database's message has a caret below)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: Loads ``lines`` (every column, or only the keys and the given property) and undoes it;
#: the database's error if it refused them, else None.
Probe = Callable[[Sequence[bytes], str | None], str | None]


@dataclass(frozen=True)
class Refusal:
    """The first record of a batch the database refuses, and the property it refuses."""

    record: dict[str, object]
    prop: str | None  # None: no single property (a key, or the row as a whole)
    error: str

    def describe(self, stream: str, keys: Sequence[str], table: str) -> str:
        key = ", ".join(f"{k}={self.record.get(k)!r}" for k in keys) or "(no key)"
        if self.prop is None:
            return f"{stream}: record {key} refused by {table}: {self.error}"
        value = self.record.get(self.prop)
        return (
            f"{stream}: record {key}: column {self.prop} value {value!r} refused by {table}: "
            f"{self.error}"
        )


def find_refusal(lines: Sequence[bytes], properties: Sequence[str], probe: Probe) -> Refusal | None:
    """The record the database refuses, by halves (a dozen probes for 5,000 records), then
    its property, one at a time: only after a batch failed, so a load pays nothing for it.
    None when the whole batch loads now (the failure was not the data)."""
    error = probe(lines, None)
    if error is None:
        return None
    suspects = list(lines)
    while len(suspects) > 1:
        half = suspects[: len(suspects) // 2]
        found = probe(half, None)
        if found is not None:
            suspects, error = half, found
        else:
            suspects = suspects[len(suspects) // 2 :]
    line = suspects[0]
    record: dict[str, object] = _DECODER.decode(line)
    for prop in properties:
        if prop in record and (found := probe([line], prop)) is not None:
            return Refusal(record, prop, found)
    return Refusal(record, None, error)
