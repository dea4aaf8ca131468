#!/usr/bin/env bash
# Start a throwaway Redis server: the Celery broker of tests/e2e/test_airflow_celery.py.
#
#   bash scripts/ensure_redis.sh             install Redis when missing (Debian's redis-server),
#                                            start a server on 127.0.0.1, free port, print
#                                            REDIS_URL=redis://127.0.0.1:<port>/0 and REDIS_DIR=...
#   bash scripts/ensure_redis.sh --stop DIR  stop the server of that REDIS_DIR, delete it
#
# It keeps nothing on disk (no RDB, no AOF). Everything else goes to stderr; any failure exits
# non-zero.
set -euo pipefail

say() { echo "ensure_redis: $*" >&2; }
die() { say "$*"; exit 1; }

# shellcheck source=scripts/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

if [ "${1:-}" = "--stop" ]; then
    dir=${2:?usage: ensure_redis.sh --stop REDIS_DIR}
    if [ -f "$dir/redis.pid" ]; then
        pid=$(cat "$dir/redis.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    exit 0
fi

command -v redis-server >/dev/null || apt_install redis-server
command -v redis-server >/dev/null || die "apt-get installed redis-server, but it is not on PATH"

dir=$(mktemp -d "${TMPDIR:-/tmp}/webex-redis.XXXXXX")
trap 'rm -rf "$dir"' ERR
# A free port: bind to port 0 and let the kernel choose. Retry in the rare case of a race.
for attempt in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save '' --appendonly no >&2; then
        for _ in $(seq 100); do
            if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
                break 2
            fi
            sleep 0.1
        done
    fi
    [ "$attempt" -lt 3 ] || { cat "$dir/redis.log" >&2; die "the server did not start"; }
    say "port $port was taken, trying another"
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
done

cat <<OUT
REDIS_URL=redis://127.0.0.1:$port/0
REDIS_DIR=$dir
OUT
say "running: stop it with: bash scripts/ensure_redis.sh --stop $dir"
