//! Limit and maker execution (`[execution] style = "limit" | "maker"`): a leg is *worked*
//! order by order. Each attempt is a limit order at the touch (a buy at the best bid rounded
//! down to the tick, a sell at the best ask rounded up; post-only for maker, one tick away
//! when the touch would cross), stored under a new client id just before it is sent, left
//! resting `limit_timeout` on the bot's [`crate::Clock`] by its round, then canceled if it has
//! not filled. What it filled is applied at once (a partial fill is used as it is); the rest is
//! re-priced at the new touch up to `reprices` times, then sent as a market order or left, per
//! `fallback`. A rest below the venue's minimums is a skipped remainder, never sent. Before
//! each attempt the slippage guard compares the last price with the plan's: beyond
//! `max_slippage_bps` the rebalance places nothing more and says why (the next tick plans
//! again from the ledger).
//!
//! Owns the [`Work`] of a leg, its attempts and its report ([`LegExecution`]); the rebalance
//! around it (sells first, the buys sized on what they delivered) is `execute`'s.

use super::place::{Answer, Placement};
use super::{BotResult, Runtime};
use crate::clock::Clock;
use crate::style::{ExecStyle, ExecutionConfig, Fallback};
use crate::views::{LegExecution, LegOrder, LegReport};
use rust_decimal::Decimal;
use smartfolio_core::Side;
use smartfolio_core::rules::{round_down_to_step, round_up_to_step};
use smartfolio_exchange::{Exchange, ExchangeError, Fill, Order, OrderKind, OrderRequest, reject};
use smartfolio_store::{BotId, NewOrder};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;

use super::legs::{PlannedLeg, buy_quote_amounts};

/// A leg being worked: what it planned, what its orders have done so far.
#[derive(Debug, Clone)]
pub(super) struct Work {
    asset: String,
    side: Side,
    planned: Decimal,
    /// The plan's price (the mid at the decision).
    plan_price: Decimal,
    filled: Decimal,
    /// Σ quantity × price of its fills.
    filled_quote: Decimal,
    fees: Decimal,
    /// The fees paid, by the asset they were paid in.
    fee_assets: BTreeMap<String, Decimal>,
    /// Filled while resting on the book.
    maker: Decimal,
    orders: Vec<LegOrder>,
    /// How many slices the leg is worked in (1 without `max_slice`), and the current one.
    slices: u32,
    slice: u32,
    /// The filled quantity at which the current slice is done (slices are cumulative: what
    /// one leaves is worked by the next).
    slice_end: Decimal,
    /// Limit orders sent in the current slice.
    limits: u32,
    /// Re-prices over the whole leg.
    reprices: u32,
    /// A market order (the style's or the fallback) was sent in the current slice.
    fallback_sent: bool,
    /// The last order was a market buy by quote amount and the venue filled it: it spent its
    /// amount, and the slice is done though the price may have bought less than its rest.
    quote_done: bool,
    /// A wait (ms) before the next order: `slice_interval` between slices.
    wait_ms: i64,
    /// How the slices were sized under `max_volume_share` (the leg's report says it).
    slicing: Option<String>,
}

/// What the venue said of a leg's 24-hour quote volume when the leg started
/// ([`Runtime::leg_volume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LegVolume {
    /// Not asked: no `max_volume_share` (or a leg closed before it is worked).
    NotAsked,
    /// The quote volume of the last 24 hours, above zero.
    Read(Decimal),
    /// Not usable, and why (the read failed, or the venue reports none or 0).
    Missing(String),
}

impl Work {
    pub(super) fn new(l: &PlannedLeg, cfg: &ExecutionConfig, volume: &LegVolume) -> Self {
        let v = match volume {
            LegVolume::Read(v) => Some(*v),
            _ => None,
        };
        let slices = cfg.slices(l.quantity * l.price, v);
        let slicing = match (cfg.max_volume_share, volume) {
            (Some(share), LegVolume::Read(v)) => cfg.volume_cap(Some(*v)).map(|cap| {
                let mut s = format!(
                    "max_volume_share {} of the venue's 24 h volume {} over slice_interval {} ms: at most {} quote a slice",
                    share.normalize(),
                    v.normalize(),
                    cfg.slice_interval_ms,
                    cap.round_dp(8).normalize()
                );
                if let Some(m) = cfg.max_slice.filter(|m| *m < cap) {
                    s.push_str(&format!(" (max_slice {} is smaller)", m.normalize()));
                }
                s
            }),
            (Some(_), LegVolume::Missing(why)) => Some(format!(
                "max_volume_share not applied: {why}; {}",
                match cfg.max_slice {
                    Some(m) => format!("sliced by max_slice {} alone", m.normalize()),
                    None => "worked whole".to_string(),
                }
            )),
            _ => None,
        };
        let mut w = Self {
            asset: l.asset.clone(),
            side: l.side,
            planned: l.quantity,
            plan_price: l.price,
            filled: Decimal::ZERO,
            filled_quote: Decimal::ZERO,
            fees: Decimal::ZERO,
            fee_assets: BTreeMap::new(),
            maker: Decimal::ZERO,
            orders: Vec::new(),
            slices,
            slice: 0,
            slice_end: Decimal::ZERO,
            limits: 0,
            reprices: 0,
            fallback_sent: false,
            quote_done: false,
            wait_ms: 0,
            slicing,
        };
        w.slice_end = w.slice_target();
        w
    }

    /// The cumulative quantity the current slice works up to: an equal share of the plan per
    /// slice, the last one the whole plan.
    fn slice_target(&self) -> Decimal {
        if self.slice + 1 >= self.slices {
            self.planned
        } else {
            self.planned * Decimal::from(self.slice + 1) / Decimal::from(self.slices)
        }
    }

    /// Move on to the next slice, sent `interval_ms` from now; false after the last one.
    fn next_slice(&mut self, interval_ms: i64) -> bool {
        if self.slice + 1 >= self.slices {
            return false;
        }
        self.slice += 1;
        self.slice_end = self.slice_target();
        self.limits = 0;
        self.fallback_sent = false;
        self.quote_done = false;
        self.wait_ms = interval_ms;
        true
    }
}

/// A limit order's price at the touch, rounded to `tick` in the safe direction (a buy down, a
/// sell up); post-only, a price that would cross is moved one tick away from the other side.
pub(super) fn touch_price(
    side: Side,
    bid: Decimal,
    ask: Decimal,
    tick: Option<Decimal>,
    post_only: bool,
) -> Decimal {
    let down = |p: Decimal| tick.map_or(p, |t| round_down_to_step(p, t));
    let up = |p: Decimal| tick.map_or(p, |t| round_up_to_step(p, t));
    let one = tick.unwrap_or(Decimal::ZERO);
    match side {
        Side::Buy => {
            let p = down(bid);
            if post_only && p >= ask {
                down(ask - one).min(p - one)
            } else {
                p
            }
        }
        Side::Sell => {
            let p = up(ask);
            if post_only && p <= bid {
                up(bid + one).max(p + one)
            } else {
                p
            }
        }
    }
}

impl Runtime {
    /// The venue's 24-hour quote volume of `asset` for a worked leg of bot `bi` starting now,
    /// read once (async, as `touch` is) when the bot sets `max_volume_share`. A failed read is
    /// not a venue failure (the breaker does not count it): the leg is worked without the
    /// volume cap and its report says why.
    pub(super) async fn leg_volume(&self, bi: usize, asset: &str) -> LegVolume {
        let c = &self.engine.bots[bi].config;
        if c.execution.max_volume_share.is_none() {
            return LegVolume::NotAsked;
        }
        match self.exchange.volume_24h(asset, &c.quote).await {
            Ok(Some(v)) if v > Decimal::ZERO => LegVolume::Read(v),
            Ok(Some(_)) => {
                LegVolume::Missing(format!("the venue reports no 24 h volume of {asset} (0)"))
            }
            Ok(None) => LegVolume::Missing(format!(
                "the venue does not report a 24 h volume of {asset}"
            )),
            Err(e) => {
                tracing::info!(
                    bot = self.engine.bots[bi].id,
                    "the 24 h volume of {asset} could not be read: {e}"
                );
                LegVolume::Missing(format!("the 24 h volume of {asset} could not be read: {e}"))
            }
        }
    }

    /// The work of worked `legs` of bot `bi` starting now, each with its volume read
    /// ([`Self::leg_volume`]).
    pub(super) async fn start_work(&self, bi: usize, legs: &[PlannedLeg]) -> Vec<Work> {
        let mut out = Vec::with_capacity(legs.len());
        for l in legs {
            let volume = self.leg_volume(bi, &l.asset).await;
            out.push(Work::new(
                l,
                &self.engine.bots[bi].config.execution,
                &volume,
            ));
        }
        out
    }

    /// Whether a rebalance of `kind` by bot `bi` is worked order by order: the bot's style is
    /// limit or maker, or its legs are sliced (`max_slice`), and it is neither a stop nor a
    /// withdrawal (they sell at market, whole).
    pub(super) fn works(&self, bi: usize, kind: &str, goal: Option<Decimal>) -> bool {
        self.engine.bots[bi].config.execution.worked() && kind != "stop" && goal.is_none()
    }

    /// Put `w` back after a wait of `w.wait_ms` on the bot's clock (between slices), on its
    /// own task: the driver records other answers meanwhile.
    fn pause_work(&mut self, id: BotId, mut w: Work) {
        let ms = u64::try_from(std::mem::take(&mut w.wait_ms)).unwrap_or(0);
        let (clock, signal) = (self.clock.clone(), self.exec_signal.clone());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            clock.sleep(ms).await;
            let _ = tx.send(());
            signal.notify_one();
        });
        self.ex_mut(id).pauses.push((w, rx));
    }

    /// The current slice of `w` is done: the next one after `slice_interval`, or the leg's
    /// report (`why` the rest was left, if it was).
    fn end_slice(&mut self, id: BotId, bi: usize, mut w: Work, why: String) -> BotResult<()> {
        let interval = self.engine.bots[bi].config.execution.slice_interval_ms;
        let rules = self.rules.get(&w.asset);
        let left = rules.round_quantity(w.planned - w.filled) > Decimal::ZERO;
        if left && w.next_slice(interval) {
            self.ex_mut(id).work.push_front(w);
            return Ok(());
        }
        self.close_work(id, bi, w, "", why)
    }

    /// Send the next order of `w`, or close it: done, below the minimums, stopped by the
    /// slippage guard, or out of re-prices.
    pub(super) async fn next_attempt(
        &mut self,
        id: BotId,
        bi: usize,
        mut w: Work,
    ) -> BotResult<()> {
        let cfg = self.engine.bots[bi].config.execution.clone();
        let quote = self.engine.bots[bi].config.quote.clone();
        let rules = self.rules.get(&w.asset).clone();
        if let Some(why) = self.executions[&id].stopped.clone() {
            // A leg worked beside the one that stopped the rebalance may have filled meanwhile.
            if w.quote_done || rules.round_quantity(w.planned - w.filled) <= Decimal::ZERO {
                return self.close_work(id, bi, w, "", String::new());
            }
            return self.close_work(id, bi, w, "skipped", why);
        }
        if w.wait_ms > 0 {
            self.pause_work(id, w);
            return Ok(());
        }
        // The venue's touch now (one read; the last tick's price on both sides where the venue
        // does not show one), and its mid: the price the guard and the sizing see.
        let tick_price = self.price(&w.asset, &quote).unwrap_or(w.plan_price);
        let (bid, ask) = match self.exchange.touch(&w.asset, &quote).await {
            Ok(Some(t)) => t,
            // A venue that shows no book: its last price now. The runtime's own is the last
            // tick's, and a live driver holds its ticks while a rebalance is worked: priced
            // and sized on it, a re-price stayed where the market had left and a market
            // fallback could spend more than the bot's cash.
            _ => {
                let now = match self
                    .exchange
                    .tickers(std::slice::from_ref(&w.asset), &quote)
                    .await
                {
                    Ok(t) => t
                        .into_iter()
                        .find(|t| t.base.eq_ignore_ascii_case(&w.asset))
                        .map(|t| t.last)
                        .filter(|p| *p > Decimal::ZERO),
                    Err(_) => None,
                };
                let p = now.unwrap_or(tick_price);
                (p, p)
            }
        };
        let last = (bid + ask) / Decimal::TWO;
        if let Some(guard) = cfg.max_slippage_bps
            && w.plan_price > Decimal::ZERO
        {
            let moved = ((last - w.plan_price) / w.plan_price * Decimal::from(10_000)).abs();
            if moved > guard {
                let why = format!(
                    "not sent: {} moved {} bps from the plan's price {} to {} (max_slippage_bps {}); planned again at the next tick",
                    w.asset,
                    moved.round_dp(2).normalize(),
                    w.plan_price.normalize(),
                    last.normalize(),
                    guard.normalize()
                );
                let ex = self.ex_mut(id);
                ex.stopped = Some(why.clone());
                ex.aborted = true;
                ex.summary.note = Some(why.clone());
                // The buys not sized yet are not sent either: each is reported with the reason.
                let buys: Vec<Work> = ex
                    .buys
                    .drain(..)
                    .map(|l| Work::new(&l, &cfg, &LegVolume::NotAsked))
                    .collect();
                ex.work.extend(buys);
                return self.close_work(id, bi, w, "skipped", why);
            }
        }
        let mut rest = rules.round_quantity(w.slice_end - w.filled);
        if rest <= Decimal::ZERO || w.quote_done {
            return self.end_slice(id, bi, w, String::new());
        }
        if w.side == Side::Buy {
            // Never more than the bot's own cash buys at the last price with the fee, less what
            // the other buys worked beside it may still spend.
            let b = &self.engine.bots[bi];
            let k = Decimal::ONE + b.config.fee_rate + b.config.price_margin;
            let cash = (b.cash() - self.reserved_for_buys(id, k)).max(Decimal::ZERO);
            if last > Decimal::ZERO {
                rest = rest.min(rules.round_quantity(cash / (last * k)));
            }
        }
        if rest <= Decimal::ZERO {
            return self.close_work(id, bi, w, "", String::new());
        }
        if let Some(r) = rules.check(rest, last) {
            // A slice's rest below the minimums is worked by the next slice, if any.
            let why = format!("the rest {} is not sent: {r}", rest.normalize());
            return self.end_slice(id, bi, w, why);
        }
        let maker = cfg.style == ExecStyle::Maker;
        let kind = if cfg.style == ExecStyle::Market {
            if w.fallback_sent {
                return self.end_slice(id, bi, w, String::new());
            }
            OrderKind::Market
        } else if w.limits <= cfg.reprices {
            OrderKind::Limit {
                price: touch_price(w.side, bid, ask, rules.tick_size, maker),
            }
        } else if cfg.fallback == Fallback::Market && !w.fallback_sent {
            OrderKind::Market
        } else {
            let why = format!(
                "the rest {} left after {} re-prices (fallback {})",
                rest.normalize(),
                cfg.reprices,
                cfg.fallback.as_str()
            );
            return self.end_slice(id, bi, w, why);
        };
        let (rb_id, seq, now, leg) = {
            let ex = self.ex_mut(id);
            ex.next_leg += 1;
            (ex.rb_id, ex.seq, ex.now, ex.next_leg - 1)
        };
        // A market buy (the style's or the fallback) spends at most the rest's notional at the
        // price just read, within the bot's cash after fees, whatever the price does before it
        // fills (sized in base, a rise overspent the cash).
        let quote_amount = (kind == OrderKind::Market && w.side == Side::Buy).then(|| {
            let b = &self.engine.bots[bi];
            let leg = PlannedLeg {
                asset: w.asset.clone(),
                side: w.side,
                quantity: rest,
                price: last,
            };
            let k = Decimal::ONE + b.config.fee_rate + b.config.price_margin;
            let cash = b.cash() - self.reserved_for_buys(id, k);
            buy_quote_amounts(&self.rules, b.config.fee_rate, cash, &[leg])[0]
        });
        let o = NewOrder {
            client_id: self.client_id(bi, seq, leg),
            leg: leg as i64,
            base: w.asset.clone(),
            quote,
            side: w.side,
            quantity: rest,
            kind,
            quote_amount,
        };
        // Stored before it is sent: a crash from here on is settled by this client id. It is
        // stored at the time it is sent (a re-price or a slice goes long after the rebalance
        // began): a lookup's "not found" proves nothing until the venue's window after it.
        let sent_at = self.clock.now_ms().max(now);
        self.store
            .add_orders(rb_id, std::slice::from_ref(&o), sent_at)
            .await?;
        let rx = match kind {
            OrderKind::Limit { .. } => {
                if w.limits > 0 {
                    w.reprices += 1;
                }
                w.limits += 1;
                self.start_work_round(bi, &o, maker, cfg.limit_timeout_ms)
            }
            OrderKind::Market => {
                w.fallback_sent = true;
                self.start_leg(bi, &o)
            }
        };
        self.ex_mut(id).in_flight.push(super::execute::Round {
            order: o,
            rx,
            work: Some(w),
        });
        Ok(())
    }

    /// The quote the buys in flight of bot `id`'s execution may still spend, at `k` (one plus
    /// the fee rate and the price margin) per unit of notional: a limit buy its unfilled
    /// quantity at its price, a market buy its quote amount.
    fn reserved_for_buys(&self, id: BotId, k: Decimal) -> Decimal {
        self.executions[&id]
            .in_flight
            .iter()
            .filter(|r| r.order.side == Side::Buy)
            .map(|r| match (r.order.kind, r.order.quote_amount) {
                (OrderKind::Limit { price }, _) => r.order.quantity * price * k,
                (OrderKind::Market, Some(a)) => a * k,
                (OrderKind::Market, None) => Decimal::ZERO,
            })
            .sum()
    }

    pub(super) fn ex_mut(&mut self, id: BotId) -> &mut super::execute::Execution {
        self.executions
            .get_mut(&id)
            .expect("the execution is registered")
    }

    /// Record the answer of one of `w`'s orders, and put `w` back to be worked on (or stop
    /// the rebalance after a venue failure, as a market leg does).
    pub(super) async fn work_answer(
        &mut self,
        id: BotId,
        bi: usize,
        o: NewOrder,
        answer: Answer,
        mut w: Work,
    ) -> BotResult<()> {
        let (quote, maker) = match &answer.placement {
            Placement::Placed(order) => (order.filled_quote, maker_quantity(order, &answer)),
            Placement::Closed(fills) => (
                fills.iter().map(|f| f.quantity * f.price).sum(),
                Decimal::ZERO,
            ),
            _ => (Decimal::ZERO, Decimal::ZERO),
        };
        let wc = matches!(&answer.placement, Placement::Rejected { code, .. } if code == reject::WOULD_TAKE);
        let fills: &[Fill] = match &answer.placement {
            Placement::Placed(_) => answer.fills.as_deref().unwrap_or_default(),
            Placement::Closed(fills) => fills,
            _ => &[],
        };
        for f in fills.iter().filter(|f| f.fee != Decimal::ZERO) {
            *w.fee_assets.entry(f.fee_asset.clone()).or_default() += f.fee;
        }
        let now = self.executions[&id].now;
        let leg = self.record_leg(bi, &o, answer, now).await?;
        let seq = self.executions[&id].seq;
        self.order_event(bi, seq, &o, &leg);
        w.filled += leg.filled_quantity;
        w.quote_done = o.quote_amount.is_some() && leg.outcome == "filled";
        w.filled_quote += quote;
        w.fees += leg.fees;
        w.maker += maker;
        w.orders.push(LegOrder {
            client_id: o.client_id.clone(),
            kind: match (o.kind, self.engine.bots[bi].config.execution.style) {
                (OrderKind::Limit { price }, ExecStyle::Maker) => {
                    format!("limit {} post-only", price.normalize())
                }
                (k, _) => k.to_string(),
            },
            quantity: o.quantity,
            filled_quantity: leg.filled_quantity,
            outcome: leg.outcome.clone(),
        });
        match leg.outcome.as_str() {
            "failed" | "unknown" => {
                let why = "not sent: the rebalance stopped after a venue failure".to_string();
                let ex = self.ex_mut(id);
                ex.aborted = true;
                ex.stopped = Some(why);
                self.close_work(id, bi, w, &leg.outcome, leg.detail)
            }
            "rejected" if !self.trading(&o.base) => {
                let why = format!("not sent: {} does not trade on the venue now", o.base);
                let ex = self.ex_mut(id);
                ex.aborted = true;
                ex.halted = true;
                ex.stopped = Some(why);
                self.close_work(id, bi, w, "rejected", leg.detail)
            }
            // A post-only order the touch had moved onto: re-priced like an unfilled one.
            "rejected" if !wc => self.close_work(id, bi, w, "rejected", leg.detail),
            _ => {
                self.ex_mut(id).work.push_front(w);
                Ok(())
            }
        }
    }

    /// The leg's report, added to the summary: `outcome` as given, else filled, partial or
    /// skipped by what filled.
    fn close_work(
        &mut self,
        id: BotId,
        bi: usize,
        w: Work,
        outcome: &str,
        detail: String,
    ) -> BotResult<()> {
        let outcome = match outcome {
            "" if w.filled >= w.planned || w.quote_done => "filled",
            "" | "skipped" if w.filled > Decimal::ZERO => "partial",
            "" => "skipped",
            o => o,
        }
        .to_string();
        let average = (w.filled > Decimal::ZERO).then(|| w.filled_quote / w.filled);
        let slippage = average.filter(|_| w.plan_price > Decimal::ZERO).map(|a| {
            let d = (a - w.plan_price) / w.plan_price * Decimal::from(10_000);
            match w.side {
                Side::Buy => d,
                Side::Sell => -d,
            }
            .round_dp(4)
        });
        let style = self.engine.bots[bi].config.execution.style;
        let detail = if detail.is_empty() {
            format!(
                "{} order(s), {} filled of {}",
                w.orders.len(),
                w.filled.normalize(),
                w.planned.normalize()
            )
        } else {
            detail
        };
        let leg = LegReport {
            asset: w.asset,
            side: w.side.as_str().into(),
            planned_quantity: w.planned,
            filled_quantity: w.filled,
            outcome,
            detail,
            client_id: w.orders.last().map(|o| o.client_id.clone()),
            fees: w.fees,
            execution: Some(LegExecution {
                style: style.as_str().into(),
                reprices: w.reprices,
                slices: w.slice + 1,
                slicing: w.slicing,
                fees: w.fee_assets,
                plan_price: w.plan_price,
                average_price: average.map(|a| a.round_dp(12)),
                slippage_bps: slippage,
                maker_share: if w.filled > Decimal::ZERO {
                    (w.maker / w.filled).round_dp(6)
                } else {
                    Decimal::ZERO
                },
                orders: w.orders,
            }),
        };
        self.ex_mut(id).summary.legs.push(leg);
        Ok(())
    }

    /// Start one limit attempt's round on its own task: place, rest `timeout_ms` on the clock,
    /// cancel what has not filled, and answer with the order as it ended and its fills.
    fn start_work_round(
        &self,
        bi: usize,
        o: &NewOrder,
        post_only: bool,
        timeout_ms: i64,
    ) -> oneshot::Receiver<Answer> {
        let OrderKind::Limit { price } = o.kind else {
            return self.start_leg(bi, o);
        };
        let mut req = OrderRequest::limit(
            o.client_id.clone(),
            o.base.clone(),
            o.quote.clone(),
            o.side,
            o.quantity,
            price,
        );
        req.post_only = post_only;
        let (retries, backoff) = {
            let c = &self.engine.bots[bi].config;
            (c.max_retries, c.retry_backoff_ms)
        };
        let io = self.io.clone();
        let (exchange, clock) = (self.exchange.clone(), self.clock.clone());
        let signal = self.exec_signal.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let placement = io.place_request(&req, retries, backoff).await;
            let answer = match placement {
                Placement::Placed(order) if !order.status.is_final() => {
                    clock.sleep(u64::try_from(timeout_ms).unwrap_or(0)).await;
                    let placement = cancel_rest(&exchange, &clock, &io, &order).await;
                    let fills = match &placement {
                        Placement::Placed(order) => io.order_fills(order).await,
                        _ => None,
                    };
                    Answer { placement, fills }
                }
                Placement::Placed(order) => {
                    let fills = io.order_fills(&order).await;
                    Answer {
                        placement: Placement::Placed(order),
                        fills,
                    }
                }
                other => Answer {
                    placement: other,
                    fills: None,
                },
            };
            let _ = tx.send(answer);
            signal.notify_one();
        });
        rx
    }
}

/// Cancel what rests of `order`; an order that ended meanwhile (filled) is taken as it ended.
async fn cancel_rest(
    exchange: &Arc<dyn Exchange>,
    clock: &Arc<dyn Clock>,
    io: &super::place::VenueIo,
    order: &Order,
) -> Placement {
    // Whether the last cancel was refused by the venue's rate limit.
    let mut limited = false;
    for _ in 0..3 {
        match exchange
            .cancel_order(&order.base, &order.quote, &order.client_id)
            .await
        {
            Ok(o) => return Placement::Placed(o),
            // Binance answers a cancel of an order that has just filled with -2011 "Unknown
            // order sent." (unknown_order): either way the order is no longer open, and the
            // lookup by client id below says how it ended.
            Err(ExchangeError::Rejected { code, .. })
                if code == reject::ORDER_NOT_OPEN || code == reject::UNKNOWN_ORDER =>
            {
                break;
            }
            Err(e) if e.is_retryable() => {
                limited = matches!(e, ExchangeError::RateLimited { .. });
                clock.sleep(e.retry_after_ms().unwrap_or(100)).await;
            }
            Err(e) => {
                return Placement::Unknown(format!(
                    "cancel of resting order {} failed: {e}",
                    order.client_id
                ));
            }
        }
    }
    match io
        .settle_order(
            &order.base,
            &order.quote,
            &order.client_id,
            order.created_ms,
        )
        .await
    {
        Ok(smartfolio_exchange::Settled::Found(o)) if o.status.is_final() => Placement::Placed(o),
        Ok(smartfolio_exchange::Settled::Closed { fills }) => Placement::Closed(fills),
        Ok(_) if limited => Placement::Deferred(format!(
            "resting order {} could not be canceled: the venue rate-limited the cancels",
            order.client_id
        )),
        Ok(_) => Placement::Unknown(format!(
            "resting order {} could not be canceled; looked up again on reconciliation",
            order.client_id
        )),
        Err(e) => super::place::unresolved(order.client_id.clone(), &e),
    }
}

/// The quantity of `order` filled while it rested (maker): all of it for a post-only order,
/// none for a market order, and for a limit order the fills after its placement.
fn maker_quantity(order: &Order, answer: &Answer) -> Decimal {
    match order.kind {
        OrderKind::Market => Decimal::ZERO,
        OrderKind::Limit { .. } if order.post_only => order.filled_quantity,
        OrderKind::Limit { .. } => answer
            .fills
            .iter()
            .flatten()
            .filter(|f| f.time_ms > order.created_ms)
            .map(|f| f.quantity)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_touch_price_rounds_to_the_tick_the_safe_way_and_post_only_keeps_off_the_other_side() {
        let t = Some(dec!(0.01));
        assert_eq!(
            touch_price(Side::Buy, dec!(99.987), dec!(100.013), t, false),
            dec!(99.98)
        );
        assert_eq!(
            touch_price(Side::Sell, dec!(99.987), dec!(100.013), t, false),
            dec!(100.02)
        );
        // A one-price touch (a venue without a book ticker): post-only a tick away.
        assert_eq!(
            touch_price(Side::Buy, dec!(100), dec!(100), t, true),
            dec!(99.99)
        );
        assert_eq!(
            touch_price(Side::Sell, dec!(100), dec!(100), t, true),
            dec!(100.01)
        );
        assert_eq!(
            touch_price(Side::Buy, dec!(100), dec!(100), t, false),
            dec!(100)
        );
        assert_eq!(
            touch_price(Side::Buy, dec!(5), dec!(5.1), None, true),
            dec!(5)
        );
    }
}
