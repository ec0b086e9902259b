//! Golden vectors for Binance's signing: Binance's own documented example, the percent-encoding
//! example, and the Binance entries of ccxt's signing vectors (ccxt 4.5.90, secret
//! `test-secret`), embedded here so the suite needs nothing outside the repository.

use smartfolio_binance::sign::{encode_component, encode_params, sign, signed};

/// Binance's classic HMAC example (request-security docs).
#[test]
fn binance_documented_example() {
    let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    let params = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.1"),
        ("recvWindow", "5000"),
        ("timestamp", "1499827319559"),
    ];
    let payload = encode_params(&params);
    assert_eq!(
        payload,
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    );
    assert_eq!(
        sign(secret, &payload),
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    );
}

/// Binance's percent-encoding example: non-ASCII values are UTF-8 percent-encoded before signing.
#[test]
fn non_ascii_values_are_percent_encoded_before_signing() {
    assert_eq!(
        encode_params(&[("symbol", "这是测试币456")]),
        "symbol=%E8%BF%99%E6%98%AF%E6%B5%8B%E8%AF%95%E5%B8%81456"
    );
    assert_eq!(encode_component("~-_."), "~-_.");
    // What is signed is the encoded text, not the raw one.
    let raw = "symbol=这是测试币456";
    let encoded = encode_params(&[("symbol", "这是测试币456")]);
    assert_ne!(sign("s", raw), sign("s", &encoded));
    assert!(signed("s", &encoded).starts_with(&format!("{encoded}&signature=")));
}

/// (params in the order ccxt sent them, signature) for the secret `test-secret`.
const CCXT: &[(&[(&str, &str)], &str)] = &[
    (
        &[("timestamp", "1700000000000"), ("recvWindow", "10000")],
        "1f3ddb22a78a53341f6a01047d00fe659ba8a8281a07d7dc907a4b24249f34bd",
    ),
    (
        &[("timestamp", "1700000000000")],
        "dccf2651b1d8329665bfddb0798eccd4650d986a9cfe5547b2f5822131e7620b",
    ),
    (
        &[
            ("timestamp", "1700000000000"),
            ("symbol", "BTCUSDT"),
            ("recvWindow", "10000"),
        ],
        "f07e6d9de367c6e88bbf3cf8ec53dc776fe0bb9a9e075954116b7af974bffd82",
    ),
    (
        &[
            ("timestamp", "1700000000000"),
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.01"),
            ("price", "30000.50"),
            ("newClientOrderId", "rb1"),
            ("recvWindow", "10000"),
        ],
        "6245c6f7ffbaa67a1c9869e282eeb5a9aa93d8f8c584de1b2b1ca12299994e92",
    ),
    (
        &[
            ("timestamp", "1700000000000"),
            ("symbol", "ETHUSDT"),
            ("side", "SELL"),
            ("type", "MARKET"),
            ("quantity", "1.5"),
            ("newClientOrderId", "rb2"),
            ("recvWindow", "5000"),
        ],
        "f7b3786d0c239ffbf7fddf023cb3f0ef67b5691decf6f0e546a6020a2621eb49",
    ),
    (
        &[
            ("timestamp", "1700000000000"),
            ("symbol", "BTCUSDT"),
            ("orderId", "28"),
            ("recvWindow", "10000"),
        ],
        "36cee21a54473b2f060d253e0f10fda8b1ba45aac652ab7ee5a7261bc45b86a8",
    ),
];

#[test]
fn ccxt_vectors() {
    for (params, signature) in CCXT {
        let payload = encode_params(params);
        assert_eq!(sign("test-secret", &payload), *signature, "{payload}");
        assert_eq!(
            signed("test-secret", &payload),
            format!("{payload}&signature={signature}")
        );
    }
}

/// Every Binance entry of `../shared/vectors/ccxt_sign_vectors.json`: the payload built from
/// `params_in` (ccxt's order: `timestamp` first, then the parameters, then `recvWindow` when
/// sent) is the recorded prehash, and signing it gives the signature in the recorded URL or body.
#[cfg(feature = "shared-data")]
#[test]
fn every_binance_entry_of_the_shared_ccxt_vectors() {
    use std::path::PathBuf;
    let shared = std::env::var_os("SMARTFOLIO_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let path = shared.join("vectors/ccxt_sign_vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut signed_entries = 0;
    for v in all.iter().filter(|v| v["exchange"] == "binance") {
        let sent = v["body"].as_str().map(str::to_string).unwrap_or_else(|| {
            v["url"]
                .as_str()
                .unwrap()
                .split_once('?')
                .map(|(_, q)| q.to_string())
                .unwrap_or_default()
        });
        let Some(prehash) = v["prehash"].as_str() else {
            // A public call: nothing is signed, and nothing carries a signature.
            assert!(!sent.contains("signature="), "{sent}");
            continue;
        };
        let (payload, signature) = sent.rsplit_once("&signature=").unwrap();
        assert_eq!(payload, prehash);
        // The prehash holds exactly the parameters ccxt was given, plus timestamp and
        // recvWindow (the JSON object does not keep ccxt's order, so compare as sets) …
        let pairs: Vec<(String, String)> = prehash
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let mut want: Vec<(String, String)> = v["params_in"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, val)| (k.clone(), val.as_str().unwrap().to_string()))
            .collect();
        want.push((
            "timestamp".into(),
            v["timestamp_ms"].as_i64().unwrap().to_string(),
        ));
        want.extend(pairs.iter().filter(|(k, _)| k == "recvWindow").cloned());
        let (mut got, mut want) = (pairs.clone(), want);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{prehash}");
        // … and encoding them in ccxt's order gives the prehash byte for byte.
        assert_eq!(encode_params(&pairs), prehash);
        assert_eq!(sign("test-secret", prehash), signature, "{prehash}");
        assert_eq!(v["headers"]["X-MBX-APIKEY"], "test-api-key");
        signed_entries += 1;
    }
    assert_eq!(signed_entries, 6, "the Binance entries with a signature");
}
