//! What the simulator reports of a client's use, as Binance does in every `/api/` answer:
//! `X-MBX-USED-WEIGHT-1M` (request weight this minute) and, on an accepted order,
//! `X-MBX-ORDER-COUNT-10S` and `X-MBX-ORDER-COUNT-1D`. Windows are fixed (aligned on the
//! simulator's clock), as Binance's are. The simulator counts but does not refuse on these
//! counts; refusals come from the rate-limit faults.
//!
//! It also counts every request by endpoint, with its weight, since it started or was last
//! reset ([`Calls`]): what a client's action cost at the venue, for tests and benches.

use crate::wire::Params;

/// The request weight of a spot REST call, from Binance's documentation (1 for a path it does
/// not list).
pub fn weight(method: &str, path: &str, params: &Params) -> u64 {
    let symbols = || -> Option<usize> {
        if params.get("symbol").is_some() {
            return Some(1);
        }
        let list = params.get("symbols")?;
        Some(serde_json::from_str::<Vec<String>>(list).map_or(1, |l| l.len()))
    };
    match (method, path) {
        ("GET", "/api/v3/exchangeInfo") => 20,
        ("GET", "/api/v3/ticker/price" | "/api/v3/ticker/bookTicker") => match symbols() {
            Some(1) => 2,
            _ => 4,
        },
        ("GET", "/api/v3/ticker/24hr") => match symbols() {
            Some(1..=20) => 2,
            Some(21..=100) => 40,
            _ => 80,
        },
        ("GET", "/api/v3/klines") => 2,
        ("GET", "/api/v3/account") => 20,
        ("GET", "/api/v3/order") => 4,
        ("GET", "/api/v3/openOrders") => {
            if params.get("symbol").is_some() {
                6
            } else {
                80
            }
        }
        ("GET", "/api/v3/myTrades") => {
            if params.get("orderId").is_some() {
                5
            } else {
                20
            }
        }
        _ => 1,
    }
}

/// Requests by endpoint (`"GET /api/v3/order"`): how many, and their total weight.
pub type Calls = std::collections::BTreeMap<String, (u64, u64)>;

/// One fixed window's count.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    start_ms: i64,
    count: u64,
}

impl Window {
    /// Add `n` at `now_ms` in windows of `len_ms`; the count in the window now.
    fn add(&mut self, now_ms: i64, len_ms: i64, n: u64) -> u64 {
        let start = now_ms - now_ms.rem_euclid(len_ms);
        if start != self.start_ms {
            *self = Window {
                start_ms: start,
                count: 0,
            };
        }
        self.count += n;
        self.count
    }
}

/// The counts of one account (the simulator serves one).
#[derive(Debug, Default)]
pub struct Usage {
    weight_1m: Window,
    orders_10s: Window,
    orders_1d: Window,
    calls: Calls,
}

impl Usage {
    /// Count a request to `endpoint` of `weight` at `now_ms`: the weight used this minute.
    pub fn request(&mut self, endpoint: &str, now_ms: i64, weight: u64) -> u64 {
        let c = self.calls.entry(endpoint.to_string()).or_default();
        c.0 += 1;
        c.1 += weight;
        self.weight_1m.add(now_ms, 60_000, weight)
    }

    /// The requests counted since the start or the last [`Usage::take_calls`], which starts
    /// counting again.
    pub fn take_calls(&mut self) -> Calls {
        std::mem::take(&mut self.calls)
    }

    /// Count an accepted order at `now_ms`: the orders in the 10 s and the day windows.
    pub fn order(&mut self, now_ms: i64) -> (u64, u64) {
        (
            self.orders_10s.add(now_ms, 10_000, 1),
            self.orders_1d.add(now_ms, 86_400_000, 1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_binances_table() {
        let p = |raw: &str| Params::parse(raw).unwrap();
        assert_eq!(weight("GET", "/api/v3/exchangeInfo", &p("")), 20);
        assert_eq!(
            weight("GET", "/api/v3/ticker/24hr", &p("symbol=BTCUSDT")),
            2
        );
        assert_eq!(weight("GET", "/api/v3/ticker/24hr", &p("")), 80);
        let many: Vec<String> = (0..30).map(|i| format!("\"S{i}\"")).collect();
        let raw = format!("symbols=[{}]", many.join(","));
        assert_eq!(weight("GET", "/api/v3/ticker/24hr", &p(&raw)), 40);
        assert_eq!(weight("GET", "/api/v3/ticker/price", &p("")), 4);
        assert_eq!(weight("GET", "/api/v3/openOrders", &p("")), 80);
        assert_eq!(weight("GET", "/api/v3/openOrders", &p("symbol=B")), 6);
        assert_eq!(
            weight("GET", "/api/v3/myTrades", &p("symbol=B&orderId=3")),
            5
        );
        assert_eq!(weight("POST", "/api/v3/order", &p("")), 1);
        assert_eq!(weight("GET", "/api/v3/order", &p("")), 4);
    }

    #[test]
    fn counts_start_again_in_each_fixed_window() {
        let mut u = Usage::default();
        let t = 1_700_000_080_000; // 40 s into a minute, on a 10 s boundary
        assert_eq!(u.request("GET /api/v3/exchangeInfo", t, 20), 20);
        assert_eq!(u.request("GET /api/v3/order", t + 19_999, 4), 24);
        // The next minute starts at t + 20 s.
        assert_eq!(u.request("GET /api/v3/order", t + 20_000, 4), 4);
        let calls = u.take_calls();
        assert_eq!(calls["GET /api/v3/order"], (2, 8));
        assert_eq!(calls["GET /api/v3/exchangeInfo"], (1, 20));
        assert!(u.take_calls().is_empty());
        assert_eq!(u.order(t), (1, 1));
        assert_eq!(u.order(t + 9_999), (2, 2));
        assert_eq!(u.order(t + 10_000), (1, 3));
    }
}
