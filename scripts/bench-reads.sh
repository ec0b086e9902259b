#!/usr/bin/env bash
# Dashboard readers against the bots' ticks (issue 15): the server with three bots ticking at
# the demo's pace (48 ticks/s) over a store holding a year of hourly snapshots and 1,000
# rebalances, then 50 concurrent readers (wrk -t2 -c50) on GET /api/bots/1 and on a page of
# rebalances; prints requests/s and latency, and the ticks' pace with and without the readers.
# A benchmark, not a test: run it alone on a quiet machine. Release build (cargo bench).
# Environment: BENCH_SECONDS (each phase, default 15).
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
cargo bench -p smartfolio-server --bench reads
