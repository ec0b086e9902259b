# Shared by scripts/workers-soak.sh and scripts/workers-outage.sh (sourced, inside
# scripts/postgres-tests.sh): the binary, a paper account's configuration on the test database,
# starting workers, and the checks of what the workers stored.
PG_MAJOR=${PG_MAJOR:-15}
psql_bin=/usr/lib/postgresql/$PG_MAJOR/bin/psql
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -x "$psql_bin" ] || fail "psql is missing ($psql_bin)"
q() { "$psql_bin" "$SMARTFOLIO_TEST_POSTGRES" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

bin=${SMARTFOLIO_BIN:-}
if [ -z "$bin" ]; then
  cargo build -q -p smartfolio-cli --features postgres || fail "the CLI did not build"
  bin=target/debug/smartfolio
fi
[ -x "$bin" ] || fail "no smartfolio binary at $bin"

work=$(mktemp -d "${TMPDIR:-/tmp}/smartfolio-soak.XXXXXX")
pids=()
# A failed run keeps its workers' logs: copied to target/workers-logs/<time>/ and their tails
# printed, before the work directory is removed.
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "$rc" != 0 ] && compgen -G "$work/*.log" >/dev/null; then
    local keep
    keep=target/workers-logs/$(date -u +%Y%m%dT%H%M%SZ)
    mkdir -p "$keep" && cp "$work"/*.log "$keep"/
    for f in "$work"/*.log; do
      echo "--- the last 20 lines of $(basename "$f")"
      tail -20 "$f"
    done >&2
    echo "FAILED (exit $rc): the workers' logs are kept in $keep" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/smartfolio.toml" <<EOF
store = "$SMARTFOLIO_TEST_POSTGRES"
quote = "USDT"
account = "soak"
cooldown = "0"
snapshot_interval = "1h"
[paper]
fee_rate = "0.001"
balances = { USDT = "100000000" }
[market]
kind = "synthetic"
seed = 7
assets = ["BTC", "ETH", "SOL"]
step = "1h"
start = "2024-01-01"
speed = 18000000
EOF
export SMARTFOLIO_CONFIG=$work/smartfolio.toml
start_worker() { # name
  mkdir -p "$work/$1"
  "$bin" run --worker "$1" --lease-ttl "$TTL" --data-dir "$work/$1" >"$work/$1.log" 2>&1 &
  pids+=($!)
  echo $! >"$work/$1.pid"
}
# The holder (`-` when none) and epoch of a paper account's lease (default: the config's
# account, `soak`).
# Every started worker not yet killed by the script is still running; a worker that exited on
# its own fails the run, naming it and its exit status.
all_alive() {
  local f w p
  for f in "$work"/*.pid; do
    [ -e "$f" ] || continue
    w=$(basename "$f" .pid)
    p=$(cat "$f")
    if ! kill -0 "$p" 2>/dev/null; then
      wait "$p" 2>/dev/null && st=0 || st=$?
      fail "worker $w (pid $p) exited on its own with status $st: $(tail -3 "$work/$w.log")"
    fi
  done
}
holder() { q "SELECT coalesce(holder, '-') || ' ' || epoch FROM leases WHERE venue = 'paper' AND account = '${1:-soak}'"; }
now_ms() { date +%s%3N; }
# Wait until a live worker holds the account ($2, default `soak`) at an epoch above $1 and its
# log says it trades at that epoch (recovered); sets h (its name) and e (the epoch).
await_holder() {
  while :; do
    read -r h e <<<"$(holder "${2:-soak}" 2>/dev/null || true)" || true
    if [ -n "${h:-}" ] && [ "${e:-0}" -gt "$1" ] && [ -f "$work/$h.pid" ] &&
      grep -q "epoch=$e.*trading\|trading.*epoch=$e" "$work/$h.log"; then
      return
    fi
    sleep 0.05
  done
}

# What every run ends with: a last worker recovers what the stopped ones left in flight (orders
# pending in the store, settled by client id) and runs one tick; then the SQL checks.
check_store() {
  mkdir -p "$work/last"
  "$bin" run --worker last --lease-ttl "$TTL" --max-ticks 1 --data-dir "$work/last" >"$work/last.log" 2>&1 ||
    { tail -20 "$work/last.log"; fail "the last worker failed"; }
  bad=$(q "
  WITH l AS (SELECT bot_id, asset, sum(amount) a FROM ledger GROUP BY 1, 2),
  e AS (
    SELECT bot_id, asset, CASE kind WHEN 'deposit' THEN amount ELSE -amount END a FROM flows
    UNION ALL SELECT bot_id, base, CASE side WHEN 'buy' THEN quantity ELSE -quantity END FROM fills
    UNION ALL SELECT bot_id, quote, CASE side WHEN 'buy' THEN -quantity * price ELSE quantity * price END FROM fills
    UNION ALL SELECT bot_id, fee_asset, -fee FROM fills),
  x AS (SELECT bot_id, asset, sum(a) a FROM e GROUP BY 1, 2)
  SELECT count(*) FROM l FULL JOIN x USING (bot_id, asset) WHERE coalesce(l.a, 0) <> coalesce(x.a, 0)")
  [ "$bad" = 0 ] || fail "$bad (bot, asset) ledgers differ from flows + fills"
  lost=$(q "SELECT count(*) FROM paper_fills p JOIN orders o ON o.client_id = p.client_id
    LEFT JOIN fills f ON f.account = p.account AND f.fill_id = p.fill_id WHERE f.fill_id IS NULL")
  [ "$lost" = 0 ] || fail "$lost venue fills of stored orders are not stored"
  blind=$(q "SELECT count(*) FROM paper_orders p LEFT JOIN orders o ON o.client_id = p.client_id
    WHERE o.client_id IS NULL OR o.status = 'not_sent'")
  [ "$blind" = 0 ] || fail "$blind orders at the venue were not stored first, or stored as never sent"
  # An order sized in base never fills beyond its quantity; a market buy sized in quote
  # (quote_amount) never spends beyond its amount (it may buy more base than planned).
  over=$(q "SELECT count(*) FROM orders o WHERE o.quote_amount IS NULL AND o.quantity < (SELECT coalesce(sum(quantity), 0) FROM fills f WHERE f.client_id = o.client_id)")
  [ "$over" = 0 ] || fail "$over orders filled beyond their quantity"
  overspent=$(q "SELECT count(*) FROM orders o WHERE o.quote_amount IS NOT NULL AND o.quote_amount < (SELECT coalesce(sum(quantity * price), 0) FROM fills f WHERE f.client_id = o.client_id)")
  [ "$overspent" = 0 ] || fail "$overspent market buys spent beyond their quote amount"
  twice=$(q "SELECT count(*) FROM (SELECT bot_id, seq FROM rebalances GROUP BY 1, 2 HAVING count(*) > 1) t")
  [ "$twice" = 0 ] || fail "$twice rebalances stored twice"
}
