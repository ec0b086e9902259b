#!/usr/bin/env python3
"""Regenerate the backtest engine's correctness fixtures from the peers' numpy oracle.

Run with the peers' venv (see ../shared/peers/README.md):

    ~/.cache/smartfolio-peers/venv/bin/python scripts/peers/backtest_fixtures.py \
        [--out crates/backtest/tests/fixtures/oracle_cases.json] [--no-spot-checks]

Environment:
    PEERS_HOME       peers' venv and generated data (default ~/.cache/smartfolio-peers)
    PEERS_DIR        the peers' scripts (default <repo>/../shared/peers)
    SMARTFOLIO_DATA  real market data (default <repo>/../shared/data)

Cases:
- generated data: the three GBM files in $PEERS_HOME/data (gen_prices.py);
- real data from $SMARTFOLIO_DATA: BTC,ETH,SOL daily 2021-01-01..2024-12-31 and
  BTC,ETH,SOL,XRP hourly (<SYM>USDT-1h.csv). The wide frame handed to the oracle is built
  the way smartfolio_data aligns series: each file's timestamp column parsed as UTC, close
  column kept, an inner join on timestamps (no fill), then the inclusive [from, to] window;
- periodic (every 1, 7, 24 bars) and threshold (1 and 5 pp) triggers; fee 0 and 0.001;
  the exact fee model, plus a few bt- and vbt-native cases.

Only numbers are written (final value, rebalance count, fees, bar count and range): never
prices. The Rust test `crates/backtest/tests/oracle.rs` (feature `shared-data`) re-runs every
case with the engine and checks final value to 1e-9 relative and identical rebalance counts.

Spot checks (unless --no-spot-checks): bt_rebalance.py and vbt_rebalance.py are run on two
cases as subprocesses and must agree with the oracle to 1e-9; their results are stored too.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PEERS_HOME = Path(os.environ.get("PEERS_HOME", Path.home() / ".cache" / "smartfolio-peers"))
PEERS_DIR = Path(os.environ.get("PEERS_DIR", REPO.parent / "shared" / "peers"))
DATA = Path(os.environ.get("SMARTFOLIO_DATA", REPO.parent / "shared" / "data"))
sys.path.insert(0, str(PEERS_DIR))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import load_closes  # noqa: E402
from ref_rebalance import simulate  # noqa: E402


def iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_shared(folder, assets, interval, frm, to, out_csv):
    """Wide CSV of closes aligned like smartfolio_data: inner join on timestamps, then window."""
    frames = []
    for sym in assets:
        if interval is None:
            path = DATA / folder / f"{sym}.csv"
            df = pd.read_csv(path, usecols=["date", "close"])
            idx = pd.to_datetime(df["date"], utc=True)
        else:
            path = DATA / folder / f"{sym}USDT-{interval}.csv"
            df = pd.read_csv(path, usecols=["open_time", "close"])
            idx = pd.to_datetime(df["open_time"], utc=True)
        s = pd.Series(df["close"].astype("float64").values, index=pd.DatetimeIndex(idx), name=sym)
        if not s.index.is_monotonic_increasing or s.index.has_duplicates:
            raise SystemExit(f"{path}: timestamps not strictly increasing")
        frames.append(s)
    wide = pd.concat(frames, axis=1, join="inner")
    if frm is not None:
        wide = wide[wide.index >= pd.Timestamp(frm, tz="UTC")]
    if to is not None:
        wide = wide[wide.index <= pd.Timestamp(to, tz="UTC")]
    wide.index.name = "timestamp"
    wide.to_csv(out_csv, date_format="%Y-%m-%dT%H:%M:%SZ")
    return out_csv


def spec_cases():
    """(source, weights, runs) per data set; runs are (mode, param, fee, fee_model)."""
    std = [("periodic", k, f, "exact") for k in (1, 7, 24) for f in (0.0, 0.001)] + [
        ("threshold", b, f, "exact") for b in (1.0, 5.0) for f in (0.0, 0.001)
    ]
    native = [("periodic", 24, 0.001, "bt"), ("threshold", 5.0, 0.001, "bt"),
              ("periodic", 24, 0.001, "vbt"), ("threshold", 5.0, 0.001, "vbt")]
    big = [("periodic", 24, 0.001, "exact"), ("threshold", 5.0, 0.001, "exact"),
           ("threshold", 1.0, 0.0, "exact"), ("threshold", 5.0, 0.001, "bt"),
           ("threshold", 5.0, 0.001, "vbt")]
    return [
        (dict(kind="peers_csv", file="gbm_5x2000_1h_s7.csv"), "equal", std + native),
        (dict(kind="peers_csv", file="gbm_5x2000_1h_s7.csv"), [0.6, 0.25, 0.05, 0.0, 0.0],
         [("periodic", 7, 0.001, "exact"), ("threshold", 5.0, 0.001, "exact"),
          ("threshold", 1.0, 0.001, "exact")]),
        (dict(kind="peers_csv", file="gbm_10x1825_1d_s42.csv"), "equal", std),
        (dict(kind="peers_csv", file="gbm_10x43800_1h_s42.csv"), "equal", big),
        (dict(kind="shared_folder", folder="daily", assets=["BTC", "ETH", "SOL"], interval=None,
              frm="2021-01-01", to="2024-12-31"), [0.5, 0.3, 0.2], std + native),
        (dict(kind="shared_folder", folder="hourly", assets=["BTC", "ETH", "SOL", "XRP"],
              interval="1h", frm=None, to=None), "equal", std + native),
    ]


# Which peer spot-checks the oracle on which data set (threshold 5 pp, fee 0.001, exact).
SPOT = {"daily_BTC_ETH_SOL": "bt_rebalance.py", "gbm_5x2000_1h_s7": "vbt_rebalance.py"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "crates/backtest/tests/fixtures/oracle_cases.json"))
    ap.add_argument("--no-spot-checks", action="store_true")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="smartfolio-fixtures-"))
    cases = []
    spot = []
    checked = set()
    t_start = time.time()
    for source, weights, runs in spec_cases():
        if source["kind"] == "peers_csv":
            csv = PEERS_HOME / "data" / source["file"]
            label = source["file"].removesuffix(".csv")
        else:
            label = f"{source['folder']}_{'_'.join(source['assets'])}"
            csv = build_shared(source["folder"], source["assets"], source["interval"],
                               source["frm"], source["to"], tmp / f"{label}.csv")
        idx, names, closes = load_closes(csv)
        w = np.full(len(names), 1.0 / len(names)) if weights == "equal" else np.array(weights, dtype=float)
        src = {k: v for k, v in source.items() if k != "frm"}
        if source["kind"] == "shared_folder":
            src["from"] = source["frm"]
        for mode, param, fee, model in runs:
            every = int(param) if mode == "periodic" else 24
            band = float(param) if mode == "threshold" else 5.0
            fv, nreb, fees = simulate(closes, w, 10000.0, fee, mode, every, band, model)
            name = f"{label}/{mode}-{param}/fee{fee}/{model}" + ("" if weights == "equal" else "/w" + "_".join(f"{x:g}" for x in w))
            cases.append(dict(
                name=name, source=src, assets=names, bars=int(len(idx)), first=iso(idx[0]), last=iso(idx[-1]),
                weights=[float(x) for x in w], capital=10000.0, fee=fee, fee_model=model, mode=mode,
                every=every if mode == "periodic" else None, band=band if mode == "threshold" else None,
                final_value=float(fv), n_rebalances=int(nreb), total_fees=float(fees),
            ))
            print(f"{name:70s} fv={fv:.10g} nreb={nreb}", file=sys.stderr)
        peer = SPOT.get(label)
        if peer and not a.no_spot_checks and label not in checked:
            checked.add(label)
            wtxt = ",".join(repr(float(x)) for x in w)
            cmd = [sys.executable, str(PEERS_DIR / peer), str(csv), "--mode", "threshold", "--band", "5",
                   "--weights", wtxt, "--fee", "0.001", "--fee-model", "exact"]
            run = subprocess.run(cmd, check=True, capture_output=True, text=True)
            out = json.loads(run.stdout.strip().splitlines()[-1])
            ref_fv, ref_n, _ = simulate(closes, w, 10000.0, 0.001, "threshold", 24, 5.0, "exact")
            rel = abs(out["final_value"] - ref_fv) / abs(ref_fv)
            ok = rel <= 1e-9 and out["n_rebalances"] == ref_n
            spot.append(dict(peer=out.get("peer", peer), data=label, mode="threshold-5", fee=0.001,
                             final_value=out["final_value"], n_rebalances=out["n_rebalances"],
                             oracle_final_value=float(ref_fv), rel_diff=rel, agree=ok))
            print(f"spot check {peer} on {label}: rel {rel:.2e}, n_rebalances {out['n_rebalances']} vs {ref_n}",
                  file=sys.stderr)
            if not ok:
                raise SystemExit(f"{peer} disagrees with the oracle on {label}")

    doc = dict(
        generator="scripts/peers/backtest_fixtures.py",
        oracle="../shared/peers/ref_rebalance.py simulate()",
        semantics="SPEC §4; capital 10000; weights in column order; every: t % K == 0; threshold: max|h/V-w| >= band/100",
        numpy=np.__version__, pandas=pd.__version__,
        spot_checks=spot,
        cases=cases,
    )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {a.out} in {time.time() - t_start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
