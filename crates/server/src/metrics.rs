//! The Prometheus metrics, kept with `prometheus-client` and exposed in the text format 0.0.4.
//!
//! Counters are updated by the driver's station ([`crate::Core`]) as the runtime reports what
//! happened; the bots-by-state gauge is set from the runtime when `/metrics` is scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the tick-to-decision histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Every status word a bot can have, so that each state has a sample (zero included).
pub const BOT_STATES: [&str; 7] = [
    "created",
    "deploying",
    "running",
    "paused",
    "suspended",
    "stopping",
    "stopped",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// The registry and the handles of every metric `/metrics` exposes.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    bots: Family<StateLabel, Gauge>,
    ticks: Counter,
    /// By kind: deploy, rebalance, invest, withdraw, stop.
    rebalances: Family<KindLabel, Counter>,
    orders: Counter,
    fills: Counter,
    venue_errors: Counter,
    /// Wall time from a tick's arrival to every bot's decision (and the execution it led to).
    tick_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let bots = Family::<StateLabel, Gauge>::default();
        registry.register("smartfolio_bots", "Bots by state", bots.clone());
        let ticks = Counter::default();
        registry.register("smartfolio_ticks", "Market ticks processed", ticks.clone());
        let rebalances = Family::<KindLabel, Counter>::default();
        registry.register(
            "smartfolio_rebalances",
            "Rebalances started (deploy, rebalance, invest, withdraw, stop)",
            rebalances.clone(),
        );
        // The usual kind has a sample before the first rebalance.
        drop(rebalances.get_or_create(&KindLabel {
            kind: "rebalance".into(),
        }));
        let orders = Counter::default();
        registry.register(
            "smartfolio_orders",
            "Orders sent to the venue",
            orders.clone(),
        );
        let fills = Counter::default();
        registry.register(
            "smartfolio_fills",
            "Orders filled (fully or partly)",
            fills.clone(),
        );
        let venue_errors = Counter::default();
        registry.register(
            "smartfolio_venue_errors",
            "Orders rejected, failed or of unknown outcome, and price updates the venue refused",
            venue_errors.clone(),
        );
        let tick_latency = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "smartfolio_tick_to_decision_seconds",
            "Wall time from a tick to every bot's decision and execution",
            tick_latency.clone(),
        );
        Self {
            registry,
            bots,
            ticks,
            rebalances,
            orders,
            fills,
            venue_errors,
            tick_latency,
        }
    }
}

impl Metrics {
    /// A tick was processed in `took_s` seconds of wall time.
    pub fn tick(&self, took_s: f64) {
        self.ticks.inc();
        self.tick_latency.observe(took_s);
    }

    /// A rebalance of `kind` started.
    pub fn rebalance(&self, kind: &str) {
        self.rebalances
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// Orders sent, of which `filled` filled (fully or partly) and `errors` were rejected,
    /// failed or of unknown outcome.
    pub fn orders(&self, sent: u64, filled: u64, errors: u64) {
        self.orders.inc_by(sent);
        self.fills.inc_by(filled);
        self.venue_errors.inc_by(errors);
    }

    /// The venue refused something outside an order (a tick's prices).
    pub fn venue_error(&self) {
        self.venue_errors.inc();
    }

    /// The text exposition, with `bots` as `(state, count)`: every state of [`BOT_STATES`] has
    /// a sample, zero when absent from `bots`.
    pub fn render(&self, bots: &[(&str, u64)]) -> String {
        for state in BOT_STATES {
            let n = bots
                .iter()
                .filter(|(s, _)| *s == state)
                .map(|(_, n)| *n)
                .sum::<u64>();
            self.bots
                .get_or_create(&StateLabel {
                    state: state.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut s, &self.registry);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_every_state_has_a_sample() {
        let m = Metrics::default();
        m.tick(0.0002);
        m.tick(0.003);
        m.tick(5.0);
        let text = m.render(&[("running", 2)]);
        assert!(
            text.contains("smartfolio_bots{state=\"running\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("smartfolio_bots{state=\"stopped\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("smartfolio_ticks_total 3\n"), "{text}");
        for (le, n) in [
            ("0.0001", 0),
            ("0.00025", 1),
            ("0.005", 2),
            ("1", 2),
            ("+Inf", 3),
        ] {
            let line = format!("smartfolio_tick_to_decision_seconds_bucket{{le=\"{le}\"}} {n}\n");
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        assert!(text.contains("smartfolio_tick_to_decision_seconds_count 3\n"));
        assert!(text.contains("# TYPE smartfolio_rebalances_total counter\n"));
        assert!(text.contains("smartfolio_rebalances_total{kind=\"rebalance\"} 0\n"));
    }
}
