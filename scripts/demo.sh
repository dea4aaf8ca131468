#!/usr/bin/env bash
# The tap through Meltano into DuckDB, against the bundled fake Webex, on a fresh machine:
#
#   bash scripts/demo.sh
#
# Installs Meltano into .venv-meltano (its own venv: Meltano gives every plugin a venv of
# its own anyway, the tap included), `meltano install`s the tap, target-webex-duckdb and
# dbt-duckdb, starts the sandbox on 127.0.0.1, runs `meltano run tap-webex-meetings
# target-webex-duckdb dbt-duckdb:build` and prints what landed in the warehouse and what the dbt models say.
#
# Run it again for an incremental run: Meltano keeps the state in .meltano/meltano.db. The
# sandbox serves the same series (its clock is the wall clock, like the tap's), and before
# each incremental run a host "deletes" one upcoming meeting in it (DELETE /v1/meetings/{id},
# as in Webex): the run removes it from the warehouse (target-webex-duckdb's hard_delete), and
# meetings that ended or were missed meanwhile change state. The demo has its own
# warehouse (output/demo/warehouse.duckdb) and state id (suffix :demo), so it never touches
# what `meltano run` loads from the real Webex. Delete output/demo/ to start over.
# Needs python3 >= 3.10 with venv, and PyPI. Logs: output/demo/*.log.
set -euo pipefail

MELTANO_VERSION=4.4.1
STATE_SUFFIX=demo
STATE_ID=dev:tap-webex-meetings-to-target-webex-duckdb:$STATE_SUFFIX

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${DEMO_OUTPUT:-$ROOT/output/demo} # DEMO_OUTPUT: somewhere else (the tests)
WAREHOUSE=$OUT/warehouse.duckdb
DEMO_STATE=$OUT/sandbox.env # the sandbox's anchor and clock, kept with the warehouse
SNAPSHOT=$OUT/snapshot.json # ids and states after the last run, to show what changed
SANDBOX_LOG=$OUT/sandbox.log
RUN_LOG=$OUT/meltano-run.log
INSTALL_LOG=$OUT/install.log
MELTANO=$ROOT/.venv-meltano/bin/meltano
PY=${PYTHON:-python3}

export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export MELTANO_ENVIRONMENT=dev

step() { printf '==> %s\n' "$*"; }
fail() {
    printf 'demo: %s\n' "$*" >&2
    exit 1
}
# Run quietly; on failure show the end of the log and stop.
quiet() {
    local log=$1
    shift
    if ! "$@" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        fail "failed: $* (full log: $log)"
    fi
}
meltano() { "$MELTANO" --log-level=warning "$@"; }

mkdir -p "$OUT" "$ROOT/output" # output/: where meltano.yml's loaders write
: >"$INSTALL_LOG"

# 1. Meltano, pinned, in its own venv.
if [ "$("$MELTANO" --version 2>/dev/null || true)" != "meltano, version $MELTANO_VERSION" ]; then
    step "Installing Meltano $MELTANO_VERSION into .venv-meltano"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        fail "$PY is $("$PY" --version 2>&1); Meltano needs Python >= 3.10 (set PYTHON=...)"
    [ -x .venv-meltano/bin/python ] || quiet "$INSTALL_LOG" "$PY" -m venv .venv-meltano
    quiet "$INSTALL_LOG" .venv-meltano/bin/python -m pip install -q "meltano[postgres]==$MELTANO_VERSION"
fi

# 2. The plugins this demo needs (quick when they are installed already).
step "meltano install tap-webex-meetings target-webex-duckdb dbt-duckdb"
quiet "$INSTALL_LOG" meltano install tap-webex-meetings target-webex-duckdb dbt-duckdb
SANDBOX=$ROOT/.meltano/extractors/tap-webex-meetings/venv/bin/tap-webex-meetings-sandbox
DUCKDB_PY=$ROOT/.meltano/loaders/target-webex-duckdb/venv/bin/python # the duckdb that writes

# 3. First run or incremental run? Warehouse, state and sandbox clock belong together:
#    when one of them is missing, start over.
has_state=no
if meltano state list 2>/dev/null | grep -qxF "$STATE_ID"; then
    has_state=yes
fi
if [ "$has_state" = yes ] && [ -f "$WAREHOUSE" ] && [ -f "$DEMO_STATE" ]; then
    # shellcheck source=/dev/null
    . "$DEMO_STATE"
    step "Incremental run: state $STATE_ID exists"
else
    if [ "$has_state" = yes ]; then
        quiet "$OUT/state.log" meltano state clear --force "$STATE_ID"
    fi
    rm -f "$WAREHOUSE" "$WAREHOUSE.wal" "$SNAPSHOT"
    read -r ANCHOR START_DATE < <(.venv-meltano/bin/python -c '
from datetime import datetime, timedelta, timezone
now = datetime.now(timezone.utc)
print(now.strftime("%Y-%m-%dT%H:%M:%SZ"), (now - timedelta(days=120)).strftime("%Y-%m-%dT00:00:00Z"))')
    DELETED=""
    step "First run: a full extract from $START_DATE"
fi

# 4. The sandbox, in the background on a free port, stopped whatever happens.
SANDBOX_PID=
stop_sandbox() {
    if [ -n "$SANDBOX_PID" ] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
        kill "$SANDBOX_PID" 2>/dev/null || true
        wait "$SANDBOX_PID" 2>/dev/null || true
    fi
}
trap stop_sandbox EXIT
# Ready when it has written its ready file (atomically, once it listens): never read its
# log before then, it may not even exist yet.
READY_FILE=$OUT/sandbox.ready
rm -f "$READY_FILE"
"$SANDBOX" --port 0 --anchor "$ANCHOR" --ready-file "$READY_FILE" >"$SANDBOX_LOG" 2>&1 &
SANDBOX_PID=$!
for _ in $(seq 600); do
    [ -f "$READY_FILE" ] && break
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
        cat "$SANDBOX_LOG" >&2 || true
        fail "the sandbox did not start"
    fi
    sleep 0.1
done
[ -f "$READY_FILE" ] || fail "the sandbox was not ready after 60 s (see $SANDBOX_LOG)"
API_URL=$(sed -n 's/^api_url=//p' "$READY_FILE")
clock=$(sed -n 's/^clock=//p' "$READY_FILE")
step "Sandbox at $API_URL, $clock"

# An incremental run: the sandbox starts afresh, so the meetings deleted before are deleted
# again, then one more upcoming meeting (the next but one of the first series) goes.
if [ "$has_state" = yes ]; then
    deletion=$(.venv-meltano/bin/python - "$API_URL" $DELETED <<'PY'
import json, sys, urllib.parse, urllib.request
from datetime import datetime, timedelta, timezone

api, deleted = sys.argv[1], sys.argv[2:]
auth = {"Authorization": "Bearer sandbox-token"}

def call(method, path, **params):
    url = f"{api}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=auth)) as r:
        return json.loads(r.read() or b"{}")

for meeting_id in deleted:
    call("DELETE", f"/meetings/{meeting_id}")
now = datetime.now(timezone.utc)
series = call("GET", "/meetings", meetingType="meetingSeries", max=1,
              **{"from": (now - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "to": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")})["items"][0]
upcoming = call("GET", "/meetings", meetingSeriesId=series["id"], meetingType="scheduledMeeting",
                max=2, **{"from": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "to": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")})
target = upcoming["items"][-1]
call("DELETE", f"/meetings/{target['id']}")
print(f"A host deleted {target['title']} of {target['start']} ({target['id']}) in the sandbox")
print(" ".join([*deleted, target["id"]]))  # last line: every id deleted so far
PY
    )
    step "$(printf '%s\n' "$deletion" | head -n 1)"
    DELETED=$(printf '%s\n' "$deletion" | tail -n 1)
fi
printf 'ANCHOR=%s\nSTART_DATE=%s\nDELETED="%s"\n' "$ANCHOR" "$START_DATE" "$DELETED" >"$DEMO_STATE"

# 5. The pipeline. Only the environment points the tap at the sandbox: meltano.yml is the
#    same one that runs against webexapis.com.
export TAP_WEBEX_MEETINGS_API_URL=$API_URL
export TAP_WEBEX_MEETINGS_ACCESS_TOKEN=sandbox-token
export TAP_WEBEX_MEETINGS_START_DATE=$START_DATE
export TARGET_WEBEX_DUCKDB_FILEPATH=$WAREHOUSE
export DBT_DUCKDB_PATH=$WAREHOUSE # the dbt models go into the same file, schema analytics
step "meltano run tap-webex-meetings target-webex-duckdb dbt-duckdb:build"
started=$SECONDS
if ! "$MELTANO" run --state-id-suffix "$STATE_SUFFIX" tap-webex-meetings target-webex-duckdb \
    dbt-duckdb:build >"$RUN_LOG" 2>&1; then
    grep -iE 'error|exception' "$RUN_LOG" | tail -n 20 >&2 || true
    fail "meltano run failed (full log: $RUN_LOG)"
fi
step "Done in $((SECONDS - started)) s; Meltano saved state $STATE_ID"
stop_sandbox

# 6. What is in the warehouse now.
echo
"$DUCKDB_PY" scripts/show_warehouse.py "$WAREHOUSE" --run-log "$RUN_LOG" \
    --previous "$SNAPSHOT" --save "$SNAPSHOT"
echo
step "What the dbt models say (schema analytics; docs/models.md)"
"$DUCKDB_PY" scripts/show_models.py "$WAREHOUSE"
echo
echo "Warehouse: ${WAREHOUSE#"$ROOT"/} (schemas webex and analytics). Run again for an incremental run."
