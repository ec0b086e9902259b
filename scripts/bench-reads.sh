#!/usr/bin/env bash
# Dashboard readers against the bots' ticks (issue 15): the server with three bots ticking at
# the demo's pace (48 ticks/s) over a store holding a year of hourly snapshots and 1,000
# rebalances, then 50 concurrent readers (wrk -t2 -c50) on each read route in turn (a summary,
# a page of rebalances, the list, the status, the metrics, a bounded history), then the page
# and the history with a query that differs per request (no two readers share a read); prints
# requests/s and latency, and the ticks' pace with and without the readers. Run twice: the
# driver's loop on its own thread (BENCH_DRIVER=own, how the server runs it), then on the
# runtime that serves HTTP (BENCH_DRIVER=caller, how it ran before), for the comparison.
# A benchmark, not a test: run it alone on a quiet machine. Release build (cargo bench).
# Environment: BENCH_SECONDS (each phase, default 15); BENCH_DRIVER=own or caller runs one.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null
fi
command -v wrk >/dev/null || { echo "FAIL: wrk could not be installed"; exit 1; }
wrk --version 2>&1 | head -1 || true
nproc | sed 's/^/cores: /'
cargo bench -p smartfolio-server --bench reads --no-run
for driver in ${BENCH_DRIVER:-own caller}; do
  BENCH_DRIVER=$driver cargo bench -p smartfolio-server --bench reads
done
