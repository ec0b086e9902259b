//! `OkxExchange` against a loopback mock of OKX v5: what goes on the wire and how each answer
//! maps onto the exchange interface.

mod common;

use common::{KEY, Mock, PASSPHRASE, fixture, hang, ok, status};
use rust_decimal_macros::dec;
use smartfolio_exchange::settle::{Settled, settle};
use smartfolio_exchange::{
    Exchange, ExchangeError, InstrumentStatus, OrderLookup, OrderRequest, OrderSize, OrderStatus,
    Side, reject,
};
use std::time::Duration;

fn market_buy(quote: rust_decimal::Decimal) -> OrderRequest {
    OrderRequest::market("sf1", "BTC", "USDT", Side::Buy, OrderSize::Quote(quote))
}

#[tokio::test]
async fn a_market_buy_by_quote_is_signed_and_says_quote_ccy() {
    let m = Mock::start(vec![ok(&fixture("order_placed.json"))]).await;
    let ack = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap();
    assert_eq!(ack.venue_id, "612345678901234567");
    assert_eq!(
        (ack.client_id.as_str(), ack.time_ms),
        ("sf1", 1_700_000_020_100)
    );
    let seen = m.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(
        (s.method.as_str(), s.path.as_str()),
        ("POST", "/api/v5/trade/order")
    );
    assert_eq!(
        s.body,
        r#"{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"100","tgtCcy":"quote_ccy","clOrdId":"sf1"}"#
    );
    assert!(s.signature_ok, "{s:?}");
    assert_eq!(s.key.as_deref(), Some(KEY));
    assert_eq!(s.passphrase.as_deref(), Some(PASSPHRASE));
    assert_eq!(s.timestamp.as_deref(), Some("2023-11-14T22:13:40.000Z"));
    assert_eq!(s.demo, None);
}

#[tokio::test]
async fn a_200_whose_order_item_failed_is_a_rejection_and_nothing_is_resent() {
    let m = Mock::start(vec![ok(&fixture("order_rejected.json"))]).await;
    let e = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap_err();
    match &e {
        ExchangeError::Rejected { code, message } => {
            assert_eq!(code, reject::INSUFFICIENT_BALANCE);
            assert!(
                message.contains("51008") && message.contains("Insufficient USDT"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    // Envelope "0" with a failed item is refused too.
    let m = Mock::start(vec![ok(
        r#"{"code":"0","msg":"","data":[{"clOrdId":"sf1","ordId":"","sCode":"51016","sMsg":"Duplicated clOrdId"}]}"#,
    )])
    .await;
    let e = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExchangeError::Rejected { ref code, .. } if code == reject::DUPLICATE_CLIENT_ID),
        "{e:?}"
    );
    assert_eq!(m.seen().len(), 1);
}

#[tokio::test]
async fn orders_are_looked_up_by_clordid_and_not_found_is_not_found_yet() {
    let m = Mock::start(vec![
        ok(&fixture("order_filled.json")),
        ok(&fixture("error_order_not_found.json")),
    ])
    .await;
    let o = match m.exchange.order("btc", "usdt", "sf1").await.unwrap() {
        OrderLookup::Found(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.size, OrderSize::Quote(dec!(100)));
    assert_eq!(o.filled_quantity, dec!(0.0027));
    assert_eq!(o.fees[0].amount, dec!(0.0000027));
    assert_eq!(o.fees[0].asset, "BTC");
    assert_eq!(
        m.exchange.order("BTC", "USDT", "sf9").await.unwrap(),
        OrderLookup::NotFoundYet
    );
    let seen = m.seen();
    assert_eq!(seen[0].path, "/api/v5/trade/order");
    assert_eq!(seen[0].query, "instId=BTC-USDT&clOrdId=sf1");
    assert!(seen.iter().all(|s| s.signature_ok));
}

#[tokio::test]
async fn fills_come_oldest_first_with_fees_as_paid_amounts() {
    let m = Mock::start(vec![ok(&fixture("fills.json"))]).await;
    let fills = m.exchange.fills_since("BTC", "USDT", T0).await.unwrap();
    assert_eq!(fills.len(), 2);
    assert_eq!(fills[0].fill_id, "9001");
    assert_eq!(
        (fills[0].fee, fills[0].fee_asset.as_str()),
        (dec!(0.00002), "OKB")
    );
    assert!(fills[0].fee_in_third_asset());
    assert_eq!(
        (fills[1].fee, fills[1].fee_asset.as_str()),
        (dec!(0.0000017), "BTC")
    );
    assert_eq!(
        fills[1].quantity * fills[1].price,
        dec!(0.0017) * dec!(37037)
    );
    assert!(
        fills
            .iter()
            .all(|f| f.client_id == "sf1" && f.side == Side::Buy)
    );
    let s = &m.seen()[0];
    assert_eq!(s.path, "/api/v5/trade/fills");
    assert_eq!(
        s.query,
        format!("instType=SPOT&instId=BTC-USDT&begin={T0}&limit=100")
    );
}

#[tokio::test]
async fn the_fills_of_an_order_a_lookup_found_cost_one_request() {
    let m = Mock::start(vec![
        ok(&fixture("order_filled.json")),
        ok(&fixture("fills.json")),
    ])
    .await;
    let OrderLookup::Found(order) = m.exchange.order("BTC", "USDT", "sf1").await.unwrap() else {
        panic!("not found");
    };
    let fills = m.exchange.fills_of_order(&order).await.unwrap();
    assert_eq!(fills.len(), 2);
    let seen = m.seen();
    let paths: Vec<_> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/api/v5/trade/order", "/api/v5/trade/fills"],
        "one lookup, one fills read"
    );
    assert_eq!(
        seen[1].query,
        format!(
            "instType=SPOT&instId=BTC-USDT&ordId={}&limit=100",
            order.venue_id
        )
    );
}

const T0: i64 = 1_700_000_000_000;

#[tokio::test]
async fn a_rate_limit_bans_every_call_until_it_lifts_then_the_retry_goes_through() {
    let m = Mock::start(vec![
        status(429, &fixture("error_rate_limit.json")),
        ok(&fixture("order_placed.json")),
    ])
    .await;
    let e = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExchangeError::RateLimited {
            retry_after_ms: 2_000
        }
    );
    // During the ban nothing is sent.
    m.advance(1_500);
    let e = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExchangeError::RateLimited {
            retry_after_ms: 500
        }
    );
    assert_eq!(m.seen().len(), 1);
    // Once it lifts, the same request (same client id: the first was refused) goes through.
    m.advance(500);
    let ack = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap();
    assert_eq!(ack.venue_id, "612345678901234567");
    let seen = m.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn an_endpoint_timeout_is_an_unknown_outcome_settled_by_lookup_never_resent() {
    let m = Mock::start(vec![
        ok(&fixture("error_endpoint_timeout.json")),
        ok(&fixture("order_filled.json")),
    ])
    .await;
    let e = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExchangeError::UnknownOutcome(ref m) if m.contains("50004")),
        "{e:?}"
    );
    match settle(&m.exchange, "BTC", "USDT", "sf1", T, T + 1_000)
        .await
        .unwrap()
    {
        Settled::Found(o) => assert_eq!(o.status, OrderStatus::Filled),
        other => panic!("{other:?}"),
    }
    let posts = m.seen().iter().filter(|s| s.method == "POST").count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_placement_that_never_answers_is_an_unknown_outcome() {
    let m = Mock::start_with(vec![hang()], Duration::from_millis(300), false).await;
    let e = m
        .exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::UnknownOutcome(_)), "{e:?}");
}

#[tokio::test]
async fn a_refused_timestamp_resyncs_the_clock_and_signs_again_once() {
    let m = Mock::start(vec![
        status(
            401,
            r#"{"code":"50102","msg":"Timestamp request expired","data":[]}"#,
        ),
        ok(r#"{"code":"0","msg":"","data":[{"ts":"1700000023000"}]}"#),
        ok(&fixture("order_placed.json")),
    ])
    .await;
    m.exchange
        .place_order(&market_buy(dec!(100)))
        .await
        .unwrap();
    let seen = m.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].path, "/api/v5/public/time");
    // Signed again at the venue's time: local + 3 s.
    assert_eq!(
        seen[2].timestamp.as_deref(),
        Some("2023-11-14T22:13:43.000Z")
    );
    assert!(seen[2].signature_ok);
    assert_eq!(m.exchange.client().clock_offset_ms(), Some(3_000));
}

#[tokio::test]
async fn demo_trading_sends_the_simulated_trading_header() {
    let m = Mock::start_with(
        vec![ok(&fixture("time.json")), ok(&fixture("balance.json"))],
        Duration::from_secs(5),
        true,
    )
    .await;
    m.exchange.server_time_ms().await.unwrap();
    let b = m.exchange.balances().await.unwrap();
    assert_eq!((b[0].free, b[0].locked), (dec!(3900.5), dec!(100)));
    // No availBal: the cash balance less what is frozen.
    assert_eq!((b[2].asset.as_str(), b[2].free), ("OKB", dec!(0.5)));
    assert!(m.seen().iter().all(|s| s.demo.as_deref() == Some("1")));
}

#[tokio::test]
async fn instruments_statuses_and_rounding_before_sending() {
    let m = Mock::start(vec![
        ok(&fixture("instruments.json")),
        ok(&fixture("order_placed.json")),
    ])
    .await;
    let inst = m.exchange.instruments().await.unwrap();
    let st: Vec<_> = inst.iter().map(|i| i.status).collect();
    assert_eq!(
        st,
        [
            InstrumentStatus::Trading,
            InstrumentStatus::Halted,
            InstrumentStatus::Halted
        ]
    );
    assert_eq!(inst[0].rules.min_size, Some(dec!(0.00001)));
    assert_eq!(inst[0].limits.max_market_quantity, Some(dec!(1000000)));
    assert_eq!(inst[0].limits.max_notional, Some(dec!(1000000)));
    let req = OrderRequest::limit(
        "sf2",
        "BTC",
        "USDT",
        Side::Sell,
        dec!(0.123456789),
        dec!(37000.17),
    );
    m.exchange.place_order(&req).await.unwrap();
    let body = &m.seen()[1].body;
    assert!(
        body.contains(r#""px":"37000.2","sz":"0.12345678""#),
        "{body}"
    );
}

#[tokio::test]
async fn the_24_hour_volume_is_the_instruments_ticker_vol_ccy_24h() {
    let m = Mock::start(vec![
        ok(&fixture("ticker.json")),
        ok(r#"{"code":"0","msg":"","data":[{"instId":"ETH-USDT","last":"2000","volCcy24h":5000000}]}"#),
        ok(r#"{"code":"0","msg":"","data":[{"instId":"ETH-USDT","last":"2000"}]}"#),
    ])
    .await;
    assert_eq!(
        m.exchange.volume_24h("btc", "usdt").await.unwrap(),
        Some(dec!(99012345.678))
    );
    assert_eq!(
        m.exchange.volume_24h("ETH", "USDT").await.unwrap(),
        Some(dec!(5000000))
    );
    assert_eq!(m.exchange.volume_24h("ETH", "USDT").await.unwrap(), None);
    let seen = m.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/api/v5/market/ticker")
    );
    assert_eq!(seen[0].query, "instId=BTC-USDT");
    assert_eq!(seen[1].query, "instId=ETH-USDT");
    assert_eq!(seen[0].key, None);
}

#[tokio::test]
async fn tickers_name_what_okx_does_not_list_and_the_key_says_what_it_may_do() {
    let m = Mock::start(vec![
        ok(&fixture("tickers.json")),
        ok(&fixture("tickers.json")),
        ok(&fixture("account_config.json")),
        status(401, &fixture("error_bad_key.json")),
    ])
    .await;
    let t = m
        .exchange
        .tickers(&["ETH".into(), "BTC".into()], "usdt")
        .await
        .unwrap();
    assert_eq!((t[0].base.as_str(), t[0].last), ("ETH", dec!(2000.55)));
    assert_eq!(t[1].last, dec!(37000.1));
    let e = m
        .exchange
        .tickers(&["NOPE".into()], "USDT")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExchangeError::Rejected { ref code, ref message } if code == reject::UNKNOWN_INSTRUMENT && message.contains("NOPE-USDT")),
        "{e:?}"
    );
    let c = m.exchange.key_config().await.unwrap();
    assert!(c.can_trade() && !c.can_withdraw());
    let e: ExchangeError = m.exchange.key_config().await.unwrap_err().into();
    assert!(
        matches!(e, ExchangeError::Rejected { ref code, .. } if code == "bad_key"),
        "{e:?}"
    );
}

use common::T;
