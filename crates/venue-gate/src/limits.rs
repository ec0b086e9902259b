//! Gate's request limits for spot, as its v4 documentation states them ("Frequency limit
//! rule", <https://www.gate.io/docs/developers/apiv4/en/#frequency-limit-rule>, in force since
//! Gate's announcement of 14 January 2024, effective 22 January 2024: "Gate.io Latest
//! Announcement on API Rate Limit Adjustments"). The client budgets each endpoint with the
//! shared [`smartfolio_exchange::Budgets`] and waits for room instead of being refused with
//! `TOO_MANY_REQUESTS`; one that still comes bans every call (`crate::error`).
//!
//! | endpoint | limit | counted by |
//! |---|---|---|
//! | `POST /spot/orders` (single and batch placement, amend) | 10 per 1 s | user and pair |
//! | `DELETE /spot/orders/{id}` (single and batch cancel) | 200 per 1 s | user |
//! | any other spot private endpoint (`/spot/accounts`, `/spot/orders/{id}`, `/spot/open_orders`, `/spot/my_trades`, …) | 200 per 10 s, each endpoint | user |
//! | any public endpoint (`/spot/time`, `/spot/currency_pairs`, `/spot/tickers`, `/spot/candlesticks`, …) | 200 per 10 s, each endpoint | IP |
//! | other private endpoints (`/account/detail`) | 150 per 10 s, each endpoint | user |
//!
//! An order's path carries its id or `text`; every id shares its endpoint's budget.

use smartfolio_exchange::Limit;

/// The window of every limit but placing and canceling orders.
pub const WINDOW_MS: i64 = 10_000;

/// The endpoint `path` (after `/api/v4`) is counted under: an order's id or `text` replaced by
/// `{id}`, so every order shares one budget.
pub fn endpoint(path: &str) -> &str {
    match path.strip_prefix("/spot/orders/") {
        Some(id) if !id.is_empty() => "/spot/orders/{id}",
        _ => path,
    }
}

/// An endpoint's limit, and whether Gate counts it per pair.
pub fn budget(method: &str, path: &str) -> (Limit, bool) {
    match (method, endpoint(path)) {
        ("POST", "/spot/orders") => (Limit::new(10, 1_000), true),
        ("DELETE", "/spot/orders/{id}") => (Limit::new(200, 1_000), false),
        (_, p) if p.starts_with("/spot/") => (Limit::new(200, WINDOW_MS), false),
        _ => (Limit::new(150, WINDOW_MS), false),
    }
}

/// The budget `method path` on `pair` is counted under.
pub fn budget_key(method: &str, path: &str, pair: Option<&str>) -> (String, Limit) {
    let (limit, per_pair) = budget(method, path);
    let endpoint = endpoint(path);
    let key = match pair.filter(|_| per_pair) {
        Some(p) => format!("{method} {endpoint} {p}"),
        None => format!("{method} {endpoint}"),
    };
    (key, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_is_counted_per_pair_and_an_orders_id_shares_its_endpoint() {
        let (k, l) = budget_key("POST", "/spot/orders", Some("BTC_USDT"));
        assert_eq!(
            (k.as_str(), l),
            ("POST /spot/orders BTC_USDT", Limit::new(10, 1_000))
        );
        let (k, l) = budget_key("DELETE", "/spot/orders/t-sf1", Some("BTC_USDT"));
        assert_eq!(
            (k.as_str(), l),
            ("DELETE /spot/orders/{id}", Limit::new(200, 1_000))
        );
        let (a, l) = budget_key("GET", "/spot/orders/t-sf1", Some("BTC_USDT"));
        let (b, _) = budget_key("GET", "/spot/orders/12345", Some("ETH_USDT"));
        assert_eq!(
            (a.as_str(), l),
            ("GET /spot/orders/{id}", Limit::new(200, 10_000))
        );
        assert_eq!(a, b);
        for p in [
            "/spot/accounts",
            "/spot/my_trades",
            "/spot/open_orders",
            "/spot/tickers",
        ] {
            assert_eq!(budget("GET", p).0, Limit::new(200, 10_000), "{p}");
        }
        assert_eq!(budget("GET", "/account/detail").0, Limit::new(150, 10_000));
        assert_eq!(endpoint("/spot/orders/"), "/spot/orders/");
        assert_eq!(endpoint("/spot/orders"), "/spot/orders");
    }
}
