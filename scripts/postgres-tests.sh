#!/usr/bin/env bash
# The PostgreSQL store's tests against a throwaway server on loopback.
#
# Installs PostgreSQL $PG_MAJOR from Debian's packages when it is missing, creates a cluster in a
# temporary directory (as the `postgres` user when run as root: initdb refuses root), starts it
# on 127.0.0.1 with password logins (scram-sha-256), creates a database, exports
# SMARTFOLIO_TEST_POSTGRES and runs the tests given (default: the store's, with the `postgres`
# and `conformance` features, then the workers' tests of smartfolio-node and serve's of
# smartfolio-server). The server is
# stopped and its directory removed on exit.
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

# A loopback port for the server. The default range sits below the kernel's ephemeral range
# (ip_local_port_range, 32768.. on Linux): a port in that range can be held at any moment by an
# outgoing connection's local end, which a connect probe does not see and which makes the
# server's bind fail ("Address already in use"; CI failed so on 55432). A start that still
# fails to bind moves on to the next port.
port_lo=${SMARTFOLIO_PG_PORT:-25432}
port_hi=$((port_lo + 100))
if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
  read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range
  if [ -z "${SMARTFOLIO_PG_PORT:-}" ] && [ "$port_hi" -gt "$eph_lo" ]; then
    port_lo=$((eph_lo - 200))
    port_hi=$((port_lo + 100))
  fi
fi
next_free_port() { # from $1 up to port_hi: the first port nobody accepts on
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
    p=$((p + 1))
    [ "$p" -lt "$port_hi" ] || fail "no free port on 127.0.0.1 in $port_lo..$((port_hi - 1))"
  done
  echo "$p"
}
port=$(next_free_port "$port_lo")

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$tmp/pwfile"
[ "$(id -u)" = 0 ] && chown postgres "$tmp/pwfile"
as_pg "$bindir/initdb" -D "$tmp/data" -U smartfolio --pwfile="$tmp/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; fail "initdb failed (log above)"; }
rm -f "$tmp/pwfile"
while ! as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp" start >/dev/null; do
  if grep -q 'Address already in use' "$tmp/server.log" 2>/dev/null && [ $((port + 1)) -lt "$port_hi" ]; then
    echo "port $port is taken (bind failed); trying the next free one" >&2
    : >"$tmp/server.log"
    port=$(next_free_port $((port + 1)))
    continue
  fi
  cat "$tmp/server.log" >&2 || true
  fail "PostgreSQL $PG_MAJOR did not start on 127.0.0.1:$port (server log above)"
done
PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U smartfolio smartfolio ||
  fail "could not create the test database on 127.0.0.1:$port"
echo "PostgreSQL $PG_MAJOR on 127.0.0.1:$port (cluster in $tmp)"

export SMARTFOLIO_TEST_POSTGRES="postgres://smartfolio:$password@127.0.0.1:$port/smartfolio"
# A command that stops (`stop`) or starts again (`start`) this server: the workers' outage test.
cat >"$tmp/pg-server" <<EOF
#!/usr/bin/env bash
set -euo pipefail
run() { if [ "\$(id -u)" = 0 ]; then runuser -u postgres -- "\$@"; else "\$@"; fi; }
case "\${1:-}" in
  stop) run "$bindir/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null ;;
  start) run "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \\
    -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp" start >/dev/null ;;
  *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
EOF
chmod +x "$tmp/pg-server"
export SMARTFOLIO_TEST_PG_SERVER="$tmp/pg-server"
if [ "$#" -gt 0 ]; then
  "$@"
else
  cargo test -p smartfolio-store --features postgres,conformance
  # The workers (issue 16): partition, failover, a name taken twice.
  cargo test -p smartfolio-node --features postgres --test workers
  # `smartfolio serve` beside a worker: reads from the store, commands run by the worker.
  cargo test -p smartfolio-server --features postgres --test serve
fi
