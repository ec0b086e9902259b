#!/usr/bin/env bash
# Failover soak of `smartfolio run` workers (issue 16), as processes: W workers on one PostgreSQL
# database trade one paper account's B bots (the paper venue lives in the database, shared by
# every worker); the worker holding the account is SIGKILLed K times, each time while it trades,
# and a new worker process is started in its place. After each kill the script waits (on the
# leases table and the workers' logs, never a fixed sleep) until a live worker holds the account
# at the next epoch and has recovered and started trading, and prints how long that took. At the
# end a last worker recovers and settles what the last kill left in flight, and SQL checks:
#   - every bot's ledger equals its flows plus its fills (base, quote, fee);
#   - no fill is lost: every venue fill of a stored order is stored, once;
#   - nothing was sent blindly: every order at the venue is a stored order, and none stored as
#     never sent reached the venue;
#   - no order is filled beyond its quantity (a quote-sized buy beyond its amount), and no
#     (bot, seq) rebalance twice.
# After each kill it also checks that the new holder trades every bot (its log's bots=B) and
# that no other live worker believes it trades, and at the end prints the takeover times
# (min / median / max) beside the TTL. A worker that exits on its own (found before each kill
# and at the end) fails the run, naming it and its exit status; a failed run keeps the workers'
# logs in target/workers-logs/<UTC time>/ and prints their tails.
#
#   scripts/workers-soak.sh                   # 3 workers, 300 bots, 20 kills
#   WORKERS=3 BOTS=30 KILLS=3 scripts/workers-soak.sh
#
# Starts its own PostgreSQL through scripts/postgres-tests.sh; builds the CLI with the
# `postgres` feature (debug; SMARTFOLIO_BIN to use another binary).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SMARTFOLIO_TEST_POSTGRES:-}" ]; then
  exec scripts/postgres-tests.sh "$0" "$@"
fi

WORKERS=${WORKERS:-3}
BOTS=${BOTS:-300}
KILLS=${KILLS:-20}
TTL=${TTL:-2}
. scripts/workers-lib.sh

echo "creating $BOTS bots"
for i in $(seq 1 "$BOTS"); do
  "$bin" bot create --name "b$i" --targets BTC=40,ETH=30,SOL=30 --invest $((1000 + i)) \
    --trigger threshold:2 --data-dir "$work/cli" >/dev/null ||
    fail "bot create b$i failed"
done

# Every bot held by exactly one live worker: the holder's log says it trades all $BOTS bots at
# the lease's epoch, and every other live worker's last word is not that it trades.
held_once() {
  grep "epoch=$e" "$work/$h.log" | grep "trading" | grep -q "bots=$BOTS\b" ||
    fail "$h holds the account at epoch $e but does not trade all $BOTS bots: $(grep "epoch=$e" "$work/$h.log" | tail -1)"
  for f in "$work"/w*.pid; do
    w=$(basename "$f" .pid)
    [ "$w" = "$h" ] && continue
    last=$(grep "trading" "$work/$w.log" | grep -v "not trading" | tail -1 || true)
    if [ -n "$last" ] && ! grep -q "stopped trading" <<<"$last"; then
      fail "$w is alive and says it trades while $h holds the account at epoch $e: $last"
    fi
  done
}
takeovers=()
took() { # kill number
  local ms=$(($(now_ms) - killed_at))
  takeovers+=("$ms")
  echo "kill $1: $h trades all $BOTS bots at epoch $e, $ms ms after the kill"
}

for w in $(seq 1 "$WORKERS"); do start_worker "w$w"; done
next=$((WORKERS + 1))
epoch=0
for k in $(seq 1 "$KILLS"); do
  # The holder at a newer epoch, trading (its log says so for that epoch).
  await_holder "$epoch"
  held_once
  [ "$epoch" -gt 0 ] && took $((k - 1))
  epoch=$e
  # Let it trade into a rebalance, then kill it mid-flight.
  before=$(q "SELECT count(*) FROM orders")
  while [ "$(q "SELECT count(*) FROM orders")" = "$before" ]; do sleep 0.05; done
  all_alive
  p=$(cat "$work/$h.pid")
  kill -9 "$p" 2>/dev/null || all_alive
  killed_at=$(now_ms)
  wait "$p" 2>/dev/null || true # reaped quietly (no job notice)
  rm -f "$work/$h.pid"
  start_worker "w$next"
  next=$((next + 1))
done
await_holder "$epoch"
held_once
took "$KILLS"
all_alive
# Every live worker stopped; then the checks (after a last worker's recovery).
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

check_store
stats=$(q "SELECT (SELECT count(*) FROM bots) || ' bots, ' || (SELECT count(*) FROM rebalances) || ' rebalances (' ||
  (SELECT count(*) FROM rebalances WHERE status = 'interrupted') || ' interrupted), ' || (SELECT count(*) FROM orders) ||
  ' orders, ' || (SELECT count(*) FROM fills) || ' fills, lease epoch ' || (SELECT epoch FROM leases WHERE account = 'soak')")
recovered=$(grep -ho "recovered_orders=[0-9]*" "$work"/w*.log "$work/last.log" | awk -F= '{s += $2} END {print s + 0}')
sorted=$(printf '%s\n' "${takeovers[@]}" | sort -n)
n=${#takeovers[@]}
echo "takeovers after a SIGKILL (kill to the next holder trading, $n): min $(head -1 <<<"$sorted") ms," \
  "median $(sed -n "$(((n + 1) / 2))p" <<<"$sorted") ms, max $(tail -1 <<<"$sorted") ms;" \
  "$(awk -v t="$TTL" 'BEGIN { printf "TTL %d ms, heartbeat %d ms", t * 1000, t * 1000 / 3 }')"
echo "PASS: $KILLS kills of $WORKERS workers: $stats; $recovered in-flight orders recovered by the next holders"
