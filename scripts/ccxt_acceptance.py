#!/usr/bin/env python3
"""Acceptance of `smartfolio sim` by a real client: ccxt's Binance driver, unmodified.

Starts `smartfolio sim --venue binance --port 0` (the binary given by --bin), points ccxt's
Binance URLs at the loopback address it prints, and drives load_markets, fetch_balance,
fetch_ticker(s), fetch_ohlcv, create_order (market by amount, market buy by cost, limit GTC),
fetch_order (by id and by client id), fetch_open_orders, cancel_order and fetch_my_trades.
Every answer is checked twice: what ccxt made of it (balances move by the fills, the order is
found, a canceled order shows canceled, the fill has its commission, candles ascend) and the
raw payload against the fields Binance's documentation gives (decimals as strings).
A second simulator with faults (`halt=ETH`, `reject=1`, `partial=...`) checks that ccxt
reads a halted market and a rejected order as Binance's errors, and a third, restarted on its
`--data-dir`, that the account and a resting order survive the restart.

With `--venue okx` the same is done with ccxt's OKX driver against `smartfolio sim --venue
okx` (scripts/ccxt_okx.py), with `--venue gate` with ccxt's Gate driver against `smartfolio sim
--venue gate` (scripts/ccxt_gate.py); `--venue all` runs the three.

Exits 1 at the first failed check (naming it), 0 when all pass; never skips.
Usage: ccxt_acceptance.py --bin target/debug/smartfolio [--venue binance|okx|gate|all]
"""
import argparse
import math
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

import ccxt

KEY = "ccxt-acceptance-key"
SECRET = "ccxt-acceptance-secret"
PASSPHRASE = "ccxt-acceptance-passphrase"
SYMBOLS = {"BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"}

# The fields Binance's spot REST documentation gives for each answer.
TICKER_24HR_FIELDS = {
    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice",
    "lastPrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice",
    "highPrice", "lowPrice", "volume", "quoteVolume", "openTime", "closeTime", "firstId",
    "lastId", "count",
}
ORDER_FIELDS = {
    "symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
    "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "stopPrice", "icebergQty",
    "time", "updateTime", "isWorking", "workingTime", "origQuoteOrderQty",
    "selfTradePreventionMode",
}
NEW_ORDER_FULL_FIELDS = {
    "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty",
    "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
    "workingTime", "selfTradePreventionMode", "fills",
}
CANCEL_FIELDS = {
    "symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime",
    "price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type",
    "side", "selfTradePreventionMode",
}
TRADE_FIELDS = {
    "symbol", "id", "orderId", "orderListId", "price", "qty", "quoteQty", "commission",
    "commissionAsset", "time", "isBuyer", "isMaker", "isBestMatch",
}
ACCOUNT_FIELDS = {
    "makerCommission", "takerCommission", "buyerCommission", "sellerCommission",
    "commissionRates", "canTrade", "canWithdraw", "canDeposit", "updateTime", "accountType",
    "balances", "permissions",
}
DECIMAL_FIELDS = {
    "priceChange", "weightedAvgPrice", "prevClosePrice", "lastPrice", "lastQty", "bidPrice",
    "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume",
    "quoteVolume", "price", "origQty", "executedQty", "cummulativeQuoteQty", "stopPrice",
    "icebergQty", "origQuoteOrderQty", "qty", "quoteQty", "commission", "free", "locked",
}


class Failed(Exception):
    pass


passed = []


def check(cond, what, got=None):
    if not cond:
        raise Failed(f"{what}" + ("" if got is None else f" (got {got!r})"))
    passed.append(what)


def close(a, b, what):
    check(a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
          what, (a, b))


def shape(raw, fields, what):
    """`raw` has every field Binance documents, and its decimals are strings."""
    check(isinstance(raw, dict), f"{what}: an object", type(raw).__name__)
    missing = sorted(fields - set(raw))
    check(not missing, f"{what}: has Binance's fields", missing)
    numeric = sorted(k for k in fields & DECIMAL_FIELDS if not isinstance(raw[k], str))
    check(not numeric, f"{what}: decimals are strings", numeric)


class Sim:
    """A `smartfolio sim` process on a free loopback port."""

    TITLES = {"binance": "Binance spot", "okx": "OKX v5 spot", "gate": "Gate v4 spot"}

    def __init__(self, binary, *args, venue="binance"):
        env = dict(os.environ, SMARTFOLIO_API_KEY=KEY, SMARTFOLIO_API_SECRET=SECRET,
                   SMARTFOLIO_API_PASSPHRASE=PASSPHRASE)
        cmd = [binary, "sim", "--venue", venue, "--port", "0",
               "--balances", "USDT=10000,BTC=0.1", "--seed", "7", *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        # The simulator prints its URL once it listens: wait for that line (or its end).
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=120):
            self.stop()
            raise Failed(f"{' '.join(cmd)} printed nothing in 120 s")
        line = self.proc.stdout.readline()
        sel.close()
        prefix = f"smartfolio sim: {self.TITLES[venue]} on "
        if not line.startswith(prefix):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise Failed(f"{' '.join(cmd)} did not print its URL: {line!r} {err}")
        self.url = line[len(prefix):].split()[0]
        print(f"sim {venue} {' '.join(args) or '(no faults)'}: {self.url}", flush=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # SIGTERM is the documented stop: the simulator exits 0 on it.
        return self.proc.returncode


class Running:
    """`with Running(binary, venue, *args) as sim:` a simulator that is stopped at the end, and
    checked to have stopped cleanly on SIGTERM when the block passed."""

    def __init__(self, binary, venue, *args, what=None):
        self.sim = Sim(binary, *args, venue=venue)
        self.what = what or f"{venue}: the simulator {' '.join(args) or '(no faults)'}"

    def __enter__(self):
        return self.sim

    def __exit__(self, kind, value, tb):
        rc = self.sim.stop()
        if kind is None:
            check(rc == 0, f"{self.what} stopped cleanly on SIGTERM", rc)
        return False


def client(url, secret=SECRET):
    ex = ccxt.binance({
        "apiKey": KEY,
        "secret": secret,
        "timeout": 10_000,
        # The simulator is Binance spot: no futures or margin markets to list.
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False},
    })
    for name, value in list(ex.urls["api"].items()):
        if isinstance(value, str):
            ex.urls["api"][name] = url + urllib.parse.urlsplit(value).path
    return ex


def free(ex, asset):
    return ex.fetch_balance()[asset]["free"]


def markets_and_data(ex):
    markets = ex.load_markets()
    check(set(markets) == SYMBOLS, "load_markets: the simulator's four symbols", sorted(markets))
    m = markets["BTC/USDT"]
    check(m["spot"] and m["active"], "load_markets: BTC/USDT is an active spot market", m["active"])
    check(m["precision"]["amount"] == 0.00001, "load_markets: BTC amount precision from LOT_SIZE",
          m["precision"]["amount"])
    check(m["precision"]["price"] == 0.01, "load_markets: BTC price precision from PRICE_FILTER",
          m["precision"]["price"])
    check(m["limits"]["cost"]["min"] == 5, "load_markets: the NOTIONAL minimum",
          m["limits"]["cost"])
    check(m["limits"]["amount"]["min"] == 0.00001, "load_markets: the LOT_SIZE minimum",
          m["limits"]["amount"])
    check({"USDT", "BTC", "ETH"} <= set(ex.currencies),
          "load_markets: currencies from /sapi/v1/capital/config/getall", sorted(ex.currencies))

    bal = ex.fetch_balance()
    shape(bal["info"], ACCOUNT_FIELDS, "GET /api/v3/account")
    check(bal["USDT"]["free"] == 10000 and bal["BTC"]["free"] == 0.1,
          "fetch_balance: the starting balances", (bal["USDT"], bal["BTC"]))

    t = ex.fetch_ticker("BTC/USDT")
    shape(t["info"], TICKER_24HR_FIELDS, "GET /api/v3/ticker/24hr?symbol=")
    check(t["symbol"] == "BTC/USDT" and t["last"] > 0, "fetch_ticker: BTC/USDT priced", t["last"])
    check(t["bid"] <= t["last"] <= t["ask"], "fetch_ticker: bid <= last <= ask",
          (t["bid"], t["last"], t["ask"]))
    check(t["low"] <= t["open"] <= t["high"] and t["low"] <= t["last"] <= t["high"],
          "fetch_ticker: a day's open and last within its low and high",
          (t["low"], t["open"], t["last"], t["high"]))
    check(t["high"] > t["low"], "fetch_ticker: the day's history moved", (t["low"], t["high"]))

    all_t = ex.fetch_tickers()
    check(set(all_t) == SYMBOLS, "fetch_tickers(): every symbol", sorted(all_t))
    some = ex.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    check(set(some) == {"BTC/USDT", "ETH/USDT"}, "fetch_tickers([BTC, ETH]): those two",
          sorted(some))

    rows = ex.fetch_ohlcv("BTC/USDT", "1m", limit=120)
    check(len(rows) == 120, "fetch_ohlcv 1m limit 120: 120 candles", len(rows))
    times = [r[0] for r in rows]
    check(all(b - a == 60_000 for a, b in zip(times, times[1:])),
          "fetch_ohlcv 1m: ascending, one minute apart", times[:3])
    check(all(r[3] <= min(r[1], r[4]) and max(r[1], r[4]) <= r[2] for r in rows),
          "fetch_ohlcv: low <= open, close <= high", rows[:2])
    raw = ex.public_get_klines({"symbol": "BTCUSDT", "interval": "1m", "limit": 3})
    check(all(len(k) == 12 and isinstance(k[1], str) for k in raw),
          "GET /api/v3/klines: rows of 12 with decimals as strings", raw[:1])
    since = ex.milliseconds() - 6 * 3_600_000
    hours = ex.fetch_ohlcv("BTC/USDT", "1h", since=since)
    check(6 <= len(hours) <= 7, "fetch_ohlcv 1h since 6 h ago: 6 or 7 candles", len(hours))
    check(hours[0][0] > since - 3_600_000 and all(b[0] - a[0] == 3_600_000
                                                   for a, b in zip(hours, hours[1:])),
          "fetch_ohlcv 1h: from `since`, ascending by the hour", [h[0] for h in hours])


def trading(ex):
    usdt0, btc0 = free(ex, "USDT"), free(ex, "BTC")

    # A market buy by amount.
    buy = ex.create_order("BTC/USDT", "market", "buy", 0.001)
    shape(buy["info"], NEW_ORDER_FULL_FIELDS, "POST /api/v3/order (MARKET, FULL)")
    check(buy["status"] == "closed" and buy["filled"] == 0.001,
          "create_order market buy 0.001 BTC: filled", (buy["status"], buy["filled"]))
    check(buy["id"] == "1", "create_order: the first order's id is 1", buy["id"])
    check(buy["clientOrderId"] and buy["clientOrderId"].startswith("x-"),
          "create_order: ccxt's own client order id kept", buy["clientOrderId"])
    trades = ex.fetch_my_trades("BTC/USDT")
    mine = [t for t in trades if t["order"] == buy["id"]]
    check(len(mine) >= 1, "fetch_my_trades: the market buy's fill", [t["order"] for t in trades])
    shape(mine[0]["info"], TRADE_FIELDS, "GET /api/v3/myTrades")
    fee = sum(t["fee"]["cost"] for t in mine)
    check(fee > 0 and all(t["fee"]["currency"] == "BTC" for t in mine),
          "fetch_my_trades: the commission, in the asset received", [t["fee"] for t in mine])
    check(all(t["side"] == "buy" and t["takerOrMaker"] == "taker" for t in mine),
          "fetch_my_trades: a buy that took liquidity", [(t["side"], t["takerOrMaker"]) for t in mine])
    close(sum(t["amount"] for t in mine), 0.001, "fetch_my_trades: the fills add up to the order")
    cost = sum(t["cost"] for t in mine)
    close(cost, buy["cost"], "create_order: its cost is its fills' cost")
    close(free(ex, "BTC"), btc0 + 0.001 - fee, "fetch_balance: BTC up by the fill less the fee")
    close(free(ex, "USDT"), usdt0 - cost, "fetch_balance: USDT down by the fill's cost")

    # A market buy by cost (quoteOrderQty).
    eth0 = free(ex, "ETH") if "ETH" in ex.fetch_balance() else 0.0
    by_cost = ex.create_market_buy_order_with_cost("ETH/USDT", 100)
    check(by_cost["info"].get("origQuoteOrderQty") not in (None, "0.00000000")
          and float(by_cost["info"]["origQuoteOrderQty"]) == 100,
          "create_market_buy_order_with_cost: sent as quoteOrderQty",
          by_cost["info"].get("origQuoteOrderQty"))
    check(by_cost["status"] == "closed" and 99 <= by_cost["cost"] <= 100,
          "create_market_buy_order_with_cost 100 USDT: filled for at most 100 USDT",
          (by_cost["status"], by_cost["cost"]))
    eth_fee = sum(t["fee"]["cost"] for t in ex.fetch_my_trades("ETH/USDT")
                  if t["order"] == by_cost["id"])
    close(free(ex, "ETH"), eth0 + by_cost["filled"] - eth_fee,
          "fetch_balance: ETH up by the by-cost fill less its fee")

    # A limit GTC buy far below the market: it rests, is found, and is canceled.
    last = ex.fetch_ticker("BTC/USDT")["last"]
    price = float(ex.price_to_precision("BTC/USDT", last * 0.5))
    usdt1 = free(ex, "USDT")
    limit = ex.create_order("BTC/USDT", "limit", "buy", 0.002, price,
                            {"newClientOrderId": "acceptance-limit-1"})
    check(limit["status"] == "open" and limit["clientOrderId"] == "acceptance-limit-1",
          "create_order limit GTC: open under its client id", (limit["status"], limit["clientOrderId"]))
    check(limit["timeInForce"] == "GTC" and limit["price"] == price,
          "create_order limit: GTC at its price", (limit["timeInForce"], limit["price"]))
    bal = ex.fetch_balance()
    close(bal["USDT"]["used"], price * 0.002, "fetch_balance: the limit order's quote is locked")
    close(bal["USDT"]["free"], usdt1 - price * 0.002, "fetch_balance: and not free")
    by_id = ex.fetch_order(limit["id"], "BTC/USDT")
    shape(by_id["info"], ORDER_FIELDS, "GET /api/v3/order")
    check(by_id["id"] == limit["id"] and by_id["status"] == "open"
          and by_id["clientOrderId"] == "acceptance-limit-1",
          "fetch_order by id: the open limit order", (by_id["id"], by_id["status"]))
    by_cid = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "acceptance-limit-1"})
    check(by_cid["id"] == limit["id"] and by_cid["status"] == "open",
          "fetch_order by clientOrderId (origClientOrderId): the same order", by_cid["id"])
    open_btc = ex.fetch_open_orders("BTC/USDT")
    check([o["id"] for o in open_btc] == [limit["id"]], "fetch_open_orders(BTC/USDT): the limit order",
          [o["id"] for o in open_btc])
    ex.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
    open_all = ex.fetch_open_orders()
    check([o["id"] for o in open_all] == [limit["id"]], "fetch_open_orders(): the limit order",
          [o["id"] for o in open_all])
    canceled = ex.cancel_order(limit["id"], "BTC/USDT")
    shape(canceled["info"], CANCEL_FIELDS, "DELETE /api/v3/order")
    check(canceled["status"] == "canceled", "cancel_order: canceled", canceled["status"])
    again = ex.fetch_order(limit["id"], "BTC/USDT")
    check(again["status"] == "canceled" and again["filled"] == 0,
          "fetch_order after cancel: canceled, unfilled", (again["status"], again["filled"]))
    check(ex.fetch_open_orders("BTC/USDT") == [], "fetch_open_orders after cancel: none")
    bal = ex.fetch_balance()
    close(bal["USDT"]["free"], usdt1, "fetch_balance: the cancel unlocked the quote")

    # A market sell: USDT comes back, less the fee in USDT.
    usdt2, btc2 = free(ex, "USDT"), free(ex, "BTC")
    sell = ex.create_order("BTC/USDT", "market", "sell", 0.002)
    check(sell["status"] == "closed" and sell["filled"] == 0.002, "create_order market sell: filled",
          (sell["status"], sell["filled"]))
    fills = [t for t in ex.fetch_my_trades("BTC/USDT") if t["order"] == sell["id"]]
    sell_fee = sum(t["fee"]["cost"] for t in fills)
    check(fills and all(t["fee"]["currency"] == "USDT" for t in fills),
          "fetch_my_trades: the sell's commission in USDT", [t["fee"] for t in fills])
    close(free(ex, "USDT"), usdt2 + sell["cost"] - sell_fee, "fetch_balance: USDT up by the sale less its fee")
    close(free(ex, "BTC"), btc2 - 0.002, "fetch_balance: BTC down by the sale")

    # Binance's errors, as ccxt reads them.
    try:
        ex.fetch_order("987654321", "BTC/USDT")
        check(False, "fetch_order of an unknown id: OrderNotFound")
    except ccxt.OrderNotFound:
        check(True, "fetch_order of an unknown id: OrderNotFound")
    try:
        ex.create_order("BTC/USDT", "market", "buy", 1000)
        check(False, "create_order beyond the balance: InsufficientFunds")
    except ccxt.InsufficientFunds:
        check(True, "create_order beyond the balance: InsufficientFunds")
    try:
        ex.create_order("BTC/USDT", "limit", "buy", 0.00001, price)
        check(False, "create_order below the NOTIONAL minimum: refused")
    except ccxt.BadRequest as e:  # ccxt's class for Binance's -1013
        check("-1013" in str(e) and "Filter failure: NOTIONAL" in str(e),
              "create_order below the NOTIONAL minimum: -1013 Filter failure: NOTIONAL", str(e))


def wrong_secret(url):
    ex = client(url, secret="not-the-secret")
    try:
        ex.fetch_balance()
        check(False, "a wrong secret: AuthenticationError")
    except ccxt.AuthenticationError:
        check(True, "a wrong secret: AuthenticationError (-1022)")


def faults(binary):
    sim = Sim(binary, "--faults", "halt=ETH,reject=1,partial=50")
    try:
        ex = client(sim.url)
        markets = ex.load_markets()
        check(markets["ETH/USDT"]["active"] is False and markets["BTC/USDT"]["active"] is True,
              "halt=ETH: ETH/USDT inactive (status HALT), BTC/USDT active",
              (markets["ETH/USDT"]["info"]["status"], markets["BTC/USDT"]["info"]["status"]))
        try:
            ex.create_order("BTC/USDT", "market", "buy", 0.001)
            check(False, "reject=1: the next order rejected (InvalidOrder, -2010)")
        except ccxt.InvalidOrder:
            check(True, "reject=1: the next order rejected (InvalidOrder, -2010)")
        check(ex.fetch_open_orders("BTC/USDT") == [] and ex.fetch_my_trades("BTC/USDT") == [],
              "reject=1: the rejected order left no order and no fill")
        try:
            ex.create_order("ETH/USDT", "market", "buy", 0.01)
            check(False, "halt=ETH: an ETH order refused as MarketClosed")
        except ccxt.MarketClosed:
            check(True, "halt=ETH: an ETH order refused as MarketClosed")
        part = ex.create_order("BTC/USDT", "market", "buy", 0.01)
        check(part["status"] == "expired" and 0 < part["filled"] < 0.01,
              "partial=50: a market buy of more than 50 USDT fills in part and expires",
              (part["status"], part["filled"]))
        check(part["cost"] <= 50 + 1e-9 and part["cost"] >= 50 - part["average"] * 0.00001,
              "partial=50: its fill is at most 50 USDT, within one lot", part["cost"])
        fills = [t for t in ex.fetch_my_trades("BTC/USDT") if t["order"] == part["id"]]
        close(sum(t["amount"] for t in fills), part["filled"], "partial=50: the fills are the filled part")
    finally:
        rc = sim.stop()
    check(rc == 0, "the simulator with faults stopped cleanly on SIGTERM", rc)


def restart(binary):
    """With --data-dir, a restarted simulator still has the account ccxt left: its balances and
    its resting order, which ccxt then cancels."""
    data = tempfile.mkdtemp(prefix="ccxt-acceptance-")
    try:
        sim = Sim(binary, "--data-dir", data)
        try:
            ex = client(sim.url)
            ex.load_markets()
            price = float(ex.price_to_precision("BTC/USDT", ex.fetch_ticker("BTC/USDT")["last"] * 0.5))
            o = ex.create_order("BTC/USDT", "limit", "buy", 0.001, price,
                                {"newClientOrderId": "acceptance-restart-1"})
            bal = ex.fetch_balance()
        finally:
            check(sim.stop() == 0, "--data-dir: the first simulator stopped cleanly")
        sim = Sim(binary, "--data-dir", data)
        try:
            ex = client(sim.url)
            again = ex.fetch_order(o["id"], "BTC/USDT")
            check(again["status"] == "open" and again["clientOrderId"] == "acceptance-restart-1",
                  "--data-dir: the resting order is still open after a restart",
                  (again["status"], again["clientOrderId"]))
            after = ex.fetch_balance()
            check(after["USDT"]["free"] == bal["USDT"]["free"]
                  and after["USDT"]["used"] == bal["USDT"]["used"],
                  "--data-dir: the balances as they were (--balances not deposited again)",
                  (bal["USDT"], after["USDT"]))
            check(ex.cancel_order(o["id"], "BTC/USDT")["status"] == "canceled",
                  "--data-dir: the resumed order cancels")
            nxt = ex.create_order("BTC/USDT", "market", "buy", 0.001)
            check(int(nxt["id"]) > int(o["id"]), "--data-dir: new ids go on after the old ones",
                  (o["id"], nxt["id"]))
        finally:
            check(sim.stop() == 0, "--data-dir: the restarted simulator stopped cleanly")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the smartfolio binary")
    ap.add_argument("--venue", choices=["binance", "okx", "gate", "all"], default="all",
                    help="which simulator and ccxt driver (default: all)")
    args = ap.parse_args()
    started = time.monotonic()
    print(f"ccxt {ccxt.__version__}", flush=True)
    try:
        if args.venue in ("binance", "all"):
            sim = Sim(args.bin)
            try:
                ex = client(sim.url)
                markets_and_data(ex)
                trading(ex)
                wrong_secret(sim.url)
            finally:
                rc = sim.stop()
            check(rc == 0, "the simulator stopped cleanly on SIGTERM", rc)
            faults(args.bin)
            restart(args.bin)
        if args.venue in ("okx", "all"):
            # ccxt_okx imports this module's checks: the running module, not a second copy.
            sys.modules.setdefault("ccxt_acceptance", sys.modules[__name__])
            import ccxt_okx
            ccxt_okx.run(args.bin)
        if args.venue in ("gate", "all"):
            sys.modules.setdefault("ccxt_acceptance", sys.modules[__name__])
            import ccxt_gate
            ccxt_gate.run(args.bin)
    except Failed as e:
        print(f"FAIL: {e}")
        print(f"({len(passed)} checks passed before it)")
        return 1
    except Exception as e:  # a ccxt error the checks did not expect is a failure too
        traceback.print_exc()
        print(f"FAIL: {type(e).__name__}: {e}")
        print(f"({len(passed)} checks passed before it)")
        return 1
    for p in passed:
        print(f"ok  {p}")
    print(f"ccxt acceptance: {len(passed)} checks passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
