//! Signing of Binance's SIGNED requests, as pure functions.
//!
//! The payload is the request's parameters as `key=value` pairs joined by `&`, each key and
//! value percent-encoded (UTF-8, RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay as they are). The
//! signature is the lower-case hex HMAC-SHA256 of exactly that string, keyed by the API secret,
//! and is appended as `&signature=…`. The same encoded string is what goes on the wire (query
//! string for GET/DELETE, form body for POST), so what is signed is what is sent. Binance rejects
//! a signature over a payload it reads differently with `-1022`.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// Every byte but RFC 3986's unreserved characters is percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One key or value, percent-encoded (RFC 3986 unreserved characters kept).
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// The payload of `params`, in the order given: `k1=v1&k2=v2`, each part percent-encoded.
pub fn encode_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_component(k.as_ref()));
        out.push('=');
        out.push_str(&encode_component(v.as_ref()));
    }
    out
}

/// The signature of `payload`: lower-case hex of HMAC-SHA256 keyed by `secret`.
pub fn sign(secret: &str, payload: &str) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `payload&signature=<sign(secret, payload)>`, or `signature=…` alone for an empty payload.
pub fn signed(secret: &str, payload: &str) -> String {
    let signature = sign(secret, payload);
    if payload.is_empty() {
        format!("signature={signature}")
    } else {
        format!("{payload}&signature={signature}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_stay_and_the_rest_is_encoded() {
        assert_eq!(encode_component("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode_component("a b+c/d:e,f"), "a%20b%2Bc%2Fd%3Ae%2Cf");
        assert_eq!(encode_component("[\"BTCUSDT\"]"), "%5B%22BTCUSDT%22%5D");
    }

    #[test]
    fn an_empty_payload_signs_alone() {
        let s = signed("k", "");
        assert!(s.starts_with("signature="));
        assert_eq!(s.len(), "signature=".len() + 64);
    }
}
