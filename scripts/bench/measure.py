"""Running one subprocess to its end (wall time, CPU, peak RSS), and reading what it wrote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .cases import STREAM, MiB


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    exit_code: int
    timed_out: bool


def measure(command: Sequence[str], stdout: Path, stderr: Path, timeout: float) -> Measured:
    """Run ``command`` to its end (killed after ``timeout``); wall time and peak RSS."""
    killed = threading.Event()
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        )

        def kill() -> None:
            killed.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    rss_bytes = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, cpu, rss_bytes / MiB, process.returncode, killed.is_set())


MESSAGE_TYPE = re.compile(rb'"type":\s*"(\w+)"')
STREAM_NAME = re.compile(rb'"stream":\s*"([^"]+)"')


@dataclass
class Output:
    """What a run wrote to stdout, by Singer message type (read after the run, untimed)."""

    bytes_by_type: dict[str, int] = field(default_factory=dict)
    messages_by_type: dict[str, int] = field(default_factory=dict)
    records: int = 0  # RECORD messages of the meetings stream
    last_state_bytes: int = 0

    @property
    def record_bytes(self) -> int:
        return self.bytes_by_type.get("RECORD", 0)

    @property
    def state_bytes(self) -> int:
        return self.bytes_by_type.get("STATE", 0)

    @property
    def state_messages(self) -> int:
        return self.messages_by_type.get("STATE", 0)


def read_output(path: Path) -> Output:
    """Count bytes and messages per type, and meetings RECORDs, line by line."""
    found = Output()
    stream = STREAM.encode()
    with path.open("rb") as lines:
        for line in lines:
            # The type comes first in the SDK's and the baseline's messages: look near it.
            match = MESSAGE_TYPE.search(line, 0, 40)
            kind = match[1].decode() if match else "other"
            found.bytes_by_type[kind] = found.bytes_by_type.get(kind, 0) + len(line)
            found.messages_by_type[kind] = found.messages_by_type.get(kind, 0) + 1
            if kind == "STATE":
                found.last_state_bytes = len(line)
            elif kind == "RECORD":
                name = STREAM_NAME.search(line, 0, 120)
                found.records += bool(name and name[1] == stream)
    return found
