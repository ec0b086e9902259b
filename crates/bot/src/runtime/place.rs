//! Placement (step 2 of the crash-safety protocol in the [module documentation](super)): one
//! stored order sent under its client id, bounded retries of the same id for failures before
//! acceptance, waiting through the [`crate::Clock`] (never a busy loop), and the venue's answer and
//! fills recorded in one store transaction.
//!
//! A placement runs as a *round* on its own task ([`Runtime::start_leg`]): the venue calls, the
//! retries' backoff and a rate limit's `retry_after` are awaited there, never in a tick or a
//! command of another bot. The round's answer ([`Placement`]) comes back on a channel and is
//! recorded by the runtime (the single writer of the store, [`Runtime::record_leg`]).
//!
//! An order whose outcome is unknown is settled by looking it up
//! ([`smartfolio_exchange::settle`]), never re-sent.

use super::{BotResult, MAX_INLINE_WAIT_MS, Runtime};
use crate::clock::Clock;
use crate::events::EventKind;
use crate::views::LegReport;
use rust_decimal::Decimal;
use smartfolio_exchange::settle::{Settled, settle};
use smartfolio_exchange::{
    Exchange, ExchangeError, Fill, Order, OrderKind, OrderRequest, OrderSize, OrderStatus, Side,
    reject,
};
use smartfolio_store::{NewOrder, OrderRecord, OrderState, OrderUpdate};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::oneshot;

/// How a stored order is sized at the venue: a market buy stored with a quote amount spends
/// that much quote; any other order trades its base quantity.
pub(super) fn order_size(o: &NewOrder) -> OrderSize {
    match (o.kind, o.side, o.quote_amount) {
        (OrderKind::Market, Side::Buy, Some(a)) => OrderSize::Quote(a),
        _ => OrderSize::Base(o.quantity),
    }
}

/// What a placement round found out.
// One per order placed, never stored: not worth a box.
#[allow(clippy::large_enum_variant)]
pub(super) enum Placement {
    Placed(Order),
    /// The venue no longer finds the order by id and it is not open, but it ran: its fills.
    Closed(Vec<Fill>),
    /// Refused by the venue: its reject code (`smartfolio_exchange::reject`) and what it said.
    Rejected {
        code: String,
        detail: String,
    },
    NotSent(String),
    /// Not sent because the venue's rate limit had not lifted (its own or the connector's
    /// count of it): never a failure of the venue, so not counted towards the breaker.
    Limited(String),
    Unknown(String),
    /// Its outcome is unknown because the venue rate-limited the lookup: followed on
    /// reconciliation, and never counted as a failure of the venue.
    Deferred(String),
    /// Acknowledged by the venue but not visible to a lookup yet: followed on later ticks.
    Acknowledged(String),
}

/// A placement round's answer: what it found out, and for an order found, its fills as read on
/// the round (None when they could not be read: the order is looked up again).
pub(super) struct Answer {
    pub(super) placement: Placement,
    pub(super) fills: Option<Vec<Fill>>,
}

/// What a lookup round found about one stored order: how it settled, and for an order found,
/// its fills (None when they could not be read).
pub(super) struct Looked {
    pub(super) settled: Result<Settled, ExchangeError>,
    pub(super) fills: Option<Vec<Fill>>,
}

/// What a placement round needs, cloned onto its task: the venue, the clock, and the time
/// before which nothing is sent (the venue rate-limited the account until then; shared by every
/// bot and round of the account).
#[derive(Clone)]
pub(super) struct VenueIo {
    exchange: Arc<dyn Exchange>,
    clock: Arc<dyn Clock>,
    quiet_until_ms: Arc<AtomicI64>,
}

impl VenueIo {
    pub(super) fn new(exchange: Arc<dyn Exchange>, clock: Arc<dyn Clock>) -> Self {
        Self {
            exchange,
            clock,
            quiet_until_ms: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Until when the venue's rate limit holds every order back, when that is longer than a
    /// placement waits inline ([`MAX_INLINE_WAIT_MS`]) from `now`: nothing sent before then
    /// would be sent at all.
    pub(super) fn held_back_until(&self, now: i64) -> Option<i64> {
        let until = self.quiet_until_ms.load(Ordering::SeqCst);
        let inline = i64::try_from(MAX_INLINE_WAIT_MS).unwrap_or(i64::MAX);
        (until.saturating_sub(now) > inline).then_some(until)
    }
}

impl Runtime {
    /// Start the placement round of one stored order on its own task. Its answer arrives on
    /// the returned channel, and the runtime's signal is notified then.
    pub(super) fn start_leg(&self, bi: usize, o: &NewOrder) -> oneshot::Receiver<Answer> {
        let req = OrderRequest {
            kind: o.kind,
            ..OrderRequest::market(
                o.client_id.clone(),
                o.base.clone(),
                o.quote.clone(),
                o.side,
                order_size(o),
            )
        };
        let (retries, backoff) = {
            let c = &self.engine.bots[bi].config;
            (c.max_retries, c.retry_backoff_ms)
        };
        let io = self.io.clone();
        let signal = self.exec_signal.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let placement = io.place_request(&req, retries, backoff).await;
            let fills = match &placement {
                Placement::Placed(order) => io.order_fills(order).await,
                _ => None,
            };
            // The runtime may be gone (shut down): the order is then settled on recovery.
            let _ = tx.send(Answer { placement, fills });
            signal.notify_one();
        });
        rx
    }

    /// Record what a placement round found out about the stored order `o`.
    pub(super) async fn record_leg(
        &mut self,
        bi: usize,
        o: &NewOrder,
        answer: Answer,
        now: i64,
    ) -> BotResult<LegReport> {
        let Answer { placement, fills } = answer;
        let mut leg = LegReport {
            asset: o.base.clone(),
            side: o.side.as_str().into(),
            planned_quantity: o.quantity,
            filled_quantity: Decimal::ZERO,
            outcome: String::new(),
            detail: String::new(),
            client_id: Some(o.client_id.clone()),
            fees: Decimal::ZERO,
            execution: None,
        };
        match placement {
            Placement::Placed(order) => {
                self.venue_ok(bi);
                let (final_, fills) = self
                    .record_venue_order_fills(bi, &order, fills, now)
                    .await?;
                leg.filled_quantity = order.filled_quantity;
                leg.fees = self.fees_value(&fills).await;
                leg.outcome = if !final_ {
                    "unknown".into()
                } else if order.fully_filled() || order.status == OrderStatus::Filled {
                    "filled".into()
                } else if order.filled_quantity > Decimal::ZERO {
                    "partial".into()
                } else {
                    "skipped".into()
                };
                leg.detail = format!("venue order {} {:?}", order.venue_id, order.status);
            }
            Placement::Closed(fills) => {
                self.venue_ok(bi);
                let size = order_size(o);
                let (filled, done) = self
                    .record_closed_order(bi, &o.client_id, size, &fills, now)
                    .await?;
                leg.filled_quantity = filled;
                leg.fees = self.fees_value(&fills).await;
                leg.outcome = if done {
                    "filled".into()
                } else {
                    "partial".into()
                };
                leg.detail = "closed at the venue; settled from its fills".into();
            }
            Placement::Rejected { code, detail: msg } => {
                self.venue_ok(bi);
                if code == reject::NOT_TRADING {
                    // The venue says the instrument does not trade now: take it as halted at
                    // once rather than at the next read of the statuses.
                    self.mark_not_trading(&o.base);
                }
                self.store
                    .update_order(&OrderUpdate {
                        client_id: o.client_id.clone(),
                        status: OrderState::Rejected,
                        venue_order_id: None,
                        filled_quantity: Decimal::ZERO,
                        error: Some(msg.clone()),
                        time_ms: now,
                    })
                    .await?;
                leg.outcome = "rejected".into();
                leg.detail = msg;
            }
            Placement::NotSent(msg) => {
                self.venue_failed(bi, &msg);
                self.mark_not_sent(&o.client_id, &msg, now).await?;
                leg.outcome = "failed".into();
                leg.detail = msg;
            }
            Placement::Limited(msg) => {
                // The venue asked us to wait: the rest is planned again once it lets us send.
                self.mark_not_sent(&o.client_id, &msg, now).await?;
                leg.outcome = "failed".into();
                leg.detail = msg;
            }
            Placement::Unknown(msg) => {
                self.venue_failed(bi, &msg);
                self.engine.bots[bi].unresolved = true;
                leg.outcome = "unknown".into();
                leg.detail = format!("{msg}; looked up again on reconciliation");
            }
            Placement::Deferred(msg) => {
                self.engine.bots[bi].unresolved = true;
                leg.outcome = "unknown".into();
                leg.detail = format!("{msg}; looked up again on reconciliation");
            }
            Placement::Acknowledged(msg) => {
                // The venue took it: no failure, just not visible yet.
                self.venue_ok(bi);
                self.engine.bots[bi].unresolved = true;
                leg.outcome = "unknown".into();
                leg.detail = format!("{msg}; followed on reconciliation");
            }
        }
        Ok(leg)
    }

    /// Record that the stored order `client_id` never reached the venue (final, nothing filled),
    /// and why.
    pub(super) async fn mark_not_sent(
        &self,
        client_id: &str,
        why: &str,
        now: i64,
    ) -> BotResult<()> {
        self.store
            .update_order(&OrderUpdate {
                client_id: client_id.to_string(),
                status: OrderState::NotSent,
                venue_order_id: None,
                filled_quantity: Decimal::ZERO,
                error: Some(why.to_string()),
                time_ms: now,
            })
            .await?;
        Ok(())
    }

    pub(super) fn venue_ok(&mut self, bi: usize) {
        let s = &mut self.engine.bots[bi].state;
        s.consecutive_failures = 0;
    }

    pub(super) fn venue_failed(&mut self, bi: usize, msg: &str) {
        let s = &mut self.engine.bots[bi].state;
        s.consecutive_failures += 1;
        s.last_failure = Some(msg.to_string());
    }

    /// Record an order found at the venue with its fills as read ([`VenueIo::order_fills`]).
    /// Returns whether the order is final.
    pub(super) async fn record_venue_order(
        &mut self,
        bi: usize,
        order: &Order,
        fills: Option<Vec<Fill>>,
        now: i64,
    ) -> BotResult<bool> {
        Ok(self
            .record_venue_order_fills(bi, order, fills, now)
            .await?
            .0)
    }

    /// Apply an order's fills with its status (one store transaction). Returns whether the
    /// order is final, and the newly applied fills. Without fills (they could not be read), the
    /// order stays pending and is looked up again.
    async fn record_venue_order_fills(
        &mut self,
        bi: usize,
        order: &Order,
        fills: Option<Vec<Fill>>,
        now: i64,
    ) -> BotResult<(bool, Vec<Fill>)> {
        let Some(fills) = fills else {
            self.engine.bots[bi].unresolved = true;
            return Ok((false, vec![]));
        };
        let update = OrderUpdate {
            client_id: order.client_id.clone(),
            status: OrderState::from_venue(order.status),
            venue_order_id: Some(order.venue_id.clone()),
            filled_quantity: order.filled_quantity,
            error: None,
            time_ms: now,
        };
        self.apply_order_fills(bi, &update, &fills).await
    }

    /// Record an order the venue settled from its fills only ([`Settled::Closed`]): it is over,
    /// filled if the fills reach its `size` (see [`Self::size_done`]), else canceled with what
    /// filled. Returns the quantity filled, and whether it filled.
    pub(super) async fn record_closed_order(
        &mut self,
        bi: usize,
        client_id: &str,
        size: OrderSize,
        fills: &[Fill],
        now: i64,
    ) -> BotResult<(Decimal, bool)> {
        let filled: Decimal = fills.iter().map(|f| f.quantity).sum();
        let filled_quote: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
        let base = fills.first().map(|f| f.base.as_str()).unwrap_or_default();
        let done = self.size_done(base, size, filled, filled_quote);
        let update = OrderUpdate {
            client_id: client_id.to_string(),
            status: if done {
                OrderState::Filled
            } else {
                OrderState::Canceled
            },
            venue_order_id: fills.first().map(|f| f.venue_order_id.clone()),
            filled_quantity: filled,
            error: None,
            time_ms: now,
        };
        self.apply_order_fills(bi, &update, fills).await?;
        Ok((filled, done))
    }

    /// Whether fills of `filled` base for `filled_quote` complete an order of `size` of
    /// `base`: in base, reaching it; in quote, reaching it or leaving less than the rest buys
    /// at the fills' average price once rounded to the lot step (a venue rounds a quote buy's
    /// quantity down to the lot, so its fills stop just short of the amount).
    pub(super) fn size_done(
        &self,
        base: &str,
        size: OrderSize,
        filled: Decimal,
        filled_quote: Decimal,
    ) -> bool {
        match size {
            OrderSize::Base(q) => filled >= q,
            OrderSize::Quote(a) if filled_quote >= a => true,
            OrderSize::Quote(_) if filled.is_zero() => false,
            OrderSize::Quote(a) => {
                let rules = self.rules.get(base);
                rules.lot_step.is_some()
                    && rules
                        .round_quantity((a - filled_quote) * filled / filled_quote)
                        .is_zero()
            }
        }
    }

    /// Apply an order's status and fills in one store transaction, and the ledger they imply to
    /// the bot in memory. Returns whether the order is final, and the newly applied fills.
    async fn apply_order_fills(
        &mut self,
        bi: usize,
        update: &OrderUpdate,
        fills: &[Fill],
    ) -> BotResult<(bool, Vec<Fill>)> {
        let applied = self.store.apply_fills(update, fills).await?;
        for f in &applied.new_fills {
            self.record(bi, EventKind::Fill(f.clone()));
        }
        let bot = &mut self.engine.bots[bi];
        for (asset, delta) in &applied.ledger {
            *bot.holdings.entry(asset.clone()).or_default() += *delta;
        }
        bot.holdings
            .retain(|a, q| !q.is_zero() || *a == bot.config.quote);
        if !update.status.is_final() {
            bot.unresolved = true;
        }
        bot.rebuild(&mut self.engine.market);
        Ok((update.status.is_final(), applied.new_fills))
    }

    /// The fees of `fills` valued in their quote (see [`Self::fee_value`]).
    async fn fees_value(&self, fills: &[Fill]) -> Decimal {
        let mut total = Decimal::ZERO;
        for f in fills {
            total += self
                .fee_value(&f.fill_id, f.fee, &f.fee_asset, &f.base, &f.quote, f.price)
                .await;
        }
        total
    }
}

impl VenueIo {
    /// An order's fills (by the venue's id for the order as found: no second lookup), trying a
    /// failed read up to three times; None when they cannot be read.
    pub(super) async fn order_fills(&self, order: &Order) -> Option<Vec<Fill>> {
        for _ in 0..3 {
            match self.exchange.fills_of_order(order).await {
                Ok(f) => return Some(f),
                Err(e) if e.is_retryable() => continue,
                Err(e) => {
                    tracing::warn!(client_id = %order.client_id, "fills: {e}");
                    return None;
                }
            }
        }
        None
    }

    /// Settle each of `orders` by client id, with the fills of those found (a lookup round).
    pub(super) async fn look_up(&self, orders: &[OrderRecord]) -> Vec<Looked> {
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            let settled = self
                .settle_order(&o.base, &o.quote, &o.client_id, o.created_ms)
                .await;
            // A limit order still resting belongs to no execution any more (a restart, or an
            // unknown outcome): it is canceled, and what it filled is applied.
            let settled = match settled {
                Ok(Settled::Found(order))
                    if !order.status.is_final()
                        && matches!(order.kind, smartfolio_exchange::OrderKind::Limit { .. }) =>
                {
                    match self
                        .exchange
                        .cancel_order(&order.base, &order.quote, &order.client_id)
                        .await
                    {
                        Ok(canceled) => Ok(Settled::Found(canceled)),
                        Err(_) => {
                            self.settle_order(&o.base, &o.quote, &o.client_id, o.created_ms)
                                .await
                        }
                    }
                }
                other => other,
            };
            let fills = match &settled {
                Ok(Settled::Found(order)) => self.order_fills(order).await,
                _ => None,
            };
            out.push(Looked { settled, fills });
        }
        out
    }

    /// Settle an order by client id through the venue's lookup policy
    /// ([`smartfolio_exchange::settle`]), trying a failed read up to three times. `sent_ms` is
    /// when it was stored (it was sent after that). A rate limit is waited out through the
    /// clock when short (as a placement's is), else not at all: `RateLimited` with the time
    /// left, which the caller takes as "look again then", never as a failure of the venue.
    pub(super) async fn settle_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
        sent_ms: i64,
    ) -> Result<Settled, ExchangeError> {
        let mut last = None;
        for _ in 0..3 {
            let now = self.clock.now_ms();
            match settle(self.exchange.as_ref(), base, quote, client_id, sent_ms, now).await {
                Ok(s) => return Ok(s),
                Err(e @ ExchangeError::RateLimited { retry_after_ms }) => {
                    let until =
                        now.saturating_add(i64::try_from(retry_after_ms).unwrap_or(i64::MAX));
                    self.quiet_until_ms.fetch_max(until, Ordering::SeqCst);
                    if let Err(until) = self.wait_for_venue().await {
                        let left = until.saturating_sub(self.clock.now_ms()).max(1);
                        return Err(ExchangeError::RateLimited {
                            retry_after_ms: u64::try_from(left).unwrap_or(u64::MAX),
                        });
                    }
                    last = Some(e);
                }
                Err(e) if e.is_retryable() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ExchangeError::Transient("lookup failed".into())))
    }

    /// Wait until the venue's rate limit allows a request: through the clock when the wait is
    /// short, else not at all (`Err` with the time it lifts).
    async fn wait_for_venue(&self) -> Result<(), i64> {
        let until = self.quiet_until_ms.load(Ordering::SeqCst);
        let now = self.clock.now_ms();
        if now >= until {
            return Ok(());
        }
        let wait = u64::try_from(until - now).unwrap_or(u64::MAX);
        if wait > MAX_INLINE_WAIT_MS {
            return Err(until);
        }
        self.clock.sleep(wait).await;
        Ok(())
    }

    /// Place with bounded retries of the same client id for failures before acceptance
    /// (`Transient`, `RateLimited`), waiting through the clock: the backoff, or the venue's
    /// `retry_after`. The venue's acknowledgement is followed by a lookup of the order. An
    /// order whose outcome is unknown is settled by [`Self::settle_order`], never re-sent.
    pub(super) async fn place_request(
        &self,
        req: &OrderRequest,
        retries: u32,
        backoff_ms: u64,
    ) -> Placement {
        let mut delay = backoff_ms;
        let mut last = String::new();
        // Whether the last refusal was the venue's rate limit.
        let mut limited = false;
        let mut first_sent = None;
        let mut backoff = false;
        for _ in 0..=retries {
            if backoff {
                self.clock.sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            if let Err(until) = self.wait_for_venue().await {
                let why = format!(
                    "the venue rate-limited requests until {until} (ms); not sent before then"
                );
                return match first_sent {
                    None => Placement::Limited(why),
                    Some(sent) => self.settle_refused(req, sent, &why, true).await,
                };
            }
            let sent = self.clock.now_ms();
            first_sent.get_or_insert(sent);
            match self.exchange.place_order(req).await {
                Ok(ack) => {
                    return match self
                        .settle_order(&req.base, &req.quote, &req.client_id, sent)
                        .await
                    {
                        Ok(Settled::Found(o)) => Placement::Placed(o),
                        Ok(Settled::Closed { fills }) => Placement::Closed(fills),
                        Ok(Settled::Wait { .. } | Settled::Absent) => {
                            Placement::Acknowledged(format!(
                                "acknowledged as venue order {} but not found yet",
                                ack.venue_id
                            ))
                        }
                        Err(e) => unresolved(
                            format!(
                                "acknowledged as venue order {}; lookup failed",
                                ack.venue_id
                            ),
                            &e,
                        ),
                    };
                }
                Err(ExchangeError::Rejected { code, message }) => {
                    if code == reject::DUPLICATE_CLIENT_ID {
                        // An earlier attempt got through after all: take that order.
                        return match self
                            .settle_order(&req.base, &req.quote, &req.client_id, sent)
                            .await
                        {
                            Ok(Settled::Found(o)) => Placement::Placed(o),
                            Ok(Settled::Closed { fills }) => Placement::Closed(fills),
                            Ok(_) => Placement::Unknown(format!(
                                "{code}: {message}; the venue has the id but does not show the order yet"
                            )),
                            Err(e) => unresolved(format!("{code}: {message}; lookup failed"), &e),
                        };
                    }
                    let detail = format!("{code}: {message}");
                    return Placement::Rejected { code, detail };
                }
                Err(ExchangeError::RateLimited { retry_after_ms }) => {
                    last = format!("rate limited (retry after {retry_after_ms} ms)");
                    limited = true;
                    let until =
                        sent.saturating_add(i64::try_from(retry_after_ms).unwrap_or(i64::MAX));
                    self.quiet_until_ms.fetch_max(until, Ordering::SeqCst);
                    backoff = false;
                }
                Err(e @ ExchangeError::Transient(_)) => {
                    last = e.to_string();
                    limited = false;
                    backoff = true;
                }
                Err(e @ ExchangeError::UnknownOutcome(_)) => {
                    return match self
                        .settle_order(&req.base, &req.quote, &req.client_id, sent)
                        .await
                    {
                        Ok(Settled::Found(o)) => Placement::Placed(o),
                        Ok(Settled::Closed { fills }) => Placement::Closed(fills),
                        Ok(Settled::Absent) => Placement::NotSent(format!(
                            "{e}; the venue has no such order, open or filled"
                        )),
                        Ok(Settled::Wait { until_ms }) => Placement::Unknown(format!(
                            "{e}; not found yet, looked up again after {until_ms}"
                        )),
                        Err(e2) => unresolved(format!("{e}; lookup failed"), &e2),
                    };
                }
            }
        }
        let why = format!("gave up after {} attempts: {last}", retries + 1);
        match first_sent {
            Some(sent) => self.settle_refused(req, sent, &why, limited).await,
            None if limited => Placement::Limited(why),
            None => Placement::NotSent(why),
        }
    }

    /// Every attempt was refused before acceptance (`limited`: the last by the venue's rate
    /// limit): make sure the venue really does not have the order before calling it not sent.
    async fn settle_refused(
        &self,
        req: &OrderRequest,
        sent: i64,
        why: &str,
        limited: bool,
    ) -> Placement {
        match self
            .settle_order(&req.base, &req.quote, &req.client_id, sent)
            .await
        {
            Ok(Settled::Found(o)) => Placement::Placed(o),
            Ok(Settled::Closed { fills }) => Placement::Closed(fills),
            Ok(Settled::Wait { .. } | Settled::Absent) if limited => {
                Placement::Limited(why.to_string())
            }
            Ok(Settled::Wait { .. } | Settled::Absent) => Placement::NotSent(why.to_string()),
            Err(e) => unresolved(format!("{why}; lookup failed"), &e),
        }
    }
}

/// An order whose lookup failed with `e` (`what` happened before): unknown, and a failure of
/// the venue unless the venue only asked us to wait ([`Placement::Deferred`]).
pub(super) fn unresolved(what: String, e: &ExchangeError) -> Placement {
    match e {
        ExchangeError::RateLimited { .. } => Placement::Deferred(format!("{what}: {e}")),
        _ => Placement::Unknown(format!("{what}: {e}")),
    }
}
