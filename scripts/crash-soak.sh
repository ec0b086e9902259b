#!/usr/bin/env bash
# Soak the crash test: SIGKILL `smartfolio run` N times at random points (default 1000), then
# check that no order was sent twice, every ledger equals the paper account's fills and flows,
# and no rebalance is half-open or applied twice. See crates/cli/tests/crash.rs.
#   scripts/crash-soak.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export SMARTFOLIO_CRASH_KILLS="${1:-1000}"
export SMARTFOLIO_CRASH_SEED="${2:-$(date +%s)}"
echo "crash soak: ${SMARTFOLIO_CRASH_KILLS} kills, seed ${SMARTFOLIO_CRASH_SEED}"
exec cargo test -p smartfolio-cli --test crash -- --nocapture
