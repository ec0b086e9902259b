//! `BinanceExchange` (the exchange interface v2 on Binance spot) against the loopback mock: the
//! requests each interface call makes, and what it answers.

mod common;

use common::*;
use rust_decimal_macros::dec;
use smartfolio_binance::BinanceExchange;
use smartfolio_exchange::settle::settle;
use smartfolio_exchange::{
    Exchange, ExchangeError, FeePaid, InstrumentStatus, OrderKind, OrderLookup, OrderRequest,
    OrderSize, OrderStatus, PriceBand, Settled, Side, TimeInForce, reject,
};

/// The mock with `replies`, and a connector on it.
async fn start(replies: Vec<Reply>) -> (Mock, BinanceExchange) {
    let m = Mock::start(replies).await;
    let x = BinanceExchange::new(m.new_client());
    (m, x)
}

/// (method, path, query or body without recvWindow/timestamp/signature).
fn requests(m: &Mock) -> Vec<(String, String, String)> {
    m.seen()
        .iter()
        .map(|s| {
            let sent = if s.method == "POST" {
                &s.body
            } else {
                &s.query
            };
            let params = if sent.contains("signature=") {
                let p = verify_signature(sent);
                let at = p.find("recvWindow=").unwrap();
                p[..at].trim_end_matches('&').to_string()
            } else {
                sent.clone()
            };
            (s.method.clone(), s.path.clone(), params)
        })
        .collect()
}

fn req(method: &str, path: &str, params: &str) -> (String, String, String) {
    (method.into(), path.into(), params.into())
}

#[tokio::test]
async fn instruments_carry_rules_limits_and_statuses() {
    let (m, x) = start(vec![
        ok(&fixture("exchange_info.json")),
        ok(&fixture("exchange_info_older.json")),
    ])
    .await;
    let all = x.instruments().await.unwrap();
    let by = |s: &str| all.iter().find(|i| i.symbol == s).unwrap().clone();
    let btc = by("BTCUSDT");
    assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "USDT"));
    assert_eq!(btc.status, InstrumentStatus::Trading);
    assert_eq!(btc.rules.lot_step, Some(dec!(0.00001)));
    assert_eq!(btc.rules.min_size, Some(dec!(0.00001)));
    assert_eq!(btc.rules.min_notional, Some(dec!(5)));
    assert_eq!(btc.rules.tick_size, Some(dec!(0.01)));
    assert_eq!(btc.limits.max_quantity, Some(dec!(9000)));
    assert_eq!(btc.limits.max_market_quantity, Some(dec!(92.13511208)));
    assert_eq!(btc.limits.max_notional, Some(dec!(9000000)));
    let band = PriceBand {
        down: dec!(0.2),
        up: dec!(5),
    };
    assert_eq!(
        (btc.limits.buy_band, btc.limits.sell_band),
        (Some(band), Some(band))
    );
    assert_eq!(by("ETHUSDT").status, InstrumentStatus::Halted);
    assert_eq!(by("LUNAUSDT").status, InstrumentStatus::Halted);
    assert_eq!(by("XRPUSDT").status, InstrumentStatus::CancelOnly);
    assert_eq!(by("NEWUSDT").status, InstrumentStatus::Halted);
    let luna = by("LUNAUSDT");
    assert_eq!(
        (luna.rules.min_notional, luna.limits.buy_band),
        (None, None)
    );

    // The older payload: MIN_NOTIONAL and PERCENT_PRICE.
    let old = x.instruments().await.unwrap();
    assert_eq!(old[0].rules.min_notional, Some(dec!(0.0001)));
    assert_eq!(old[0].limits.max_notional, None);
    assert_eq!(old[0].limits.sell_band, Some(band));
    // Public: no key sent.
    assert_eq!(
        requests(&m),
        vec![req("GET", "/api/v3/exchangeInfo", ""); 2]
    );
    assert!(m.seen().iter().all(|s| s.api_key.is_none()));
}

#[tokio::test]
async fn balances_and_tickers() {
    let (m, x) = start(vec![
        ok(&fixture("account.json")),
        ok(&fixture("ticker_price.json")),
        ok(r#"{"symbol":"BTCUSDT","price":"0"}"#),
        status(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#),
    ])
    .await;
    let b = x.balances().await.unwrap();
    assert_eq!(b[1].asset, "USDT");
    assert_eq!(b[1].total(), dec!(10250.5));
    let t = x
        .tickers(&["BTC".into(), "eth".into()], "usdt")
        .await
        .unwrap();
    assert_eq!(
        t.iter()
            .map(|t| (t.base.as_str(), t.quote.as_str(), t.last))
            .collect::<Vec<_>>(),
        vec![
            ("BTC", "USDT", dec!(37000.01)),
            ("ETH", "USDT", dec!(2050.5))
        ]
    );
    assert_eq!(t[0].time_ms, T);
    // A zero price is refused.
    let e = x.tickers(&["BTC".into()], "USDT").await.unwrap_err();
    assert!(
        matches!(e, ExchangeError::Transient(ref m) if m.contains("above zero")),
        "{e}"
    );
    // An asset Binance does not list is named.
    let e = x
        .tickers(&["FOO".into(), "BTC".into()], "USDT")
        .await
        .unwrap_err();
    match e {
        ExchangeError::Rejected { code, message } => {
            assert_eq!(code, reject::UNKNOWN_INSTRUMENT);
            assert!(
                message.contains("FOOUSDT, BTCUSDT") && message.contains("-1121"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        requests(&m),
        vec![
            req("GET", "/api/v3/account", "omitZeroBalances=true"),
            req(
                "GET",
                "/api/v3/ticker/price",
                "symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D"
            ),
            req("GET", "/api/v3/ticker/price", "symbol=BTCUSDT"),
            req(
                "GET",
                "/api/v3/ticker/price",
                "symbols=%5B%22FOOUSDT%22%2C%22BTCUSDT%22%5D"
            ),
        ]
    );
}

#[tokio::test]
async fn the_24_hour_volume_is_the_mini_tickers_quote_volume() {
    let (m, x) = start(vec![
        ok(&fixture("ticker_24hr_mini.json")),
        ok(r#"{"symbol":"ETHUSDT","quoteVolume":5000000}"#),
        ok(r#"{"symbol":"ETHUSDT"}"#),
        status(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#),
    ])
    .await;
    assert_eq!(
        x.volume_24h("btc", "usdt").await.unwrap(),
        Some(dec!(99012345.678))
    );
    assert_eq!(
        x.volume_24h("ETH", "USDT").await.unwrap(),
        Some(dec!(5000000))
    );
    assert_eq!(x.volume_24h("ETH", "USDT").await.unwrap(), None);
    let e = x.volume_24h("FOO", "USDT").await.unwrap_err();
    assert!(
        matches!(e, ExchangeError::Rejected { ref code, .. } if code == reject::UNKNOWN_INSTRUMENT),
        "{e}"
    );
    assert_eq!(
        requests(&m)[..2],
        [
            req("GET", "/api/v3/ticker/24hr", "symbol=BTCUSDT&type=MINI"),
            req("GET", "/api/v3/ticker/24hr", "symbol=ETHUSDT&type=MINI"),
        ]
    );
    assert!(m.seen().iter().all(|s| s.api_key.is_none()));
}

#[tokio::test]
async fn placements_send_the_client_id_and_ask_for_an_ack() {
    let (m, x) = start(vec![
        ok(&fixture("order_ack.json")),
        ok(&fixture("order_ack.json")),
        ok(&fixture("order_ack.json")),
    ])
    .await;
    let buy = OrderRequest::market(
        "sf-a",
        "BTC",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(100)),
    );
    let ack = x.place_order(&buy).await.unwrap();
    assert_eq!(
        (ack.client_id.as_str(), ack.venue_id.as_str(), ack.time_ms),
        ("sf-a", "28", 1_700_000_000_500)
    );
    let ioc = OrderRequest::limit("sf-b", "ETH", "USDT", Side::Sell, dec!(1.50), dec!(2000))
        .with_time_in_force(TimeInForce::Ioc);
    x.place_order(&ioc).await.unwrap();
    let maker =
        OrderRequest::limit("sf-c", "ETH", "USDT", Side::Buy, dec!(1), dec!(1900)).post_only();
    x.place_order(&maker).await.unwrap();
    assert_eq!(
        requests(&m),
        vec![
            req(
                "POST",
                "/api/v3/order",
                "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100&newClientOrderId=sf-a&newOrderRespType=ACK"
            ),
            req(
                "POST",
                "/api/v3/order",
                "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=1.5&price=2000&newClientOrderId=sf-b&newOrderRespType=ACK"
            ),
            req(
                "POST",
                "/api/v3/order",
                "symbol=ETHUSDT&side=BUY&type=LIMIT_MAKER&quantity=1&price=1900&newClientOrderId=sf-c&newOrderRespType=ACK"
            ),
        ]
    );
}

#[tokio::test]
async fn a_fresh_order_not_found_is_not_yet_found_and_is_never_resent() {
    let not_found = r#"{"code":-2013,"msg":"Order does not exist."}"#;
    let mut filled: serde_json::Value =
        serde_json::from_str(&fixture("order_result.json")).unwrap();
    filled["time"] = 1_700_000_000_500i64.into();
    filled["updateTime"] = 1_700_000_000_600i64.into();
    let trades = r#"[
      {"symbol":"BTCUSDT","id":70,"orderId":28,"price":"37000","qty":"0.0017","commission":"0.00005","commissionAsset":"BNB","time":1700000000550,"isBuyer":true,"isMaker":false},
      {"symbol":"BTCUSDT","id":71,"orderId":28,"price":"37000.027","qty":"0.001","commission":"0.000001","commissionAsset":"BTC","time":1700000000560,"isBuyer":true,"isMaker":false}
    ]"#;
    let (m, x) = start(vec![
        ok(&fixture("order_ack.json")),
        status(400, not_found),
        status(400, not_found),
        ok(&filled.to_string()),
        ok(trades),
    ])
    .await;
    let buy = OrderRequest::market(
        "sf-a",
        "BTC",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(100)),
    );
    x.place_order(&buy).await.unwrap();
    assert_eq!(
        x.order("BTC", "USDT", "sf-a").await.unwrap(),
        OrderLookup::NotFoundYet
    );
    // Within the lookup window, settling waits: no open-orders read, no resend.
    let s = settle(&x, "BTC", "USDT", "sf-a", T, T + 1_000)
        .await
        .unwrap();
    assert_eq!(
        s,
        Settled::Wait {
            until_ms: T + x.lookup_policy().window_ms
        }
    );
    let OrderLookup::Found(o) = x.order("BTC", "USDT", "sf-a").await.unwrap() else {
        panic!("not found");
    };
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.size, OrderSize::Quote(dec!(100)));
    assert_eq!(o.kind, OrderKind::Market);
    assert_eq!(
        (o.filled_quantity, o.filled_quote),
        (dec!(0.0027), dec!(99.900027))
    );
    assert_eq!(o.average_price, Some(dec!(99.900027) / dec!(0.0027)));
    assert_eq!(
        o.fees,
        vec![
            FeePaid {
                asset: "BNB".into(),
                amount: dec!(0.00005)
            },
            FeePaid {
                asset: "BTC".into(),
                amount: dec!(0.000001)
            },
        ]
    );
    assert_eq!(
        (o.created_ms, o.updated_ms),
        (1_700_000_000_500, 1_700_000_000_600)
    );
    let order_q = "symbol=BTCUSDT&origClientOrderId=sf-a";
    assert_eq!(
        requests(&m)[1..],
        [
            req("GET", "/api/v3/order", order_q),
            req("GET", "/api/v3/order", order_q),
            req("GET", "/api/v3/order", order_q),
            req(
                "GET",
                "/api/v3/myTrades",
                "symbol=BTCUSDT&orderId=28&limit=1000"
            ),
        ]
    );
    assert_eq!(m.seen().iter().filter(|s| s.method == "POST").count(), 1);
}

#[tokio::test]
async fn fills_by_client_id_carry_the_commission_asset() {
    let (m, x) = start(vec![
        ok(&fixture("order_full.json")),
        ok(&fixture("my_trades.json")),
    ])
    .await;
    let f = x.fills("BTC", "USDT", "sf-z").await.unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].fill_id.as_str(), f[0].venue_order_id.as_str()),
        ("56", "29")
    );
    assert_eq!(f[0].client_id, "sf-z");
    assert_eq!(f[0].side, Side::Sell);
    assert_eq!((f[0].fee, f[0].fee_asset.as_str()), (dec!(0.0001), "BNB"));
    assert!(f[0].fee_in_third_asset());
    assert_eq!(
        (f[1].fee_asset.as_str(), f[1].fee_value(None)),
        ("USDT", Some(dec!(0.037)))
    );
    assert_eq!(
        requests(&m),
        vec![
            req(
                "GET",
                "/api/v3/order",
                "symbol=BTCUSDT&origClientOrderId=sf-z"
            ),
            req(
                "GET",
                "/api/v3/myTrades",
                "symbol=BTCUSDT&orderId=29&limit=1000"
            ),
        ]
    );
}

#[tokio::test]
async fn fills_since_walk_24_hour_windows_then_trade_ids() {
    const DAY: i64 = 86_400_000;
    let since = T - DAY - 5_000;
    let (m, x) = start(vec![
        ok("[]"),
        ok(&fixture("my_trades.json")),
        ok("[]"),
        ok(&fixture("order_full.json")),
    ])
    .await;
    let f = x.fills_since("BTC", "USDT", since).await.unwrap();
    assert_eq!(f.len(), 2);
    // myTrades has no client id: it comes from the order, looked up once.
    assert!(
        f.iter()
            .all(|f| f.client_id == "sf-lq0c9kz5aaaaaaaaaaaaaaaaa"),
        "{f:?}"
    );
    let w1 = format!(
        "symbol=BTCUSDT&startTime={since}&endTime={}&limit=1000",
        since + DAY - 1
    );
    let w2 = format!(
        "symbol=BTCUSDT&startTime={}&endTime={T}&limit=1000",
        since + DAY
    );
    assert_eq!(
        requests(&m),
        vec![
            req("GET", "/api/v3/myTrades", &w1),
            req("GET", "/api/v3/myTrades", &w2),
            req(
                "GET",
                "/api/v3/myTrades",
                "symbol=BTCUSDT&fromId=58&limit=1000"
            ),
            req("GET", "/api/v3/order", "symbol=BTCUSDT&orderId=29"),
        ]
    );
}

#[tokio::test]
async fn open_orders_and_cancels_speak_in_pairs_and_our_ids() {
    let query = fixture("order_query.json");
    let (m, x) = start(vec![
        ok(&format!("[{query}]")),
        ok(&fixture("exchange_info.json")),
        ok(&fixture("order_cancel.json")),
        status(400, r#"{"code":-2011,"msg":"Unknown order sent."}"#),
    ])
    .await;
    let open = x.open_orders().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].base.as_str(), open[0].quote.as_str()),
        ("BTC", "USDT")
    );
    assert_eq!(open[0].client_id, "sf-lq0c9kz6bbbbbbbbbbbbbbbbb");
    assert_eq!(open[0].status, OrderStatus::PartiallyFilled);
    assert_eq!(open[0].kind, OrderKind::Limit { price: dec!(36000) });
    let c = x
        .cancel_order("BTC", "USDT", "sf-lq0c9kz6bbbbbbbbbbbbbbbbb")
        .await
        .unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(c.client_id, "sf-lq0c9kz6bbbbbbbbbbbbbbbbb");
    assert_eq!(c.filled_quantity, dec!(0.004));
    let e = x.cancel_order("BTC", "USDT", "sf-gone").await.unwrap_err();
    assert!(
        matches!(e, ExchangeError::Rejected { ref code, .. } if code == reject::UNKNOWN_ORDER),
        "{e}"
    );
    assert_eq!(
        requests(&m),
        vec![
            req("GET", "/api/v3/openOrders", ""),
            req("GET", "/api/v3/exchangeInfo", "symbol=BTCUSDT"),
            req(
                "DELETE",
                "/api/v3/order",
                "symbol=BTCUSDT&origClientOrderId=sf-lq0c9kz6bbbbbbbbbbbbbbbbb"
            ),
            req(
                "DELETE",
                "/api/v3/order",
                "symbol=BTCUSDT&origClientOrderId=sf-gone"
            ),
        ]
    );
}
