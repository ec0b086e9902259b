//! The HTTP client against a mock Binance on loopback (axum, 127.0.0.1:0): the exact requests
//! sent (method, path, query, body, signature, headers) and the reading of the answers,
//! including the `-1021` retry-once path, 429/418 with `Retry-After`, the used-weight budget,
//! and outcomes left unknown by a timeout or a 5xx after sending.

mod common;

use common::*;
use rust_decimal_macros::dec;
use smartfolio_binance::client::{BinanceClient, ClientConfig, Credentials, TradesQuery};
use smartfolio_binance::error::ErrorClass;
use smartfolio_binance::order::{NewOrder, OrderType, RespType, Size};
use smartfolio_exchange::{ExchangeError, Side};
use std::time::Duration;

fn market_buy(client_id: &str) -> NewOrder {
    NewOrder {
        symbol: "BTCUSDT".into(),
        side: Side::Buy,
        size: Size::Quote(dec!(100)),
        order_type: OrderType::Market,
        client_order_id: client_id.into(),
        resp_type: RespType::Full,
    }
}

#[tokio::test]
async fn public_calls_send_exact_requests_without_the_key() {
    let m = Mock::start(vec![
        ok(&fixture("exchange_info.json")),
        ok(&fixture("ticker_price.json")),
        ok(r#"{"symbol":"BTCUSDT","price":"37000.01"}"#),
        ok(&fixture("klines.json")),
        ok(&fixture("book_ticker.json")),
    ])
    .await;
    let info = m.client.exchange_info(&[]).await.unwrap();
    assert_eq!(info.symbols.len(), 5);
    let prices = m
        .client
        .ticker_prices(&["BTCUSDT", "ETHUSDT"])
        .await
        .unwrap();
    assert_eq!(prices[1].price, dec!(2050.5));
    let one = m.client.ticker_prices(&["BTCUSDT"]).await.unwrap();
    assert_eq!(one[0].price, dec!(37000.01));
    let k = m
        .client
        .klines("BTCUSDT", "1h", Some(1_704_067_200_000), None, Some(1000))
        .await
        .unwrap();
    assert_eq!(k.len(), 2);
    let b = m.client.book_tickers(&["BTCUSDT"]).await.unwrap();
    assert_eq!(b[0].ask_price, dec!(37000.01));

    let seen = m.seen();
    let lines: Vec<(String, String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone(), s.query.clone()))
        .collect();
    let l = |m: &str, p: &str, q: &str| (m.to_string(), p.to_string(), q.to_string());
    assert_eq!(
        lines,
        vec![
            l("GET", "/api/v3/exchangeInfo", ""),
            l(
                "GET",
                "/api/v3/ticker/price",
                "symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D"
            ),
            l("GET", "/api/v3/ticker/price", "symbol=BTCUSDT"),
            l(
                "GET",
                "/api/v3/klines",
                "symbol=BTCUSDT&interval=1h&startTime=1704067200000&limit=1000"
            ),
            l("GET", "/api/v3/ticker/bookTicker", "symbol=BTCUSDT"),
        ]
    );
    assert!(seen.iter().all(|s| s.api_key.is_none()), "{seen:?}");
    // One connection, reused.
    assert!(
        seen.iter().all(|s| s.peer_port == seen[0].peer_port),
        "{seen:?}"
    );
}

#[tokio::test]
async fn signed_calls_carry_the_key_timestamp_and_signature() {
    let m = Mock::start(vec![
        ok(&fixture("account.json")),
        ok(&fixture("order_full.json")),
        ok(&fixture("order_query.json")),
        ok(&fixture("order_cancel.json")),
        ok(&fixture("my_trades.json")),
        ok("[]"),
        ok(&fixture("order_query.json")),
    ])
    .await;
    let a = m.client.account().await.unwrap();
    assert_eq!(a.balances[1].locked, dec!(250.5));
    let placed = m.client.new_order(&market_buy("sf-1")).await.unwrap();
    assert_eq!(placed.fills[0].commission_asset, "BNB");
    let q = m.client.order("BTCUSDT", "sf-x").await.unwrap();
    assert_eq!(q.executed_qty, Some(dec!(0.004)));
    let c = m.client.cancel_order("BTCUSDT", "sf-x").await.unwrap();
    assert_eq!(
        c.orig_client_order_id.as_deref(),
        Some("sf-lq0c9kz6bbbbbbbbbbbbbbbbb")
    );
    let trades = m
        .client
        .my_trades(&TradesQuery {
            symbol: "BTCUSDT".into(),
            order_id: Some(29),
            ..TradesQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(trades[0].commission_asset, "BNB");
    assert!(
        m.client
            .open_orders(Some("BTCUSDT"))
            .await
            .unwrap()
            .is_empty()
    );

    let by_id = m.client.order_by_id("BTCUSDT", 30).await.unwrap();
    assert_eq!(by_id.client_order_id, "sf-lq0c9kz6bbbbbbbbbbbbbbbbb");
    let seen = m.seen();
    assert!(seen.iter().all(|s| s.api_key.as_deref() == Some(KEY)));
    // The exact bytes, signature included (computed independently with Python's hmac).
    assert_eq!(seen[0].path, "/api/v3/account");
    assert_eq!(
        seen[0].query,
        "omitZeroBalances=true&recvWindow=5000&timestamp=1700000020000&signature=a5d8a22cd154cc3a0572be2e639ad8386dae953a24a01c14ad6146155ae3750c"
    );
    // A placement: parameters in the form body, nothing in the query.
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("POST", "/api/v3/order")
    );
    assert_eq!(seen[1].query, "");
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        seen[1].body,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100&newClientOrderId=sf-1&newOrderRespType=FULL&recvWindow=5000&timestamp=1700000020000&signature=5efbc9ac5c3c36d50d7f78b7b8d18b9272b22c21f8902ef6fe437546976180ad"
    );
    let rest: Vec<(String, String, String)> = seen[2..]
        .iter()
        .map(|s| (s.method.clone(), s.path.clone(), verify_signature(&s.query)))
        .collect();
    let suffix = "recvWindow=5000&timestamp=1700000020000";
    let l = |m: &str, p: &str, q: &str| (m.to_string(), p.to_string(), format!("{q}&{suffix}"));
    assert_eq!(
        rest,
        vec![
            l(
                "GET",
                "/api/v3/order",
                "symbol=BTCUSDT&origClientOrderId=sf-x"
            ),
            l(
                "DELETE",
                "/api/v3/order",
                "symbol=BTCUSDT&origClientOrderId=sf-x"
            ),
            l("GET", "/api/v3/myTrades", "symbol=BTCUSDT&orderId=29"),
            l("GET", "/api/v3/openOrders", "symbol=BTCUSDT"),
            l("GET", "/api/v3/order", "symbol=BTCUSDT&orderId=30"),
        ]
    );
}

#[tokio::test]
async fn a_refused_timestamp_measures_the_offset_and_signs_again_once() {
    let m = Mock::start(vec![
        status(
            400,
            r#"{"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server's time."}"#,
        ),
        ok(&format!(r#"{{"serverTime":{}}}"#, T - 3_000)),
        ok(&fixture("order_ack.json")),
    ])
    .await;
    let ack = m.client.new_order(&market_buy("sf-1")).await.unwrap();
    assert_eq!(ack.order_id, 28);
    assert_eq!(m.client.clock_offset_ms(), Some(-3_000));
    let seen = m.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/api/v3/order", "/api/v3/time", "/api/v3/order"]);
    let first = verify_signature(&seen[0].body);
    let second = verify_signature(&seen[2].body);
    assert!(first.ends_with(&format!("timestamp={T}")), "{first}");
    assert!(
        second.ends_with(&format!("timestamp={}", T - 3_000)),
        "{second}"
    );
    // The same order, under the same client id: it was refused, not placed.
    assert_eq!(
        first.replace(&T.to_string(), ""),
        second.replace(&(T - 3_000).to_string(), "")
    );
}

#[tokio::test]
async fn a_second_refused_timestamp_is_not_retried_again() {
    let refused =
        r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#;
    let m = Mock::start(vec![
        status(400, refused),
        ok(&format!(r#"{{"serverTime":{T}}}"#)),
        status(400, refused),
    ])
    .await;
    let e = m.client.account().await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Timestamp);
    assert_eq!(e.code, Some(-1021));
    assert_eq!(m.seen().len(), 3);
    assert!(ExchangeError::from(e).is_retryable());
}

#[tokio::test]
async fn retry_after_bans_every_call_until_it_has_passed() {
    let m = Mock::start(vec![with_header(
        status(
            429,
            r#"{"code":-1003,"msg":"Too much request weight used."}"#,
        ),
        "Retry-After",
        "2",
    )])
    .await;
    let e = m.client.ticker_prices(&["BTCUSDT"]).await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::RateLimited {
            retry_after_ms: Some(2_000),
            banned: false
        }
    );
    assert_eq!(
        ExchangeError::from(e),
        ExchangeError::RateLimited {
            retry_after_ms: 2_000
        }
    );
    // During the ban nothing is sent, signed or not.
    m.advance(1_500);
    let e = m.client.account().await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::RateLimited {
            retry_after_ms: Some(500),
            banned: false
        }
    );
    assert_eq!(m.seen().len(), 1);
    // Once it has passed, calls go out again; a 418 bans for its own Retry-After.
    m.advance(500);
    m.push(with_header(status(418, ""), "Retry-After", "120"));
    let e = m.client.ticker_prices(&["BTCUSDT"]).await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::RateLimited {
            retry_after_ms: Some(120_000),
            banned: true
        }
    );
    m.advance(119_999);
    assert!(m.client.server_time().await.is_err());
    assert_eq!(m.seen().len(), 2);
    m.advance(1);
    m.push(ok(r#"{"serverTime":1}"#));
    assert_eq!(m.client.server_time().await.unwrap(), 1);
    assert_eq!(m.seen().len(), 3);
}

#[tokio::test]
async fn an_order_count_429_without_retry_after_stops_orders_for_the_window() {
    let m = Mock::start(vec![
        ok(&fixture("exchange_info.json")),
        status(429, r#"{"code":-1015,"msg":"Too many new orders; current limit is 100 orders per 10 SECOND."}"#),
        ok(&fixture("account.json")),
    ])
    .await;
    m.client.exchange_info(&[]).await.unwrap();
    m.advance(3_000); // 3 s into a 10 s window
    let e = m.client.new_order(&market_buy("sf-1")).await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::RateLimited {
            retry_after_ms: Some(7_000),
            banned: false
        }
    );
    let e = m.client.new_order(&market_buy("sf-2")).await.unwrap_err();
    assert!(matches!(e.class, ErrorClass::RateLimited { .. }));
    // Reads still go out; the next order waits for the next window.
    m.client.account().await.unwrap();
    assert_eq!(m.seen().len(), 3);
}

#[tokio::test]
async fn the_weight_budget_from_exchange_info_and_headers_holds_calls_back() {
    let mut info: serde_json::Value = serde_json::from_str(&fixture("exchange_info.json")).unwrap();
    info["rateLimits"][0]["limit"] = 100.into();
    let m = Mock::start(vec![
        with_header(ok(&info.to_string()), "X-MBX-USED-WEIGHT-1M", "20"),
        with_header(
            ok(&fixture("ticker_price.json")),
            "X-MBX-USED-WEIGHT-1M",
            "97",
        ),
    ])
    .await;
    m.client.exchange_info(&[]).await.unwrap();
    m.client
        .ticker_prices(&["BTCUSDT", "ETHUSDT"])
        .await
        .unwrap();
    // 97 of 100 used: a call of weight 4 waits for the minute to end, 20 s away.
    let e = m
        .client
        .ticker_prices(&["BTCUSDT", "ETHUSDT"])
        .await
        .unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::RateLimited {
            retry_after_ms: Some(20_000),
            banned: false
        }
    );
    assert!(e.msg.starts_with("not sent"), "{}", e.msg);
    assert_eq!(m.seen().len(), 2);
    m.advance(20_000);
    m.push(ok(&fixture("ticker_price.json")));
    m.client
        .ticker_prices(&["BTCUSDT", "ETHUSDT"])
        .await
        .unwrap();
    assert_eq!(m.seen().len(), 3);
}

#[tokio::test]
async fn a_placement_without_an_answer_has_an_unknown_outcome_and_is_not_resent() {
    let m = Mock::start_with(vec![hang(), hang()], Duration::from_millis(300)).await;
    let e = m.client.new_order(&market_buy("sf-1")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e}");
    assert!(e.msg.contains("timed out"), "{}", e.msg);
    assert!(matches!(
        ExchangeError::from(e),
        ExchangeError::UnknownOutcome(_)
    ));
    assert_eq!(m.seen().iter().filter(|s| s.method == "POST").count(), 1);
    // A read that times out did nothing: transient.
    let e = m.client.order("BTCUSDT", "sf-1").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient, "{e}");
}

#[tokio::test]
async fn server_errors_after_a_placement_are_unknown_outcomes() {
    let m = Mock::start(vec![
        status(503, "Service Unavailable"),
        status(500, r#"{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}"#),
        status(400, r#"{"code":-1006,"msg":"An unexpected response was received from the message bus. Execution status unknown."}"#),
        status(503, "Service Unavailable"),
    ])
    .await;
    for _ in 0..3 {
        let e = m.client.new_order(&market_buy("sf-1")).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::UnknownOutcome, "{e}");
    }
    let e = m.client.account().await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(m.seen().len(), 4);
}

#[tokio::test]
async fn not_found_bad_key_and_bad_signature_are_told_apart() {
    let m = Mock::start(vec![
        status(400, r#"{"code":-2013,"msg":"Order does not exist."}"#),
        status(
            401,
            r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}"#,
        ),
        status(
            400,
            r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
        ),
        status(400, r#"{"code":-1013,"msg":"Filter failure: NOTIONAL"}"#),
    ])
    .await;
    let e = m.client.order("BTCUSDT", "sf-1").await.unwrap_err();
    assert!(e.is_not_found());
    let e = m.client.account().await.unwrap_err();
    assert_eq!(e.class, ErrorClass::BadKey);
    let text = e.to_string();
    assert!(
        text.contains("-2015") && text.contains("Invalid API-key"),
        "{text}"
    );
    let e = m.client.account().await.unwrap_err();
    assert_eq!(e.class, ErrorClass::BadSignature);
    let e = m.client.new_order(&market_buy("sf-1")).await.unwrap_err();
    assert!(matches!(
        ExchangeError::from(e),
        ExchangeError::Rejected { code, .. } if code == smartfolio_exchange::reject::MIN_NOTIONAL
    ));
    // None was retried.
    assert_eq!(m.seen().len(), 4);
}

#[tokio::test]
async fn a_malformed_order_is_refused_before_sending() {
    let m = Mock::start(vec![]).await;
    let mut o = market_buy("bad id!");
    let e = m.client.new_order(&o).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Rejected);
    assert!(e.msg.contains("newClientOrderId \"bad id!\""), "{}", e.msg);
    o.client_order_id = "ok".into();
    o.size = Size::Quote(dec!(-1));
    assert!(m.client.new_order(&o).await.is_err());
    assert!(m.seen().is_empty());
}

#[tokio::test]
async fn keys_never_show_in_debug_or_errors() {
    let m = Mock::start(vec![status(
        401,
        r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}"#,
    )])
    .await;
    let creds = Credentials::new("my-visible-key-123", "my-hidden-secret-456");
    let shown = format!("{creds:?} {:?} {:#?}", m.client, m.client);
    for secret in ["my-visible-key-123", "my-hidden-secret-456", KEY, SECRET] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("REDACTED"), "{shown}");
    let e = m.client.account().await.unwrap_err();
    let texts = format!("{e} {e:?} {}", ExchangeError::from(e.clone()));
    assert!(!texts.contains(KEY) && !texts.contains(SECRET), "{texts}");
    // A public-only client refuses signed calls without sending.
    let public = BinanceClient::new(
        ClientConfig::default(),
        None,
        smartfolio_binance::client::system_clock(),
    )
    .unwrap();
    let e = public.account().await.unwrap_err();
    assert_eq!(e.class, ErrorClass::BadKey);
}

#[tokio::test]
async fn a_weight_429_without_retry_after_waits_for_the_minute() {
    let m = Mock::start(vec![status(
        429,
        r#"{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}"#,
    )])
    .await;
    // T is 40 s into its minute.
    let e = m.client.ticker_prices(&[]).await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::RateLimited {
            retry_after_ms: Some(20_000),
            banned: false
        }
    );
    assert!(m.client.server_time().await.is_err());
    assert_eq!(m.seen().len(), 1);
}

#[tokio::test]
async fn the_clock_offset_is_the_median_of_the_last_readings() {
    let m = Mock::start(vec![
        ok(&format!(r#"{{"serverTime":{}}}"#, T + 100)),
        ok(&format!(r#"{{"serverTime":{}}}"#, T + 5_000)),
        ok(&format!(r#"{{"serverTime":{}}}"#, T + 200)),
        ok(&fixture("account.json")),
    ])
    .await;
    assert_eq!(m.client.sync_clock().await.unwrap(), 100);
    m.client.sync_clock().await.unwrap();
    // One slow reading does not carry the offset away.
    assert_eq!(m.client.sync_clock().await.unwrap(), 200);
    assert_eq!(m.client.venue_now_ms(), T + 200);
    m.client.account().await.unwrap();
    let signed = verify_signature(&m.seen()[3].query);
    assert!(
        signed.ends_with(&format!("timestamp={}", T + 200)),
        "{signed}"
    );
}
