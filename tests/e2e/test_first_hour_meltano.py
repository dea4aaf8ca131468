"""What a new user meets through Meltano in the first hour: values typed into the
environment, and a full refresh that must forget what Webex no longer has.

Each test runs the pinned Meltano in the repo's project, as a user does, against the fake
Webex, and asserts what they see: the exit code, the one line, the rows.
"""

from __future__ import annotations

import importlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_webex import FakeWebex

from tests.meltano_support import (
    REPO,
    Meltano,
    Postgres,
    base_env,
    captured,
    emitted_records,
    meltano_executable,
    read_duckdb,
    readme_meltano_add,
    schema_of,
    upcoming_meeting,
)

pytestmark = pytest.mark.e2e
yaml = importlib.import_module("yaml")  # PyYAML comes with singer-sdk; it has no type stubs

USER = "alice@example.com"


@pytest.fixture
def server() -> Iterator[FakeWebex]:
    with FakeWebex(follow_wall_clock=True) as fake:
        yield fake


def tap_env(server: FakeWebex, tmp_path: Path, **settings: str) -> dict[str, str]:
    """A user's environment: the sandbox, a start date, and ``TAP_WEBEX_MEETINGS_*`` values."""
    env = base_env(tmp_path / "meltano.db")
    env.update(
        TAP_WEBEX_MEETINGS_API_URL=server.api_url,
        TAP_WEBEX_MEETINGS_ACCESS_TOKEN="sandbox-token",
        TAP_WEBEX_MEETINGS_START_DATE=(server.now.date().replace(day=1)).isoformat(),
        TAP_WEBEX_MEETINGS_RETRY_MAX_WAIT_SECONDS="5",
    )
    env.update({f"TAP_WEBEX_MEETINGS_{name.upper()}": value for name, value in settings.items()})
    return env


def invoke(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``meltano invoke tap-webex-meetings``: the tap's Singer messages on stdout."""
    return captured([str(meltano_executable()), "invoke", "tap-webex-meetings"], env, timeout=300)


def series_of_records(stdout: str) -> set[str]:
    messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {
        m["record"]["meetingSeriesId"]
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == "series_meetings"
    }


# 7. Values typed into the environment ------------------------------------------------------


@pytest.mark.parametrize("form", ["{a},{b}", "{a}, {b}", '["{a}","{b}"]'])
def test_a_list_and_a_fraction_in_the_environment_as_a_user_types_them(
    installed: Path, server: FakeWebex, tmp_path: Path, form: str
) -> None:
    a, b = server.series_ids(USER)[:2]
    env = tap_env(server, tmp_path, meeting_series_ids=form.format(a=a, b=b), lookback_days="0.5")
    completed = invoke(env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert series_of_records(completed.stdout) == {a, b}
    assert "Traceback" not in completed.stderr


def test_a_number_that_is_no_number_is_one_line(
    installed: Path, server: FakeWebex, tmp_path: Path
) -> None:
    completed = invoke(tap_env(server, tmp_path, lookback_days="half a day"))
    assert completed.returncode == 1
    # Meltano relays the tap's lines with its own prefix (at "info", whatever their level).
    named = [line for line in completed.stderr.splitlines() if "lookback_days" in line]
    assert len(named) == 1, completed.stderr
    assert named[0].endswith("lookback_days: 'half a day' is not a number (0..3650)"), named
    assert "Traceback" not in completed.stderr
    assert server.requests == []


# 4. --full-refresh forgets nothing Webex deleted -------------------------------------------


def emitted_ids(log: str) -> int:
    return emitted_records(log)["series_meetings"]


@pytest.mark.parametrize("loader", ["target-postgres", "target-webex-postgres"])
def test_a_full_refresh_into_postgres_leaves_no_live_row_of_a_cancelled_meeting(
    installed: Path, server: FakeWebex, postgres: Postgres, tmp_path: Path, loader: str
) -> None:
    """Both PostgreSQL loaders honour ACTIVATE_VERSION: rows the full extract did not find are
    marked deleted (their hard_delete, false here, would delete them)."""
    schema = schema_of(tmp_path)
    meltano = Meltano(meltano_executable(), tap_env(server, tmp_path))
    meltano.into_postgres(postgres, schema)
    meltano("run", "tap-webex-meetings", loader)
    cancelled = upcoming_meeting(server)
    live = f"SELECT id FROM {schema}.series_meetings WHERE _sdc_deleted_at IS NULL"
    live_series = f"SELECT id FROM {schema}.meeting_series WHERE _sdc_deleted_at IS NULL"
    assert [cancelled] in postgres.query(live)
    series = postgres.query(live_series)
    server.delete(cancelled)

    refresh = meltano("run", "--full-refresh", "tap-webex-meetings", loader)

    live_ids = {row[0] for row in postgres.query(live)}
    assert cancelled not in live_ids
    assert len(live_ids) == emitted_ids(refresh.stdout + refresh.stderr)  # nothing else lost
    marked = postgres.query(
        f"SELECT id FROM {schema}.series_meetings WHERE _sdc_deleted_at IS NOT NULL"
    )
    assert marked == [[cancelled]]
    assert sorted(postgres.query(live_series)) == sorted(series)  # no series lost either


def test_a_full_refresh_into_webex_duckdb_deletes_the_row_of_a_cancelled_meeting(
    installed: Path, server: FakeWebex, tmp_path: Path
) -> None:
    """target-webex-duckdb honours ACTIVATE_VERSION (hard_delete in meltano.yml): the row of a
    meeting cancelled while no state remembered it is gone, every other row stays."""
    warehouse = tmp_path / "warehouse.duckdb"
    meltano = Meltano(meltano_executable(), tap_env(server, tmp_path))
    meltano.env["TARGET_WEBEX_DUCKDB_FILEPATH"] = str(warehouse)
    meltano("run", "tap-webex-meetings", "target-webex-duckdb")
    cancelled = upcoming_meeting(server)
    assert cancelled in {row["id"] for row in read_duckdb(warehouse)["series_meetings"]}
    series = read_duckdb(warehouse)["meeting_series"]
    server.delete(cancelled)

    refresh = meltano("run", "--full-refresh", "tap-webex-meetings", "target-webex-duckdb")

    ids = [row["id"] for row in read_duckdb(warehouse)["series_meetings"]]
    assert cancelled not in ids
    assert len(ids) == len(set(ids)) == emitted_ids(refresh.stdout + refresh.stderr)
    assert read_duckdb(warehouse)["meeting_series"] == series  # no series lost


def test_duckdb_ignores_activate_version_so_it_starts_over_from_an_empty_file(
    installed: Path, server: FakeWebex, tmp_path: Path
) -> None:
    """What the README says of target-duckdb 0.8.0: a full refresh alone keeps the row of a
    meeting cancelled while no state remembered it; deleting the file first starts over.
    """
    warehouse = tmp_path / "warehouse.duckdb"
    meltano = Meltano(meltano_executable(), tap_env(server, tmp_path))
    meltano.into_duckdb(warehouse)
    meltano("run", "tap-webex-meetings", "target-duckdb")
    cancelled = upcoming_meeting(server)
    server.delete(cancelled)

    meltano("run", "--full-refresh", "tap-webex-meetings", "target-duckdb")
    assert cancelled in {row["id"] for row in read_duckdb(warehouse)["series_meetings"]}

    warehouse.unlink()
    refresh = meltano("run", "--full-refresh", "tap-webex-meetings", "target-duckdb")
    ids = [row["id"] for row in read_duckdb(warehouse)["series_meetings"]]
    assert cancelled not in ids
    assert len(ids) == len(set(ids)) == emitted_ids(refresh.stdout + refresh.stderr)


# 10. What an adopter looks for: timezone in the warehouse, the tap in a project of their own


def test_timezone_changes_no_instant_stored_in_either_warehouse(
    installed: Path, server: FakeWebex, postgres: Postgres, tmp_path: Path
) -> None:
    """The same meetings loaded with timezone UTC and Asia/Shanghai: the same stored values."""
    series = server.series_ids(USER)[0]
    duckdb: dict[str, dict[str, str]] = {}
    pg: dict[str, dict[str, str]] = {}
    for zone in ("UTC", "Asia/Shanghai"):
        folder = tmp_path / zone.replace("/", "-")
        folder.mkdir()
        schema = schema_of(tmp_path, prefix=f"tz_{zone.replace('/', '_').lower()}")
        meltano = Meltano(
            meltano_executable(),
            tap_env(server, folder, timezone=zone, meeting_series_ids=series),
        )
        meltano.into_postgres(postgres, schema)
        meltano.into_duckdb(folder / "warehouse.duckdb")
        meltano(
            "run", "tap-webex-meetings", "target-duckdb", "tap-webex-meetings", "target-postgres"
        )
        duckdb[zone] = {
            row["id"]: row["start"]
            for row in read_duckdb(folder / "warehouse.duckdb")["series_meetings"]
        }
        pg[zone] = dict(
            postgres.query(
                'SELECT id, to_char(start, \'YYYY-MM-DD"T"HH24:MI:SS"Z"\') '
                f"FROM {schema}.series_meetings"
            )
        )
        (column_type,) = postgres.query(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = "
            f"'{schema}' AND table_name = 'series_meetings' AND column_name = 'start'"
        )
        assert column_type == ["timestamp without time zone"], column_type  # values in UTC
    assert duckdb["UTC"]
    assert duckdb["Asia/Shanghai"] == duckdb["UTC"]
    assert pg["Asia/Shanghai"] == pg["UTC"] == duckdb["UTC"]


def pip_url_of(source: str, wheel: Path) -> str:
    """The wheel built as the README's Install section says, or a git+file:// URL of HEAD."""
    if source == "wheel":
        return str(wheel)
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"git+file://{REPO}@{head}"


@pytest.mark.parametrize("source", ["wheel", "git"])
def test_the_tap_added_to_a_new_meltano_project_runs(
    server: FakeWebex, wheel: Path, tmp_path: Path, source: str
) -> None:
    """The README's `meltano add --from-ref`, its pip_url edit, `meltano install`, a run."""
    env = tap_env(server, tmp_path)
    env["PATH"] = (
        f"{meltano_executable().parent}:{env['PATH']}"  # meltano on PATH, as a user has it
    )

    def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        completed = captured(["bash", "-euo", "pipefail", "-c", command], env, cwd=cwd, timeout=900)
        assert completed.returncode == 0, (command, completed.stderr[-3000:])
        return completed

    shell("meltano init project --no-usage-stats", tmp_path)
    project = tmp_path / "project"
    shell(readme_meltano_add(), project)
    meltano_yml = project / "meltano.yml"
    config = yaml.safe_load(meltano_yml.read_text())
    (tap,) = config["plugins"]["extractors"]
    tap["pip_url"] = pip_url_of(source, wheel)  # the user's edit of meltano.yml
    meltano_yml.write_text(yaml.safe_dump(config))
    shell("meltano install extractor tap-webex-meetings", project)

    run = shell("meltano invoke tap-webex-meetings", project)
    assert len(series_of_records(run.stdout)) > 1
    assert "Traceback" not in run.stderr
