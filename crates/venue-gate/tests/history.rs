//! `GateHistory` against the scripted mock of Gate: windows of at most 1000 candles asked in
//! seconds (`from` and `to` both included, never with `limit`), a gap at the venue that does not
//! end the page, a candle not closed yet left out, a rate limit waited out,
//! `INVALID_CURRENCY_PAIR` as a pair not listed, and Gate's 10,000-candle history limit
//! explained.

mod common;

use common::{Mock, fixture, ok, status};
use smartfolio_data::download::{CandleSource, Interval, SourceError};
use smartfolio_gate::client::{ClientConfig, GateClient};
use smartfolio_gate::history::{
    GateHistory, HistoryPolicy, Sleep, allowed_intervals, interval_name,
};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const H: i64 = 3_600_000;
/// 2024-01-01T00:00:00Z.
const JAN1: i64 = 1_704_067_200_000;

/// A public source on the mock, on the mock's clock, which moves only when the source waits.
fn history(m: &Mock) -> (GateHistory, Arc<Mutex<Vec<Duration>>>) {
    let clock = m.clock.clone();
    let client = {
        let clock = clock.clone();
        GateClient::new(
            ClientConfig {
                base_url: m.url.clone(),
                ..ClientConfig::default()
            },
            None,
            Arc::new(move || clock.load(Ordering::SeqCst)),
        )
        .unwrap()
    };
    let waits = Arc::new(Mutex::new(Vec::new()));
    let sleep: Sleep = {
        let waits = waits.clone();
        Arc::new(move |d: Duration| {
            clock.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
            waits.lock().unwrap().push(d);
            Box::pin(std::future::ready(()))
        })
    };
    (
        GateHistory::new(client, sleep, HistoryPolicy::default()),
        waits,
    )
}

/// Gate's rows of the hours `hours` after 2024-01-01 (every value a string); the last is not
/// closed when `open_last`.
fn rows(hours: std::ops::Range<i64>, open_last: bool) -> String {
    let end = hours.end;
    let rows: Vec<serde_json::Value> = hours
        .map(|i| {
            let p = 40_000 + i;
            serde_json::json!([
                ((JAN1 + i * H) / 1_000).to_string(),
                "500000",
                format!("{p}.2"),
                format!("{}", p + 5),
                format!("{}.5", p - 5),
                format!("{p}.1"),
                "12.5",
                (!(open_last && i == end - 1)).to_string()
            ])
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

fn query_of(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn window(from_h: i64, to_h: i64) -> Vec<(String, String)> {
    let s = |h: i64| ((JAN1 + h * H) / 1_000).to_string();
    vec![
        ("currency_pair".into(), "BTC_USDT".into()),
        ("interval".into(), "1h".into()),
        ("from".into(), s(from_h)),
        ("to".into(), s(to_h)),
    ]
}

#[tokio::test]
async fn a_page_is_windows_of_1000_in_seconds_across_a_gap_and_a_rate_limit() {
    let m = Mock::start(vec![
        ok(&fixture("time.json")),
        // Hours 0..600, then nothing up to 999: the page goes on after the gap.
        ok(&rows(0..600, false)),
        status(429, &fixture("error_rate_limit.json")),
        ok(&rows(1_000..1_400, false)),
        // The next page: up to the end of the range, the last candle not closed yet.
        ok(&rows(1_400..1_500, true)),
    ])
    .await;
    let (src, waits) = history(&m);
    assert_eq!(src.now_ms().await.unwrap(), 1_700_000_023_000);
    let h1 = Interval::parse("1h").unwrap();
    let symbol = src.symbol("btc", "usdt");
    assert_eq!(symbol, "BTC_USDT");
    let page = src.page(&symbol, h1, JAN1, JAN1 + 2_500 * H).await.unwrap();
    assert_eq!(page.len(), 1_000);
    assert_eq!(page[0].open_time_ms, JAN1);
    assert_eq!(page[599].open_time_ms, JAN1 + 599 * H);
    assert_eq!(page[600].open_time_ms, JAN1 + 1_000 * H);
    assert_eq!(page[999].open_time_ms, JAN1 + 1_399 * H);
    let c = &page[1];
    assert_eq!(
        (c.open, c.high, c.low, c.close, c.volume),
        (
            "40001.1".parse().unwrap(),
            "40006".parse().unwrap(),
            "39996.5".parse().unwrap(),
            "40001.2".parse().unwrap(),
            "12.5".parse().unwrap()
        )
    );
    let last = src
        .page(&symbol, h1, JAN1 + 1_400 * H, JAN1 + 1_499 * H)
        .await
        .unwrap();
    assert_eq!(last.len(), 99, "the candle not closed is left out");

    let seen = m.seen();
    assert!(seen.iter().all(|s| s.key.is_none()), "public: no key sent");
    assert_eq!(seen[0].path, "/api/v4/spot/time");
    let asked: Vec<_> = seen[1..].iter().map(|s| query_of(&s.query)).collect();
    assert!(
        seen[1..]
            .iter()
            .all(|s| s.path == "/api/v4/spot/candlesticks")
    );
    assert_eq!(
        asked,
        vec![
            // 1000 candles, `to` included.
            window(0, 999),
            // The 400 still wanted, asked again after the 429.
            window(1_000, 1_399),
            window(1_000, 1_399),
            window(1_400, 1_499),
        ]
    );
    // The 429 without Retry-After: a second, then the rest of the client's 10 s ban, during
    // which the request is held back (not sent, not counted).
    assert_eq!(
        *waits.lock().unwrap(),
        vec![Duration::from_secs(1), Duration::from_secs(9)]
    );
    assert_eq!(src.requests(), 5);
}

#[tokio::test]
async fn a_pair_gate_does_not_list_and_its_history_limit_are_told() {
    let m = Mock::start(vec![
        status(
            400,
            r#"{"label":"INVALID_CURRENCY_PAIR","message":"Invalid currency pair NOPE_USDT"}"#,
        ),
        status(
            400,
            r#"{"label":"INVALID_PARAM_VALUE","message":"Candlestick too long ago. Maximum 10000 points ago are allowed"}"#,
        ),
    ])
    .await;
    let (src, _) = history(&m);
    let h1 = Interval::parse("1h").unwrap();
    assert_eq!(
        src.page("NOPE_USDT", h1, JAN1, JAN1 + 10 * H).await,
        Err(SourceError::NotListed)
    );
    let Err(SourceError::Failed(e)) = src.page("BTC_USDT", h1, JAN1, JAN1 + 10 * H).await else {
        panic!("the history limit is a failure");
    };
    assert!(
        e.contains("INVALID_PARAM_VALUE: Candlestick too long ago")
            && e.contains("gate serves only the last 10000 candles of an interval: use a later --from or a longer --interval"),
        "{e}"
    );
    // Neither is asked again.
    assert_eq!(m.seen().len(), 2);
    // An interval Gate does not have is refused without a request.
    let Err(SourceError::Failed(e)) = src
        .page("BTC_USDT", Interval::parse("3m").unwrap(), JAN1, JAN1 + H)
        .await
    else {
        panic!("3m is not Gate's");
    };
    assert_eq!(
        e,
        "gate has no 3m candles; allowed: 1m, 5m, 15m, 30m, 1h, 4h, 8h, 1d"
    );
    assert_eq!(m.seen().len(), 2);
}

#[test]
fn intervals_are_gates_own() {
    let name = |s: &str| interval_name(Interval::parse(s).unwrap());
    assert_eq!(name("1h"), Some("1h"));
    assert_eq!(name("8h"), Some("8h"));
    assert_eq!(name("1d"), Some("1d"));
    for none in ["3m", "2h", "6h", "12h", "3d", "1w"] {
        assert_eq!(name(none), None, "{none}");
    }
    assert_eq!(allowed_intervals(), "1m, 5m, 15m, 30m, 1h, 4h, 8h, 1d");
}
