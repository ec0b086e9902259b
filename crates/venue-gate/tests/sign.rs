//! Golden vectors for Gate's signing, computed independently of this crate with Python's
//! standard library (secret `test-secret`, Timestamp `1700000000`):
//!
//! ```python
//! import hashlib, hmac
//! def sign(method, path, query, body, ts="1700000000", secret=b"test-secret"):
//!     pre = "\n".join([method, path, query, hashlib.sha512(body.encode()).hexdigest(), ts])
//!     return hmac.new(secret, pre.encode(), hashlib.sha512).hexdigest()
//! ```
//!
//! The empty body's hash is the one venue-facts.md §Gate v4 gives.

use rust_decimal_macros::dec;
use smartfolio_exchange::Side;
use smartfolio_gate::order::{NewOrder, OrderType, Size};
use smartfolio_gate::sign::{
    EMPTY_BODY_HASH, KEY_HEADER, SIGN_HEADER, TIMESTAMP_HEADER, body_hash, headers, prehash, query,
    sign, timestamp,
};

const TS: &str = "1700000000";
const MARKET_BUY: &str = r#"{"text":"t-sf1","currency_pair":"BTC_USDT","type":"market","account":"spot","side":"buy","amount":"100","time_in_force":"ioc"}"#;

/// method, path, query params, body, signature.
type Vector = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

const VECTORS: &[Vector] = &[
    (
        "GET",
        "/api/v4/spot/accounts",
        &[],
        "",
        "157d9c6819a76157119f81652d8a85bf29daf2eab3ae6b25aa47902e37b354885e562b94324129c5b958f3edd8889b011b4368eb554a66c27d82d7e99160a7e3",
    ),
    (
        "GET",
        "/api/v4/spot/my_trades",
        &[("currency_pair", "BTC_USDT"), ("limit", "100")],
        "",
        "542f7438bf42ce517b44843aae20e641a0e1af98e538b54a8ed259c16927bc0338fbf2db89a7be646803c21976de657bf71f428afe256811876a3d8576a52bac",
    ),
    (
        "POST",
        "/api/v4/spot/orders",
        &[],
        MARKET_BUY,
        "c25821946cfc3f5a7cf162ac541795716009dc113ffb1ac1dbbedb2424e59f02af9f271761b4125ad9faff40781720e6ee3632a35b2c3513e4f60bee58da35e4",
    ),
    (
        "DELETE",
        "/api/v4/spot/orders/t-sf1",
        &[("currency_pair", "BTC_USDT")],
        "",
        "f5c85be182be9fd5a88d2302c131e355fb8cf0983d3a4e317b32935a896131cb845cd2e11fa0e1bef26b726b166b33ee4e08ec71decea544c108db2b063d50cd",
    ),
];

#[test]
fn python_vectors() {
    assert_eq!(timestamp(1_700_000_000_000), TS);
    for (method, path, params, body, signature) in VECTORS {
        let params: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let q = query(&params);
        assert_eq!(
            sign("test-secret", &prehash(method, path, &q, body, TS)),
            *signature,
            "{method} {path}?{q}"
        );
    }
}

#[test]
fn the_empty_body_is_hashed_as_documented() {
    assert_eq!(body_hash(""), EMPTY_BODY_HASH);
    assert_ne!(body_hash("{}"), EMPTY_BODY_HASH);
}

#[test]
fn the_order_body_signed_is_the_one_built() {
    let body = NewOrder {
        currency_pair: "BTC_USDT".into(),
        side: Side::Buy,
        size: Size::Quote(dec!(100)),
        order_type: OrderType::Market,
        client_id: "sf1".into(),
    }
    .body()
    .unwrap();
    assert_eq!(body, MARKET_BUY);
    let h = headers(
        "k",
        "test-secret",
        TS,
        "post",
        "/api/v4/spot/orders",
        "",
        &body,
    );
    assert_eq!(h[0], (KEY_HEADER, "k".to_string()));
    assert_eq!(h[1], (TIMESTAMP_HEADER, TS.to_string()));
    assert_eq!(h[2].0, SIGN_HEADER);
    assert_eq!(h[2].1, VECTORS[2].4);
    // Any change to what is signed changes the signature.
    let other = headers(
        "k",
        "test-secret",
        "1700000001",
        "POST",
        "/api/v4/spot/orders",
        "",
        &body,
    );
    assert_ne!(other[2].1, h[2].1);
    let other = headers("k", "other", TS, "POST", "/api/v4/spot/orders", "", &body);
    assert_ne!(other[2].1, h[2].1);
}
