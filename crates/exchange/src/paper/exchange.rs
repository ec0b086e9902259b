//! [`PaperExchange`]: the [`Exchange`] implementation.

use super::config::PaperConfig;
use super::state::{State, Txn};
use super::{PaperAccount, PaperChange, PaperPersistence};
use crate::{
    Balance, Exchange, ExchangeError, Fill, Instrument, InstrumentStatus, Order, OrderKind,
    OrderRequest, OrderStatus, PriceTick, Side, Ticker, reject,
};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_core::targets::normalize_symbol;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// The longest client order id accepted (Binance allows 36, OKX 32; the runtime's ids are short).
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// The largest order notional and balance the paper exchange accepts (1e20), so that sums of
/// amounts stay far from `Decimal`'s range.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0x6310_0000, 0x6bc7_5e2d, 0x5, false, 0);

/// A failure injected into the next calls, so the runtime's retries, unknown outcomes and
/// circuit breaker can be tested. Faults are not persisted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// The next call of any [`Exchange`] method fails with this error and has no effect.
    FailNext(ExchangeError),
    /// The next `n` calls of any [`Exchange`] method fail with this error, without effect.
    FailTimes(u32, ExchangeError),
    /// Every call of an [`Exchange`] method fails (a venue outage) until the fault is replaced.
    FailAlways(ExchangeError),
    /// The next `place_order` fails with this error without effect; other calls work.
    FailNextOrder(ExchangeError),
    /// The next `place_order` takes full effect (persisted, filled if it fills), then reports
    /// [`ExchangeError::UnknownOutcome`], as after a timeout on a request the venue did execute.
    UnknownOutcomeAfterApply,
    /// The next `place_order` is rejected with [`reject::INVALID`] without effect.
    RejectNext,
}

enum FaultAction {
    Proceed,
    Fail(ExchangeError),
    Reject,
    UnknownAfterApply,
}

struct Inner {
    state: State,
    /// Last price and its time per base asset (against the configured quote).
    prices: HashMap<String, (Decimal, i64)>,
    /// Market time: the time of the last tick.
    now_ms: i64,
}

/// A venue in-process: see the [module documentation](super) for its rules.
pub struct PaperExchange {
    config: PaperConfig,
    persistence: Arc<dyn PaperPersistence>,
    inner: tokio::sync::Mutex<Inner>,
    /// Instruments by base asset (statuses change at runtime).
    instruments: RwLock<BTreeMap<String, Instrument>>,
    fault: Mutex<Fault>,
}

impl std::fmt::Debug for PaperExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaperExchange")
            .field("account", &self.config.account)
            .field("quote", &self.config.quote)
            .field("fee_rate", &self.config.fee_rate)
            .field("slippage_bps", &self.config.slippage_bps)
            .finish_non_exhaustive()
    }
}

fn rejected(code: &str, message: impl Into<String>) -> ExchangeError {
    ExchangeError::Rejected {
        code: code.to_string(),
        message: message.into(),
    }
}

fn n(d: Decimal) -> Decimal {
    d.normalize()
}

fn status_word(status: InstrumentStatus) -> &'static str {
    match status {
        InstrumentStatus::Trading => "trading",
        InstrumentStatus::Halted => "halted",
        InstrumentStatus::Delisted => "delisted",
    }
}

fn order_status_word(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Open => "open",
        OrderStatus::PartiallyFilled => "partially filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Rejected => "rejected",
    }
}

fn upper(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

impl PaperExchange {
    /// Open the account `config.account`: load it from `persistence`, or start it empty.
    /// An invalid configuration is `Rejected` with [`reject::INVALID`] naming the field; a
    /// persistence failure is `Transient`.
    pub async fn open(
        config: PaperConfig,
        persistence: Arc<dyn PaperPersistence>,
    ) -> Result<Self, ExchangeError> {
        config
            .validate()
            .map_err(|e| rejected(reject::INVALID, e.to_string()))?;
        let mut config = config;
        config.quote = upper(&config.quote);
        let mut instruments = BTreeMap::new();
        for inst in &mut config.instruments {
            inst.base = upper(&inst.base);
            instruments.insert(
                inst.base.clone(),
                Instrument {
                    symbol: format!("{}-{}", inst.base, config.quote),
                    base: inst.base.clone(),
                    quote: config.quote.clone(),
                    rules: inst.rules.clone(),
                    status: inst.status,
                },
            );
        }
        let account = persistence
            .load_paper(&config.account)
            .await
            .map_err(|e| {
                ExchangeError::Transient(format!("loading paper account {}: {e}", config.account))
            })?
            .unwrap_or_default();
        Ok(Self {
            persistence,
            inner: tokio::sync::Mutex::new(Inner {
                state: State::from_account(account),
                prices: HashMap::new(),
                now_ms: 0,
            }),
            instruments: RwLock::new(instruments),
            fault: Mutex::new(Fault::None),
            config,
        })
    }

    /// The configuration (account and quote upper-cased as used).
    pub fn config(&self) -> &PaperConfig {
        &self.config
    }

    /// Inject a fault into the next calls (replacing any previous one).
    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// The fault still pending.
    pub fn fault(&self) -> Fault {
        self.fault.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Set an instrument's status (a halt, a delisting, trading again). Orders are refused and
    /// resting orders do not fill while it is not trading; resting orders stay open (cancels work).
    pub fn set_status(&self, base: &str, status: InstrumentStatus) -> Result<(), ExchangeError> {
        let mut map = self.instruments.write().unwrap_or_else(|e| e.into_inner());
        let listed = map.keys().cloned().collect::<Vec<_>>().join(", ");
        match map.get_mut(&upper(base)) {
            Some(inst) => {
                inst.status = status;
                Ok(())
            }
            None => Err(rejected(
                reject::UNKNOWN_INSTRUMENT,
                format!(
                    "unknown instrument {base}-{}; the paper exchange lists {listed}",
                    self.config.quote
                ),
            )),
        }
    }

    /// A copy of the whole account (balances, every order and fill, the sequence).
    pub async fn account(&self) -> PaperAccount {
        self.inner.lock().await.state.to_account()
    }

    /// The last price of `base` against the quote, if a tick has priced it.
    pub async fn last_price(&self, base: &str) -> Option<Decimal> {
        self.inner
            .lock()
            .await
            .prices
            .get(&upper(base))
            .map(|(p, _)| *p)
    }

    /// Market time: the time of the last tick (0 before any).
    pub async fn now_ms(&self) -> i64 {
        self.inner.lock().await.now_ms
    }

    /// Credit `amount > 0` of `asset` to the free balance (persisted).
    pub async fn deposit(&self, asset: &str, amount: Decimal) -> Result<Balance, ExchangeError> {
        self.transfer(asset, amount, true).await
    }

    /// Debit `amount > 0` of `asset` from the free balance (persisted); more than is free is
    /// rejected with [`reject::INSUFFICIENT_BALANCE`].
    pub async fn withdraw(&self, asset: &str, amount: Decimal) -> Result<Balance, ExchangeError> {
        self.transfer(asset, amount, false).await
    }

    /// Credit every `(asset, amount)` at once, as ONE persisted change: all of them or none
    /// (funding a new account must not stop halfway if the process dies). Each amount must be
    /// > 0.
    pub async fn deposit_all(
        &self,
        amounts: &[(String, Decimal)],
    ) -> Result<Vec<Balance>, ExchangeError> {
        let mut inner = self.inner.lock().await;
        let mut txn = Txn::new(&inner.state);
        let mut out = Vec::with_capacity(amounts.len());
        for (asset, amount) in amounts {
            out.push(transfer_in(&mut txn, asset, *amount, true)?);
        }
        let change = txn.into_change();
        self.persist(&change).await?;
        inner.state.apply(change);
        Ok(out)
    }

    async fn transfer(
        &self,
        asset: &str,
        amount: Decimal,
        deposit: bool,
    ) -> Result<Balance, ExchangeError> {
        let mut inner = self.inner.lock().await;
        let mut txn = Txn::new(&inner.state);
        let balance = transfer_in(&mut txn, asset, amount, deposit)?;
        let change = txn.into_change();
        self.persist(&change).await?;
        inner.state.apply(change);
        Ok(balance)
    }

    /// Take the prices of a tick (the quote is the configured one) and fill the resting limit
    /// orders they cross, at their limit prices. Returns the fills, persisted as one change. A
    /// non-positive price is rejected and nothing changes; so does a persistence failure.
    pub async fn update_prices(&self, tick: &PriceTick) -> Result<Vec<Fill>, ExchangeError> {
        let mut updates: HashMap<String, Decimal> = HashMap::with_capacity(tick.prices.len());
        for (asset, price) in &tick.prices {
            if *price <= Decimal::ZERO {
                return Err(rejected(
                    reject::INVALID,
                    format!(
                        "tick at {}: price {} of {asset} must be > 0",
                        tick.time_ms,
                        n(*price)
                    ),
                ));
            }
            updates.insert(upper(asset), *price);
        }
        let mut inner = self.inner.lock().await;
        let change = {
            let instruments = self.instruments.read().unwrap_or_else(|e| e.into_inner());
            let mut txn = Txn::new(&inner.state);
            for &i in &inner.state.open {
                let order = &inner.state.orders[i];
                let OrderKind::Limit { price: limit } = order.kind else {
                    continue;
                };
                let Some(&last) = updates.get(&order.base) else {
                    continue;
                };
                let trading = instruments
                    .get(&order.base)
                    .is_some_and(|inst| inst.status == InstrumentStatus::Trading);
                let crosses = match order.side {
                    Side::Buy => last <= limit,
                    Side::Sell => last >= limit,
                };
                if order.quote == self.config.quote && trading && crosses {
                    let mut order = order.clone();
                    self.execute(&mut txn, &mut order, limit, true, tick.time_ms);
                    txn.upsert_order(order);
                }
            }
            txn.into_change()
        };
        if !change.is_empty() {
            self.persist(&change).await?;
        }
        let fills = change.fills.clone();
        inner.state.apply(change);
        for (asset, price) in updates {
            inner.prices.insert(asset, (price, tick.time_ms));
        }
        inner.now_ms = tick.time_ms;
        Ok(fills)
    }

    async fn persist(&self, change: &PaperChange) -> Result<(), ExchangeError> {
        self.persistence
            .apply_paper(&self.config.account, change)
            .await
            .map_err(|e| {
                ExchangeError::Transient(format!(
                    "paper account {}: storing the change failed, nothing was done: {e}",
                    self.config.account
                ))
            })
    }

    fn take_fault(&self, placing: bool) -> FaultAction {
        let mut fault = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        let (action, next) = match &*fault {
            Fault::None => (FaultAction::Proceed, None),
            Fault::FailNext(e) => (FaultAction::Fail(e.clone()), Some(Fault::None)),
            Fault::FailTimes(k, e) => (
                FaultAction::Fail(e.clone()),
                Some(if *k <= 1 {
                    Fault::None
                } else {
                    Fault::FailTimes(k - 1, e.clone())
                }),
            ),
            Fault::FailAlways(e) => (FaultAction::Fail(e.clone()), None),
            Fault::FailNextOrder(e) if placing => (FaultAction::Fail(e.clone()), Some(Fault::None)),
            Fault::UnknownOutcomeAfterApply if placing => {
                (FaultAction::UnknownAfterApply, Some(Fault::None))
            }
            Fault::RejectNext if placing => (FaultAction::Reject, Some(Fault::None)),
            _ => (FaultAction::Proceed, None),
        };
        if let Some(next) = next {
            *fault = next;
        }
        action
    }

    /// Apply the fault to a call other than `place_order`.
    fn check_fault(&self) -> Result<(), ExchangeError> {
        match self.take_fault(false) {
            FaultAction::Fail(e) => Err(e),
            _ => Ok(()),
        }
    }

    fn listed(&self) -> String {
        let map = self.instruments.read().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return "no instruments".to_string();
        }
        map.values()
            .map(|i| i.symbol.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn instrument(&self, base: &str, quote: &str) -> Result<Instrument, ExchangeError> {
        let found = if upper(quote) == self.config.quote {
            self.instruments
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&upper(base))
                .cloned()
        } else {
            None
        };
        found.ok_or_else(|| {
            rejected(
                reject::UNKNOWN_INSTRUMENT,
                format!(
                    "unknown instrument {}-{}; the paper exchange lists {}",
                    base.trim(),
                    quote.trim(),
                    self.listed()
                ),
            )
        })
    }

    /// Fill the rest of `order` at `price` in `txn`; `from_locked` when the order rested and its
    /// amount is locked.
    fn execute(
        &self,
        txn: &mut Txn<'_>,
        order: &mut Order,
        price: Decimal,
        from_locked: bool,
        now: i64,
    ) {
        let qty = order.quantity - order.filled_quantity;
        let notional = qty * price;
        let (fee, fee_asset) = match order.side {
            Side::Buy => {
                let fee = qty * self.config.fee_rate;
                if from_locked {
                    let locked = match order.kind {
                        OrderKind::Limit { price: limit } => qty * limit,
                        OrderKind::Market => notional,
                    };
                    txn.adjust(&order.quote, locked - notional, -locked);
                } else {
                    txn.adjust(&order.quote, -notional, Decimal::ZERO);
                }
                txn.adjust(&order.base, qty - fee, Decimal::ZERO);
                (fee, order.base.clone())
            }
            Side::Sell => {
                let fee = notional * self.config.fee_rate;
                if from_locked {
                    txn.adjust(&order.base, Decimal::ZERO, -qty);
                } else {
                    txn.adjust(&order.base, -qty, Decimal::ZERO);
                }
                txn.adjust(&order.quote, notional - fee, Decimal::ZERO);
                (fee, order.quote.clone())
            }
        };
        let seq = txn.seq();
        txn.push_fill(Fill {
            fill_id: format!("T{seq}"),
            client_id: order.client_id.clone(),
            venue_order_id: order.venue_id.clone(),
            base: order.base.clone(),
            quote: order.quote.clone(),
            side: order.side,
            quantity: qty,
            price,
            fee,
            fee_asset,
            time_ms: now,
        });
        let before = order.filled_quantity;
        order.average_price = Some(match order.average_price {
            Some(avg) if before > Decimal::ZERO => (avg * before + notional) / (before + qty),
            _ => price,
        });
        order.filled_quantity = order.quantity;
        order.status = OrderStatus::Filled;
        order.updated_ms = now;
    }

    /// Validate `req` like a venue and build its effect.
    fn plan_order(
        &self,
        inner: &Inner,
        req: &OrderRequest,
    ) -> Result<(Order, PaperChange), ExchangeError> {
        let cid = req.client_id.as_str();
        if cid.is_empty()
            || cid.len() > MAX_CLIENT_ID_LEN
            || !cid.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(rejected(
                reject::INVALID,
                format!(
                    "client order id {cid:?} must be 1..={MAX_CLIENT_ID_LEN} printable ASCII characters without spaces"
                ),
            ));
        }
        if let Some(existing) = inner.state.order(cid) {
            return Err(rejected(
                reject::DUPLICATE_CLIENT_ID,
                format!(
                    "client order id {cid} is already used by order {} ({} {} {}, {})",
                    existing.venue_id,
                    existing.side,
                    n(existing.quantity),
                    existing.base,
                    order_status_word(existing.status)
                ),
            ));
        }
        let inst = self.instrument(&req.base, &req.quote)?;
        let sym = &inst.symbol;
        if inst.status != InstrumentStatus::Trading {
            return Err(rejected(
                reject::NOT_TRADING,
                format!(
                    "{sym} is {}; it accepts no orders until it trades again",
                    status_word(inst.status)
                ),
            ));
        }
        let qty = req.quantity;
        if qty <= Decimal::ZERO {
            return Err(rejected(
                reject::INVALID,
                format!("quantity {} of {sym} must be > 0", n(qty)),
            ));
        }
        let limit = match req.kind {
            OrderKind::Limit { price } if price <= Decimal::ZERO => {
                return Err(rejected(
                    reject::INVALID,
                    format!("limit price {} of {sym} must be > 0", n(price)),
                ));
            }
            OrderKind::Limit { price } => Some(price),
            OrderKind::Market => None,
        };
        let rules = &inst.rules;
        if let Some(step) = rules.lot_step
            && !(qty % step).is_zero()
        {
            return Err(rejected(
                reject::LOT_STEP,
                format!(
                    "quantity {} of {sym} is not a multiple of the lot step {}",
                    n(qty),
                    n(step)
                ),
            ));
        }
        if let (Some(tick), Some(price)) = (rules.tick_size, limit)
            && !(price % tick).is_zero()
        {
            return Err(rejected(
                reject::TICK_SIZE,
                format!(
                    "limit price {} of {sym} is not a multiple of the tick size {}",
                    n(price),
                    n(tick)
                ),
            ));
        }
        if let Some(min) = rules.min_size
            && qty < min
        {
            return Err(rejected(
                reject::MIN_SIZE,
                format!(
                    "quantity {} of {sym} is below the minimum size {}",
                    n(qty),
                    n(min)
                ),
            ));
        }
        let last = inner.prices.get(&inst.base).map(|(p, _)| *p);
        let overflow = || {
            rejected(
                reject::INVALID,
                format!(
                    "quantity {} of {sym} is too large (its value overflows)",
                    n(qty)
                ),
            )
        };
        // The price the order executes at now (None: it rests), and the reference price of its
        // notional (the last price for market orders, the limit price for limit orders).
        let (exec, reference) = match limit {
            None => {
                let last = last.ok_or_else(|| {
                    rejected(
                        reject::NO_PRICE,
                        format!(
                            "no price yet for {sym}: the paper exchange has not received a tick pricing {}",
                            inst.base
                        ),
                    )
                })?;
                let slip = self.config.slippage_bps / Decimal::from(10_000);
                let factor = match req.side {
                    Side::Buy => Decimal::ONE + slip,
                    Side::Sell => Decimal::ONE - slip,
                };
                (Some(last.checked_mul(factor).ok_or_else(overflow)?), last)
            }
            Some(price) => {
                let marketable = last.is_some_and(|last| match req.side {
                    Side::Buy => last <= price,
                    Side::Sell => last >= price,
                });
                (marketable.then_some(price), price)
            }
        };
        let notional = qty
            .checked_mul(reference)
            .filter(|v| *v <= MAX_AMOUNT)
            .ok_or_else(overflow)?;
        if let Some(min) = rules.min_notional
            && notional < min
        {
            return Err(rejected(
                reject::MIN_NOTIONAL,
                format!(
                    "notional {} (quantity {} × price {}) of {sym} is below the minimum notional {} {}",
                    n(notional),
                    n(qty),
                    n(reference),
                    n(min),
                    inst.quote
                ),
            ));
        }
        let mut txn = Txn::new(&inner.state);
        // What the order spends: quote for a buy (at the execution or limit price), base for a sell.
        let (spend_asset, need) = match req.side {
            Side::Buy => {
                let price = exec.unwrap_or(reference);
                let need = qty.checked_mul(price).filter(|v| *v <= MAX_AMOUNT);
                (&inst.quote, need.ok_or_else(overflow)?)
            }
            Side::Sell => (&inst.base, qty),
        };
        let free = txn.balance(spend_asset).free;
        if need > free {
            let how = match (req.side, exec) {
                (Side::Buy, Some(p)) => format!(" (quantity {} × price {})", n(qty), n(p)),
                (Side::Buy, None) => format!(" (quantity {} × limit {})", n(qty), n(reference)),
                (Side::Sell, _) => String::new(),
            };
            return Err(rejected(
                reject::INSUFFICIENT_BALANCE,
                format!(
                    "{} {} {sym} needs {} {spend_asset}{how} free; the account has {} {spend_asset} free",
                    req.side,
                    n(qty),
                    n(need),
                    n(free)
                ),
            ));
        }
        let now = inner.now_ms;
        let seq = txn.seq();
        let mut order = Order {
            client_id: cid.to_string(),
            venue_id: format!("P{seq}"),
            base: inst.base.clone(),
            quote: inst.quote.clone(),
            side: req.side,
            kind: req.kind,
            quantity: qty,
            filled_quantity: Decimal::ZERO,
            average_price: None,
            status: OrderStatus::Open,
            created_ms: now,
            updated_ms: now,
        };
        match exec {
            Some(price) => self.execute(&mut txn, &mut order, price, false, now),
            None => txn.adjust(spend_asset, -need, need),
        }
        txn.upsert_order(order.clone());
        Ok((order, txn.into_change()))
    }

    fn matches(order: &Order, base: &str, quote: &str) -> bool {
        order.base.eq_ignore_ascii_case(base.trim())
            && order.quote.eq_ignore_ascii_case(quote.trim())
    }
}

#[async_trait]
impl Exchange for PaperExchange {
    fn name(&self) -> &str {
        "paper"
    }

    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
        self.check_fault()?;
        Ok(self
            .instruments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect())
    }

    /// Every asset with a non-zero balance, by asset name.
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        self.check_fault()?;
        let inner = self.inner.lock().await;
        Ok(inner
            .state
            .balances
            .values()
            .filter(|b| !b.total().is_zero())
            .cloned()
            .collect())
    }

    async fn tickers(&self, bases: &[String], quote: &str) -> Result<Vec<Ticker>, ExchangeError> {
        self.check_fault()?;
        let inner = self.inner.lock().await;
        bases
            .iter()
            .map(|base| {
                let inst = self.instrument(base, quote)?;
                let (last, time_ms) = inner.prices.get(&inst.base).copied().ok_or_else(|| {
                    rejected(
                        reject::NO_PRICE,
                        format!(
                            "no price yet for {}: the paper exchange has not received a tick pricing {}",
                            inst.symbol, inst.base
                        ),
                    )
                })?;
                Ok(Ticker {
                    base: inst.base,
                    quote: inst.quote,
                    last,
                    time_ms,
                })
            })
            .collect()
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<Order, ExchangeError> {
        let unknown_after = match self.take_fault(true) {
            FaultAction::Proceed => false,
            FaultAction::Fail(e) => return Err(e),
            FaultAction::Reject => {
                return Err(rejected(
                    reject::INVALID,
                    format!(
                        "order {} rejected by an injected fault (paper exchange)",
                        request.client_id
                    ),
                ));
            }
            FaultAction::UnknownAfterApply => true,
        };
        let mut inner = self.inner.lock().await;
        let (order, change) = self.plan_order(&inner, request)?;
        self.persist(&change).await?;
        inner.state.apply(change);
        if unknown_after {
            return Err(ExchangeError::UnknownOutcome(format!(
                "order {} was sent but no answer came (injected fault; the order was executed)",
                request.client_id
            )));
        }
        Ok(order)
    }

    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Order, ExchangeError> {
        self.check_fault()?;
        let mut inner = self.inner.lock().await;
        let order = inner
            .state
            .order(client_id)
            .filter(|o| Self::matches(o, base, quote))
            .cloned()
            .ok_or_else(|| {
                rejected(
                    reject::UNKNOWN_ORDER,
                    format!(
                        "no order with client id {client_id} on {}-{}",
                        base.trim(),
                        quote.trim()
                    ),
                )
            })?;
        if order.status.is_final() {
            return Err(rejected(
                reject::ORDER_NOT_OPEN,
                format!(
                    "order {client_id} is {}; only open orders can be canceled",
                    order_status_word(order.status)
                ),
            ));
        }
        let now = inner.now_ms;
        let change = {
            let mut txn = Txn::new(&inner.state);
            let remaining = order.quantity - order.filled_quantity;
            match (order.side, order.kind) {
                (Side::Buy, OrderKind::Limit { price }) => {
                    let amount = remaining * price;
                    txn.adjust(&order.quote, amount, -amount);
                }
                (Side::Sell, _) => txn.adjust(&order.base, remaining, -remaining),
                // A market order never rests.
                (Side::Buy, OrderKind::Market) => {}
            }
            let mut canceled = order;
            canceled.status = OrderStatus::Canceled;
            canceled.updated_ms = now;
            txn.upsert_order(canceled);
            txn.into_change()
        };
        self.persist(&change).await?;
        let canceled = change.orders[0].clone();
        inner.state.apply(change);
        Ok(canceled)
    }

    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Option<Order>, ExchangeError> {
        self.check_fault()?;
        let inner = self.inner.lock().await;
        Ok(inner
            .state
            .order(client_id)
            .filter(|o| Self::matches(o, base, quote))
            .cloned())
    }

    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
        self.check_fault()?;
        let inner = self.inner.lock().await;
        Ok(inner
            .state
            .open
            .iter()
            .map(|&i| inner.state.orders[i].clone())
            .collect())
    }

    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<Fill>, ExchangeError> {
        self.check_fault()?;
        let inner = self.inner.lock().await;
        if inner
            .state
            .order(client_id)
            .is_none_or(|o| !Self::matches(o, base, quote))
        {
            return Ok(Vec::new());
        }
        Ok(inner
            .state
            .fill_index
            .get(client_id)
            .map(|ix| ix.iter().map(|&i| inner.state.fills[i].clone()).collect())
            .unwrap_or_default())
    }
}

/// Credit (`deposit`) or debit `amount > 0` of `asset` in `txn`'s free balance.
fn transfer_in(
    txn: &mut Txn<'_>,
    asset: &str,
    amount: Decimal,
    deposit: bool,
) -> Result<Balance, ExchangeError> {
    let what = if deposit { "deposit" } else { "withdrawal" };
    let asset = normalize_symbol(&format!("{what}.asset"), asset)
        .map_err(|e| rejected(reject::INVALID, e.to_string()))?;
    if amount <= Decimal::ZERO {
        return Err(rejected(
            reject::INVALID,
            format!("{what} amount {} of {asset} must be > 0", n(amount)),
        ));
    }
    let mut balance = txn.balance(&asset);
    if deposit {
        match balance.free.checked_add(amount) {
            Some(free) if free + balance.locked <= MAX_AMOUNT => balance.free = free,
            _ => {
                return Err(rejected(
                    reject::INVALID,
                    format!(
                        "deposit amount {} of {asset} would take the balance above the paper exchange's limit {}",
                        n(amount),
                        MAX_AMOUNT
                    ),
                ));
            }
        }
    } else {
        if amount > balance.free {
            return Err(rejected(
                reject::INSUFFICIENT_BALANCE,
                format!(
                    "withdrawal of {} {asset} exceeds the free balance {} {asset}",
                    n(amount),
                    n(balance.free)
                ),
            ));
        }
        balance.free -= amount;
    }
    txn.set_balance(balance.clone());
    Ok(balance)
}
