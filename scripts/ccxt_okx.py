"""Acceptance of `smartfolio sim --venue okx` by ccxt's OKX driver, unmodified (run through
`ccxt_acceptance.py --venue okx`, which owns the checks, the simulator process and the report).

ccxt's `okx` is pointed at the loopback address and drives load_markets (with the signed
currencies read), fetch_balance, fetch_ticker(s), fetch_ohlcv, create_order (market by amount,
market buy by cost with tgtCcy=quote_ccy, limit GTC under a client id), fetch_order (by id and
by clOrdId), fetch_open_orders, cancel_order and fetch_my_trades (fills-history), then a wrong
secret and passphrase, and faults (halt=ETH, reject=1, partial=50). Raw payloads are checked
against the fields OKX's documentation gives, every number a string.
"""
import ccxt

from ccxt_acceptance import KEY, SECRET, PASSPHRASE, SYMBOLS, Running, check, close

INSTRUMENT_FIELDS = {
    "instType", "instId", "baseCcy", "quoteCcy", "tickSz", "lotSz", "minSz", "state",
    "maxLmtSz", "maxMktSz", "maxLmtAmt", "maxMktAmt", "listTime",
}
TICKER_FIELDS = {
    "instType", "instId", "last", "lastSz", "askPx", "askSz", "bidPx", "bidSz", "open24h",
    "high24h", "low24h", "volCcy24h", "vol24h", "ts", "sodUtc0", "sodUtc8",
}
ORDER_FIELDS = {
    "instType", "instId", "ordId", "clOrdId", "px", "sz", "ordType", "side", "tdMode",
    "accFillSz", "fillPx", "fillSz", "avgPx", "state", "feeCcy", "fee", "tgtCcy", "uTime",
    "cTime",
}
FILL_FIELDS = {
    "instType", "instId", "tradeId", "ordId", "clOrdId", "billId", "fillPx", "fillSz", "side",
    "execType", "feeCcy", "fee", "ts",
}
BALANCE_FIELDS = {"ccy", "availBal", "frozenBal", "cashBal", "eq", "uTime"}


def shape(raw, fields, what):
    """`raw` has every field OKX documents, each a string."""
    check(isinstance(raw, dict), f"{what}: an object", type(raw).__name__)
    missing = sorted(fields - set(raw))
    check(not missing, f"{what}: has OKX's fields", missing)
    numeric = sorted(k for k in fields if not isinstance(raw[k], str))
    check(not numeric, f"{what}: every value a string", numeric)


def client(url, secret=SECRET, password=PASSPHRASE):
    ex = ccxt.okx({
        "apiKey": KEY,
        "secret": secret,
        "password": password,
        "timeout": 10_000,
        # The simulator is OKX spot: no futures, swaps or options to list.
        "options": {"fetchMarkets": {"types": ["spot"]}},
    })
    ex.urls["api"] = {"rest": url}
    return ex


def free(ex, asset):
    return ex.fetch_balance().get(asset, {}).get("free") or 0.0


def markets_and_data(ex):
    markets = ex.load_markets()
    check(set(markets) == SYMBOLS, "okx load_markets: the simulator's four symbols", sorted(markets))
    m = markets["BTC/USDT"]
    shape(m["info"], INSTRUMENT_FIELDS, "GET /api/v5/public/instruments")
    check(m["spot"] and m["active"], "okx load_markets: BTC/USDT an active spot market", m["active"])
    check(m["precision"]["amount"] == 0.00001, "okx load_markets: amount precision from lotSz",
          m["precision"]["amount"])
    check(m["precision"]["price"] == 0.01, "okx load_markets: price precision from tickSz",
          m["precision"]["price"])
    check(m["limits"]["amount"]["min"] == 0.00001, "okx load_markets: the minimum from minSz",
          m["limits"]["amount"])
    check({"USDT", "BTC", "ETH"} <= set(ex.currencies),
          "okx load_markets: currencies from /api/v5/asset/currencies", sorted(ex.currencies))

    bal = ex.fetch_balance()
    for d in bal["info"]["data"][0]["details"]:
        shape(d, BALANCE_FIELDS, "GET /api/v5/account/balance details")
    check(bal["USDT"]["free"] == 10000 and bal["BTC"]["free"] == 0.1,
          "okx fetch_balance: the starting balances", (bal["USDT"], bal["BTC"]))

    t = ex.fetch_ticker("BTC/USDT")
    shape(t["info"], TICKER_FIELDS, "GET /api/v5/market/ticker")
    check(t["symbol"] == "BTC/USDT" and t["last"] > 0, "okx fetch_ticker: BTC/USDT priced", t["last"])
    check(t["bid"] <= t["last"] <= t["ask"], "okx fetch_ticker: bid <= last <= ask",
          (t["bid"], t["last"], t["ask"]))
    check(t["low"] <= t["open"] <= t["high"] and t["low"] <= t["last"] <= t["high"],
          "okx fetch_ticker: the day's open and last within its low and high",
          (t["low"], t["open"], t["last"], t["high"]))
    all_t = ex.fetch_tickers()
    check(set(all_t) == SYMBOLS, "okx fetch_tickers(): every symbol", sorted(all_t))

    rows = ex.fetch_ohlcv("BTC/USDT", "1m", limit=100)
    check(len(rows) == 100, "okx fetch_ohlcv 1m limit 100: 100 candles", len(rows))
    times = [r[0] for r in rows]
    check(all(b - a == 60_000 for a, b in zip(times, times[1:])),
          "okx fetch_ohlcv 1m: ascending, one minute apart", times[:3])
    check(all(r[3] <= min(r[1], r[4]) and max(r[1], r[4]) <= r[2] for r in rows),
          "okx fetch_ohlcv: low <= open, close <= high", rows[:2])
    since = ex.milliseconds() - 6 * 3_600_000
    hours = ex.fetch_ohlcv("BTC/USDT", "1h", since=since)
    check(5 <= len(hours) <= 7, "okx fetch_ohlcv 1h since 6 h ago: the hours since", len(hours))
    check(hours[0][0] >= since and all(b[0] - a[0] == 3_600_000 for a, b in zip(hours, hours[1:])),
          "okx fetch_ohlcv 1h: from `since`, ascending by the hour", [h[0] for h in hours])


def trading(ex):
    usdt0, btc0 = free(ex, "USDT"), free(ex, "BTC")

    # A market buy by amount (tgtCcy=base_ccy): the answer is an acknowledgement; the order
    # as OKX reports it comes from fetch_order.
    ack = ex.create_order("BTC/USDT", "market", "buy", 0.001)
    check(ack["id"] and ack["clientOrderId"] and len(ack["clientOrderId"]) <= 32,
          "okx create_order: OKX's ordId and ccxt's clOrdId", (ack["id"], ack["clientOrderId"]))
    buy = ex.fetch_order(ack["id"], "BTC/USDT")
    shape(buy["info"], ORDER_FIELDS, "GET /api/v5/trade/order")
    check(buy["status"] == "closed" and buy["filled"] == 0.001,
          "okx create_order market buy 0.001 BTC: filled", (buy["status"], buy["filled"]))
    check(buy["info"]["tgtCcy"] == "base_ccy", "okx create_order: sent with tgtCcy=base_ccy",
          buy["info"]["tgtCcy"])
    trades = ex.fetch_my_trades("BTC/USDT")
    mine = [t for t in trades if t["order"] == ack["id"]]
    check(len(mine) >= 1, "okx fetch_my_trades: the market buy's fill", [t["order"] for t in trades])
    shape(mine[0]["info"], FILL_FIELDS, "GET /api/v5/trade/fills-history")
    check(all(t["info"]["fee"].startswith("-") for t in mine),
          "okx fills: the fee negative on the wire", [t["info"]["fee"] for t in mine])
    fee = sum(t["fee"]["cost"] for t in mine)
    check(fee > 0 and all(t["fee"]["currency"] == "BTC" for t in mine),
          "okx fetch_my_trades: the fee, paid, in the asset received", [t["fee"] for t in mine])
    close(sum(t["amount"] for t in mine), 0.001, "okx fetch_my_trades: the fills add up to the order")
    cost = sum(t["cost"] for t in mine)
    close(cost, buy["cost"], "okx fetch_order: its cost is its fills' cost")
    close(free(ex, "BTC"), btc0 + 0.001 - fee, "okx fetch_balance: BTC up by the fill less the fee")
    close(free(ex, "USDT"), usdt0 - cost, "okx fetch_balance: USDT down by the fill's cost")

    # A market buy by cost: tgtCcy=quote_ccy.
    by_cost = ex.fetch_order(ex.create_market_buy_order_with_cost("ETH/USDT", 100)["id"], "ETH/USDT")
    check(by_cost["info"]["tgtCcy"] == "quote_ccy" and float(by_cost["info"]["sz"]) == 100,
          "okx create_market_buy_order_with_cost: sz 100 in quote_ccy",
          (by_cost["info"]["tgtCcy"], by_cost["info"]["sz"]))
    check(by_cost["status"] == "closed" and 99 <= by_cost["cost"] <= 100,
          "okx market buy by cost 100 USDT: filled for at most 100 USDT",
          (by_cost["status"], by_cost["cost"]))

    # A limit GTC buy far below the market, under our client id: it rests, is found, canceled.
    last = ex.fetch_ticker("BTC/USDT")["last"]
    price = float(ex.price_to_precision("BTC/USDT", last * 0.5))
    usdt1 = free(ex, "USDT")
    limit = ex.create_order("BTC/USDT", "limit", "buy", 0.002, price, {"clientOrderId": "acceptance1"})
    check(limit["clientOrderId"] == "acceptance1", "okx create_order limit: under its clOrdId",
          limit["clientOrderId"])
    by_id = ex.fetch_order(limit["id"], "BTC/USDT")
    check(by_id["status"] == "open" and by_id["price"] == price and by_id["type"] == "limit",
          "okx fetch_order by id: the open limit order at its price",
          (by_id["status"], by_id["price"], by_id["type"]))
    by_cid = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "acceptance1"})
    check(by_cid["id"] == limit["id"], "okx fetch_order by clOrdId: the same order", by_cid["id"])
    bal = ex.fetch_balance()
    close(bal["USDT"]["used"], price * 0.002, "okx fetch_balance: the limit order's quote is frozen")
    close(bal["USDT"]["free"], usdt1 - price * 0.002, "okx fetch_balance: and not available")
    open_btc = ex.fetch_open_orders("BTC/USDT")
    check([o["id"] for o in open_btc] == [limit["id"]], "okx fetch_open_orders: the limit order",
          [o["id"] for o in open_btc])
    shape(open_btc[0]["info"], ORDER_FIELDS, "GET /api/v5/trade/orders-pending")
    ex.cancel_order(limit["id"], "BTC/USDT")
    again = ex.fetch_order(limit["id"], "BTC/USDT")
    check(again["status"] == "canceled" and again["filled"] == 0,
          "okx cancel_order: canceled, unfilled", (again["status"], again["filled"]))
    check(ex.fetch_open_orders("BTC/USDT") == [], "okx fetch_open_orders after cancel: none")
    close(free(ex, "USDT"), usdt1, "okx fetch_balance: the cancel unfroze the quote")

    # A market sell: the fee in USDT.
    usdt2 = free(ex, "USDT")
    sell = ex.fetch_order(ex.create_order("BTC/USDT", "market", "sell", 0.002)["id"], "BTC/USDT")
    check(sell["status"] == "closed" and sell["filled"] == 0.002, "okx market sell: filled",
          (sell["status"], sell["filled"]))
    fills = [t for t in ex.fetch_my_trades("BTC/USDT") if t["order"] == sell["id"]]
    sell_fee = sum(t["fee"]["cost"] for t in fills)
    check(fills and all(t["fee"]["currency"] == "USDT" for t in fills),
          "okx fetch_my_trades: the sell's fee in USDT", [t["fee"] for t in fills])
    close(free(ex, "USDT"), usdt2 + sell["cost"] - sell_fee, "okx fetch_balance: USDT up by the sale less its fee")

    # OKX's errors, as ccxt reads them.
    try:
        ex.fetch_order("987654321", "BTC/USDT")
        check(False, "okx fetch_order of an unknown id: OrderNotFound (51603)")
    except ccxt.OrderNotFound:
        check(True, "okx fetch_order of an unknown id: OrderNotFound (51603)")
    try:
        ex.create_order("BTC/USDT", "market", "buy", 1000)
        check(False, "okx create_order beyond the balance: InsufficientFunds (51008)")
    except ccxt.InsufficientFunds:
        check(True, "okx create_order beyond the balance: InsufficientFunds (51008)")


def wrong_keys(url):
    for what, ex in [("secret", client(url, secret="not-the-secret")),
                     ("passphrase", client(url, password="not-the-passphrase"))]:
        try:
            ex.fetch_balance()
            check(False, f"okx a wrong {what}: AuthenticationError")
        except ccxt.AuthenticationError:
            check(True, f"okx a wrong {what}: AuthenticationError")


def faults(binary):
    with Running(binary, "okx", "--faults", "halt=ETH,reject=1,partial=50") as sim:
        ex = client(sim.url)
        markets = ex.load_markets()
        check(markets["ETH/USDT"]["active"] is False and markets["BTC/USDT"]["active"] is True,
              "okx halt=ETH: ETH/USDT inactive (state suspend), BTC/USDT active",
              (markets["ETH/USDT"]["info"]["state"], markets["BTC/USDT"]["info"]["state"]))
        try:
            ex.create_order("BTC/USDT", "market", "buy", 0.001)
            check(False, "okx reject=1: the next order refused in its sCode")
        except ccxt.ExchangeError:
            check(True, "okx reject=1: the next order refused in its sCode")
        check(ex.fetch_open_orders("BTC/USDT") == [] and ex.fetch_my_trades("BTC/USDT") == [],
              "okx reject=1: no order and no fill left")
        try:
            ex.create_order("ETH/USDT", "market", "buy", 0.01)
            check(False, "okx halt=ETH: an ETH order refused")
        except ccxt.ExchangeError:
            check(True, "okx halt=ETH: an ETH order refused")
        part = ex.fetch_order(ex.create_order("BTC/USDT", "market", "buy", 0.01)["id"], "BTC/USDT")
        check(part["status"] == "canceled" and 0 < part["filled"] < 0.01,
              "okx partial=50: a market buy fills in part, the rest canceled",
              (part["status"], part["filled"]))
        fills = [t for t in ex.fetch_my_trades("BTC/USDT") if t["order"] == part["id"]]
        close(sum(t["amount"] for t in fills), part["filled"], "okx partial=50: the fills are the filled part")


def run(binary):
    with Running(binary, "okx") as sim:
        ex = client(sim.url)
        markets_and_data(ex)
        trading(ex)
        wrong_keys(sim.url)
    faults(binary)
