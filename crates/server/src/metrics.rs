//! Prometheus text exposition (format 0.0.4) of the runtime's counters.
//!
//! Counters are atomics updated by the actor; gauges (bots by state) are read from the runtime
//! when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A counter per label value.
#[derive(Debug, Default)]
pub struct LabeledCounter(Mutex<BTreeMap<String, u64>>);

impl LabeledCounter {
    pub fn inc(&self, label: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(label.to_string()).or_default() += 1;
        }
    }
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
    pub fn total(&self) -> u64 {
        self.snapshot().iter().map(|x| x.1).sum()
    }
}

/// Upper bounds of the latency histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A fixed-bucket histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    inner: Mutex<HistInner>,
}

#[derive(Debug, Default)]
struct HistInner {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    pub fn observe(&self, v: f64) {
        if let Ok(mut h) = self.inner.lock() {
            for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
                if v <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += v;
        }
    }
    pub fn count(&self) -> u64 {
        self.inner.lock().map(|h| h.count).unwrap_or(0)
    }
}

/// Everything `/metrics` exposes besides the gauges read at scrape time.
#[derive(Debug, Default)]
pub struct Metrics {
    pub ticks: Counter,
    /// By kind: deploy, rebalance, invest, withdraw, stop.
    pub rebalances: LabeledCounter,
    pub orders: Counter,
    pub fills: Counter,
    pub venue_errors: Counter,
    /// Wall time from a tick's arrival to every bot's decision (and the execution it led to).
    pub tick_latency: Histogram,
}

impl Metrics {
    /// The text exposition, with `bots` as `(state, count)`.
    pub fn render(&self, bots: &[(&'static str, u64)]) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP smartfolio_bots Bots by state.");
        let _ = writeln!(s, "# TYPE smartfolio_bots gauge");
        for (state, n) in bots {
            let _ = writeln!(s, "smartfolio_bots{{state=\"{state}\"}} {n}");
        }
        counter(
            &mut s,
            "smartfolio_ticks_total",
            "Market ticks processed.",
            self.ticks.get(),
        );
        let _ = writeln!(
            s,
            "# HELP smartfolio_rebalances_total Rebalances started (deploy, rebalance, invest, withdraw, stop)."
        );
        let _ = writeln!(s, "# TYPE smartfolio_rebalances_total counter");
        let kinds = self.rebalances.snapshot();
        if kinds.is_empty() {
            let _ = writeln!(s, "smartfolio_rebalances_total{{kind=\"rebalance\"}} 0");
        }
        for (k, n) in kinds {
            let _ = writeln!(s, "smartfolio_rebalances_total{{kind=\"{k}\"}} {n}");
        }
        counter(
            &mut s,
            "smartfolio_orders_total",
            "Orders sent to the venue.",
            self.orders.get(),
        );
        counter(
            &mut s,
            "smartfolio_fills_total",
            "Orders filled (fully or partly).",
            self.fills.get(),
        );
        counter(
            &mut s,
            "smartfolio_venue_errors_total",
            "Orders rejected, failed or of unknown outcome, and price updates the venue refused.",
            self.venue_errors.get(),
        );
        let _ = writeln!(
            s,
            "# HELP smartfolio_tick_to_decision_seconds Wall time from a tick to every bot's decision and execution."
        );
        let _ = writeln!(s, "# TYPE smartfolio_tick_to_decision_seconds histogram");
        let (counts, count, sum) = self
            .tick_latency
            .inner
            .lock()
            .map(|h| (h.counts, h.count, h.sum))
            .unwrap_or(([0; LATENCY_BUCKETS.len()], 0, 0.0));
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "smartfolio_tick_to_decision_seconds_bucket{{le=\"{b}\"}} {}",
                counts[i]
            );
        }
        let _ = writeln!(
            s,
            "smartfolio_tick_to_decision_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(s, "smartfolio_tick_to_decision_seconds_sum {sum}");
        let _ = writeln!(s, "smartfolio_tick_to_decision_seconds_count {count}");
        s
    }
}

fn counter(s: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(s, "# HELP {name} {help}");
    let _ = writeln!(s, "# TYPE {name} counter");
    let _ = writeln!(s, "{name} {v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.tick_latency.observe(0.0002);
        m.tick_latency.observe(0.003);
        m.tick_latency.observe(5.0);
        let text = m.render(&[("running", 2)]);
        assert!(text.contains("smartfolio_bots{state=\"running\"} 2"));
        assert!(text.contains("smartfolio_tick_to_decision_seconds_bucket{le=\"0.0001\"} 0"));
        assert!(text.contains("smartfolio_tick_to_decision_seconds_bucket{le=\"0.00025\"} 1"));
        assert!(text.contains("smartfolio_tick_to_decision_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("smartfolio_tick_to_decision_seconds_bucket{le=\"1\"} 2"));
        assert!(text.contains("smartfolio_tick_to_decision_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("smartfolio_tick_to_decision_seconds_count 3"));
    }
}
