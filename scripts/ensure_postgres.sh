#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for target-postgres (tests, trying the loader).
#
#   bash scripts/ensure_postgres.sh            install PostgreSQL when missing (Debian apt),
#                                              start a new cluster on 127.0.0.1, free port,
#                                              print its settings as `export KEY=VALUE` lines
#   bash scripts/ensure_postgres.sh --stop DIR stop the cluster of that PGDATA, delete it
#
# Printed: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGDATA PG_BINDIR (psql is there), then the
# connection as TARGET_POSTGRES_*, TARGET_WEBEX_POSTGRES_* (Meltano's names for both loaders) and
# DBT_POSTGRES_* (the dbt-postgres utility's):
# `eval "$(bash scripts/ensure_postgres.sh)"` exports them into your shell.
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user that
# the Debian package creates. Everything else goes to stderr; any failure exits non-zero.
set -euo pipefail

say() { echo "ensure_postgres: $*" >&2; }
die() { say "$*"; exit 1; }

# Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

find_bindir() {
    local initdb
    if initdb=$(command -v initdb 2>/dev/null) && [ -x "$(dirname "$initdb")/pg_ctl" ]; then
        dirname "$(readlink -f "$initdb")"
        return
    fi
    # Debian keeps the server binaries out of PATH, one folder per major version.
    local dir
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        echo "$dir"
    fi
}

# shellcheck source=scripts/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"

if [ "${1:-}" = "--stop" ]; then
    pgdata=${2:?usage: ensure_postgres.sh --stop PGDATA}
    bindir=$(find_bindir)
    [ -n "$bindir" ] || die "PostgreSQL binaries not found"
    if [ -f "$pgdata/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$pgdata" -m immediate -w stop >&2 || true
    fi
    rm -rf "$(dirname "$pgdata")"
    exit 0
fi

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
    apt_install postgresql
    bindir=$(find_bindir)
    [ -n "$bindir" ] || die "apt-get installed postgresql, but initdb/pg_ctl were not found"
fi
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (Debian's package makes it)"
fi

# The parent folder must be reachable by the owner (pytest's tmp dirs are root-only).
root=$(mktemp -d "${TMPDIR:-/tmp}/webex-postgres.XXXXXX")
chmod 755 "$root"
pgdata="$root/data"
mkdir -m 700 "$pgdata"
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$root/pwfile"
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$root"
fi
trap 'rm -rf "$root"' ERR

as_owner "$bindir/initdb" -D "$pgdata" -U postgres --pwfile="$root/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1 \
    || { cat "$root/initdb.log" >&2; die "initdb failed"; }
rm -f "$root/pwfile"

# A free port: bind to port 0 and let the kernel choose. Retry in the rare case of a race.
for attempt in 1 2 3; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$root/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c full_page_writes=off" \
        start >&2; then
        break
    fi
    [ "$attempt" -lt 3 ] || { cat "$root/server.log" >&2; die "the server did not start"; }
    say "port $port was taken, trying another"
done

cat <<EOF
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=postgres
export PGPASSWORD=$password
export PGDATABASE=postgres
export PGDATA=$pgdata
export PG_BINDIR=$bindir
export TARGET_POSTGRES_HOST=127.0.0.1
export TARGET_POSTGRES_PORT=$port
export TARGET_POSTGRES_USER=postgres
export TARGET_POSTGRES_PASSWORD=$password
export TARGET_POSTGRES_DATABASE=postgres
export TARGET_WEBEX_POSTGRES_HOST=127.0.0.1
export TARGET_WEBEX_POSTGRES_PORT=$port
export TARGET_WEBEX_POSTGRES_USER=postgres
export TARGET_WEBEX_POSTGRES_PASSWORD=$password
export TARGET_WEBEX_POSTGRES_DATABASE=postgres
export DBT_POSTGRES_HOST=127.0.0.1
export DBT_POSTGRES_PORT=$port
export DBT_POSTGRES_USER=postgres
export DBT_POSTGRES_PASSWORD=$password
export DBT_POSTGRES_DBNAME=postgres
EOF
say "running: stop it with: bash scripts/ensure_postgres.sh --stop $pgdata"
