#!/usr/bin/env python3
"""Regenerate crates/alloc/tests/fixtures/*.json: PyPortfolioOpt / numpy oracle weights for
real baskets, recorded as numbers only (no prices).

Run with the peers' venv:
    ${PEERS_HOME:-~/.cache/smartfolio-peers}/venv/bin/python scripts/peers/alloc_fixtures.py
Options: --data DIR (default $SMARTFOLIO_DATA or ../shared/data next to the workspace),
         --bench (also time the oracle on 25 assets x 3 years of generated daily prices and
         write crates/alloc/tests/fixtures/oracle_bench.json).

For each basket the script builds a wide CSV in a temp dir (inner join of the assets' close
columns on the timestamp, then the [from, to] window, both ends inclusive: the same rows
smartfolio_data::load + window gives), runs ../shared/peers/pypfopt_weights.py for every
method, and records the weights in the basket's asset order. Market-cap expectations are
computed here from the CSV values: for every asset the latest non-empty market_cap on or before
`to` in daily/<SYM>.csv, or, when the files have none, the latest value on or before `to` in
marketcap/cmc_top200_monthly.csv; weights are cap / sum and sqrt(cap) / sum.

For min_variance / max_sharpe the fixture also keeps the oracle's KKT residual and a "tight"
reference: the same PyPortfolioOpt problem solved with CLARABEL at 1e-12 (the oracle's default
OSQP is occasionally only ~1e-5 accurate, e.g. a -9e-6 weight on a long-only problem).
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT.parent / "shared" / "peers"
OUT = ROOT / "crates" / "alloc" / "tests" / "fixtures"

BASKETS = [
    # name, folder, interval, assets, from, to
    ("majors", "daily", None, ["BTC", "ETH", "SOL", "BNB", "XRP"], "2021-01-01", "2022-09-13"),
    ("defi", "daily", None, ["UNI", "AAVE", "LINK"], "2020-10-04", "2022-09-09"),
    ("meme", "daily", None, ["DOGE", "SHIB", "PEPE"], "2023-04-19", "2024-10-08"),
    ("with_stablecoin", "daily", None, ["BTC", "ETH", "USDT"], "2019-01-01", "2022-09-13"),
    ("hourly", "hourly", "1h", ["BTC", "ETH", "SOL", "XRP", "AAVE"], "2024-02-01", "2025-12-31"),
    ("broad11", "daily", None,
     ["BTC", "ETH", "ADA", "LINK", "XRP", "LTC", "TRX", "XLM", "DOGE", "BNB", "USDC"],
     "2019-01-01", "2024-12-31"),
    ("recent8", "daily", None, ["BTC", "ETH", "SOL", "DOGE", "XRP", "ADA", "LINK", "TRX"],
     "2023-01-01", "2025-09-29"),
]

# key -> (oracle method, extra args)
RUNS = {
    "equal": ("equal", []),
    "inverse_vol": ("inverse_vol", []),
    "min_variance_sample": ("min_variance", ["--cov", "sample"]),
    "min_variance_ledoit_wolf": ("min_variance", ["--cov", "ledoit_wolf"]),
    "max_sharpe_sample": ("max_sharpe", ["--cov", "sample"]),
    "max_sharpe_ledoit_wolf": ("max_sharpe", ["--cov", "ledoit_wolf"]),
    "max_sharpe_sample_rf2": ("max_sharpe", ["--cov", "sample", "--rf", "0.02"]),
    "hrp": ("hrp", []),
    "erc_numpy": ("erc_numpy", []),
}


def day(s):
    return s[:10]


def read_series(path, time_col, value_col):
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out[row[time_col]] = row[value_col]
    return out


def asset_file(data, folder, interval, sym):
    if interval:
        return data / folder / f"{sym}USDT-{interval}.csv"
    return data / folder / f"{sym}.csv"


def build_wide(data, folder, interval, assets, start, end, path):
    time_col = "open_time" if interval else "date"
    closes = [read_series(asset_file(data, folder, interval, a), time_col, "close") for a in assets]
    common = set(closes[0])
    for c in closes[1:]:
        common &= set(c)
    # Both ends inclusive; like `smartfolio allocate --to`, a plain `to` date means the end of
    # that day (so hourly bars of that day are in).
    lo = start if not interval else start + "T00:00:00Z"
    hi = end if not interval else end + "T23:59:59Z"
    stamps = sorted(t for t in common if lo <= t <= hi)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp"] + assets)
        for t in stamps:
            w.writerow([t] + [c[t] for c in closes])
    return stamps


def market_caps(data, folder, interval, assets, end):
    """(source, caps, dates) at `end` per the rules in the module docstring."""
    if not interval:
        caps, dates = [], []
        for a in assets:
            best = None
            with open(data / folder / f"{a}.csv", newline="") as f:
                for row in csv.DictReader(f):
                    if row["date"] <= end and row.get("market_cap"):
                        best = (row["date"], float(row["market_cap"]))
            if best is None:
                break
            dates.append(best[0])
            caps.append(best[1])
        else:
            return "data", caps, dates
    caps, dates = [], []
    cmc = data / "marketcap" / "cmc_top200_monthly.csv"
    for a in assets:
        best = None
        with open(cmc, newline="") as f:
            for row in csv.DictReader(f):
                if row["symbol"].upper() == a.upper() and row["date"][:10] <= end and row["market_cap"]:
                    v = float(row["market_cap"])
                    if v > 0 and (best is None or row["date"][:10] >= best[0]):
                        best = (row["date"][:10], v)
        if best is None:
            return "unknown", None, None
        dates.append(best[0])
        caps.append(best[1])
    return "cmc", caps, dates


def tight_reference(csv_path, method, extra):
    """The same PyPortfolioOpt problem (same mu, S, bounds) solved with cvxpy's CLARABEL at
    1e-12 tolerances instead of the default OSQP: a check on the oracle's own accuracy."""
    sys.path.insert(0, str(PEERS))
    from common import load_closes_df
    from pypfopt import EfficientFrontier, expected_returns, risk_models

    prices = load_closes_df(str(csv_path))
    d = float(((prices.index[1:] - prices.index[:-1]).total_seconds()).to_series().median())
    ppy = int(round(365 * 86400 / d))
    cov = extra[extra.index("--cov") + 1]
    rf = float(extra[extra.index("--rf") + 1]) if "--rf" in extra else 0.0
    if cov == "sample":
        S = risk_models.sample_cov(prices, frequency=ppy)
    else:
        S = risk_models.CovarianceShrinkage(prices, frequency=ppy).ledoit_wolf()
    mu = expected_returns.mean_historical_return(prices, compounding=True, frequency=ppy)
    tol = dict(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)
    ef = EfficientFrontier(mu, S, weight_bounds=(0, 1), solver="CLARABEL", solver_options=tol)
    if method == "min_variance":
        ef.min_volatility()
    else:
        ef.max_sharpe(risk_free_rate=rf)
    return [float(x) for x in ef.weights]


def run_oracle(py, csv_path, method, extra):
    cmd = [py, str(PEERS / "pypfopt_weights.py"), str(csv_path), method] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("SMARTFOLIO_DATA") or str(ROOT.parent / "shared" / "data")
    ap.add_argument("--data", default=default_data)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--only", help="comma-separated basket names")
    a = ap.parse_args()
    data = Path(a.data)
    py = sys.executable
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(a.only.split(",")) if a.only else None
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder, interval, assets, start, end in BASKETS:
            if only and name not in only:
                continue
            wide = Path(tmp) / f"{name}.csv"
            stamps = build_wide(data, folder, interval, assets, start, end, wide)
            fx = dict(basket=name, folder=folder, interval=interval, assets=assets,
                      **{"from": start, "to": end},
                      first_bar=stamps[0], last_bar=stamps[-1], n_returns=len(stamps) - 1,
                      oracle="../shared/peers/pypfopt_weights.py", methods={}, elapsed_s={})
            for key, (method, extra) in RUNS.items():
                res = run_oracle(py, wide, method, extra)
                fx["methods"][key] = [res["weights"][x] for x in assets]
                fx["elapsed_s"][key] = res["elapsed_s"]
                if method in ("min_variance", "max_sharpe"):
                    fx.setdefault("kkt_support_rel_residual", {})[key] = res["kkt_support_rel_residual"]
                    fx.setdefault("tight", {})[key] = tight_reference(wide, method, extra)
                fx["periods_per_year"] = res["conventions"]["ppy"]
                assert res["conventions"]["n_returns"] == fx["n_returns"]
            source, caps, dates = market_caps(data, folder, interval, assets, end)
            if caps:
                s = sum(caps)
                r = [math.sqrt(c) for c in caps]
                sr = sum(r)
                fx["market_cap"] = dict(source=source, dates=dates,
                                        weights=[c / s for c in caps],
                                        sqrt_weights=[x / sr for x in r])
            (OUT / f"{name}.json").write_text(json.dumps(fx, indent=1) + "\n")
            print(f"{name}: {len(assets)} assets, {fx['n_returns']} returns, caps from {source}")
        if a.bench:
            gen = Path(tmp) / "gbm_25x1096_1d_s3.csv"
            subprocess.run([py, str(PEERS / "gen_prices.py"), "--assets", "25", "--bars", "1096",
                            "--freq", "1d", "--seed", "3", "--out", str(gen)], check=True,
                           capture_output=True)
            bench = {"data": "gen_prices.py --assets 25 --bars 1096 --freq 1d --seed 3",
                     "note": "in-process elapsed_s (imports and CSV parse excluded), median of 3 runs",
                     "elapsed_s": {}}
            for key, (method, extra) in list(RUNS.items()) + [("erc_riskfolio", ("erc", []))]:
                if key == "max_sharpe_sample_rf2":
                    continue
                times = sorted(run_oracle(py, gen, method, extra)["elapsed_s"] for _ in range(3))
                bench["elapsed_s"][key] = times[1]
                print(f"bench {key}: {times[1]:.4f} s")
            (OUT / "oracle_bench.json").write_text(json.dumps(bench, indent=1) + "\n")


if __name__ == "__main__":
    main()
