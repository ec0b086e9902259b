//! [`PaperExchange`]: the [`Exchange`] implementation.

use super::config::{BookModel, PaperConfig};
use super::state::{State, Txn};
use super::{PaperAccount, PaperChange, PaperPersistence};
use crate::{
    Balance, Exchange, ExchangeError, Fill, Instrument, InstrumentStatus, LookupPolicy, Order,
    OrderAck, OrderKind, OrderLookup, OrderRequest, OrderSize, OrderStatus, Pair, PriceTick, Side,
    Ticker, TimeInForce, reject,
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
    /// The next `n` lookups by client id answer "not found yet" even for an order the exchange
    /// has (Binance's `-2013` right after placement).
    LookupNotFound(u32),
    /// Every lookup by client id answers "unknown" (Gate, an hour after an order ended) until
    /// the fault is replaced; open orders and fills still answer.
    LookupUnknown,
}

/// One asset's bar for [`PaperExchange::update_candles`]: the range its trades covered and its
/// close (the last price after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candle {
    pub asset: String,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
}

enum FaultAction {
    Proceed,
    Fail(ExchangeError),
    Reject,
    UnknownAfterApply,
    Lookup(OrderLookup),
}

/// Which call a fault is taken by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Place,
    Lookup,
    Other,
}

struct Inner {
    state: State,
    /// Last price and its time per base asset (against the configured quote).
    prices: HashMap<String, (Decimal, i64)>,
    /// Market time: the time of the last tick.
    now_ms: i64,
    /// The order book of each instrument modelled with one, by base (set from candles).
    books: HashMap<String, BookModel>,
}

/// A venue in-process: see the [module documentation](super) for its rules.
pub struct PaperExchange {
    config: PaperConfig,
    persistence: Arc<dyn PaperPersistence>,
    inner: tokio::sync::Mutex<Inner>,
    /// Instruments by (base, quote) (statuses change at runtime).
    instruments: RwLock<BTreeMap<Pair, Instrument>>,
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
                Pair::new(&inst.base, &config.quote),
                Instrument {
                    symbol: format!("{}-{}", inst.base, config.quote),
                    base: inst.base.clone(),
                    quote: config.quote.clone(),
                    rules: inst.rules.clone(),
                    limits: inst.limits.clone(),
                    status: inst.status,
                    post_only: inst.post_only,
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
                books: config
                    .instruments
                    .iter()
                    .filter_map(|i| Some((i.base.clone(), i.book?)))
                    .collect(),
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

    /// Set an instrument's status (a halt, a delisting, sell-only, trading again). Orders the
    /// status does not accept are refused, and resting orders fill only on a side it accepts;
    /// resting orders stay open (cancels work).
    pub fn set_status(&self, base: &str, status: InstrumentStatus) -> Result<(), ExchangeError> {
        let mut map = self.instruments.write().unwrap_or_else(|e| e.into_inner());
        let listed = map
            .values()
            .map(|i| i.symbol.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match map.get_mut(&Pair::new(base, &self.config.quote)) {
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

    /// The best bid and ask of `base`: the book's around the last price, or the last price on
    /// both sides for an instrument without a book. None before a tick priced it.
    pub async fn touch_of(&self, base: &str) -> Option<(Decimal, Decimal)> {
        let inner = self.inner.lock().await;
        let base = upper(base);
        let (last, _) = *inner.prices.get(&base)?;
        Some(match inner.books.get(&base) {
            Some(b) => b.touch(last),
            None => (last, last),
        })
    }

    /// The book `base` is modelled with now.
    pub async fn book(&self, base: &str) -> Option<BookModel> {
        self.inner.lock().await.books.get(&upper(base)).copied()
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
        let candles: Vec<Candle> = tick
            .prices
            .iter()
            .map(|(asset, price)| Candle {
                asset: asset.clone(),
                high: *price,
                low: *price,
                close: *price,
            })
            .collect();
        self.apply_bar(tick.time_ms, &candles, false).await
    }

    /// Take a bar of candles: each instrument modelled with a book gets its book from the
    /// candle's high–low range ([`BookModel::from_candle`]), its resting orders fill as maker
    /// when the bar's range crosses them (a buy when the low is below its price, a sell when the
    /// high is above), and the close becomes the last price. Instruments without a book fill as
    /// [`Self::update_prices`] says, at the close. Returns the fills, persisted as one change.
    pub async fn update_candles(
        &self,
        time_ms: i64,
        candles: &[Candle],
    ) -> Result<Vec<Fill>, ExchangeError> {
        self.apply_bar(time_ms, candles, true).await
    }

    /// A bar of prices; `books`: the instruments with a book take theirs from the candles.
    async fn apply_bar(
        &self,
        time_ms: i64,
        candles: &[Candle],
        books: bool,
    ) -> Result<Vec<Fill>, ExchangeError> {
        let tick = PriceTick {
            time_ms,
            prices: candles.iter().map(|c| (c.asset.clone(), c.close)).collect(),
        };
        let mut ranges: HashMap<String, (Decimal, Decimal)> = HashMap::new();
        for c in candles {
            if c.low <= Decimal::ZERO || c.high < c.low {
                return Err(rejected(
                    reject::INVALID,
                    format!(
                        "bar at {time_ms}: the range {}..{} of {} must be > 0 with low ≤ high",
                        n(c.low),
                        n(c.high),
                        c.asset
                    ),
                ));
            }
            ranges.insert(upper(&c.asset), (c.low.min(c.close), c.high.max(c.close)));
        }
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
            let price_of = |asset: &str| {
                updates
                    .get(asset)
                    .copied()
                    .or_else(|| inner.prices.get(asset).map(|(p, _)| *p))
            };
            for &i in &inner.state.open {
                let order = &inner.state.orders[i];
                let OrderKind::Limit { price: limit } = order.kind else {
                    continue;
                };
                let Some(&last) = updates.get(&order.base) else {
                    continue;
                };
                let Some(inst) = instruments.get(&order.pair()) else {
                    continue;
                };
                let booked = inner.books.contains_key(&order.base);
                let (low, high) = ranges.get(&order.base).copied().unwrap_or((last, last));
                let crosses = match (order.side, booked) {
                    (Side::Buy, false) => last <= limit,
                    (Side::Sell, false) => last >= limit,
                    // On a book, a resting order fills when trades go through its price.
                    (Side::Buy, true) => low < limit,
                    (Side::Sell, true) => high > limit,
                };
                let qty = order.size.base().unwrap_or(order.filled_quantity);
                let fill = self.fillable(qty - order.filled_quantity, limit, inst.rules.lot_step);
                if inst.status.accepts(order.side) && crosses && fill > Decimal::ZERO {
                    let mut order = order.clone();
                    self.execute(
                        &mut txn,
                        &mut order,
                        fill,
                        limit,
                        true,
                        tick.time_ms,
                        &price_of,
                    );
                    order.status = if order.filled_quantity >= qty {
                        OrderStatus::Filled
                    } else {
                        OrderStatus::PartiallyFilled
                    };
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
            if let (true, Some(book), Some((low, high))) =
                (books, inner.books.get(&asset), ranges.get(&asset))
            {
                let next = book.from_candle(*high, *low, price);
                inner.books.insert(asset.clone(), next);
            }
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

    fn take_fault(&self, call: Call) -> FaultAction {
        let placing = call == Call::Place;
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
            Fault::LookupNotFound(k) if call == Call::Lookup => (
                FaultAction::Lookup(OrderLookup::NotFoundYet),
                Some(if *k <= 1 {
                    Fault::None
                } else {
                    Fault::LookupNotFound(k - 1)
                }),
            ),
            Fault::LookupUnknown if call == Call::Lookup => {
                (FaultAction::Lookup(OrderLookup::Unknown), None)
            }
            _ => (FaultAction::Proceed, None),
        };
        if let Some(next) = next {
            *fault = next;
        }
        action
    }

    /// Apply the fault to a call other than `place_order` and `order`.
    fn check_fault(&self) -> Result<(), ExchangeError> {
        match self.take_fault(Call::Other) {
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
        let found = self
            .instruments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&Pair::new(base, quote))
            .cloned();
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

    /// Fill `qty` of `order` at `price` in `txn`; `from_locked` when the order rested and its
    /// amount is locked. The fee is charged in the configured fee asset when the account has
    /// enough of it free and a price for it (`price_of`), else in the currency received. The
    /// order's cumulative figures are updated; its status is left to the caller.
    #[allow(clippy::too_many_arguments)]
    fn execute(
        &self,
        txn: &mut Txn<'_>,
        order: &mut Order,
        qty: Decimal,
        price: Decimal,
        from_locked: bool,
        now: i64,
        price_of: &dyn Fn(&str) -> Option<Decimal>,
    ) {
        let notional = qty * price;
        // A resting order's fills add liquidity (maker); an order filling at once takes it.
        let rate = self.rate(from_locked);
        let spent_free = match (from_locked, order.side) {
            (true, _) => Decimal::ZERO,
            (false, Side::Buy) => notional,
            (false, Side::Sell) => qty,
        };
        let third = self.third_asset_fee(txn, order, notional * rate, spent_free, price_of);
        let (fee, fee_asset) = match order.side {
            Side::Buy => {
                if from_locked {
                    let locked = match order.kind {
                        OrderKind::Limit { price: limit } => qty * limit,
                        OrderKind::Market => notional,
                    };
                    txn.adjust(&order.quote, locked - notional, -locked);
                } else {
                    txn.adjust(&order.quote, -notional, Decimal::ZERO);
                }
                match &third {
                    Some((asset, fee)) => {
                        txn.adjust(&order.base, qty, Decimal::ZERO);
                        txn.adjust(asset, -*fee, Decimal::ZERO);
                        (*fee, asset.clone())
                    }
                    None => {
                        let fee = qty * rate;
                        txn.adjust(&order.base, qty - fee, Decimal::ZERO);
                        (fee, order.base.clone())
                    }
                }
            }
            Side::Sell => {
                if from_locked {
                    txn.adjust(&order.base, Decimal::ZERO, -qty);
                } else {
                    txn.adjust(&order.base, -qty, Decimal::ZERO);
                }
                match &third {
                    Some((asset, fee)) => {
                        txn.adjust(&order.quote, notional, Decimal::ZERO);
                        txn.adjust(asset, -*fee, Decimal::ZERO);
                        (*fee, asset.clone())
                    }
                    None => {
                        let fee = notional * rate;
                        txn.adjust(&order.quote, notional - fee, Decimal::ZERO);
                        (fee, order.quote.clone())
                    }
                }
            }
        };
        let seq = txn.seq();
        let fill = Fill {
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
        };
        order.add_fill(&fill);
        order.updated_ms = now;
        txn.push_fill(fill);
    }

    /// The fee of a fill in the configured fee asset, when that is not the currency received,
    /// has a price, and the account has enough of it free besides what this fill itself takes
    /// from the free balance (`spent_free` of `spent_asset`).
    fn third_asset_fee(
        &self,
        txn: &Txn<'_>,
        order: &Order,
        value: Decimal,
        spent_free: Decimal,
        price_of: &dyn Fn(&str) -> Option<Decimal>,
    ) -> Option<(String, Decimal)> {
        let asset = self.config.fee_asset.as_deref()?;
        let (received, spent) = match order.side {
            Side::Buy => (&order.base, &order.quote),
            Side::Sell => (&order.quote, &order.base),
        };
        if asset == received || value.is_zero() {
            return None;
        }
        let price = if asset == order.quote {
            Decimal::ONE
        } else {
            price_of(asset).filter(|p| *p > Decimal::ZERO)?
        };
        let fee = value.checked_div(price)?;
        let mut free = txn.balance(asset).free;
        if asset == spent {
            free -= spent_free;
        }
        (free >= fee).then(|| (asset.to_string(), fee))
    }

    /// The fee rate of a fill: the maker rate for a resting order's, else the taker rate.
    fn rate(&self, maker: bool) -> Decimal {
        match self.config.maker_fee_rate {
            Some(r) if maker => r,
            _ => self.config.fee_rate,
        }
    }

    /// How much of `remaining` base can fill at `price` in one price event (the depth limit,
    /// rounded down to the lot step).
    fn fillable(&self, remaining: Decimal, price: Decimal, lot_step: Option<Decimal>) -> Decimal {
        let Some(depth) = self.config.depth else {
            return remaining;
        };
        let mut q = depth / price;
        q = match lot_step {
            Some(step) => (q / step).floor() * step,
            None => q.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero),
        };
        q.min(remaining).max(Decimal::ZERO)
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
                    existing.size,
                    existing.base,
                    existing.status.as_str()
                ),
            ));
        }
        let inst = self.instrument(&req.base, &req.quote)?;
        let sym = &inst.symbol;
        if !inst.status.accepts(req.side) {
            return Err(rejected(
                reject::NOT_TRADING,
                format!(
                    "{sym} is {}; it accepts no {} orders now",
                    inst.status, req.side
                ),
            ));
        }
        let amount = req.size.amount();
        if amount <= Decimal::ZERO {
            let what = match req.size {
                OrderSize::Base(_) => "quantity",
                OrderSize::Quote(_) => "quote amount",
            };
            return Err(rejected(
                reject::INVALID,
                format!("{what} {} of {sym} must be > 0", n(amount)),
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
        if limit.is_some() && matches!(req.size, OrderSize::Quote(_)) {
            return Err(rejected(
                reject::INVALID,
                format!(
                    "a limit order of {sym} is sized in base; a quote amount ({}) is for market orders only",
                    n(amount)
                ),
            ));
        }
        if req.post_only && (limit.is_none() || req.time_in_force != TimeInForce::Gtc) {
            return Err(rejected(
                reject::INVALID,
                format!(
                    "post-only needs a GTC limit order; this {sym} order is {} {}",
                    req.kind,
                    req.time_in_force.as_str()
                ),
            ));
        }
        if req.post_only && !inst.post_only {
            return Err(rejected(
                reject::INVALID,
                format!("{sym} takes no post-only orders"),
            ));
        }
        let rules = &inst.rules;
        let limits = &inst.limits;
        if let OrderSize::Base(qty) = req.size
            && let Some(step) = rules.lot_step
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
        let last = inner.prices.get(&inst.base).map(|(p, _)| *p);
        if let (Some(price), Some(last)) = (limit, last) {
            let band = match req.side {
                Side::Buy => limits.buy_band,
                Side::Sell => limits.sell_band,
            };
            if let Some(band) = band {
                let (lo, hi) = band.range(last);
                if price < lo || price > hi {
                    return Err(rejected(
                        reject::PRICE_BAND,
                        format!(
                            "limit price {} of a {} of {sym} is outside the band {}..{} around the last price {}",
                            n(price),
                            req.side,
                            n(lo),
                            n(hi),
                            n(last)
                        ),
                    ));
                }
            }
        }
        let overflow = || {
            rejected(
                reject::INVALID,
                format!(
                    "{} {} of {sym} is too large (its value overflows)",
                    req.size.unit(),
                    n(amount)
                ),
            )
        };
        let book = inner.books.get(&inst.base).copied();
        // The price the order executes at now (None: it does not cross), and the reference
        // price of its notional (the last price for market orders, the limit price for limits).
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
                if let Some(book) = book {
                    // A taker starts at the touch and walks the book (below).
                    let (bid, ask) = book.touch(last);
                    let touch = match req.side {
                        Side::Buy => ask,
                        Side::Sell => bid,
                    };
                    (Some(touch), last)
                } else {
                    let slip = self.config.slippage_bps / Decimal::from(10_000);
                    let factor = match req.side {
                        Side::Buy => Decimal::ONE + slip,
                        Side::Sell => Decimal::ONE - slip,
                    };
                    (Some(last.checked_mul(factor).ok_or_else(overflow)?), last)
                }
            }
            Some(price) => {
                // Against a book, a limit order is marketable when it reaches the other side.
                let touch = last.map(|last| match book {
                    Some(b) => {
                        let (bid, ask) = b.touch(last);
                        match req.side {
                            Side::Buy => ask,
                            Side::Sell => bid,
                        }
                    }
                    None => last,
                });
                let marketable = touch.is_some_and(|t| match req.side {
                    Side::Buy => t <= price,
                    Side::Sell => t >= price,
                });
                let exec = match (marketable, book) {
                    (true, Some(_)) => touch,
                    (true, None) => Some(price),
                    (false, _) => None,
                };
                (exec, price)
            }
        };
        if req.post_only && exec.is_some() {
            let against = if book.is_some() {
                "the book's touch"
            } else {
                "the last price"
            };
            return Err(rejected(
                reject::WOULD_TAKE,
                format!(
                    "post-only {} of {sym} at {} would trade at once against {against} {}",
                    req.side,
                    n(reference),
                    if book.is_some() { exec } else { last }
                        .map(n)
                        .unwrap_or_default()
                ),
            ));
        }
        // The base quantity: as given, or what the quote amount buys (sells) at the execution
        // price, rounded down to the lot step (Binance `quoteOrderQty`). Without a lot step
        // any quantity trades (as one sized in base): the quotient, never worth more than the
        // amount.
        let qty = match req.size {
            OrderSize::Base(q) => q,
            OrderSize::Quote(a) => {
                let price = exec.unwrap_or(reference);
                let q = a.checked_div(price).ok_or_else(overflow)?;
                match rules.lot_step {
                    Some(step) => (q / step).floor() * step,
                    None if q.checked_mul(price).is_some_and(|v| v > a) => {
                        q - Decimal::new(1, q.scale())
                    }
                    None => q,
                }
            }
        };
        if qty <= Decimal::ZERO {
            return Err(rejected(
                reject::MIN_SIZE,
                format!(
                    "quote amount {} of {sym} buys nothing at the price {} and lot step {}",
                    n(amount),
                    n(exec.unwrap_or(reference)),
                    rules.lot_step.map(n).unwrap_or_default()
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
        for (max, what) in [
            (limits.max_quantity, "maximum quantity"),
            (
                limits.max_market_quantity.filter(|_| limit.is_none()),
                "maximum market quantity",
            ),
        ] {
            if let Some(max) = max
                && qty > max
            {
                return Err(rejected(
                    reject::MAX_SIZE,
                    format!(
                        "quantity {} of {sym} is above the {what} {}",
                        n(qty),
                        n(max)
                    ),
                ));
            }
        }
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
        if let Some(max) = limits.max_notional
            && notional > max
        {
            return Err(rejected(
                reject::MAX_NOTIONAL,
                format!(
                    "notional {} (quantity {} × price {}) of {sym} is above the maximum notional {} {}",
                    n(notional),
                    n(qty),
                    n(reference),
                    n(max),
                    inst.quote
                ),
            ));
        }
        // On a book, what a taker takes: a fill per level from the touch, within its limit.
        // A buy sized in quote spends at most its amount walking the book (its quantity, at the
        // touch, is the most it can take).
        let budget = match req.size {
            OrderSize::Quote(a) if req.side == Side::Buy => Some(a),
            _ => None,
        };
        let (levels, walked) = match (book, exec, last) {
            (Some(b), Some(_), Some(last)) => {
                let (levels, done) = walk(&b, last, req.side, qty, (limit, budget), rules.lot_step);
                (Some(levels), done)
            }
            _ => (None, false),
        };
        let mut txn = Txn::new(&inner.state);
        // What the order spends: quote for a buy (at the execution or limit price), base for a sell.
        let (spend_asset, need) = match req.side {
            Side::Buy => {
                let need = match &levels {
                    Some(levels) => {
                        let taken: Decimal = levels.iter().map(|(q, _)| *q).sum();
                        let cost: Decimal = levels.iter().map(|(q, p)| q * p).sum();
                        let rests = limit.is_some() && req.time_in_force == TimeInForce::Gtc;
                        let rest = if rests {
                            (qty - taken) * reference
                        } else {
                            Decimal::ZERO
                        };
                        Some(cost + rest).filter(|v| *v <= MAX_AMOUNT)
                    }
                    None => {
                        let price = exec.unwrap_or(reference);
                        qty.checked_mul(price).filter(|v| *v <= MAX_AMOUNT)
                    }
                };
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
            size: req.size,
            time_in_force: req.time_in_force,
            post_only: req.post_only,
            filled_quantity: Decimal::ZERO,
            filled_quote: Decimal::ZERO,
            fees: Vec::new(),
            average_price: None,
            status: OrderStatus::Open,
            created_ms: now,
            updated_ms: now,
        };
        // Market orders never rest: what the book cannot fill expires, as with IOC.
        let rests = limit.is_some() && req.time_in_force == TimeInForce::Gtc;
        let price_of = |asset: &str| inner.prices.get(asset).map(|(p, _)| *p);
        if let Some(levels) = levels {
            let taken: Decimal = levels.iter().map(|(q, _)| *q).sum();
            let kill = req.time_in_force == TimeInForce::Fok && taken < qty;
            for (q, p) in levels.into_iter().filter(|_| !kill) {
                self.execute(&mut txn, &mut order, q, p, false, now, &price_of);
            }
        } else {
            let fillable = exec.map_or(Decimal::ZERO, |p| self.fillable(qty, p, rules.lot_step));
            let kill = req.time_in_force == TimeInForce::Fok && fillable < qty;
            if let Some(price) = exec
                && fillable > Decimal::ZERO
                && !kill
            {
                self.execute(&mut txn, &mut order, fillable, price, false, now, &price_of);
            }
        }
        // A book walk that spent a quote buy's amount is done though it took less than the
        // quantity the amount buys at the touch.
        let rest = qty - order.filled_quantity;
        order.status = if rest.is_zero() || (walked && budget.is_some()) {
            OrderStatus::Filled
        } else if !rests {
            OrderStatus::Expired
        } else {
            // The rest rests, and locks what it needs at its limit.
            let locked = match req.side {
                Side::Buy => rest * reference,
                Side::Sell => rest,
            };
            txn.adjust(spend_asset, -locked, locked);
            if order.filled_quantity.is_zero() {
                OrderStatus::Open
            } else {
                OrderStatus::PartiallyFilled
            }
        };
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

    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy {
            window_ms: self.config.lookup_window_ms,
            fills_slack_ms: 0,
        }
    }

    /// The market time: the time of the last tick.
    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        self.check_fault()?;
        Ok(self.inner.lock().await.now_ms)
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

    /// The book's touch (the last price on both sides without a book).
    async fn touch(
        &self,
        base: &str,
        quote: &str,
    ) -> Result<Option<(Decimal, Decimal)>, ExchangeError> {
        self.check_fault()?;
        let inst = self.instrument(base, quote)?;
        Ok(self.touch_of(&inst.base).await)
    }

    /// The book model's daily volume of the other traders (None: not modelled, or no book).
    async fn volume_24h(&self, base: &str, quote: &str) -> Result<Option<Decimal>, ExchangeError> {
        self.check_fault()?;
        let inst = self.instrument(base, quote)?;
        Ok(self.book(&inst.base).await.and_then(|b| b.daily_volume))
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        let unknown_after = match self.take_fault(Call::Place) {
            FaultAction::Proceed | FaultAction::Lookup(_) => false,
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
        Ok(OrderAck {
            client_id: order.client_id,
            venue_id: order.venue_id,
            time_ms: order.created_ms,
        })
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
                    order.status.as_str()
                ),
            ));
        }
        let now = inner.now_ms;
        let change = {
            let mut txn = Txn::new(&inner.state);
            // Only base-sized limit orders rest.
            let remaining =
                order.size.base().unwrap_or(order.filled_quantity) - order.filled_quantity;
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
    ) -> Result<OrderLookup, ExchangeError> {
        match self.take_fault(Call::Lookup) {
            FaultAction::Fail(e) => return Err(e),
            FaultAction::Lookup(answer) => return Ok(answer),
            _ => {}
        }
        let inner = self.inner.lock().await;
        Ok(inner
            .state
            .order(client_id)
            .filter(|o| Self::matches(o, base, quote))
            .cloned()
            .map_or(OrderLookup::NotFoundYet, OrderLookup::Found))
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

    async fn fills_since(
        &self,
        base: &str,
        quote: &str,
        since_ms: i64,
    ) -> Result<Vec<Fill>, ExchangeError> {
        self.check_fault()?;
        let inner = self.inner.lock().await;
        Ok(inner
            .state
            .fills
            .iter()
            .filter(|f| {
                f.time_ms >= since_ms
                    && f.base.eq_ignore_ascii_case(base.trim())
                    && f.quote.eq_ignore_ascii_case(quote.trim())
            })
            .cloned()
            .collect())
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

/// Rounded down to the lot step (to 8 places without one).
fn to_lot(q: Decimal, lot_step: Option<Decimal>) -> Decimal {
    match lot_step {
        Some(s) => (q / s).floor() * s,
        None => q.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero),
    }
}

/// A taker order of `qty` base walking `book` around `mid` from the touch: one `(quantity,
/// price)` per level it takes, each level's quantity its depth at its price rounded down to the
/// lot step, never past `limit`, and with a `budget` (a buy sized in quote) never costing more
/// than it. What the last level cannot take is left (it expires or rests). Also says whether
/// the order is done: its quantity taken, or its budget spent (what is left buys nothing at the
/// next level).
fn walk(
    book: &BookModel,
    mid: Decimal,
    side: Side,
    qty: Decimal,
    (limit, budget): (Option<Decimal>, Option<Decimal>),
    lot_step: Option<Decimal>,
) -> (Vec<(Decimal, Decimal)>, bool) {
    let (bid, ask) = book.touch(mid);
    let step = book.level_bps / Decimal::from(10_000);
    let mut left = qty;
    let mut budget = budget;
    let mut out = Vec::new();
    for k in 0..book.levels {
        if left <= Decimal::ZERO {
            return (out, true);
        }
        let away = step * Decimal::from(k);
        let price = match side {
            Side::Buy => ask * (Decimal::ONE + away),
            Side::Sell => bid * (Decimal::ONE - away),
        };
        let price = price.round_dp(12);
        let beyond = limit.is_some_and(|l| match side {
            Side::Buy => price > l,
            Side::Sell => price < l,
        });
        if beyond || price <= Decimal::ZERO {
            break;
        }
        let room = to_lot(book.depth / price, lot_step);
        let mut q = room.min(left);
        if let Some(b) = budget.as_mut() {
            let affordable = to_lot(*b / price, lot_step);
            if affordable <= Decimal::ZERO {
                return (out, true);
            }
            q = q.min(affordable);
            *b -= q * price;
        }
        if q > Decimal::ZERO {
            out.push((q, price));
            left -= q;
        }
    }
    (out, left <= Decimal::ZERO)
}
