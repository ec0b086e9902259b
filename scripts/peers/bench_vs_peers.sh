#!/usr/bin/env bash
# Run the peers (numpy oracle, bt, vectorbt) and smartfolio's engine on the same file, in the same
# run, and print times and ratios (issue 3's speed table).
#
#   scripts/peers/bench_vs_peers.sh [--quick] [--with-sweep] [--no-build] [FILE.csv]
#
#   --quick       only the numpy oracle among the peers (bt and vectorbt take ~5 s and ~20 s of wall
#                 time per process)
#   --with-sweep  also time the 100-threshold sweep in the peers: the numpy oracle's loop (~26 s)
#                 and vectorbt's native one-simulation sweep (~30 s wall); bt's (~4 min) is not run
#   --no-build    use the release binaries already in $CARGO_TARGET_DIR (default <repo>/target)
#
# Workload: threshold 5 pp, exact fees 0.001, equal weights, capital 10,000; default FILE is
# $PEERS_HOME/data/gbm_10x43800_1h_s42.csv (10 assets x 43,800 hourly bars).
# Peers report `elapsed_s` (in-process simulation time, data loaded, JIT warmed); ours are
#   - engine: mean of many in-process runs (examples/timing.rs), and the CLI's elapsed_engine_s;
#   - process: wall time of a whole `smartfolio backtest --json` (CSV parse included);
#   - sweep: wall time of 100 thresholds (linspace 1..10) on the rayon pool.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PEERS_HOME=${PEERS_HOME:-$HOME/.cache/smartfolio-peers}
PEERS_DIR=${PEERS_DIR:-$repo/../shared/peers}
PY=$PEERS_HOME/venv/bin/python
quick=0
sweep=0
build=1
file=""
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --with-sweep) sweep=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) file=$a ;;
  esac
done
file=${file:-$PEERS_HOME/data/gbm_10x43800_1h_s42.csv}
[ -f "$file" ] || { echo "missing $file (run $PEERS_DIR/setup.sh or pass a wide CSV)" >&2; exit 2; }
[ -x "$PY" ] || { echo "missing peers venv $PY (set PEERS_HOME)" >&2; exit 2; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
if [ $build = 1 ]; then
  echo "building smartfolio (release)..." >&2
  (cd "$repo" && cargo build --release -q -p smartfolio-cli && cargo build --release -q -p smartfolio-backtest --example timing)
fi
bin=$CARGO_TARGET_DIR/release/smartfolio
timing=$CARGO_TARGET_DIR/release/examples/timing

json_field() { "$PY" -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
now_ns() { date +%s%N; }

echo "file: $file"
echo

# --- peers, single run ------------------------------------------------------------------------
declare -A peer_s
run_peer() { # name script extra-args...
  local name=$1 script=$2; shift 2
  local out
  out=$("$PY" "$PEERS_DIR/$script" "$file" --mode threshold --band 5 --fee 0.001 --fee-model exact "$@")
  peer_s[$name]=$(echo "$out" | json_field elapsed_s)
  printf '%-28s sim %10.6f s   final_value %s  n_rebalances %s\n' "$name" "${peer_s[$name]}" \
    "$(echo "$out" | json_field final_value)" "$(echo "$out" | json_field n_rebalances)"
}
run_peer "numpy oracle (ref)" ref_rebalance.py
if [ $quick = 0 ]; then
  run_peer "bt (exact algo)" bt_rebalance.py
  run_peer "vectorbt (exact, order fn)" vbt_rebalance.py
fi

# --- ours -------------------------------------------------------------------------------------
ours=$("$timing" "$file" 2000)
echo "$ours"
engine_ms=$(echo "$ours" | sed -n 's/^engine threshold:5.*wall \([0-9.]*\) ms\/run.*/\1/p')
sweep_ms=$(echo "$ours" | sed -n 's/^sweep 100 thresholds.*wall \([0-9.]*\) ms\/sweep.*/\1/p')

t0=$(now_ns)
cli=$("$bin" backtest --data "$file" --trigger threshold:5 --fee-rate 0.001 --json)
t1=$(now_ns)
proc_ms=$(( (t1 - t0) / 1000000 ))
cli_engine_s=$(echo "$cli" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(d['elapsed_engine_s'], d['final_value'], d['n_rebalances'])")
echo "smartfolio backtest process  wall ${proc_ms} ms   (elapsed_engine_s, final_value, n_rebalances: $cli_engine_s)"
echo

# --- sweep in the peers (optional) ------------------------------------------------------------
ref_sweep_s=""
vbt_sweep_s=""
if [ $sweep = 1 ]; then
  ref_sweep_s=$(cd "$PEERS_DIR" && "$PY" - "$file" <<'EOF'
import sys, time, numpy as np
from common import load_closes
from ref_rebalance import simulate
idx, names, c = load_closes(sys.argv[1])
w = np.full(len(names), 1.0 / len(names))
t0 = time.perf_counter()
for b in np.linspace(1, 10, 100):
    simulate(c, w, 10000.0, 0.001, "threshold", 24, float(b), "exact")
print(time.perf_counter() - t0)
EOF
)
  echo "numpy oracle sweep (100 thresholds): $ref_sweep_s s"
  if [ $quick = 0 ]; then
    vbt_out=$("$PY" "$PEERS_DIR/vbt_rebalance.py" "$file" --mode threshold --fee 0.001 --fee-model exact --sweep-linspace 1,10,100)
    vbt_sweep_s=$(echo "$vbt_out" | json_field elapsed_s)
    echo "vectorbt native sweep (100 thresholds): $vbt_sweep_s s"
  fi
  echo
fi

# --- ratios -----------------------------------------------------------------------------------
echo "ratios (peer time / smartfolio engine time of ${engine_ms} ms):"
for k in "${!peer_s[@]}"; do
  "$PY" -c "print(f'  {\"$k\":28s} {${peer_s[$k]} * 1e3 / $engine_ms:10.0f}x')"
done
if [ -n "$ref_sweep_s" ]; then
  echo "sweep ratios (peer / smartfolio sweep of ${sweep_ms} ms):"
  "$PY" -c "print(f'  numpy oracle loop            {$ref_sweep_s * 1e3 / $sweep_ms:10.0f}x')"
  [ -n "$vbt_sweep_s" ] && "$PY" -c "print(f'  vectorbt native sweep        {$vbt_sweep_s * 1e3 / $sweep_ms:10.0f}x')"
fi
echo "targets: engine <= 1 ms (${engine_ms} ms), process <= 150 ms (${proc_ms} ms), sweep <= 100 ms (${sweep_ms} ms)"
