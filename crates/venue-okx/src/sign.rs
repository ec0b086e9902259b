//! Signing of OKX v5's private requests, as pure functions.
//!
//! `OK-ACCESS-SIGN` is the base64 of HMAC-SHA256, keyed by the API secret, over the *prehash*:
//! the timestamp (`OK-ACCESS-TIMESTAMP`, UTC ISO-8601 with milliseconds,
//! `2020-12-08T09:08:57.715Z`), the upper-case method, the request path with its query
//! (`/api/v5/account/balance?ccy=BTC`) and the body (empty for a GET), concatenated. What is
//! signed is byte for byte what is sent: the client builds the query with [`query`] and the
//! body once, signs them, and sends those same strings.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// Header of the API key.
pub const KEY_HEADER: &str = "OK-ACCESS-KEY";
/// Header of the signature.
pub const SIGN_HEADER: &str = "OK-ACCESS-SIGN";
/// Header of the timestamp.
pub const TIMESTAMP_HEADER: &str = "OK-ACCESS-TIMESTAMP";
/// Header of the key's passphrase.
pub const PASSPHRASE_HEADER: &str = "OK-ACCESS-PASSPHRASE";
/// Header that sends a request to demo trading (`1`).
pub const DEMO_HEADER: &str = "x-simulated-trading";

/// RFC 3986's unreserved characters stay; every other byte is percent-encoded.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The query string of `params` in the order given (`instType=SPOT&instId=BTC-USDT`), each key
/// and value percent-encoded; empty for no parameters.
pub fn query(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, ENCODED),
                utf8_percent_encode(v, ENCODED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `path` with `query` appended after a `?` (the path alone for an empty query).
pub fn request_path(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// The timestamp OKX wants for epoch milliseconds `ms`: `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
/// `None` for a time chrono cannot represent.
pub fn timestamp(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// The text signed: timestamp + METHOD + request path (with its query) + body.
pub fn prehash(timestamp: &str, method: &str, request_path: &str, body: &str) -> String {
    format!(
        "{timestamp}{}{request_path}{body}",
        method.to_ascii_uppercase()
    )
}

/// The signature of `prehash`: base64 (standard alphabet, padded) of HMAC-SHA256 keyed by
/// `secret`.
pub fn sign(secret: &str, prehash: &str) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(prehash.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// What signs a request: the API key, its secret and its passphrase.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub api_key: &'a str,
    pub secret: &'a str,
    pub passphrase: &'a str,
}

/// The four authentication headers of one request (and the demo header when `demo`), in the
/// order they are sent. The key and passphrase are the caller's secrets: these values go on
/// the wire and nowhere else.
pub fn headers(
    keys: Keys<'_>,
    timestamp: &str,
    method: &str,
    request_path: &str,
    body: &str,
    demo: bool,
) -> Vec<(&'static str, String)> {
    let signature = sign(keys.secret, &prehash(timestamp, method, request_path, body));
    let mut h = vec![
        (KEY_HEADER, keys.api_key.to_string()),
        (SIGN_HEADER, signature),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (PASSPHRASE_HEADER, keys.passphrase.to_string()),
    ];
    if demo {
        h.push((DEMO_HEADER, "1".to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso_8601_with_milliseconds() {
        assert_eq!(
            timestamp(1_700_000_000_000).unwrap(),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            timestamp(1_607_418_537_715).unwrap(),
            "2020-12-08T09:08:57.715Z"
        );
        assert_eq!(timestamp(0).unwrap(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn queries_are_percent_encoded_in_order() {
        let q = query(&[("ccy", "BTC,USDT".into()), ("instId", "BTC-USDT".into())]);
        assert_eq!(q, "ccy=BTC%2CUSDT&instId=BTC-USDT");
        assert_eq!(query(&[]), "");
        assert_eq!(request_path("/api/v5/x", ""), "/api/v5/x");
        assert_eq!(request_path("/api/v5/x", "a=1"), "/api/v5/x?a=1");
    }

    #[test]
    fn the_demo_header_is_sent_only_in_demo() {
        let keys = Keys {
            api_key: "k",
            secret: "s",
            passphrase: "p",
        };
        let live = headers(keys, "t", "GET", "/x", "", false);
        assert_eq!(live.len(), 4);
        assert!(live.iter().all(|(k, _)| *k != DEMO_HEADER));
        let demo = headers(keys, "t", "get", "/x", "", true);
        assert_eq!(demo.last().unwrap(), &(DEMO_HEADER, "1".to_string()));
        // The method is signed upper-case whatever its spelling.
        assert_eq!(live[1], demo[1]);
    }
}
