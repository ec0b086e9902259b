#!/usr/bin/env bash
# The PostgreSQL store's tests against a throwaway server on loopback.
#
# Installs PostgreSQL $PG_MAJOR from Debian's packages when it is missing, creates a cluster in a
# temporary directory (as the `postgres` user when run as root: initdb refuses root), starts it
# on 127.0.0.1 with password logins (scram-sha-256), creates a database, exports
# SMARTFOLIO_TEST_POSTGRES and runs the tests given (default: the store's, with the `postgres`
# and `conformance` features). The server is stopped and its directory removed on exit.
# Anything that cannot be installed or started fails loudly; nothing is skipped.
#
#   scripts/postgres-tests.sh                       # the store's suite on both backends
#   scripts/postgres-tests.sh cargo test -p smartfolio-store --features postgres,conformance x
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=${PG_MAJOR:-15}
bindir=/usr/lib/postgresql/$PG_MAJOR/bin

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [ ! -x "$bindir/initdb" ]; then
  [ "$(id -u)" = 0 ] || fail "PostgreSQL $PG_MAJOR is not installed ($bindir/initdb) and this user cannot apt-get it"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed: PostgreSQL $PG_MAJOR cannot be installed"
  apt-get install -y -qq "postgresql-$PG_MAJOR" >/dev/null ||
    fail "apt-get could not install postgresql-$PG_MAJOR (Debian's package of PostgreSQL $PG_MAJOR)"
fi
[ -x "$bindir/initdb" ] || fail "PostgreSQL $PG_MAJOR could not be installed: $bindir/initdb is missing"

# initdb and the server refuse to run as root: run them as `postgres` (the package's user).
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || fail "running as root, but there is no postgres user to run the server"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smartfolio-pg.XXXXXX")
[ "$(id -u)" = 0 ] && chown postgres "$tmp"
stop() {
  as_pg "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap stop EXIT

# A free loopback port, from 55432 up.
port=${SMARTFOLIO_PG_PORT:-55432}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  port=$((port + 1))
  [ "$port" -lt 55532 ] || fail "no free port on 127.0.0.1 in 55432..55531"
done

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$tmp/pwfile"
[ "$(id -u)" = 0 ] && chown postgres "$tmp/pwfile"
as_pg "$bindir/initdb" -D "$tmp/data" -U smartfolio --pwfile="$tmp/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; fail "initdb failed (log above)"; }
rm -f "$tmp/pwfile"
if ! as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp" start >/dev/null; then
  cat "$tmp/server.log" >&2 || true
  fail "PostgreSQL $PG_MAJOR did not start on 127.0.0.1:$port (server log above)"
fi
PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U smartfolio smartfolio ||
  fail "could not create the test database on 127.0.0.1:$port"
echo "PostgreSQL $PG_MAJOR on 127.0.0.1:$port (cluster in $tmp)"

export SMARTFOLIO_TEST_POSTGRES="postgres://smartfolio:$password@127.0.0.1:$port/smartfolio"
if [ "$#" -gt 0 ]; then
  "$@"
else
  cargo test -p smartfolio-store --features postgres,conformance
fi
