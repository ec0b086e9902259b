//! The Prometheus metrics, kept with `prometheus-client` and exposed in the text format 0.0.4.
//!
//! The counters follow the runtime's audit events ([`Metrics::record`], one call per
//! [`BotEvent`] as the driver hands them to [`crate::Core`]) and the driver's ticks; the
//! bots-by-state gauge is set from the runtime when `/metrics` is scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rust_decimal::prelude::ToPrimitive;
use smartfolio_bot::{BotEvent, EventKind};
use std::sync::atomic::AtomicU64;

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

/// Order outcomes that count as venue errors.
const ERROR_OUTCOMES: [&str; 3] = ["rejected", "failed", "unknown"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishedLabel {
    kind: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AssetLabel {
    asset: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToLabel {
    to: String,
}

/// The registry and the handles of every metric `/metrics` exposes.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    bots: Family<StateLabel, Gauge>,
    ticks: Counter,
    last_tick: Gauge<f64, AtomicU64>,
    /// Started, by kind: deploy, rebalance, invest, withdraw, stop.
    rebalances: Family<KindLabel, Counter>,
    rebalances_finished: Family<FinishedLabel, Counter>,
    orders: Family<OutcomeLabel, Counter>,
    fills: Counter,
    fees: Family<AssetLabel, Counter<f64, AtomicU64>>,
    state_changes: Family<ToLabel, Counter>,
    venue_errors: Counter,
    /// Wall time from a tick's arrival to every bot's decision (and the execution it led to).
    tick_latency: Histogram,
    /// The ticks' wall time summed, in ns (the histogram's sum, for the benchmarks).
    tick_nanos: std::sync::atomic::AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let bots = Family::<StateLabel, Gauge>::default();
        registry.register("smartfolio_bots", "Bots by state", bots.clone());
        let ticks = Counter::default();
        registry.register("smartfolio_ticks", "Market ticks processed", ticks.clone());
        let last_tick = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "smartfolio_last_tick_timestamp_seconds",
            "Market time of the last tick processed, in seconds since the epoch",
            last_tick.clone(),
        );
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
        let rebalances_finished = Family::<FinishedLabel, Counter>::default();
        registry.register(
            "smartfolio_rebalances_finished",
            "Rebalances closed, by kind and status (completed, partial, aborted, interrupted)",
            rebalances_finished.clone(),
        );
        let orders = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "smartfolio_orders",
            "Orders by outcome as execution left them (filled, partial, skipped, rejected, \
             failed, unknown)",
            orders.clone(),
        );
        let fills = Counter::default();
        registry.register(
            "smartfolio_fills",
            "Venue fills applied to the bots' ledgers",
            fills.clone(),
        );
        let fees = Family::<AssetLabel, Counter<f64, AtomicU64>>::default();
        registry.register(
            "smartfolio_fees",
            "Fees paid on fills, in the asset they were paid in",
            fees.clone(),
        );
        let state_changes = Family::<ToLabel, Counter>::default();
        registry.register(
            "smartfolio_state_changes",
            "Bots entering a state (created, suspended, stopped, ...)",
            state_changes.clone(),
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
            last_tick,
            rebalances,
            rebalances_finished,
            orders,
            fills,
            fees,
            state_changes,
            venue_errors,
            tick_latency,
            tick_nanos: Default::default(),
        }
    }
}

impl Metrics {
    /// A tick of market time `time_ms` was processed in `took_s` seconds of wall time.
    /// The wall time of every tick so far, summed (s).
    pub fn tick_seconds_sum(&self) -> f64 {
        self.tick_nanos.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
    }

    pub fn tick(&self, time_ms: i64, took_s: f64) {
        self.tick_nanos
            .fetch_add((took_s * 1e9) as u64, std::sync::atomic::Ordering::Relaxed);
        self.ticks.inc();
        self.tick_latency.observe(took_s);
        self.last_tick.set(time_ms as f64 / 1000.0);
    }

    /// Count what the runtime recorded.
    pub fn record(&self, event: &BotEvent) {
        match &event.kind {
            EventKind::Created { .. } => self.entered("created"),
            EventKind::StateChanged { to, .. } => self.entered(to),
            EventKind::RebalanceStarted { kind, .. } => {
                self.rebalances
                    .get_or_create(&KindLabel { kind: kind.clone() })
                    .inc();
            }
            EventKind::RebalanceFinished { kind, status, .. } => {
                self.rebalances_finished
                    .get_or_create(&FinishedLabel {
                        kind: kind.clone(),
                        status: status.clone(),
                    })
                    .inc();
            }
            EventKind::Order { outcome, .. } => {
                self.orders
                    .get_or_create(&OutcomeLabel {
                        outcome: outcome.clone(),
                    })
                    .inc();
                if ERROR_OUTCOMES.contains(&outcome.as_str()) {
                    self.venue_errors.inc();
                }
            }
            EventKind::Fill(f) => {
                self.fills.inc();
                // A metric, not money: the ledger keeps the exact fee.
                let fee = f.fee.to_f64().unwrap_or(0.0);
                self.fees
                    .get_or_create(&AssetLabel {
                        asset: f.fee_asset.clone(),
                    })
                    .inc_by(fee);
            }
        }
    }

    fn entered(&self, state: &str) {
        self.state_changes
            .get_or_create(&ToLabel { to: state.into() })
            .inc();
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
    use rust_decimal::Decimal;
    use smartfolio_core::Side;
    use smartfolio_exchange::Fill;

    #[test]
    fn histogram_buckets_are_cumulative_and_every_state_has_a_sample() {
        let m = Metrics::default();
        m.tick(1_700_000_000_000, 0.0002);
        m.tick(1_700_000_060_000, 0.003);
        m.tick(1_700_000_120_000, 5.0);
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
        assert!(
            text.contains("smartfolio_last_tick_timestamp_seconds 1700000120.0\n"),
            "{text}"
        );
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

    #[test]
    fn events_are_counted_by_their_labels() {
        let m = Metrics::default();
        let ev = |kind| BotEvent {
            bot: 1,
            time_ms: 0,
            kind,
        };
        let order = |outcome: &str| {
            ev(EventKind::Order {
                seq: 1,
                client_id: "c".into(),
                asset: "BTC".into(),
                side: Side::Buy,
                quantity: Decimal::ONE,
                filled_quantity: Decimal::ZERO,
                outcome: outcome.into(),
            })
        };
        let fill = |fee: Decimal, asset: &str| {
            ev(EventKind::Fill(Fill {
                fill_id: "f".into(),
                client_id: "c".into(),
                venue_order_id: "v".into(),
                base: "BTC".into(),
                quote: "USDT".into(),
                side: Side::Buy,
                quantity: Decimal::ONE,
                price: Decimal::ONE,
                fee,
                fee_asset: asset.into(),
                time_ms: 0,
            }))
        };
        for e in [
            ev(EventKind::Created { name: "a".into() }),
            ev(EventKind::StateChanged {
                from: "running",
                to: "suspended",
                reason: Some("ETH is halted".into()),
            }),
            ev(EventKind::RebalanceStarted {
                seq: 1,
                kind: "deploy".into(),
                reason: "initial allocation".into(),
            }),
            order("filled"),
            order("filled"),
            order("rejected"),
            order("unknown"),
            fill(Decimal::new(25, 2), "USDT"),
            fill(Decimal::new(50, 2), "USDT"),
            fill(Decimal::new(1, 3), "BNB"),
            ev(EventKind::RebalanceFinished {
                seq: 1,
                kind: "deploy".into(),
                reason: "initial allocation".into(),
                status: "partial".into(),
                fees: Decimal::new(75, 2),
            }),
        ] {
            m.record(&e);
        }
        m.venue_error();
        let text = m.render(&[]);
        for line in [
            "smartfolio_state_changes_total{to=\"created\"} 1",
            "smartfolio_state_changes_total{to=\"suspended\"} 1",
            "smartfolio_rebalances_total{kind=\"deploy\"} 1",
            "smartfolio_rebalances_total{kind=\"rebalance\"} 0",
            "smartfolio_rebalances_finished_total{kind=\"deploy\",status=\"partial\"} 1",
            "smartfolio_orders_total{outcome=\"filled\"} 2",
            "smartfolio_orders_total{outcome=\"rejected\"} 1",
            "smartfolio_orders_total{outcome=\"unknown\"} 1",
            "smartfolio_fills_total 3",
            "smartfolio_fees_total{asset=\"USDT\"} 0.75",
            "smartfolio_fees_total{asset=\"BNB\"} 0.001",
            "smartfolio_venue_errors_total 3",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
    }
}
