#!/usr/bin/env bash
# A worker's bad input and a PostgreSQL that goes away (issue 16), as processes, on the server
# scripts/postgres-tests.sh starts (which it calls itself when run alone):
#   - a wrong password: `smartfolio run` fails naming the URL with the password masked, nothing
#     written;
#   - a database of a newer schema: refused naming both schemas, nothing changed;
#   - a second live worker with a taken name: refused naming the holder, nothing changed;
#   - PostgreSQL stopped under a trading worker: the worker stops trading and says so; started
#     again: the worker takes the account's lease again at a new epoch, recovers and trades; the
#     store's checks pass at the end.
# It waits on the workers' logs and the leases table, never a fixed sleep.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SMARTFOLIO_TEST_POSTGRES:-}" ]; then
  exec scripts/postgres-tests.sh "$0" "$@"
fi
TTL=${TTL:-2}
. scripts/workers-lib.sh
[ -x "${SMARTFOLIO_TEST_PG_SERVER:-}" ] || fail "SMARTFOLIO_TEST_PG_SERVER (from scripts/postgres-tests.sh) is missing"

await_log() { # file pattern
  until grep -q "$2" "$1"; do sleep 0.05; done
}

for i in 1 2 3; do
  "$bin" bot create --name "o$i" --targets BTC=50,ETH=50 --invest 1000 --trigger threshold:2 \
    --data-dir "$work/cli" >/dev/null || fail "bot create o$i failed"
done
tables() { q "SELECT (SELECT count(*) FROM bots) || '/' || (SELECT count(*) FROM leases) || '/' || (SELECT count(*) FROM ledger)"; }

# A wrong password.
before=$(tables)
wrong="postgres://smartfolio:not-the-password@${SMARTFOLIO_TEST_POSTGRES#*@}"
if out=$(SMARTFOLIO_STORE=$wrong "$bin" run --worker x --data-dir "$work/x" 2>&1); then
  fail "a wrong password was accepted: $out"
fi
grep -q "cannot open the PostgreSQL store postgres://smartfolio:\*\*\*@" <<<"$out" || fail "wrong password: $out"
grep -q "not-the-password" <<<"$out" && fail "the password is shown: $out"
[ "$(tables)" = "$before" ] || fail "a refused login changed the store"
echo "wrong password: $(grep -o 'cannot open.*' <<<"$out" | head -1)"

# A database of a newer schema (its own schema on the server, migrated, then marked newer).
q "CREATE SCHEMA newer"
newer="$SMARTFOLIO_TEST_POSTGRES?options[search_path]=newer"
SMARTFOLIO_STORE=$newer "$bin" bot list --data-dir "$work/n" >/dev/null || fail "the second database did not open"
"$psql_bin" "$SMARTFOLIO_TEST_POSTGRES" -XAtq -v ON_ERROR_STOP=1 -c \
  "INSERT INTO newer._sqlx_migrations (version, description, success, checksum, execution_time)
   VALUES (999, 'from the future', true, '\\x00', 0)" >/dev/null
marks=$(q "SELECT count(*) FROM newer.leases")/$(q "SELECT count(*) FROM newer._sqlx_migrations")
if out=$(SMARTFOLIO_STORE=$newer "$bin" run --worker n --data-dir "$work/n" 2>&1); then
  fail "a newer database was accepted: $out"
fi
grep -q "written by a newer smartfolio" <<<"$out" || fail "newer schema: $out"
[ "$(q "SELECT count(*) FROM newer.leases")/$(q "SELECT count(*) FROM newer._sqlx_migrations")" = "$marks" ] ||
  fail "the newer database was changed"
echo "newer schema: $(grep -o 'the database.*smartfolio ' <<<"$out" | head -1)…"

# A worker trades; a second live one with its name is refused.
start_worker w1
await_holder 0
epoch=$e
before=$(q "SELECT string_agg(venue || ':' || account || ':' || coalesce(holder, '-') || ':' || epoch, ',' ORDER BY venue, account) FROM leases")
if out=$("$bin" run --worker w1 --data-dir "$work/twin" 2>&1); then
  fail "a second w1 ran: $out"
fi
grep -q "invalid worker name: \`w1\` is in use" <<<"$out" || fail "same name: $out"
[ "$(q "SELECT string_agg(venue || ':' || account || ':' || coalesce(holder, '-') || ':' || epoch, ',' ORDER BY venue, account) FROM leases")" = "$before" ] ||
  fail "the refused twin changed the leases"
echo "same name: $(grep -o 'invalid worker name.*' <<<"$out" | head -1 | cut -c1-150)…"

# PostgreSQL goes away under the trading worker.
ticks=$(q "SELECT count(*) FROM snapshots")
"$SMARTFOLIO_TEST_PG_SERVER" stop
await_log "$work/w1.log" "stopped trading"
echo "database stopped: w1 says: $(grep -o 'why=.*' "$work/w1.log" | tail -1 | cut -c1-160)"
await_log "$work/w1.log" "cannot reach the store to take the lease: not trading"
"$SMARTFOLIO_TEST_PG_SERVER" start
await_holder "$epoch"
[ "$h" = w1 ] || fail "the lease went to $h"
echo "database back: w1 trades again at epoch $e (was $epoch)"
more=$(q "SELECT count(*) FROM snapshots")
until [ "$(q "SELECT count(*) FROM snapshots")" -gt "$more" ]; do sleep 0.05; done
kill -TERM "$(cat "$work/w1.pid")"
wait "${pids[0]}" || fail "w1 did not stop cleanly: $(tail -5 "$work/w1.log")"
pids=()
check_store
echo "PASS: wrong password, newer schema and a taken name refused with nothing changed; the worker stopped trading while the database was away ($ticks snapshots before) and traded again at a new epoch when it returned"
