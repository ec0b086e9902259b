"""Acceptance of `smartfolio sim --venue gate` by ccxt's Gate driver, unmodified (run through
`ccxt_acceptance.py --venue gate`, which owns the checks, the simulator process and the report).

ccxt's `gate` is pointed at the loopback address (spot markets only) and drives load_markets
(with /account/detail, /margin/currency_pairs and /spot/currencies read), fetch_balance,
fetch_ticker(s), fetch_ohlcv, create_order (market buy by cost: Gate's amount in quote, market
sell by amount, limit GTC under a text), fetch_order (by id and by text), fetch_open_orders,
cancel_order and fetch_my_trades, then Gate's errors (ORDER_NOT_FOUND, BALANCE_NOT_ENOUGH,
INVALID_SIGNATURE, INVALID_KEY), a reused text (Gate takes the second order), and faults
(halt=ETH, reject=1, partial=50). Raw payloads are checked against the fields Gate documents:
amounts and prices strings, precisions integers, candlesticks rows of eight strings.
"""
import ccxt

from ccxt_acceptance import KEY, SECRET, SYMBOLS, Running, check, close

PAIR_FIELDS = {
    "id", "base", "quote", "fee", "min_base_amount", "min_quote_amount", "max_quote_amount",
    "amount_precision", "precision", "trade_status", "sell_start", "buy_start", "type",
}
PAIR_STRINGS = {"id", "base", "quote", "fee", "min_base_amount", "min_quote_amount",
                "max_quote_amount", "trade_status", "type"}
PAIR_INTS = {"amount_precision", "precision", "sell_start", "buy_start"}
TICKER_FIELDS = {
    "currency_pair", "last", "lowest_ask", "highest_bid", "change_percentage", "base_volume",
    "quote_volume", "high_24h", "low_24h",
}
ORDER_FIELDS = {
    "id", "text", "create_time", "update_time", "create_time_ms", "update_time_ms", "status",
    "currency_pair", "type", "account", "side", "amount", "price", "time_in_force", "left",
    "filled_amount", "filled_total", "avg_deal_price", "fee", "fee_currency", "point_fee",
    "gt_fee", "finish_as",
}
ORDER_STRINGS = ORDER_FIELDS - {"create_time_ms", "update_time_ms"}
TRADE_FIELDS = {
    "id", "create_time", "create_time_ms", "currency_pair", "side", "role", "amount", "price",
    "order_id", "fee", "fee_currency", "point_fee", "gt_fee", "text",
}
ACCOUNT_FIELDS = {"currency", "available", "locked"}
ACCOUNT_STRINGS = ACCOUNT_FIELDS


def shape(raw, fields, strings, what, ints=frozenset()):
    """`raw` has every field Gate documents, its amounts strings and its precisions integers."""
    check(isinstance(raw, dict), f"{what}: an object", type(raw).__name__)
    missing = sorted(fields - set(raw))
    check(not missing, f"{what}: has Gate's fields", missing)
    numeric = sorted(k for k in strings if not isinstance(raw[k], str))
    check(not numeric, f"{what}: amounts and names are strings", numeric)
    not_int = sorted(k for k in ints if not isinstance(raw[k], int))
    check(not not_int, f"{what}: precisions and times are integers", not_int)


def client(url, key=KEY, secret=SECRET):
    ex = ccxt.gate({
        "apiKey": key,
        "secret": secret,
        "timeout": 10_000,
        # The simulator is Gate spot: no futures, delivery or options to list.
        "options": {"fetchMarkets": {"types": ["spot"]}},
    })
    for kind in ("public", "private"):
        for name in list(ex.urls["api"][kind]):
            ex.urls["api"][kind][name] = url + "/api/v4"
    return ex


def free(ex, asset):
    return ex.fetch_balance().get(asset, {}).get("free") or 0.0


def markets_and_data(ex):
    markets = ex.load_markets()
    check(set(markets) == SYMBOLS, "gate load_markets: the simulator's four symbols", sorted(markets))
    m = markets["BTC/USDT"]
    shape(m["info"], PAIR_FIELDS, PAIR_STRINGS, "GET /api/v4/spot/currency_pairs", PAIR_INTS)
    check(m["spot"] and m["active"] and not m["margin"],
          "gate load_markets: BTC/USDT an active spot market, no margin", (m["active"], m["margin"]))
    check(m["info"]["trade_status"] == "tradable", "gate currency_pairs: trade_status tradable",
          m["info"]["trade_status"])
    check(m["precision"]["amount"] == 0.00001, "gate load_markets: amount precision 5 places",
          m["precision"]["amount"])
    check(m["precision"]["price"] == 0.01, "gate load_markets: price precision 2 places",
          m["precision"]["price"])
    check(m["limits"]["amount"]["min"] == 0.00001 and m["limits"]["cost"]["min"] == 5,
          "gate load_markets: min_base_amount and min_quote_amount", m["limits"])
    check({"USDT", "BTC", "ETH"} <= set(ex.currencies),
          "gate load_markets: currencies from /spot/currencies", sorted(ex.currencies))
    check(ex.options.get("unifiedAccount") is False,
          "gate /account/detail: a classic account (key.mode 1)", ex.options.get("unifiedAccount"))

    bal = ex.fetch_balance()
    for a in bal["info"]:
        shape(a, ACCOUNT_FIELDS, ACCOUNT_STRINGS, "GET /api/v4/spot/accounts")
    check(bal["USDT"]["free"] == 10000 and bal["BTC"]["free"] == 0.1,
          "gate fetch_balance: the starting balances", (bal["USDT"], bal["BTC"]))

    t = ex.fetch_ticker("BTC/USDT")
    shape(t["info"], TICKER_FIELDS, TICKER_FIELDS, "GET /api/v4/spot/tickers")
    check(t["symbol"] == "BTC/USDT" and t["last"] > 0, "gate fetch_ticker: BTC/USDT priced", t["last"])
    check(t["bid"] <= t["last"] <= t["ask"], "gate fetch_ticker: bid <= last <= ask",
          (t["bid"], t["last"], t["ask"]))
    check(t["low"] <= t["last"] <= t["high"] and t["high"] > t["low"],
          "gate fetch_ticker: last within the day's low and high, which moved",
          (t["low"], t["last"], t["high"]))
    all_t = ex.fetch_tickers()
    check(set(all_t) == SYMBOLS, "gate fetch_tickers(): every symbol", sorted(all_t))

    rows = ex.fetch_ohlcv("BTC/USDT", "1m", limit=100)
    check(len(rows) == 100, "gate fetch_ohlcv 1m limit 100: 100 candles", len(rows))
    times = [r[0] for r in rows]
    check(all(b - a == 60_000 for a, b in zip(times, times[1:])),
          "gate fetch_ohlcv 1m: ascending, one minute apart", times[:3])
    check(all(r[3] <= min(r[1], r[4]) and max(r[1], r[4]) <= r[2] for r in rows),
          "gate fetch_ohlcv: low <= open, close <= high", rows[:2])
    raw = ex.publicSpotGetCandlesticks({"currency_pair": "BTC_USDT", "interval": "1m", "limit": 3})
    check(len(raw) == 3 and all(len(k) == 8 and all(isinstance(v, str) for v in k) for k in raw),
          "GET /api/v4/spot/candlesticks: rows of 8 strings", raw[:1])
    check(raw[0][7] == "true" and len(raw[0][0]) == 10,
          "gate candlesticks: t in seconds, a closed window says true", raw[0])
    since = ex.milliseconds() - 6 * 3_600_000
    hours = ex.fetch_ohlcv("BTC/USDT", "1h", since=since)
    check(5 <= len(hours) <= 7, "gate fetch_ohlcv 1h since 6 h ago: the hours since", len(hours))
    check(hours[0][0] >= since and all(b[0] - a[0] == 3_600_000 for a, b in zip(hours, hours[1:])),
          "gate fetch_ohlcv 1h: from `since`, ascending by the hour", [h[0] for h in hours])
    server = ex.fetch_time()
    check(abs(server - ex.milliseconds()) < 60_000, "gate fetch_time: /spot/time in ms", server)


def trades_of(ex, symbol, order_id):
    return [t for t in ex.fetch_my_trades(symbol) if t["order"] == order_id]


def trading(ex):
    usdt0, btc0 = free(ex, "USDT"), free(ex, "BTC")

    # A market buy by cost: Gate's amount is the quote spent.
    buy = ex.create_market_buy_order_with_cost("BTC/USDT", 100)
    shape(buy["info"], ORDER_FIELDS, ORDER_STRINGS, "POST /api/v4/spot/orders (market buy)",
          {"create_time_ms", "update_time_ms"})
    check(buy["info"]["amount"] == "100" and buy["info"]["time_in_force"] == "ioc",
          "gate market buy: amount 100 in quote, ioc", (buy["info"]["amount"], buy["info"]["time_in_force"]))
    check(buy["status"] == "closed" and buy["info"]["finish_as"] == "filled",
          "gate market buy: filled", (buy["status"], buy["info"]["finish_as"]))
    filled_total = float(buy["info"]["filled_total"])
    check(99 <= filled_total <= 100, "gate market buy: filled_total at most the 100 USDT sent",
          filled_total)
    close(float(buy["info"]["left"]), 100 - filled_total, "gate market buy: left is the quote unspent")
    mine = trades_of(ex, "BTC/USDT", buy["id"])
    check(len(mine) >= 1, "gate fetch_my_trades: the market buy's fill")
    shape(mine[0]["info"], TRADE_FIELDS, TRADE_FIELDS, "GET /api/v4/spot/my_trades")
    fee = sum(t["fee"]["cost"] for t in mine)
    check(fee > 0 and all(t["fee"]["currency"] == "BTC" for t in mine),
          "gate fetch_my_trades: the fee in the asset received", [t["fee"] for t in mine])
    check(all(t["takerOrMaker"] == "taker" and t["side"] == "buy" for t in mine),
          "gate fetch_my_trades: a buy that took liquidity")
    got = sum(t["amount"] for t in mine)
    close(got, float(buy["info"]["filled_amount"]), "gate my_trades: the fills add up to filled_amount")
    close(sum(t["cost"] for t in mine), filled_total, "gate my_trades: their cost is filled_total")
    close(free(ex, "BTC"), btc0 + got - fee, "gate fetch_balance: BTC up by the fill less the fee")
    close(free(ex, "USDT"), usdt0 - filled_total, "gate fetch_balance: USDT down by filled_total")

    # A limit GTC buy far below the market under our text: it rests, is found, canceled.
    last = ex.fetch_ticker("BTC/USDT")["last"]
    price = float(ex.price_to_precision("BTC/USDT", last * 0.5))
    usdt1 = free(ex, "USDT")
    limit = ex.create_order("BTC/USDT", "limit", "buy", 0.002, price, {"text": "t-acceptance-1"})
    check(limit["status"] == "open" and limit["clientOrderId"] == "t-acceptance-1",
          "gate create_order limit: open under its text", (limit["status"], limit["clientOrderId"]))
    check(limit["timeInForce"] == "GTC" and limit["price"] == price,
          "gate create_order limit: gtc at its price", (limit["timeInForce"], limit["price"]))
    bal = ex.fetch_balance()
    close(bal["USDT"]["used"], price * 0.002, "gate fetch_balance: the limit order's quote is locked")
    close(bal["USDT"]["free"], usdt1 - price * 0.002, "gate fetch_balance: and not available")
    by_id = ex.fetch_order(limit["id"], "BTC/USDT")
    shape(by_id["info"], ORDER_FIELDS, ORDER_STRINGS, "GET /api/v4/spot/orders/{order_id}",
          {"create_time_ms", "update_time_ms"})
    check(by_id["status"] == "open" and by_id["type"] == "limit",
          "gate fetch_order by id: the open limit order", (by_id["status"], by_id["type"]))
    by_text = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "t-acceptance-1"})
    check(by_text["id"] == limit["id"], "gate fetch_order by text: the same order", by_text["id"])
    open_btc = ex.fetch_open_orders("BTC/USDT")
    check([o["id"] for o in open_btc] == [limit["id"]], "gate fetch_open_orders: the limit order",
          [o["id"] for o in open_btc])
    canceled = ex.cancel_order(limit["id"], "BTC/USDT")
    check(canceled["status"] == "canceled" and canceled["info"]["finish_as"] == "cancelled",
          "gate cancel_order: cancelled", (canceled["status"], canceled["info"]["finish_as"]))
    again = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "t-acceptance-1"})
    check(again["status"] == "canceled" and again["filled"] == 0,
          "gate fetch_order by text after the cancel: canceled, unfilled", (again["status"], again["filled"]))
    check(ex.fetch_open_orders("BTC/USDT") == [], "gate fetch_open_orders after cancel: none")
    close(free(ex, "USDT"), usdt1, "gate fetch_balance: the cancel unlocked the quote")
    closed = ex.fetch_closed_orders("BTC/USDT")
    check({buy["id"], limit["id"]} <= {o["id"] for o in closed},
          "gate fetch_closed_orders (status=finished): the buy and the canceled limit",
          [o["id"] for o in closed])

    # A market sell by amount (base): the fee in USDT.
    usdt2, btc2 = free(ex, "USDT"), free(ex, "BTC")
    sell = ex.create_order("BTC/USDT", "market", "sell", 0.001)
    check(sell["status"] == "closed" and sell["filled"] == 0.001 and sell["info"]["amount"] == "0.001",
          "gate market sell: amount 0.001 in base, filled", (sell["status"], sell["filled"]))
    fills = trades_of(ex, "BTC/USDT", sell["id"])
    sell_fee = sum(t["fee"]["cost"] for t in fills)
    check(fills and all(t["fee"]["currency"] == "USDT" for t in fills),
          "gate fetch_my_trades: the sell's fee in USDT", [t["fee"] for t in fills])
    proceeds = sum(t["cost"] for t in fills)
    close(free(ex, "USDT"), usdt2 + proceeds - sell_fee, "gate fetch_balance: USDT up by the sale less its fee")
    close(free(ex, "BTC"), btc2 - 0.001, "gate fetch_balance: BTC down by the sale")

    # A text used again: Gate takes the second order, and the text then names it.
    first = ex.create_order("BTC/USDT", "limit", "buy", 0.001, price, {"text": "t-reused"})
    second = ex.create_order("BTC/USDT", "limit", "buy", 0.001, price, {"text": "t-reused"})
    check(second["id"] != first["id"] and second["status"] == "open",
          "gate a reused text: not refused, a second order", (first["id"], second["id"]))
    named = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "t-reused"})
    check(named["id"] == second["id"], "gate a reused text: it now names the later order",
          (named["id"], second["id"]))
    for o in (first, second):
        ex.cancel_order(o["id"], "BTC/USDT")

    # Gate's errors, as ccxt reads them.
    try:
        ex.fetch_order("987654321", "BTC/USDT")
        check(False, "gate fetch_order of an unknown id: OrderNotFound (ORDER_NOT_FOUND)")
    except ccxt.OrderNotFound:
        check(True, "gate fetch_order of an unknown id: OrderNotFound (ORDER_NOT_FOUND)")
    try:
        ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "t-never-sent"})
        check(False, "gate fetch_order of an unknown text: OrderNotFound (CLIENT_ID_NOT_FOUND)")
    except ccxt.OrderNotFound:
        check(True, "gate fetch_order of an unknown text: OrderNotFound (CLIENT_ID_NOT_FOUND)")
    try:
        ex.create_market_buy_order_with_cost("BTC/USDT", 1_000_000)
        check(False, "gate create_order beyond the balance: InsufficientFunds (BALANCE_NOT_ENOUGH)")
    except ccxt.InsufficientFunds:
        check(True, "gate create_order beyond the balance: InsufficientFunds (BALANCE_NOT_ENOUGH)")
    try:
        ex.create_order("BTC/USDT", "limit", "buy", 0.00001, price)
        check(False, "gate create_order below min_quote_amount: InvalidOrder (AMOUNT_TOO_LITTLE)")
    except ccxt.InvalidOrder as e:
        check("AMOUNT_TOO_LITTLE" in str(e),
              "gate create_order below min_quote_amount: InvalidOrder (AMOUNT_TOO_LITTLE)", str(e))
    try:
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, float(ex.price_to_precision("BTC/USDT", last * 1.5)),
                        {"timeInForce": "PO"})
        check(False, "gate a poc order that would take: OrderImmediatelyFillable")
    except ccxt.OrderImmediatelyFillable:
        check(True, "gate a poc order that would take: OrderImmediatelyFillable (POC_FILL_IMMEDIATELY)")


def wrong_keys(url):
    for what, ex, label in [("secret", client(url, secret="not-the-secret"), "INVALID_SIGNATURE"),
                            ("key", client(url, key="not-the-key"), "INVALID_KEY")]:
        ex.options["unifiedAccount"] = False  # load_markets would swallow /account/detail's refusal
        try:
            ex.fetch_balance()
            check(False, f"gate a wrong {what}: AuthenticationError ({label})")
        except ccxt.AuthenticationError as e:
            check(label in str(e), f"gate a wrong {what}: AuthenticationError ({label})", str(e))


def faults(binary):
    with Running(binary, "gate", "--faults", "halt=ETH,reject=1,partial=50") as sim:
        ex = client(sim.url)
        markets = ex.load_markets()
        check(markets["ETH/USDT"]["active"] is False and markets["BTC/USDT"]["active"] is True,
              "gate halt=ETH: ETH/USDT inactive (trade_status untradable), BTC/USDT active",
              (markets["ETH/USDT"]["info"]["trade_status"], markets["BTC/USDT"]["info"]["trade_status"]))
        try:
            ex.create_market_buy_order_with_cost("BTC/USDT", 20)
            check(False, "gate reject=1: the next order refused")
        except ccxt.ExchangeError as e:
            check("ORDER_BOOK_NOT_FOUND" in str(e), "gate reject=1: the next order refused", str(e))
        check(ex.fetch_open_orders("BTC/USDT") == [] and ex.fetch_my_trades("BTC/USDT") == [],
              "gate reject=1: no order and no fill left")
        try:
            ex.create_market_buy_order_with_cost("ETH/USDT", 20)
            check(False, "gate halt=ETH: an ETH order refused")
        except ccxt.ExchangeError:
            check(True, "gate halt=ETH: an ETH order refused")
        part = ex.create_order("BTC/USDT", "market", "sell", 0.01)
        check(part["info"]["finish_as"] == "ioc" and 0 < part["filled"] < 0.01,
              "gate partial=50: a market sell fills in part, the rest expires (finish_as ioc)",
              (part["info"]["finish_as"], part["filled"]))
        fills = trades_of(ex, "BTC/USDT", part["id"])
        close(sum(t["amount"] for t in fills), part["filled"], "gate partial=50: the fills are the filled part")


def run(binary):
    with Running(binary, "gate") as sim:
        ex = client(sim.url)
        markets_and_data(ex)
        trading(ex)
        wrong_keys(sim.url)
    faults(binary)
