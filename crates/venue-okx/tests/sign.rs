//! Golden vectors for OKX's signing: the OKX entries of ccxt's signing vectors (ccxt 4.5.90,
//! key `test-api-key`, secret `test-secret`, passphrase `test-passphrase`, at 1700000000000 ms),
//! embedded so the suite needs nothing outside the repository, and every entry of the shared
//! file behind `shared-data`.

use rust_decimal_macros::dec;
use smartfolio_exchange::Side;
use smartfolio_okx::order::{NewOrder, OrderType, Size, TimeInForce};
use smartfolio_okx::sign::{Keys, headers, prehash, query, request_path, sign, timestamp};

const TS: &str = "2023-11-14T22:13:20.000Z";

/// One request: method, path, query params, body, signature.
type Vector = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

const CCXT: &[Vector] = &[
    (
        "GET",
        "/api/v5/account/balance",
        &[],
        "",
        "nL0Rh7FxukzVHJnSqNEksLaq26Lwl5UDLeMjLtg2/pU=",
    ),
    (
        "GET",
        "/api/v5/account/balance",
        &[("ccy", "BTC,USDT")],
        "",
        "JKZ4+9b7bsq7fgSqhBJFeRDV0GCSCNzM+9H18DM6yms=",
    ),
    (
        "GET",
        "/api/v5/trade/orders-pending",
        &[
            ("instType", "SPOT"),
            ("instId", "BTC-USDT"),
            ("limit", "100"),
        ],
        "",
        "Ygr2GQPHuoBPqODThTr1LpC7L72vxe2Sa72b29Uyl1o=",
    ),
    (
        "POST",
        "/api/v5/trade/order",
        &[],
        r#"{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":"30000.5","sz":"0.01","clOrdId":"rb1"}"#,
        "EP03QNchj+PmZZQkwxviQEdwtlLIXfE80ld5xeMbet4=",
    ),
    (
        "POST",
        "/api/v5/trade/cancel-order",
        &[],
        r#"{"instId":"BTC-USDT","ordId":"123456"}"#,
        "uHmIK9/u6X1hw+G5WOXVJ4UXFteYhwXUGJh6wBeCIPI=",
    ),
    (
        "POST",
        "/api/v5/trade/batch-orders",
        &[],
        r#"[{"instId":"BTC-USDT","tdMode":"cash","side":"sell","ordType":"market","sz":"0.5","clOrdId":"rb2"},{"instId":"ETH-USDT","tdMode":"cash","side":"buy","ordType":"market","sz":"100","tgtCcy":"quote_ccy","clOrdId":"rb3"}]"#,
        "D4677QAWDFRfsBfH1k7oh2Eiim4JSX8bXFnAxaFqerI=",
    ),
];

#[test]
fn ccxt_vectors() {
    assert_eq!(timestamp(1_700_000_000_000).unwrap(), TS);
    for (method, path, params, body, signature) in CCXT {
        let params: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let rp = request_path(path, &query(&params));
        assert_eq!(
            sign("test-secret", &prehash(TS, method, &rp, body)),
            *signature,
            "{rp}"
        );
        let keys = Keys {
            api_key: "test-api-key",
            secret: "test-secret",
            passphrase: "test-passphrase",
        };
        let h = headers(keys, TS, method, &rp, body, false);
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("OK-ACCESS-SIGN"), Some(*signature));
        assert_eq!(get("OK-ACCESS-KEY"), Some("test-api-key"));
        assert_eq!(get("OK-ACCESS-PASSPHRASE"), Some("test-passphrase"));
        assert_eq!(get("OK-ACCESS-TIMESTAMP"), Some(TS));
    }
}

/// The order body the connector builds is the one ccxt signed.
#[test]
fn the_connectors_order_body_signs_as_ccxts() {
    let order = NewOrder {
        inst_id: "BTC-USDT".into(),
        side: Side::Buy,
        size: Size::Base(dec!(0.01)),
        order_type: OrderType::Limit {
            price: dec!(30000.5),
            time_in_force: TimeInForce::Gtc,
        },
        cl_ord_id: "rb1".into(),
    };
    let body = order.body().unwrap();
    assert_eq!(
        sign(
            "test-secret",
            &prehash(TS, "POST", "/api/v5/trade/order", &body)
        ),
        "EP03QNchj+PmZZQkwxviQEdwtlLIXfE80ld5xeMbet4="
    );
}

/// OKX's documented example shape: the prehash of a GET with a query and no body.
#[test]
fn the_prehash_is_timestamp_method_path_and_body() {
    assert_eq!(
        prehash(
            "2020-12-08T09:08:57.715Z",
            "get",
            "/api/v5/account/balance?ccy=BTC",
            ""
        ),
        "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    );
    // A different secret, method, path or body gives a different signature.
    let base = sign("s", &prehash(TS, "GET", "/a", ""));
    assert_ne!(base, sign("t", &prehash(TS, "GET", "/a", "")));
    assert_ne!(base, sign("s", &prehash(TS, "POST", "/a", "")));
    assert_ne!(base, sign("s", &prehash(TS, "GET", "/a?b=1", "")));
    assert_ne!(base, sign("s", &prehash(TS, "GET", "/a", "{}")));
}

/// Every OKX entry of `../shared/vectors/ccxt_sign_vectors.json`: the recorded prehash is
/// rebuilt from the URL and body, and signing it gives the recorded `OK-ACCESS-SIGN`.
#[cfg(feature = "shared-data")]
#[test]
fn every_okx_entry_of_the_shared_ccxt_vectors() {
    use std::path::PathBuf;
    let shared = std::env::var_os("SMARTFOLIO_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let path = shared.join("vectors/ccxt_sign_vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut signed = 0;
    for v in all.iter().filter(|v| v["exchange"] == "okx") {
        let Some(want) = v["prehash"].as_str() else {
            assert!(v["headers"].get("OK-ACCESS-SIGN").is_none());
            continue;
        };
        let url = v["url"].as_str().unwrap();
        let rp = &url[url.find("/api/").unwrap()..];
        let ts = timestamp(v["timestamp_ms"].as_i64().unwrap()).unwrap();
        assert_eq!(v["headers"]["OK-ACCESS-TIMESTAMP"], ts.as_str());
        let body = v["body"].as_str().unwrap_or("");
        let method = v["method"].as_str().unwrap();
        assert_eq!(prehash(&ts, method, rp, body), want);
        assert_eq!(
            sign("test-secret", want),
            v["headers"]["OK-ACCESS-SIGN"].as_str().unwrap(),
            "{want}"
        );
        signed += 1;
    }
    assert_eq!(signed, 6, "the OKX entries with a signature");
}
