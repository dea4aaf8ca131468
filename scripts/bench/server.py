"""The fake Webex in its own process, and what its request log says a run did."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from .cases import FAKE_NOW, Case, Expected

# The fake server, started by a tiny bootstrap that also stops it when the benchmark's
# end of its stdin closes (the benchmark exited, even by SIGKILL): no orphaned servers.
SERVER_BOOTSTRAP = """
import os, signal, sys, threading
from fake_webex.cli import main
def watch():
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
raise SystemExit(main(sys.argv[1:]))
"""

REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


class Server:
    """The fake Webex in its own process, logging request lines to a file."""

    def __init__(self, case: Case, log_path: Path, timeout: float) -> None:
        self.case = case
        self.log_path = log_path
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self._log: IO[bytes] | None = None

    def arguments(self) -> list[str]:
        """What the sandbox serves: the case's bulk series, the clock frozen at FAKE_NOW."""
        return [
            "--now",
            FAKE_NOW,
            "--bulk",
            f"{self.case.series}x{self.case.meetings}",
            "--latency-ms",
            str(self.case.latency_ms),
        ]

    def start(self) -> Server:
        self._log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-c",
            SERVER_BOOTSTRAP,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *self.arguments(),
            "--verbose",
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + self.timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise RuntimeError(f"fake server did not start within {self.timeout:g} s")
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                raise RuntimeError(f"fake server exited: {self.log_path.read_text()[-2000:]}")
            line += chunk
        text = line.decode().strip()
        if not text.startswith("api_url="):
            raise RuntimeError(f"unexpected first line from the fake server: {text!r}")
        self.api_url = text.removeprefix("api_url=")
        return self

    @property
    def base_url(self) -> str:
        return self.api_url.rsplit("/v1", 1)[0]

    def status(self) -> dict[str, Any]:
        url = f"{self.base_url}/_sandbox/status"
        with urllib.request.urlopen(url, timeout=self.timeout) as response:  # loopback only
            data: dict[str, Any] = json.load(response)
        return data

    def cpu_seconds(self) -> float | None:
        """CPU time the server process used so far (Linux: /proc; else None)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # utime and stime are fields 14 and 15 of the line, 12 and 13 after "(comm)".
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def request_targets(self, since: int) -> list[tuple[str, int]]:
        """``(path?query, status)`` of each API request logged after byte ``since``."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        found = []
        for match in REQUEST_LINE.finditer(text):
            target = match["target"]
            if not target.startswith("/_sandbox/"):
                found.append((target, int(match["status"])))
        return found

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def classify(targets: list[tuple[str, int]], expected: Expected) -> dict[str, Any]:
    """Sort the logged requests of one run and compare them with ``expected``."""
    lookups = discovery = other = non_200 = 0
    windows: Counter[tuple[str, str, str]] = Counter()
    for target, status in targets:
        non_200 += status != 200
        parts = urlsplit(target)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        if parts.path.startswith("/v1/meetings/"):
            lookups += 1
        elif parts.path == "/v1/meetings" and "meetingSeriesId" in params:
            key = (params["meetingSeriesId"], params.get("from", ""), params.get("to", ""))
            windows[key] += 1
        elif parts.path == "/v1/meetings" and params.get("meetingType") == "meetingSeries":
            discovery += 1
        else:
            other += 1
            print(f"  unexpected request: {unquote(target)[:200]}", file=sys.stderr)
    pages = sorted(windows.values())
    problems = []
    if lookups != expected.lookups:
        problems.append(f"{lookups} lookups, expected {expected.lookups}")
    if discovery != expected.discovery:
        problems.append(f"{discovery} discovery requests, expected {expected.discovery}")
    if len(windows) != expected.windows:
        problems.append(f"{len(windows)} series windows, expected {expected.windows}")
    wrong = [n for n in pages if n != expected.pages_per_window]
    if wrong:
        problems.append(
            f"{len(wrong)} windows with page counts {sorted(set(wrong))[:5]}, "
            f"expected {expected.pages_per_window} each"
        )
    if other:
        problems.append(f"{other} other requests")
    if non_200:
        problems.append(f"{non_200} answers not 200")
    return {
        "lookups": lookups,
        "discovery": discovery,
        "page_requests": sum(pages),
        "windows": len(windows),
        "pages_per_window": sorted(set(pages)),
        "non_200": non_200,
        "other": other,
        "check": "; ".join(problems) or "ok",
    }
