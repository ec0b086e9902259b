//! The decision path: market prices in, per-bot decisions out. Pure and synchronous, no store,
//! no venue, no allocation per bot on a tick without decisions.
//!
//! Each live bot keeps, beside its exact `Decimal` ledger, an f64 mirror of its holdings laid
//! out against the market's price slots, so drift and value are a few multiply-adds per asset.
//! The f64 view decides *whether* to act (SPEC §2 compares drift in f64 with a 1e-12 tie
//! tolerance); everything that moves money (risk confirmation, plan, orders, ledger) is redone
//! in `Decimal` from the ledger.

use crate::config::{BotConfig, BotState, BotStatus};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use smartfolio_core::{Drift, RiskLimits, RiskVerdict, Targets, Tick, TriggerState};
use smartfolio_exchange::{InstrumentStatus, PriceTick};
use smartfolio_store::BotId;
use std::collections::{BTreeMap, HashMap};

/// Prices by market slot.
#[derive(Debug, Default)]
pub struct Market {
    index: HashMap<String, usize>,
    pub names: Vec<String>,
    pub price: Vec<Decimal>,
    pub price_f: Vec<f64>,
    /// Time of the last price (i64::MIN: never priced).
    pub time: Vec<i64>,
    /// Instrument status (None: the venue does not list it).
    pub status: Vec<Option<InstrumentStatus>>,
}

impl Market {
    /// The slot of `asset`, created unpriced if new.
    pub fn slot(&mut self, asset: &str) -> usize {
        if let Some(&i) = self.index.get(asset) {
            return i;
        }
        let i = self.names.len();
        self.index.insert(asset.to_string(), i);
        self.names.push(asset.to_string());
        self.price.push(Decimal::ZERO);
        self.price_f.push(0.0);
        self.time.push(i64::MIN);
        self.status.push(Some(InstrumentStatus::Trading));
        i
    }

    pub fn get(&self, asset: &str) -> Option<usize> {
        self.index.get(asset).copied()
    }

    /// The price of `asset`, if it has one.
    pub fn price_of(&self, asset: &str) -> Option<Decimal> {
        self.get(asset)
            .filter(|&i| self.time[i] != i64::MIN)
            .map(|i| self.price[i])
    }

    /// Take a tick's prices (non-positive prices are ignored).
    pub fn update(&mut self, tick: &PriceTick) {
        for (asset, p) in &tick.prices {
            if *p <= Decimal::ZERO {
                continue;
            }
            let i = match self.index.get(asset.as_str()) {
                Some(&i) => i,
                None => self.slot(&asset.to_ascii_uppercase()),
            };
            self.price[i] = *p;
            self.price_f[i] = p.to_f64().unwrap_or(0.0);
            self.time[i] = tick.time_ms;
        }
    }

    pub fn set_price(&mut self, asset: &str, price: Decimal, time_ms: i64) {
        let i = self.slot(asset);
        self.price[i] = price;
        self.price_f[i] = price.to_f64().unwrap_or(0.0);
        self.time[i] = time_ms;
    }
}

/// One asset of a bot on the fast path.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub m: usize,
    pub target: f64,
    pub qty: f64,
}

/// What the decision path wants done for a bot.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A created bot whose basket is priced: make the initial buys.
    Deploy,
    /// Stop trading, with the reason.
    Suspend { reason: String, breaker: bool },
    /// The cause of a suspension cleared (or the breaker's cool-off ended).
    Resume,
    /// Stop-loss or take-profit: sell to quote and stop.
    Risk(RiskVerdict),
    /// Rebalance, with the reason.
    Rebalance(String),
    /// Orders with an unknown outcome: look them up at the venue.
    Reconcile,
    /// Finish a stop that was interrupted.
    FinishStop,
}

/// A bot as the engine holds it.
#[derive(Debug)]
pub struct LiveBot {
    pub id: BotId,
    pub config: BotConfig,
    pub targets: Targets,
    pub risk: RiskLimits,
    pub state: BotState,
    /// The ledger: units per asset, the quote's entry being the cash.
    pub holdings: BTreeMap<String, Decimal>,
    pub net_invested: Decimal,
    pub slots: Vec<Slot>,
    pub cash_f: f64,
    pub quote_target: Option<f64>,
    pub trig: TriggerState,
    pub bar: u64,
    sl_level: f64,
    tp_level: f64,
    pub next_snapshot_ms: i64,
    /// Orders whose outcome is not known yet.
    pub unresolved: bool,
    /// Not looked up again before this time (i64::MIN: at the next tick). Set when every
    /// unresolved order was "not found yet" too soon after it was sent for that to prove
    /// anything (`Settled::Wait`): the next lookup comes after [`LOOKUP_BACKOFF_MS`], doubled
    /// at each such answer in a row, and never later than the end of the venue's window.
    pub lookup_after_ms: i64,
    /// "Not found yet" answers in a row (the backoff's exponent).
    pub lookup_waits: u32,
}

/// The first wait before an order the venue did not find yet is looked up again; it doubles at
/// each "not found yet" in a row (0.1, 0.2, 0.4 … s: a dozen lookups over Binance's 30 s window
/// instead of one a tick).
pub const LOOKUP_BACKOFF_MS: i64 = 100;

impl LiveBot {
    /// The venue did not find any of the bot's unresolved orders yet, and cannot tell before
    /// `until_ms`: when to look again.
    pub fn lookup_later(&mut self, now_ms: i64, until_ms: i64) {
        let delay = LOOKUP_BACKOFF_MS.saturating_mul(1 << self.lookup_waits.min(16));
        self.lookup_after_ms = until_ms.min(now_ms.saturating_add(delay));
        self.lookup_waits = self.lookup_waits.saturating_add(1);
    }

    /// Look up the unresolved orders at the next tick.
    pub fn lookup_now(&mut self) {
        self.lookup_after_ms = i64::MIN;
        self.lookup_waits = 0;
    }
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

impl LiveBot {
    pub fn new(
        id: BotId,
        config: BotConfig,
        targets: Targets,
        state: BotState,
        holdings: BTreeMap<String, Decimal>,
        net_invested: Decimal,
        market: &mut Market,
    ) -> Self {
        let risk = config.risk().unwrap_or_default();
        let mut trig = TriggerState::new(state.anchor_ms, config.cooldown_ms);
        trig.last_rebalance_ms = state.last_rebalance_ms;
        // Evaluations are not stored, but the last rebalance is: schedule ticks that fell after it
        // (while the process was down) are due once at the first evaluation after a restart.
        trig.last_eval_ms = state.last_rebalance_ms;
        let mut bot = Self {
            id,
            config,
            targets,
            risk,
            state,
            holdings,
            net_invested,
            slots: vec![],
            cash_f: 0.0,
            quote_target: None,
            trig,
            bar: 0,
            sl_level: f64::NEG_INFINITY,
            tp_level: f64::INFINITY,
            next_snapshot_ms: i64::MIN,
            unresolved: false,
            lookup_after_ms: i64::MIN,
            lookup_waits: 0,
        };
        bot.rebuild(market);
        bot
    }

    pub fn quote(&self) -> &str {
        &self.config.quote
    }

    pub fn cash(&self) -> Decimal {
        self.holdings
            .get(&self.config.quote)
            .copied()
            .unwrap_or_default()
    }

    /// Recompute the fast-path mirror after a change of ledger, targets or limits.
    pub fn rebuild(&mut self, market: &mut Market) {
        let quote = self.config.quote.clone();
        self.slots.clear();
        self.quote_target = None;
        for (a, w) in self.targets.iter() {
            if a == quote {
                self.quote_target = Some(f(w));
                continue;
            }
            let q = self.holdings.get(a).copied().unwrap_or_default();
            self.slots.push(Slot {
                m: market.slot(a),
                target: f(w),
                qty: f(q),
            });
        }
        for (a, q) in &self.holdings {
            if *a == quote || q.is_zero() || self.targets.index_of(a).is_some() {
                continue;
            }
            self.slots.push(Slot {
                m: market.slot(a),
                target: 0.0,
                qty: f(*q),
            });
        }
        self.cash_f = f(self.cash());
        let ni = f(self.net_invested);
        self.sl_level = match self.risk.stop_loss_pct {
            Some(sl) if ni > 0.0 => ni * (1.0 - f(sl) / 100.0),
            _ => f64::NEG_INFINITY,
        };
        self.tp_level = match self.risk.take_profit_pct {
            Some(tp) if ni > 0.0 => ni * (1.0 + f(tp) / 100.0),
            _ => f64::INFINITY,
        };
        self.trig.cooldown_ms = self.config.cooldown_ms;
    }

    /// Value at the market's prices, in f64.
    #[inline]
    pub fn value_f(&self, market: &Market) -> f64 {
        let mut v = self.cash_f;
        for s in &self.slots {
            v += s.qty * market.price_f[s.m];
        }
        v
    }

    /// Drift (SPEC §2) at the market's prices, in f64.
    #[inline]
    pub fn drift_f(&self, market: &Market, value: f64) -> Drift {
        if value <= 0.0 {
            return Drift::ZERO;
        }
        let inv = 1.0 / value;
        let mut d = Drift::ZERO;
        for s in &self.slots {
            d.include(s.qty * market.price_f[s.m] * inv, s.target);
        }
        if let Some(t) = self.quote_target {
            d.include(self.cash_f * inv, t);
        }
        d
    }

    /// Exact value from the ledger at the market's prices (None if an asset is unpriced).
    pub fn value_exact(&self, market: &Market) -> Option<Decimal> {
        let mut v = Decimal::ZERO;
        for (a, q) in &self.holdings {
            if *a == self.config.quote {
                v += *q;
            } else if !q.is_zero() {
                v += *q * market.price_of(a)?;
            }
        }
        Some(v)
    }

    /// Why this bot may not trade now, if anything stops it.
    pub fn suspend_cause(&self, market: &Market, now_ms: i64) -> Option<(String, bool)> {
        if let Some(reason) = &self.state.held {
            return Some((reason.clone(), false));
        }
        for s in &self.slots {
            if s.target == 0.0 && s.qty == 0.0 {
                continue;
            }
            let name = &market.names[s.m];
            match market.status[s.m] {
                Some(InstrumentStatus::Trading) => {}
                Some(InstrumentStatus::Halted) => {
                    return Some((format!("{name} is halted on the venue"), false));
                }
                Some(InstrumentStatus::Delisted) => {
                    return Some((format!("{name} is delisted on the venue"), false));
                }
                // A rebalance may need either side: wait until it trades both ways again.
                Some(st @ (InstrumentStatus::SellOnly | InstrumentStatus::CancelOnly)) => {
                    return Some((format!("{name} is {st} on the venue"), false));
                }
                None => {
                    return Some((
                        format!("{name} is not listed on the venue against {}", self.quote()),
                        false,
                    ));
                }
            }
            let t = market.time[s.m];
            if t == i64::MIN {
                return Some((format!("no price for {name} yet"), false));
            }
            if now_ms - t > self.config.max_tick_age_ms {
                return Some((
                    format!(
                        "stale price: {name} last priced {} s ago (limit {} s)",
                        (now_ms - t) / 1000,
                        self.config.max_tick_age_ms / 1000
                    ),
                    false,
                ));
            }
        }
        if self.state.consecutive_failures >= self.config.breaker_failures {
            return Some((
                format!(
                    "circuit breaker: {} consecutive venue failures (last: {})",
                    self.state.consecutive_failures,
                    self.state.last_failure.as_deref().unwrap_or("?")
                ),
                true,
            ));
        }
        None
    }

    /// For a bot with unresolved orders: look them up if their lookup is due, else nothing
    /// (it never trades meanwhile).
    fn reconcile_due(&self, now_ms: i64) -> Option<Decision> {
        (now_ms >= self.lookup_after_ms).then_some(Decision::Reconcile)
    }

    /// The decision for this bot at `now_ms`; updates only the in-memory trigger state.
    #[inline]
    pub fn decide(&mut self, market: &Market, now_ms: i64) -> Option<Decision> {
        match &self.state.status {
            BotStatus::Created => {
                let priced = self
                    .slots
                    .iter()
                    .all(|s| market.time[s.m] != i64::MIN && market.status[s.m].is_some());
                priced.then_some(Decision::Deploy)
            }
            // Never sell again while an earlier order's outcome is unknown.
            BotStatus::Stopping { .. } if self.unresolved => self.reconcile_due(now_ms),
            BotStatus::Stopping { .. } => Some(Decision::FinishStop),
            BotStatus::Deploying | BotStatus::Paused if self.unresolved => {
                self.reconcile_due(now_ms)
            }
            BotStatus::Running => {
                if let Some((reason, breaker)) = self.suspend_cause(market, now_ms) {
                    return Some(Decision::Suspend { reason, breaker });
                }
                if self.unresolved {
                    return self.reconcile_due(now_ms);
                }
                let value = self.value_f(market);
                if (value <= self.sl_level || value >= self.tp_level)
                    && let Some(v) = self.value_exact(market)
                {
                    let verdict = self.risk.check(v, self.net_invested);
                    if verdict != RiskVerdict::Hold {
                        return Some(Decision::Risk(verdict));
                    }
                }
                if let Some(reason) = &self.state.pending_rebalance
                    && !self.trig.in_cooldown(now_ms)
                {
                    return Some(Decision::Rebalance(reason.clone()));
                }
                let tick = Tick {
                    now_ms,
                    bar: self.bar,
                };
                let fired = self
                    .config
                    .trigger
                    .evaluate(&self.trig, tick, || self.drift_f(market, value));
                self.trig.observe(now_ms, false);
                self.bar += 1;
                fired.map(|r| Decision::Rebalance(r.to_string()))
            }
            BotStatus::Suspended {
                since_ms, breaker, ..
            } => {
                let cooled = !*breaker || now_ms >= since_ms + self.config.breaker_cooloff_ms;
                if self.unresolved && cooled {
                    return self.reconcile_due(now_ms);
                }
                match self.suspend_cause(market, now_ms) {
                    None if cooled => Some(Decision::Resume),
                    Some((_, true)) if cooled => Some(Decision::Resume),
                    _ => None,
                }
            }
            BotStatus::Paused | BotStatus::Deploying | BotStatus::Stopped { .. } => None,
        }
    }
}

/// Bots and the market they are valued in.
#[derive(Debug, Default)]
pub struct Engine {
    pub market: Market,
    pub bots: Vec<LiveBot>,
    by_id: HashMap<BotId, usize>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, bot: LiveBot) -> usize {
        let i = self.bots.len();
        self.by_id.insert(bot.id, i);
        self.bots.push(bot);
        i
    }

    pub fn index_of(&self, id: BotId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Decide for every bot at `now_ms`, calling `out` for each decision. Returns the number
    /// of bots looked at.
    pub fn decide_each(&mut self, now_ms: i64, mut out: impl FnMut(usize, Decision)) -> usize {
        let market = &self.market;
        for (i, bot) in self.bots.iter_mut().enumerate() {
            if let Some(d) = bot.decide(market, now_ms) {
                out(i, d);
            }
        }
        self.bots.len()
    }

    /// Every decision at `now_ms`.
    pub fn decide(&mut self, now_ms: i64) -> Vec<(usize, Decision)> {
        let mut v = Vec::new();
        self.decide_each(now_ms, |i, d| v.push((i, d)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use smartfolio_core::Portfolio;

    fn bot(market: &mut Market, targets: &str, holdings: &[(&str, Decimal)]) -> LiveBot {
        let t = Targets::parse(targets).unwrap();
        let mut cfg = BotConfig::new("t", targets, "threshold:3", dec!(100)).unwrap();
        cfg.max_tick_age_ms = 60_000;
        let mut state = BotState::new(0);
        state.status = BotStatus::Running;
        let h = holdings.iter().map(|(a, q)| (a.to_string(), *q)).collect();
        LiveBot::new(1, cfg, t, state, h, dec!(100), market)
    }

    #[test]
    fn fast_drift_agrees_with_the_exact_portfolio() {
        let mut m = Market::default();
        let b = bot(
            &mut m,
            "BTC=50,ETH=30,USDT=20",
            &[
                ("BTC", dec!(0.11)),
                ("ETH", dec!(1.14)),
                ("USDT", dec!(2100)),
                ("DOGE", dec!(10)),
            ],
        );
        let prices = [
            ("BTC", dec!(50000)),
            ("ETH", dec!(2500)),
            ("DOGE", dec!(0.1)),
        ];
        for (a, p) in prices {
            m.set_price(a, p, 0);
        }
        let v = b.value_f(&m);
        let fast = b.drift_f(&m, v);
        let exact = Portfolio::new(
            &b.targets,
            "USDT",
            dec!(2100),
            &[
                ("BTC".into(), dec!(0.11)),
                ("ETH".into(), dec!(1.14)),
                ("DOGE".into(), dec!(10)),
            ],
            &prices
                .iter()
                .map(|(a, p)| (a.to_string(), *p))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!((v - 10451.0).abs() < 1e-9);
        assert!((fast.max_abs - exact.drift().max_abs).abs() < 1e-12);
        assert!(fast.max_rel.is_infinite() && exact.drift().max_rel.is_infinite());
        assert_eq!(b.value_exact(&m), Some(exact.value()));
    }

    #[test]
    fn an_order_not_found_yet_is_looked_up_again_after_a_growing_wait_within_its_window() {
        let mut m = Market::default();
        let mut b = bot(
            &mut m,
            "BTC=50,ETH=50",
            &[("BTC", dec!(1)), ("ETH", dec!(1))],
        );
        m.set_price("BTC", dec!(53), 1000);
        m.set_price("ETH", dec!(47), 1000);
        b.unresolved = true;
        // Unresolved: looked up, never traded (the drift fires otherwise).
        assert_eq!(b.decide(&m, 1000), Some(Decision::Reconcile));
        // Not found yet, the window ending at 30 000: 100 ms, then 200, 400 ms…
        let mut now = 1000;
        for delay in [100, 200, 400, 800] {
            b.lookup_later(now, 30_000);
            assert_eq!(b.decide(&m, now + delay - 1), None);
            assert_eq!(b.decide(&m, now + delay), Some(Decision::Reconcile));
            now += delay;
        }
        // … never past the window's end.
        for _ in 0..20 {
            b.lookup_later(now, 30_000);
        }
        assert_eq!(b.lookup_after_ms, 30_000);
        // Any other answer: at the next tick, the backoff from the start.
        b.lookup_now();
        assert_eq!(b.decide(&m, now), Some(Decision::Reconcile));
        b.lookup_later(now, 30_000);
        assert_eq!(b.lookup_after_ms, now + LOOKUP_BACKOFF_MS);
    }

    #[test]
    fn decisions_follow_status_prices_and_trigger() {
        let mut m = Market::default();
        let mut b = bot(
            &mut m,
            "BTC=50,ETH=50",
            &[("BTC", dec!(1)), ("ETH", dec!(1))],
        );
        // Unpriced: suspend with the reason.
        match b.decide(&m, 1000) {
            Some(Decision::Suspend {
                reason,
                breaker: false,
            }) => {
                assert!(reason.contains("no price for BTC"), "{reason}")
            }
            d => panic!("{d:?}"),
        }
        m.set_price("BTC", dec!(100), 1000);
        m.set_price("ETH", dec!(100), 1000);
        assert_eq!(b.decide(&m, 2000), None);
        // 53% against 50% fires (a tie counts).
        m.set_price("BTC", dec!(53), 3000);
        m.set_price("ETH", dec!(47), 3000);
        assert!(
            matches!(b.decide(&m, 3000), Some(Decision::Rebalance(r)) if r.contains("threshold"))
        );
        // Stale ETH.
        m.set_price("BTC", dec!(53), 100_000);
        assert!(
            matches!(b.decide(&m, 100_000), Some(Decision::Suspend { reason, .. }) if reason.contains("stale price: ETH"))
        );
        // Paused bots decide nothing.
        b.state.status = BotStatus::Paused;
        assert_eq!(b.decide(&m, 100_000), None);
    }
}
