#!/usr/bin/env bash
# Acceptance of `smartfolio sim` by a real client: ccxt (pinned, from PyPI, in its own venv)
# drives the simulator through load_markets, fetch_balance, fetch_ticker(s), fetch_ohlcv,
# create_order (market by amount and by cost, limit GTC), fetch_order (by id and client id),
# fetch_open_orders, cancel_order and fetch_my_trades, then a halt, a reject and partial fills,
# then a restart on --data-dir (scripts/ccxt_acceptance.py); then ccxt's OKX driver does the same
# against `smartfolio sim --venue okx` (scripts/ccxt_okx.py) and ccxt's Gate driver against
# `smartfolio sim --venue gate` (scripts/ccxt_gate.py): the three venues, every run. Exits
# non-zero on any failure. Run alone: scripts/ccxt-acceptance.sh
# Environment: SMARTFOLIO_BIN (default: builds and uses target/debug/smartfolio),
# CCXT_VENV (default ~/.cache/smartfolio-ccxt-<version>).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=4.5.90
venv=${CCXT_VENV:-$HOME/.cache/smartfolio-ccxt-$version}
if ! "$venv/bin/python" -c "import ccxt, sys; sys.exit(ccxt.__version__ != '$version')" 2>/dev/null; then
  echo "installing ccxt $version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ccxt==$version"
fi

bin=${SMARTFOLIO_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p smartfolio-cli
  bin="$root/target/debug/smartfolio"
fi
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable"; exit 1; }

"$venv/bin/python" "$root/scripts/ccxt_acceptance.py" --bin "$bin" --venue all
