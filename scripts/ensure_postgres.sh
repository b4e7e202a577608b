#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) are on this machine, for the tests that start a
# throwaway server (tests/pg.py). Idempotent: does nothing when they are already there.
# Installs with apt-get when run as root; otherwise says what is missing (tests then skip PostgreSQL,
# except under CI=true, where this exits non-zero).
set -euo pipefail

have_binaries() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
    done
    return 1
}

if have_binaries; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_postgres: installing the PostgreSQL server (apt-get install postgresql)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # the package's own cluster is not used; tests run their own server in a temporary directory
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    if have_binaries; then
        exit 0
    fi
    echo "ensure_postgres: postgresql installed, but initdb/pg_ctl were not found" >&2
    exit 1
fi

echo "ensure_postgres: PostgreSQL server binaries (initdb, pg_ctl) are missing; install the 'postgresql'" \
     "package (as root: apt-get install postgresql). PostgreSQL tests will be skipped." >&2
if [ "${CI:-}" = "true" ]; then
    exit 1
fi
exit 0
