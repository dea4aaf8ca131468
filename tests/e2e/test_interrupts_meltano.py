"""An interrupted ``meltano run`` is a failure (the e2e half of
tests/integration/test_interrupts.py): SIGINT to the tap alone fails the run, and the rerun
completes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fake_webex import FakeWebex

from tests.integration.test_interrupts import ALICE, expected_ids, wait_for_records
from tests.meltano_support import Meltano


@pytest.mark.e2e
def test_a_tap_interrupted_under_meltano_run_fails_the_run_and_the_rerun_completes(
    meltano: Meltano, tmp_path: Path
) -> None:
    """SIGINT to the tap alone, the loader left to finish: Meltano must not report success.

    (Ctrl-C in a terminal signals Meltano and the loader too; target-jsonl then dies with a
    KeyboardInterrupt and the run fails whatever the tap does, so only this case tells.)
    """
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=60)
    output = tmp_path / "jsonl"
    with FakeWebex(now=now, latency_seconds=0.3) as server:
        meltano.env.update(
            TAP_WEBEX_MEETINGS_API_URL=server.api_url,
            TAP_WEBEX_MEETINGS_ACCESS_TOKEN="sandbox-token",
            TAP_WEBEX_MEETINGS_START_DATE=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            TAP_WEBEX_MEETINGS_END_DATE=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            TAP_WEBEX_MEETINGS_PAGE_SIZE="10",
            TAP_WEBEX_MEETINGS_MAX_WORKERS="1",
            TARGET_JSONL_DESTINATION_PATH=str(output),
        )
        with tempfile.TemporaryFile("w+") as log:
            process = subprocess.Popen(
                [str(meltano.executable), "run", "tap-webex-meetings", "target-jsonl"],
                cwd=Path(__file__).resolve().parents[2],
                env=meltano.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_for_records(output / "series_meetings.jsonl", process)
                os.kill(tap_process_of(process.pid), signal.SIGINT)
                process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            log.seek(0)
            interrupted_log = log.read()
        assert process.returncode != 0, interrupted_log[-3000:]
        assert "Interrupted by SIGINT: stopped" in interrupted_log
        series_requests = [r for r in server.requests if "meetingSeriesId" in r.params]
        assert len({r.params["meetingSeriesId"][0] for r in series_requests}) < len(
            server.series_ids(ALICE)
        ), "the interrupt came mid-run"

        server.latency_seconds = 0
        meltano("run", "tap-webex-meetings", "target-jsonl")
        lines = (output / "series_meetings.jsonl").read_text().splitlines()
        loaded = {json.loads(line)["id"] for line in lines}
        assert loaded >= expected_ids(server, start, now)


def tap_process_of(group: int) -> int:
    """The pid of the tap that ``meltano run`` (process group ``group``) started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[2]) == group and any(
            part.endswith(b"bin/tap-webex-meetings") for part in command[:2]
        ):
            return int(entry.name)
    pytest.fail("no tap-webex-meetings process under meltano run")
