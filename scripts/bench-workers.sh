#!/usr/bin/env bash
# Workers on PostgreSQL, measured (issue 16): `smartfolio run` workers (release build) on a
# throwaway PostgreSQL 15 on loopback, trading paper accounts (the paper venue lives in the
# database). Prints one table per measure:
#   1. one worker, N bots on one account, the market unpaced (speed max, one-minute bars): wall
#      time and the worker's CPU per tick, CPU per bot-tick, store round trips per tick, and
#      the bots one worker can drive at one tick a second (N x 1000 / tick ms);
#   2. the store round trips of a rebalance: bots whose trigger fires at every tick;
#   3. 1, 2 and 4 workers at once, each on its own account of B bots: bot-ticks per second;
#      3b. the same with bots that rebalance at every tick: rebalances per second;
#   4. a worker's death (SIGKILL) to its bots running again on a standby worker: the wait for
#      the lease (expiry, then the standby's next heartbeat) and the recovery of N bots.
# Each per-tick figure is the difference of two runs of the same worker, 1 tick and 1 + T
# ticks, so the start (store open, bots loaded, recovery) is not counted in it.
# Round trips are counted by PostgreSQL: pg_stat_statements' calls (every statement the server
# executed for the worker, BEGIN and COMMIT included; a statement is one round trip with sqlx's
# pipelined extended protocol), reset before each run; "PG ms" is their total execution time.
# A benchmark, not a test: run it alone on a quiet machine; the figures depend on the cores.
#
#   scripts/bench-workers.sh
#   BENCH_BOTS="100 300" BENCH_TICKS=20 BENCH_SCALE_BOTS=100 scripts/bench-workers.sh
#
# Environment: BENCH_BOTS (table 1's sizes, default "100 300 1000"), BENCH_TICKS (T, 200),
# BENCH_REBALANCE_BOTS and BENCH_REBALANCE_TICKS (table 2: 100 bots, T = 20), BENCH_WORKERS ("1 2 4"), BENCH_SCALE_BOTS (B, 250),
# BENCH_SCALE_REBALANCE_BOTS (table 3b, 40), BENCH_KILLS (table 4, 3), BENCH_TABLES (which
# tables, default "1 2 3 3b 4"; 4 alone makes its bots), BENCH_LOGS (a folder: table 4's
# worker logs are copied there), BENCH_TTL (table 4's --lease-ttl, 2 s), SMARTFOLIO_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SMARTFOLIO_TEST_POSTGRES:-}" ]; then
  exec scripts/postgres-tests.sh "$0" "$@"
fi
BENCH_BOTS=${BENCH_BOTS:-100 300 1000}
BENCH_TICKS=${BENCH_TICKS:-200}
BENCH_REBALANCE_TICKS=${BENCH_REBALANCE_TICKS:-20}
BENCH_REBALANCE_BOTS=${BENCH_REBALANCE_BOTS:-100}
BENCH_WORKERS=${BENCH_WORKERS:-1 2 4}
BENCH_SCALE_BOTS=${BENCH_SCALE_BOTS:-250}
BENCH_SCALE_REBALANCE_BOTS=${BENCH_SCALE_REBALANCE_BOTS:-40}
BENCH_KILLS=${BENCH_KILLS:-3}
BENCH_TABLES=${BENCH_TABLES:-1 2 3 3b 4}
TTL=${BENCH_TTL:-2}
if [ -z "${SMARTFOLIO_BIN:-}" ]; then
  cargo build --release -q -p smartfolio-cli --features postgres || {
    echo "FAIL: the CLI did not build" >&2
    exit 1
  }
  SMARTFOLIO_BIN=target/release/smartfolio
fi
. scripts/workers-lib.sh
[ -x /usr/bin/time ] || fail "/usr/bin/time (GNU time) is missing: apt-get install time"
nproc | sed 's/^/cores: /'
uptime | sed 's/^.*load/load/'

# pg_stat_statements needs the server to preload it: set, restart, create.
q "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
"$SMARTFOLIO_TEST_PG_SERVER" stop
"$SMARTFOLIO_TEST_PG_SERVER" start
q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

# The benchmark's market: one-minute bars, unpaced; snapshots hourly (every 60 ticks).
export SMARTFOLIO_MARKET_STEP=1m SMARTFOLIO_MARKET_SPEED=max SMARTFOLIO_SNAPSHOT_INTERVAL=1h

# Add bots <account>-b<from>..<to> to account $1 with trigger $2: queued (`bot create
# --no-wait`, four at a time) for a worker holding the account, which creates them between its
# ticks (a `bot create` run on its own opens the account's bots each time: slow for 1,000);
# then that worker is stopped and the account is free.
add_bots() { # account trigger from to [invest]
  local epoch0 hp
  # (no leases table before the first worker made the schema)
  epoch0=$(q "SELECT coalesce(max(epoch), 0) FROM leases WHERE venue = 'paper' AND account = '$1'" 2>/dev/null || echo 0)
  SMARTFOLIO_ACCOUNT=$1 SMARTFOLIO_MARKET_SPEED=60 start_worker "mk-$1"
  hp=$!
  await_holder "$epoch0" "$1"
  seq "$3" "$4" | xargs -P 4 -I{} env SMARTFOLIO_ACCOUNT="$1" "$bin" bot create --no-wait \
    --name "$1-b{}" --targets BTC=40,ETH=30,SOL=30 --invest "${5:-1000}" --trigger "$2" \
    --data-dir "$work/cli" >/dev/null || fail "bot create on $1 failed"
  while [ "$(q "SELECT count(*) FROM bots WHERE account = '$1'")" -lt "$4" ]; do sleep 0.2; done
  kill -TERM "$hp"
  wait "$hp" || fail "the worker creating $1's bots failed: $(tail -3 "$work/mk-$1.log")"
  rm -f "$work/mk-$1.pid"
}
calls() { q "SELECT coalesce(sum(calls), 0) || ' ' || round(coalesce(sum(total_exec_time), 0)::numeric, 1)
  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"; }
count() { q "SELECT count(*) FROM $1"; }
# Run workers named $2.. on accounts of the same names, each for $1 ticks, all at once; sets
# wall (s, the slowest), cpu (s, the workers' user + system), st (statements), pgms, reb.
run_workers() { # ticks name...
  local ticks=$1 n
  shift
  local r0
  r0=$(count rebalances)
  q "SELECT pg_stat_statements_reset()" >/dev/null
  local ps=()
  for n in "$@"; do
    mkdir -p "$work/$n"
    SMARTFOLIO_ACCOUNT=$n /usr/bin/time -f '%e %U %S' -o "$work/$n.time" "$bin" run --worker "$n" \
      --max-ticks "$ticks" --data-dir "$work/$n" --json >"$work/$n.json" 2>"$work/$n.log" &
    ps+=($!)
  done
  for p in "${ps[@]}"; do wait "$p" || fail "a worker failed: $(tail -3 "$work"/*.log)"; done
  read -r st pgms <<<"$(calls)"
  reb=$(($(count rebalances) - r0))
  wall=0 cpu=0
  for n in "$@"; do
    read -r e u s <"$work/$n.time"
    wall=$(awk -v a="$wall" -v b="$e" 'BEGIN { print (b > a ? b : a) }')
    cpu=$(awk -v a="$cpu" -v u="$u" -v s="$s" 'BEGIN { print a + u + s }')
    grep -q "\"ticks\": $ticks," "$work/$n.json" || fail "$n did not run $ticks ticks: $(cat "$work/$n.json")"
  done
}
# Per tick: the difference of a 1-tick and a (1 + T)-tick run of the same workers.
per_tick() { # ticks name...
  local t=$1
  shift
  run_workers 1 "$@"
  local w1=$wall c1=$cpu s1=$st p1=$pgms r1=$reb
  run_workers $((1 + t)) "$@"
  d_wall=$(awk -v a="$wall" -v b="$w1" -v t="$t" 'BEGIN { print (a - b) / t }')
  d_cpu=$(awk -v a="$cpu" -v b="$c1" -v t="$t" 'BEGIN { print (a - b) / t }')
  d_st=$(awk -v a="$st" -v b="$s1" -v t="$t" 'BEGIN { print (a - b) / t }')
  d_pg=$(awk -v a="$pgms" -v b="$p1" -v t="$t" 'BEGIN { print (a - b) / t }')
  d_reb=$(awk -v a="$reb" -v b="$r1" -v t="$t" 'BEGIN { print (a - b) / t }')
  start_s=$w1
}

want() { [[ " $BENCH_TABLES " == *" $1 "* ]]; }
have=0
if want 1; then
echo
echo "1. One worker, N bots on one account (trigger threshold:50: decisions, no orders after the"
echo "   first tick's deployment); per tick, over $BENCH_TICKS ticks"
printf '%7s %9s %9s %12s %11s %9s %9s %12s %16s\n' bots "start s" "tick ms" "CPU ms/tick" \
  "CPU us/bot" "stmts/tk" "PG ms/tk" "rebal/tick" "bots @1 tick/s"
for n in $BENCH_BOTS; do
  add_bots cap threshold:50 $((have + 1)) "$n"
  have=$n
  run_workers 2 cap # deploys the new bots
  per_tick "$BENCH_TICKS" cap
  awk -v n="$n" -v s="$start_s" -v w="$d_wall" -v c="$d_cpu" -v st="$d_st" -v pg="$d_pg" -v r="$d_reb" 'BEGIN {
    printf "%7d %9.2f %9.1f %12.1f %11.1f %9.1f %9.2f %12.2f %16d\n",
      n, s, w * 1000, c * 1000, c * 1e6 / n, st, pg, r, (w > 0 ? n / w : 0) }'
done

fi

if want 2; then
echo
echo "2. Store round trips of a rebalance: $BENCH_REBALANCE_BOTS bots of 100,000 USDT, trigger every:1 on hourly"
echo "   bars (each bot rebalances at every tick); per tick, over $BENCH_REBALANCE_TICKS ticks"
export SMARTFOLIO_MARKET_STEP=1h # hourly moves: every rebalance has orders above the minimums
add_bots reb every:1 1 "$BENCH_REBALANCE_BOTS" 100000
run_workers 2 reb
orders0=$(count orders)
per_tick "$BENCH_REBALANCE_TICKS" reb
export SMARTFOLIO_MARKET_STEP=1m
echo "   the statements of the $((1 + BENCH_REBALANCE_TICKS))-tick run, most called first:"
q "SELECT lpad(calls::text, 9) || '  ' || left(regexp_replace(query, '\s+', ' ', 'g'), 96)
  FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT 14"
orders=$(($(count orders) - orders0))
printf '%7s %9s %12s %12s %9s %12s %14s %12s\n' bots "tick ms" "CPU ms/tick" "rebal/tick" \
  "orders" "stmts/tick" "stmts/rebal" "PG ms/rebal"
awk -v n="$BENCH_REBALANCE_BOTS" -v w="$d_wall" -v c="$d_cpu" -v st="$d_st" -v pg="$d_pg" \
  -v r="$d_reb" -v o="$orders" 'BEGIN {
  printf "%7d %9.1f %12.1f %12.2f %9d %12.1f %14.1f %12.3f\n",
    n, w * 1000, c * 1000, r, o, st, (r > 0 ? st / r : 0), (r > 0 ? pg / r : 0) }'

fi

# A scaling table: for K in $BENCH_WORKERS, K workers at once on accounts <prefix>1..K of $2
# bots each (made when first needed), per tick over $3 ticks; prints bot-ticks/s, rebalances/s
# and statements/s.
scale() { # prefix bots ticks trigger invest
  printf '%8s %7s %14s %14s %14s %14s %12s\n' workers bots "tick ms (max)" "CPU ms/tick" \
    "bot-ticks/s" "rebalances/s" "stmts/s"
  local made=0 k i names
  for k in $BENCH_WORKERS; do
    names=()
    for i in $(seq 1 "$k"); do
      names+=("$1$i")
      if [ "$i" -gt "$made" ]; then
        add_bots "$1$i" "$4" 1 "$2" "$5"
        run_workers 2 "$1$i"
        made=$i
      fi
    done
    per_tick "$3" "${names[@]}"
    awk -v k="$k" -v b="$2" -v w="$d_wall" -v c="$d_cpu" -v st="$d_st" -v r="$d_reb" 'BEGIN {
      printf "%8d %7d %14.1f %14.1f %14d %14.1f %12d\n", k, k * b, w * 1000, c * 1000,
        (w > 0 ? k * b / w : 0), (w > 0 ? r / w : 0), (w > 0 ? st / w : 0) }'
  done
}

if want 3; then
  echo
  echo "3. Scaling: K workers at once, each on its own account of $BENCH_SCALE_BOTS bots"
  echo "   (threshold:50), unpaced; per tick, over $BENCH_TICKS ticks"
  scale s "$BENCH_SCALE_BOTS" "$BENCH_TICKS" threshold:50 1000
fi

if want 3b; then
  echo
  echo "3b. Scaling with rebalances: K workers at once, each on its own account of"
  echo "   $BENCH_SCALE_REBALANCE_BOTS bots of 100,000 USDT, trigger every:1 on hourly bars (each bot"
  echo "   rebalances at every tick); per tick, over $BENCH_REBALANCE_TICKS ticks"
  SMARTFOLIO_MARKET_STEP=1h scale r "$BENCH_SCALE_REBALANCE_BOTS" "$BENCH_REBALANCE_TICKS" every:1 100000
fi

if want 4; then
if [ "$have" = 0 ]; then
  have=${BENCH_BOTS##* }
  add_bots cap threshold:50 1 "$have"
fi
echo
echo "4. A worker's death to its bots running again: the $have bots of table 1 paced at one tick"
echo "   a second, two workers (--lease-ttl $TTL s, heartbeat every TTL / 3), the holder SIGKILLed"
echo "   $BENCH_KILLS times (a new standby started each time)"
export SMARTFOLIO_ACCOUNT=cap SMARTFOLIO_MARKET_SPEED=60
printf '%6s %14s %14s %16s\n' kill "to lease ms" "recovery ms" "to trading ms"
start_worker k0
start_worker k1
await_holder 0 cap
epoch=$e
for i in $(seq 1 "$BENCH_KILLS"); do
  p=$(cat "$work/$h.pid")
  kill -9 "$p"
  killed_at=$(now_ms)
  wait "$p" 2>/dev/null || true
  rm -f "$work/$h.pid"
  start_worker "k$((i + 1))"
  leased=
  while :; do
    read -r nh ne <<<"$(holder cap 2>/dev/null || true)" || true
    if [ -z "$leased" ] && [ "${nh:--}" != - ] && [ "${ne:-0}" -gt "$epoch" ]; then
      leased=$(now_ms)
    fi
    if [ -n "$leased" ] && grep -q "epoch=$ne.*trading\|trading.*epoch=$ne" "$work/$nh.log"; then
      break
    fi
    sleep 0.02
  done
  t=$(now_ms)
  h=$nh e=$ne epoch=$ne
  printf '%6d %14d %14d %16d\n' "$i" $((leased - killed_at)) $((t - leased)) $((t - killed_at))
done
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
[ -n "${BENCH_LOGS:-}" ] && mkdir -p "$BENCH_LOGS" && cp "$work"/*.log "$BENCH_LOGS"/
fi

echo
echo "the store after the runs:"
check_store
echo "checks pass (ledgers = flows + fills, no venue fill lost, nothing sent blindly, no rebalance twice)"
