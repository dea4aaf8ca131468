"""Running one subprocess to its end (wall time, CPU, peak RSS), and reading what it wrote."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from typing_extensions import override

from .cases import STREAM, MiB


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float  # of the process and every descendant it waited for
    peak_rss_mib: float  # the process's own, or of its whole tree with ``tree=True``
    exit_code: int
    timed_out: bool
    # With ``tree=True``: the peak of each part of the tree (see :func:`role_of`), in MiB.
    peak_by_role: dict[str, float] = field(default_factory=dict)


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
TREE_SAMPLE_SECONDS = 0.1


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, of every process now (Linux /proc)."""
    found: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        found.setdefault(parent, []).append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, now."""
    children = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def role_of(pid: int, root: int) -> str:
    """Which part of a pipeline a process is: Meltano (the root), the tap, or the loader."""
    if pid == root:
        return "meltano"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "loader"
    return "tap" if b"tap-webex-meetings" in command else "loader"


def tree_rss_bytes(pid: int) -> dict[str, int]:
    """The resident memory of ``pid`` and all its descendants, now, summed by role."""
    total: dict[str, int] = {}
    for current in _descendants(pid):
        try:
            resident = int(Path(f"/proc/{current}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        role = role_of(current, pid)
        total[role] = total.get(role, 0) + resident * PAGE_BYTES
    return total


class TreeSampler(threading.Thread):
    """The peak of :func:`tree_rss_bytes`, sampled every ``TREE_SAMPLE_SECONDS``: Meltano,
    tap and loader are separate processes, and ``ru_maxrss`` gives only the largest one.
    Each role's own peak too, which says where a pipeline's memory goes."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.peak_by_role: dict[str, int] = {}
        self.done = threading.Event()

    @override
    def run(self) -> None:  # the sampling loop, in this thread
        while not self.done.is_set():
            by_role = tree_rss_bytes(self.pid)
            self.peak = max(self.peak, sum(by_role.values()))
            for role, resident in by_role.items():
                self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), resident)
            self.done.wait(TREE_SAMPLE_SECONDS)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak


def measure(
    command: Sequence[str],
    stdout: Path,
    stderr: Path,
    timeout: float,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    tree: bool = False,
) -> Measured:
    """Run ``command`` to its end (killed after ``timeout``); wall time and peak RSS (with
    ``tree``: of the process and its descendants together, sampled)."""
    killed = threading.Event()
    env = {
        **(os.environ if env is None else env),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd
        )
        sampler = TreeSampler(process.pid) if tree else None
        if sampler is not None:
            sampler.start()

        def kill() -> None:
            killed.set()
            for pid in _descendants(process.pid):  # Meltano's plugins too
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
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
            tree_peak = 0 if sampler is None else sampler.stop()
            by_role = {} if sampler is None else sampler.peak_by_role
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    rss_bytes = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    rss_bytes = max(rss_bytes, tree_peak)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(
        seconds,
        cpu,
        rss_bytes / MiB,
        process.returncode,
        killed.is_set(),
        {role: resident / MiB for role, resident in sorted(by_role.items())},
    )


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
