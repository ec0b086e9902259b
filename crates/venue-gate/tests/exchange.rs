//! `GateExchange` against a loopback mock of Gate v4: what goes on the wire (every signed
//! request's `SIGN` is checked by the mock) and how each answer maps onto the interface.

mod common;

use common::{KEY, Mock, T, fixture, hang, ok, status};
use rust_decimal_macros::dec;
use smartfolio_exchange::settle::{Settled, settle};
use smartfolio_exchange::{
    Exchange, ExchangeError, InstrumentStatus, OrderLookup, OrderRequest, OrderSize, OrderStatus,
    Side, reject,
};
use std::time::Duration;

fn market_buy(id: &str, quote: rust_decimal::Decimal) -> OrderRequest {
    OrderRequest::market(id, "BTC", "USDT", Side::Buy, OrderSize::Quote(quote))
}

fn rejected_code(e: &ExchangeError) -> &str {
    match e {
        ExchangeError::Rejected { code, .. } => code,
        other => panic!("not a rejection: {other:?}"),
    }
}

#[tokio::test]
async fn balances_and_instruments_and_rounding_before_sending() {
    let m = Mock::start(vec![
        ok(&fixture("accounts.json")),
        ok(&fixture("currency_pairs.json")),
        ok(&fixture("order_limit_open.json")),
    ])
    .await;
    let b = m.exchange.balances().await.unwrap();
    assert_eq!(
        (b[0].asset.as_str(), b[0].free, b[0].locked),
        ("USDT", dec!(3900.5), dec!(100))
    );
    assert_eq!((b[2].asset.as_str(), b[2].total()), ("GT", dec!(1.5)));
    let inst = m.exchange.instruments().await.unwrap();
    assert_eq!(inst.len(), 5);
    assert_eq!(inst[2].status, InstrumentStatus::SellOnly);
    let req = OrderRequest::limit(
        "sf3",
        "BTC",
        "USDT",
        Side::Sell,
        dec!(0.0123456789),
        dec!(37000.17),
    );
    m.exchange.place_order(&req).await.unwrap();
    let seen = m.seen();
    assert_eq!(seen[0].path, "/api/v4/spot/accounts");
    assert_eq!(seen[1].path, "/api/v4/spot/currency_pairs");
    // Public: no key.
    assert_eq!(seen[1].key, None);
    // amount_precision 6, precision 1 (sell: price rounded up).
    assert!(
        seen[2]
            .body
            .contains(r#""amount":"0.012345","price":"37000.2""#),
        "{}",
        seen[2].body
    );
    assert!(
        seen.iter()
            .filter(|s| s.key.is_some())
            .all(|s| s.signature_ok)
    );
}

#[tokio::test]
async fn a_market_buy_spends_quote_and_is_signed() {
    let m = Mock::start(vec![ok(&fixture("order_market_buy.json"))]).await;
    let ack = m
        .exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap();
    assert_eq!(ack.venue_id, "412345678901");
    assert_eq!(
        (ack.client_id.as_str(), ack.time_ms),
        ("sf1", 1_700_000_020_100)
    );
    let seen = m.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(
        (s.method.as_str(), s.path.as_str(), s.query.as_str()),
        ("POST", "/api/v4/spot/orders", "")
    );
    assert_eq!(
        s.body,
        r#"{"text":"t-sf1","currency_pair":"BTC_USDT","type":"market","account":"spot","side":"buy","amount":"100","time_in_force":"ioc"}"#
    );
    assert!(s.signature_ok, "{s:?}");
    assert_eq!(s.key.as_deref(), Some(KEY));
    assert_eq!(s.timestamp.as_deref(), Some("1700000020"));
}

#[tokio::test]
async fn a_market_sell_sells_base_and_a_market_buy_in_base_spends_quote_at_the_ask() {
    let m = Mock::start(vec![
        ok(&fixture("order_market_sell.json")),
        ok(&fixture("tickers.json")),
        ok(&fixture("order_market_buy.json")),
    ])
    .await;
    let req = OrderRequest::market("sf2", "BTC", "USDT", Side::Sell, OrderSize::Base(dec!(0.5)));
    m.exchange.place_order(&req).await.unwrap();
    assert!(
        m.seen()[0]
            .body
            .contains(r#""side":"sell","amount":"0.5","time_in_force":"ioc""#)
    );
    // A buy sized in base: Gate's market buy spends quote, so the pair's lowest ask is read
    // first (37000.2) and the order spends 0.5 of it.
    let req = OrderRequest::market("sf4", "BTC", "USDT", Side::Buy, OrderSize::Base(dec!(0.5)));
    m.exchange.place_order(&req).await.unwrap();
    let seen = m.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        (
            seen[1].method.as_str(),
            seen[1].path.as_str(),
            seen[1].query.as_str()
        ),
        ("GET", "/api/v4/spot/tickers", "currency_pair=BTC_USDT")
    );
    assert!(
        seen[2]
            .body
            .contains(r#""side":"buy","amount":"18500.1","time_in_force":"ioc""#),
        "{}",
        seen[2].body
    );
}

#[tokio::test]
async fn a_market_buy_in_base_without_a_price_is_never_sent() {
    let m = Mock::start(vec![ok("[]")]).await;
    let req = OrderRequest::market("sf5", "BTC", "USDT", Side::Buy, OrderSize::Base(dec!(0.5)));
    let e = m.exchange.place_order(&req).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("no price for BTC_USDT"), "{e}");
    assert_eq!(m.seen().len(), 1, "only the ticker was read");
}

#[tokio::test]
async fn a_limit_order_is_placed_then_canceled_by_text() {
    let m = Mock::start(vec![
        ok(&fixture("order_limit_open.json")),
        ok(&fixture("order_limit_cancelled.json")),
    ])
    .await;
    let req =
        OrderRequest::limit("sf3", "BTC", "USDT", Side::Buy, dec!(0.01), dec!(30000.5)).post_only();
    m.exchange.place_order(&req).await.unwrap();
    let c = m.exchange.cancel_order("btc", "usdt", "sf3").await.unwrap();
    assert_eq!(c.status, OrderStatus::Canceled);
    assert_eq!(c.filled_quantity, dec!(0.004));
    let seen = m.seen();
    assert!(
        seen[0]
            .body
            .ends_with(r#""price":"30000.5","time_in_force":"poc"}"#),
        "{}",
        seen[0].body
    );
    assert_eq!(
        (
            seen[1].method.as_str(),
            seen[1].path.as_str(),
            seen[1].query.as_str()
        ),
        (
            "DELETE",
            "/api/v4/spot/orders/t-sf3",
            "currency_pair=BTC_USDT"
        )
    );
    assert!(seen.iter().all(|s| s.signature_ok));
}

#[tokio::test]
async fn orders_are_looked_up_by_text() {
    let m = Mock::start(vec![ok(&fixture("order_market_buy.json"))]).await;
    let o = m
        .exchange
        .order("BTC", "USDT", "sf1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(
        (o.status, o.size),
        (OrderStatus::Filled, OrderSize::Quote(dec!(100)))
    );
    let s = &m.seen()[0];
    assert_eq!(
        (s.path.as_str(), s.query.as_str()),
        ("/api/v4/spot/orders/t-sf1", "currency_pair=BTC_USDT")
    );
    assert!(s.signature_ok);
}

#[tokio::test]
async fn a_not_found_text_falls_back_to_the_fills_and_settles_closed() {
    let m = Mock::start(vec![
        // order(): not found by text, but fills under t-sf1: Gate forgot the id.
        status(404, &fixture("error_order_not_found.json")),
        ok(&fixture("my_trades.json")),
        // settle(): the lookup again, then open orders, then the fills since it was sent.
        status(404, &fixture("error_order_not_found.json")),
        ok(&fixture("my_trades.json")),
        ok("[]"),
        ok(&fixture("my_trades.json")),
    ])
    .await;
    assert_eq!(
        m.exchange.order("BTC", "USDT", "sf1").await.unwrap(),
        OrderLookup::Unknown
    );
    // Well inside the lookup window: settled at once from the fills, no waiting.
    let settled = settle(&m.exchange, "BTC", "USDT", "sf1", T, T + 1_000)
        .await
        .unwrap();
    let Settled::Closed { fills } = settled else {
        panic!("{settled:?}");
    };
    let ids: Vec<_> = fills.iter().map(|f| f.fill_id.as_str()).collect();
    assert_eq!(ids, ["9002", "9003"]);
    assert_eq!(
        fills
            .iter()
            .map(|f| f.quantity)
            .sum::<rust_decimal::Decimal>(),
        dec!(0.0027)
    );
    let seen = m.seen();
    assert_eq!(seen[1].path, "/api/v4/spot/my_trades");
    assert_eq!(seen[1].query, "currency_pair=BTC_USDT&page=1&limit=1000");
    assert_eq!(seen[4].path, "/api/v4/spot/open_orders");
    assert_eq!(
        seen[5].query,
        format!(
            "currency_pair=BTC_USDT&from={}&page=1&limit=1000",
            (T - 60_000) / 1_000
        )
    );
    assert!(seen.iter().all(|s| s.method == "GET" && s.signature_ok));
}

#[tokio::test]
async fn not_found_without_fills_is_not_found_yet_and_waits_the_window() {
    let m = Mock::start(vec![
        status(404, &fixture("error_order_not_found.json")),
        ok("[]"),
    ])
    .await;
    let settled = settle(&m.exchange, "BTC", "USDT", "sf9", T, T + 1_000)
        .await
        .unwrap();
    assert_eq!(
        settled,
        Settled::Wait {
            until_ms: T + 30_000
        }
    );
    assert_eq!(m.seen().len(), 2);
}

#[tokio::test]
async fn fills_of_an_order_are_read_by_its_gate_id() {
    let m = Mock::start(vec![
        ok(&fixture("order_market_buy.json")),
        ok(&fixture("my_trades.json")),
    ])
    .await;
    let fills = m.exchange.fills("BTC", "USDT", "sf1").await.unwrap();
    // That order's only (another order's fill in the answer is left out), oldest first.
    let ids: Vec<_> = fills.iter().map(|f| f.fill_id.as_str()).collect();
    assert_eq!(ids, ["9002", "9003"]);
    assert_eq!(
        m.seen()[1].query,
        "currency_pair=BTC_USDT&order_id=412345678901&page=1&limit=1000"
    );
}

#[tokio::test]
async fn the_fills_of_an_order_a_lookup_found_cost_one_request() {
    let m = Mock::start(vec![
        ok(&fixture("order_market_buy.json")),
        ok(&fixture("my_trades.json")),
    ])
    .await;
    let OrderLookup::Found(order) = m.exchange.order("BTC", "USDT", "sf1").await.unwrap() else {
        panic!("not found");
    };
    let fills = m.exchange.fills_of_order(&order).await.unwrap();
    let ids: Vec<_> = fills.iter().map(|f| f.fill_id.as_str()).collect();
    assert_eq!(ids, ["9002", "9003"]);
    let paths: Vec<_> = m.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(
        paths,
        ["/api/v4/spot/orders/t-sf1", "/api/v4/spot/my_trades"],
        "one lookup, one fills read"
    );
    assert_eq!(
        m.seen()[1].query,
        "currency_pair=BTC_USDT&order_id=412345678901&page=1&limit=1000"
    );
}

#[tokio::test]
async fn a_rate_limit_bans_every_call_until_it_lifts_then_the_retry_goes_through() {
    let m = Mock::start(vec![
        status(429, &fixture("error_rate_limit.json")),
        ok(&fixture("order_market_buy.json")),
    ])
    .await;
    let e = m
        .exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExchangeError::RateLimited {
            retry_after_ms: 10_000
        }
    );
    // During the ban nothing is sent.
    m.advance(9_000);
    let e = m
        .exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExchangeError::RateLimited {
            retry_after_ms: 1_000
        }
    );
    assert_eq!(m.seen().len(), 1);
    // Once it lifts, the same request (same text: the first was refused) goes through.
    m.advance(1_000);
    m.exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap();
    let seen = m.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn a_5xx_is_an_unknown_outcome_settled_by_lookup_and_the_text_is_never_resent() {
    let m = Mock::start(vec![
        status(500, &fixture("error_server.json")),
        ok(&fixture("order_market_buy.json")),
    ])
    .await;
    let e = m
        .exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExchangeError::UnknownOutcome(ref m) if m.contains("SERVER_ERROR")),
        "{e:?}"
    );
    match settle(&m.exchange, "BTC", "USDT", "sf1", T, T + 1_000)
        .await
        .unwrap()
    {
        Settled::Found(o) => assert_eq!(
            (o.status, o.filled_quantity),
            (OrderStatus::Filled, dec!(0.0027))
        ),
        other => panic!("{other:?}"),
    }
    // Gate would let a second order with t-sf1 override the first: refused before sending.
    let e = m
        .exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap_err();
    assert_eq!(rejected_code(&e), reject::DUPLICATE_CLIENT_ID);
    let posts = m.seen().iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_placement_that_never_answers_is_an_unknown_outcome() {
    let m = Mock::start_with(vec![hang()], Duration::from_millis(300)).await;
    let e = m
        .exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExchangeError::UnknownOutcome(ref m) if m.contains("timed out")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_refused_timestamp_resyncs_the_clock_and_signs_again_once() {
    let m = Mock::start(vec![
        status(403, &fixture("error_expired.json")),
        ok(&fixture("time.json")),
        ok(&fixture("order_market_buy.json")),
    ])
    .await;
    m.exchange
        .place_order(&market_buy("sf1", dec!(100)))
        .await
        .unwrap();
    let seen = m.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].path, "/api/v4/spot/time");
    // Signed again at the venue's time: local + 3 s.
    assert_eq!(seen[2].timestamp.as_deref(), Some("1700000023"));
    assert!(seen[2].signature_ok);
    assert_eq!(m.exchange.client().clock_offset_ms(), Some(3_000));
}

#[tokio::test]
async fn the_24_hour_volume_is_the_pairs_ticker_quote_volume() {
    let m = Mock::start(vec![
        ok(&fixture("ticker.json")),
        ok(r#"[{"currency_pair":"ETH_USDT","last":"2000","quote_volume":18000000}]"#),
        ok(r#"[{"currency_pair":"ETH_USDT","last":"2000"}]"#),
    ])
    .await;
    assert_eq!(
        m.exchange.volume_24h("btc", "usdt").await.unwrap(),
        Some(dec!(44400000.5))
    );
    assert_eq!(
        m.exchange.volume_24h("ETH", "USDT").await.unwrap(),
        Some(dec!(18000000))
    );
    assert_eq!(m.exchange.volume_24h("ETH", "USDT").await.unwrap(), None);
    let seen = m.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/api/v4/spot/tickers")
    );
    assert_eq!(seen[0].query, "currency_pair=BTC_USDT");
    assert_eq!(seen[1].query, "currency_pair=ETH_USDT");
}

#[tokio::test]
async fn open_orders_fills_since_tickers_touch_and_a_bad_key() {
    let m = Mock::start(vec![
        ok(&fixture("open_orders.json")),
        ok(&fixture("my_trades.json")),
        ok(&fixture("tickers.json")),
        ok(&fixture("tickers.json")),
        ok(r#"[{"currency_pair":"BTC_USDT","last":"37000.1","lowest_ask":"37000.2","highest_bid":"37000.1"}]"#),
        ok(&fixture("account_detail.json")),
        status(401, &fixture("error_bad_key.json")),
    ])
    .await;
    let open = m.exchange.open_orders().await.unwrap();
    let ids: Vec<_> = open.iter().map(|o| o.client_id.as_str()).collect();
    assert_eq!(ids, ["sf3", ""]);
    assert_eq!(m.seen()[0].query, "page=1&limit=100");
    // From 1700000020200 ms (Gate is asked from 1700000020 s): the older fill is left out.
    let fills = m
        .exchange
        .fills_since("BTC", "USDT", 1_700_000_020_200)
        .await
        .unwrap();
    let ids: Vec<_> = fills.iter().map(|f| f.fill_id.as_str()).collect();
    assert_eq!(ids, ["9002", "9003"]);
    assert_eq!(
        m.seen()[1].query,
        "currency_pair=BTC_USDT&from=1700000020&page=1&limit=1000"
    );
    let t = m
        .exchange
        .tickers(&["eth".into(), "BTC".into()], "usdt")
        .await
        .unwrap();
    assert_eq!((t[0].base.as_str(), t[0].last), ("ETH", dec!(2000.55)));
    assert_eq!(t[1].last, dec!(37000.1));
    let e = m
        .exchange
        .tickers(&["NOPE".into()], "USDT")
        .await
        .unwrap_err();
    assert_eq!(rejected_code(&e), reject::UNKNOWN_INSTRUMENT);
    assert!(e.to_string().contains("NOPE_USDT"), "{e}");
    assert_eq!(
        m.exchange.touch("BTC", "USDT").await.unwrap(),
        Some((dec!(37000.1), dec!(37000.2)))
    );
    assert_eq!(m.seen()[4].query, "currency_pair=BTC_USDT");
    assert!(m.exchange.key_detail().await.unwrap().ip_restricted());
    let e: ExchangeError = m.exchange.key_detail().await.unwrap_err().into();
    assert_eq!(rejected_code(&e), reject::BAD_KEY);
    assert!(e.to_string().contains("Invalid key provided"), "{e}");
}
