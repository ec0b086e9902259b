#!/usr/bin/env bash
# Soak the crash tests: SIGKILL `smartfolio run` N times (default 1000) on the paper exchange
# and N times on Binance through `smartfolio sim`, then check that no order was sent twice,
# every ledger equals the venue account's fills and flows, and no rebalance is half-open or
# applied twice. See crates/cli/tests/crash/. (The venue test runs about 2.5 s a kill.)
#   scripts/crash-soak.sh [N] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export SMARTFOLIO_CRASH_KILLS="${1:-1000}"
export SMARTFOLIO_CRASH_SEED="${2:-$(date +%s)}"
echo "crash soak: ${SMARTFOLIO_CRASH_KILLS} kills, seed ${SMARTFOLIO_CRASH_SEED}"
exec cargo test -p smartfolio-cli --test crash -- --nocapture
