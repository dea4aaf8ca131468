"""GuardedWriter: what a loader reads is whole messages, in a few large writes, a STATE
together with the records before it (one ``os.write`` per message cost a third of a run)."""

from __future__ import annotations

import json
import os

import pytest
from singer_sdk.singerlib import RecordMessage, StateMessage
from typing_extensions import override

from tap_webex_meetings.output import GuardedWriter

RECORDS = 1_000


class _Unwritable:
    """A value the encoder cannot write (its ``str`` fails)."""

    @override
    def __str__(self) -> str:
        raise ValueError("unwritable")


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every ``os.write`` to stdout, as the loader would read it."""
    caught: list[bytes] = []

    def write(_fd: int, data: bytes) -> int:
        caught.append(bytes(data))
        return len(data)

    monkeypatch.setattr(os, "write", write)
    return caught


def record(n: int) -> RecordMessage:
    return RecordMessage(
        stream="series_meetings", record={"id": f"m{n}", "title": "Weekly sync " * 10}
    )


def test_records_go_out_in_few_whole_writes_and_a_state_at_once(writes: list[bytes]) -> None:
    writer = GuardedWriter()
    for n in range(RECORDS):
        writer.write_message(record(n))
    writer.write_message(StateMessage(value={"bookmarks": {}}))

    assert len(writes) <= RECORDS // 50, "one write per message"
    assert all(chunk.endswith(b"\n") for chunk in writes), "a message cut between writes"
    lines = [json.loads(line) for line in b"".join(writes).splitlines()]
    assert [line["record"]["id"] for line in lines[:-1]] == [f"m{n}" for n in range(RECORDS)]
    assert lines[-1] == {"type": "STATE", "value": {"bookmarks": {}}}, "STATE kept back"


def test_flush_writes_what_is_buffered_once(writes: list[bytes]) -> None:
    writer = GuardedWriter()
    writer.write_message(record(1))
    writer.flush()
    writer.flush()

    assert [json.loads(chunk)["record"]["id"] for chunk in writes] == ["m1"]


def test_a_record_that_cannot_be_encoded_leaves_no_half_message(writes: list[bytes]) -> None:
    writer = GuardedWriter()
    writer.write_message(record(1))
    with pytest.raises(ValueError, match="unwritable"):
        writer.write_message(RecordMessage(stream="series_meetings", record={"n": _Unwritable()}))
    writer.flush()

    assert [json.loads(line)["record"]["id"] for line in b"".join(writes).splitlines()] == ["m1"]
