//! Signing of Gate v4's private requests, as pure functions.
//!
//! `SIGN` is the lower-case hex of HMAC-SHA512, keyed by the API secret, over five lines joined
//! by `\n`: the upper-case method, the path with its `/api/v4` prefix, the query string (empty
//! when there is none), the hex SHA-512 of the body (of `""` when there is none) and the
//! `Timestamp` header (unix **seconds**). Headers `KEY`, `Timestamp`, `SIGN`.
//! Source: venue-facts.md §Gate v4 (ccxt's `gate.py` `sign()`, hexdocs
//! `CCXT.Signing.HmacSha512Gate`; canonical
//! <https://www.gate.com/docs/developers/apiv4/en/#authentication>).
//!
//! What is signed is byte for byte what is sent: the client builds the query with [`query`] and
//! the body once, signs them and sends those same strings.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha512};

/// Header of the API key.
pub const KEY_HEADER: &str = "KEY";
/// Header of the signature.
pub const SIGN_HEADER: &str = "SIGN";
/// Header of the time of signing, unix seconds.
pub const TIMESTAMP_HEADER: &str = "Timestamp";
/// The prefix of every v4 path; it is part of what is signed.
pub const PREFIX: &str = "/api/v4";

/// The SHA-512 of an empty body, as Gate documents it (venue-facts.md §Gate v4).
pub const EMPTY_BODY_HASH: &str = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

/// RFC 3986's unreserved characters stay; every other byte is percent-encoded.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The query string of `params` in the order given (`currency_pair=BTC_USDT&limit=100`), each
/// key and value percent-encoded; empty for no parameters.
pub fn query(params: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (k, v) in params {
        if !out.is_empty() {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, ENCODED));
        out.push('=');
        out.extend(utf8_percent_encode(v, ENCODED));
    }
    out
}

/// An order id or `text` as one path segment (`/spot/orders/t-sf1`), percent-encoded like
/// the query, so what is signed is the path sent.
pub fn path_segment(id: &str) -> String {
    utf8_percent_encode(id, ENCODED).to_string()
}

/// Hex SHA-512 of the body (`""` for none gives [`EMPTY_BODY_HASH`]).
pub fn body_hash(body: &str) -> String {
    hex::encode(Sha512::digest(body.as_bytes()))
}

/// The text signed: METHOD, `/api/v4` path, query, body hash and timestamp, one per line.
/// `path` is the full path as sent (with [`PREFIX`]).
pub fn prehash(method: &str, path: &str, query: &str, body: &str, timestamp: &str) -> String {
    format!(
        "{}\n{path}\n{query}\n{}\n{timestamp}",
        method.to_ascii_uppercase(),
        body_hash(body)
    )
}

/// The signature of `prehash`: lower-case hex of HMAC-SHA512 keyed by `secret`.
pub fn sign(secret: &str, prehash: &str) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(prehash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `Timestamp` Gate wants for epoch milliseconds `ms`: whole unix seconds.
pub fn timestamp(ms: i64) -> String {
    ms.div_euclid(1_000).to_string()
}

/// The three authentication headers of one request, in the order they are sent. The key is
/// the caller's secret: these values go on the wire and nowhere else.
pub fn headers(
    api_key: &str,
    secret: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
) -> [(&'static str, String); 3] {
    [
        (KEY_HEADER, api_key.to_string()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (
            SIGN_HEADER,
            sign(secret, &prehash(method, path, query, body, timestamp)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_body_hashes_to_gates_documented_value() {
        assert_eq!(body_hash(""), EMPTY_BODY_HASH);
    }

    #[test]
    fn timestamps_are_whole_seconds() {
        assert_eq!(timestamp(1_700_000_000_999), "1700000000");
        assert_eq!(timestamp(0), "0");
        assert_eq!(timestamp(-1), "-1");
    }

    #[test]
    fn queries_are_percent_encoded_in_order() {
        let q = query(&[
            ("currency_pair", "BTC_USDT".into()),
            ("text", "t-a.b c".into()),
        ]);
        assert_eq!(q, "currency_pair=BTC_USDT&text=t-a.b%20c");
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn the_prehash_has_five_lines_and_an_upper_case_method() {
        let p = prehash("get", "/api/v4/spot/accounts", "", "", "1");
        assert_eq!(
            p,
            format!("GET\n/api/v4/spot/accounts\n\n{EMPTY_BODY_HASH}\n1")
        );
    }
}
