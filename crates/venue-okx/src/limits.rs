//! OKX's request limits, per endpoint, as its v5 documentation states them: every one is a count
//! per 2 seconds, by user id (private endpoints), IP (public ones) or user id and instrument
//! (placing, canceling and looking up an order). The client budgets each endpoint with the
//! shared [`smartfolio_exchange::Budgets`] and waits for room instead of being refused with
//! `50011`; a `50011` that still comes (another process on the key or IP) bans every call for
//! [`WINDOW_MS`].
//!
//! | endpoint | per 2 s | counted by |
//! |---|---|---|
//! | `POST /api/v5/trade/order` | 60 | instrument |
//! | `POST /api/v5/trade/cancel-order` | 60 | instrument |
//! | `GET /api/v5/trade/order` | 60 | instrument |
//! | `GET /api/v5/trade/orders-pending` | 60 | account |
//! | `GET /api/v5/trade/fills` | 60 | account |
//! | `GET /api/v5/account/balance` | 10 | account |
//! | `GET /api/v5/account/config` | 5 | account |
//! | `GET /api/v5/market/tickers` | 20 | IP |
//! | `GET /api/v5/market/ticker` | 20 | IP |
//! | `GET /api/v5/market/history-candles` | 20 | IP |
//! | `GET /api/v5/public/instruments` | 20 | IP |
//! | `GET /api/v5/public/time` | 10 | IP |
//! | any other | 5 | (unlisted: the smallest above) |

use smartfolio_exchange::Limit;

/// OKX counts each limit in windows of 2 seconds; a rate limit without `Retry-After` waits one.
pub const WINDOW_MS: i64 = 2_000;

/// An endpoint's budget, and whether OKX counts it per instrument.
pub fn budget(method: &str, path: &str) -> (Limit, bool) {
    let per_2s = |count| Limit::new(count, WINDOW_MS);
    match (method, path) {
        ("POST", "/api/v5/trade/order" | "/api/v5/trade/cancel-order")
        | ("GET", "/api/v5/trade/order") => (per_2s(60), true),
        ("GET", "/api/v5/trade/orders-pending" | "/api/v5/trade/fills") => (per_2s(60), false),
        ("GET", "/api/v5/account/balance" | "/api/v5/public/time") => (per_2s(10), false),
        ("GET", "/api/v5/account/config") => (per_2s(5), false),
        (
            "GET",
            "/api/v5/market/tickers"
            | "/api/v5/market/ticker"
            | "/api/v5/market/history-candles"
            | "/api/v5/public/instruments",
        ) => (per_2s(20), false),
        _ => (per_2s(5), false),
    }
}

/// The budget `method path` on `inst` is counted under.
pub fn budget_key(method: &str, path: &str, inst: Option<&str>) -> (String, Limit) {
    let (limit, per_instrument) = budget(method, path);
    let key = match inst.filter(|_| per_instrument) {
        Some(i) => format!("{method} {path} {i}"),
        None => format!("{method} {path}"),
    };
    (key, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_counted_per_instrument_and_reads_per_account() {
        let (k, l) = budget_key("POST", "/api/v5/trade/order", Some("BTC-USDT"));
        assert_eq!(k, "POST /api/v5/trade/order BTC-USDT");
        assert_eq!(l, Limit::new(60, 2_000));
        let (k, _) = budget_key("GET", "/api/v5/trade/order", Some("BTC-USDT"));
        assert_eq!(k, "GET /api/v5/trade/order BTC-USDT");
        let (k, l) = budget_key("GET", "/api/v5/trade/fills", Some("BTC-USDT"));
        assert_eq!((k.as_str(), l.count), ("GET /api/v5/trade/fills", 60));
        let (k, l) = budget_key("GET", "/api/v5/account/balance", None);
        assert_eq!((k.as_str(), l.count), ("GET /api/v5/account/balance", 10));
        assert_eq!(budget("GET", "/api/v5/unlisted").0.count, 5);
        assert_eq!(
            budget_key("GET", "/api/v5/market/ticker", Some("BTC-USDT")),
            (
                "GET /api/v5/market/ticker".to_string(),
                Limit::new(20, 2_000)
            )
        );
    }
}
