//! Realized gains by lot method (SPEC §10): a bot's ledger movements in, its disposals with the
//! lots they consumed, and per asset and year totals split short- and long-term, out.
//!
//! Pure: the caller reads the movements (trades with their fees, deposits, transfers out) and
//! passes them in; money is `Decimal` throughout and nothing is rounded, so a lot's quantity and
//! cost are split exactly and the pieces always sum to the whole.
//!
//! - **Lots.** Every acquisition of an asset other than the quote is a lot: its quantity, its
//!   total cost in quote, when it was acquired and where its basis comes from. The quote is cash
//!   and carries no lots.
//! - **Methods.** [`Method::Fifo`] consumes the oldest lot first, [`Method::Lifo`] the newest,
//!   [`Method::Hifo`] the highest unit cost (the oldest among equals), [`Method::Average`] the
//!   oldest, after every acquisition re-spreads the asset's total cost evenly over its units (so
//!   each disposal's basis is the average cost per unit; its lots still give holding periods).
//! - **Disposals** ([`DisposalKind`]): a sell, and a fee paid in a third asset (BNB) out of the
//!   bot's own holding of it. A stop that keeps the coins, or a withdrawal of coins, moves lots
//!   out with their basis ([`TransferOut`]); it is not a disposal.
//! - **Fees.** In the received asset of a buy: fewer units in the lot, same cost. In the base of
//!   a sell: those units are disposed of too, with no proceeds. In the quote: added to a buy's
//!   cost, taken from a sell's proceeds. In a third asset: its quote value (the caller prices
//!   it) is added to the cost or taken from the proceeds, and the fee's units are a disposal of
//!   that asset at that value; when the bot did not hold them (the account paid the fee outside
//!   the bot's ledger) there is no disposal and the trade is flagged.
//! - **Coins brought in** have the basis given at the transfer, else the market price then,
//!   flagged ([`Flag::BasisFromMarket`]) on every disposal that consumes them.
//! - **Holding period**: from the lot's acquisition to the disposal; long-term when it is at
//!   least `long_term_days` whole days (default 365).

use crate::ValidationError;
use chrono::Datelike;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The default holding period from which a gain is long-term.
pub const DEFAULT_LONG_TERM_DAYS: u32 = 365;

/// The largest holding-period boundary accepted (100 years).
pub const MAX_LONG_TERM_DAYS: u32 = 36_500;

/// Which lots a disposal consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Fifo,
    Lifo,
    Hifo,
    Average,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::Fifo, Method::Lifo, Method::Hifo, Method::Average];
    /// What the parser accepts, for error messages.
    pub const ALLOWED: &'static str = "fifo, lifo, hifo or average";

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Fifo => "fifo",
            Method::Lifo => "lifo",
            Method::Hifo => "hifo",
            Method::Average => "average",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ValidationError::new("method", s, Method::ALLOWED))
    }
}

/// How gains are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub method: Method,
    /// Whole days held from which a lot's gain is long-term.
    pub long_term_days: u32,
}

impl Options {
    /// `long_term_days` from 1 to [`MAX_LONG_TERM_DAYS`].
    pub fn new(method: Method, long_term_days: u32) -> Result<Self, ValidationError> {
        if !(1..=MAX_LONG_TERM_DAYS).contains(&long_term_days) {
            return Err(ValidationError::new(
                "long-term-days",
                long_term_days.to_string(),
                format!("whole days from 1 to {MAX_LONG_TERM_DAYS}"),
            ));
        }
        Ok(Self {
            method,
            long_term_days,
        })
    }
}

/// Buy or sell, as the fill says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeSide {
    Buy,
    Sell,
}

/// One fill of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub base: String,
    pub quote: String,
    pub side: TradeSide,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    /// A fee in a third asset valued in the quote at the trade's time; `None` when it has no
    /// price (then it counts 0 and the trade is flagged). Ignored for other fees.
    pub fee_value: Option<Decimal>,
    /// Whether a third-asset fee was paid out of the bot's own holding (its ledger has the
    /// fee entry); otherwise the account paid it outside the bot.
    pub fee_from_bot: bool,
}

/// Where a lot's cost basis comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisSource {
    /// A buy: what was paid, with its fees.
    Trade,
    /// Coins brought in with their basis given.
    Given,
    /// Coins brought in without one: the market price at the transfer (flagged).
    Market,
    /// Units disposed of that no lot held (a ledger that does not add up): zero basis, flagged.
    Missing,
}

/// Why coins leave the bot without being disposed of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// A withdrawal of coins.
    Withdraw,
    /// A stop that keeps the coins releases them from the bot.
    Release,
}

/// What happened, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MovementKind {
    Trade(Trade),
    /// Coins (or quote) brought in: `unit_basis` per unit, from `source` (`Given` or `Market`).
    Deposit {
        asset: String,
        quantity: Decimal,
        unit_basis: Decimal,
        source: BasisSource,
    },
    /// Coins (or quote) moved out with their basis.
    TransferOut {
        asset: String,
        quantity: Decimal,
        kind: TransferKind,
    },
}

/// One ledger movement: when, what the ledger calls it (a fill id, a flow), what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub time_ms: i64,
    pub reference: String,
    pub kind: MovementKind,
}

/// Something the reader of a disposal must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A consumed lot's basis is the market price at its transfer (no basis was given).
    BasisFromMarket,
    /// The fee was in a third asset without a price: it counts 0.
    UnpricedFee,
    /// The fee was in a third asset the bot did not hold: paid outside the bot, no disposal.
    FeeOutsideBot,
    /// More units were disposed of than the lots held: the rest has zero basis.
    MissingLots,
}

/// Short- or long-term, by the holding period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    Short,
    Long,
    /// A disposal whose lots fall on both sides of the boundary.
    Mixed,
}

/// A sell, or a fee paid in a third asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisposalKind {
    Sell,
    Fee,
}

/// The part of a lot a disposal or transfer consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotUse {
    pub acquired_ms: i64,
    pub quantity: Decimal,
    pub cost: Decimal,
    pub basis: BasisSource,
    /// Its share of the proceeds (by quantity); zero in a transfer.
    pub proceeds: Decimal,
    pub gain: Decimal,
    pub held_days: i64,
    pub term: Term,
}

/// One disposal with the lots it consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disposal {
    pub time_ms: i64,
    pub year: i32,
    pub reference: String,
    pub kind: DisposalKind,
    pub asset: String,
    pub quantity: Decimal,
    pub proceeds: Decimal,
    pub cost: Decimal,
    pub gain: Decimal,
    pub term: Term,
    /// The shortest and longest holding period of its lots, in whole days.
    pub held_days_min: i64,
    pub held_days_max: i64,
    pub lots: Vec<LotUse>,
    pub flags: Vec<Flag>,
}

/// Coins that left the bot with their basis (not a disposal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferOut {
    pub time_ms: i64,
    pub reference: String,
    pub kind: TransferKind,
    pub asset: String,
    pub quantity: Decimal,
    pub cost: Decimal,
    pub lots: Vec<LotUse>,
}

/// Proceeds, cost and gain of a set of lot uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Amounts {
    pub proceeds: Decimal,
    pub cost: Decimal,
    pub gain: Decimal,
}

impl Amounts {
    fn add(&mut self, proceeds: Decimal, cost: Decimal) {
        self.proceeds += proceeds;
        self.cost += cost;
        self.gain += proceeds - cost;
    }

    fn add_all(&mut self, other: &Amounts) {
        self.proceeds += other.proceeds;
        self.cost += other.cost;
        self.gain += other.gain;
    }
}

/// One asset's (or every asset's, `asset` = `*`) disposals in one calendar year (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub year: i32,
    pub asset: String,
    pub disposals: usize,
    pub quantity: Decimal,
    pub total: Amounts,
    pub short_term: Amounts,
    pub long_term: Amounts,
}

impl Totals {
    fn new(year: i32, asset: &str) -> Self {
        Totals {
            year,
            asset: asset.to_string(),
            disposals: 0,
            quantity: Decimal::ZERO,
            total: Amounts::default(),
            short_term: Amounts::default(),
            long_term: Amounts::default(),
        }
    }

    fn add(&mut self, d: &Disposal) {
        self.disposals += 1;
        self.quantity += d.quantity;
        for l in &d.lots {
            self.total.add(l.proceeds, l.cost);
            match l.term {
                Term::Long => self.long_term.add(l.proceeds, l.cost),
                _ => self.short_term.add(l.proceeds, l.cost),
            }
        }
    }
}

/// What a bot still holds of an asset, with its basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub asset: String,
    pub quantity: Decimal,
    pub cost: Decimal,
}

/// The whole computation over a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Realized {
    pub method: Method,
    pub long_term_days: u32,
    pub disposals: Vec<Disposal>,
    pub transfers_out: Vec<TransferOut>,
    /// Open lots at the end, per asset.
    pub holdings: Vec<Holding>,
}

impl Realized {
    /// Per asset totals of `year` (sorted by asset), then every asset's (`*`) when any.
    pub fn totals(&self, year: i32) -> Vec<Totals> {
        let mut by_asset: BTreeMap<&str, Totals> = BTreeMap::new();
        for d in self.disposals.iter().filter(|d| d.year == year) {
            by_asset
                .entry(&d.asset)
                .or_insert_with(|| Totals::new(year, &d.asset))
                .add(d);
        }
        let mut out: Vec<Totals> = by_asset.into_values().collect();
        if !out.is_empty() {
            let mut all = Totals::new(year, "*");
            for t in &out {
                all.disposals += t.disposals;
                all.total.add_all(&t.total);
                all.short_term.add_all(&t.short_term);
                all.long_term.add_all(&t.long_term);
            }
            all.quantity = Decimal::ZERO;
            out.push(all);
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Lot {
    acquired_ms: i64,
    quantity: Decimal,
    cost: Decimal,
    basis: BasisSource,
}

/// The calendar year (UTC) of an epoch-ms time.
pub fn year_of(time_ms: i64) -> i32 {
    chrono::DateTime::from_timestamp_millis(time_ms)
        .map(|t| t.year())
        .unwrap_or(1970)
}

/// A calendar year from the command line: four digits, 1970 to 9999.
pub fn parse_year(text: &str) -> Result<i32, ValidationError> {
    text.parse::<i32>()
        .ok()
        .filter(|y| (1970..=9999).contains(y) && text.len() == 4)
        .ok_or_else(|| ValidationError::new("year", text, "a year from 1970 to 9999, such as 2025"))
}

/// `total` split over `parts` in proportion, the last part taking the remainder so the pieces
/// sum to `total` exactly.
fn split(total: Decimal, parts: &[Decimal]) -> Vec<Decimal> {
    let whole: Decimal = parts.iter().copied().sum();
    let mut out = Vec::with_capacity(parts.len());
    let mut left = total;
    for (i, p) in parts.iter().enumerate() {
        let share = if i + 1 == parts.len() || whole.is_zero() {
            left
        } else {
            total * *p / whole
        };
        left -= share;
        out.push(share);
    }
    out
}

struct Book {
    quote: String,
    opts: Options,
    lots: BTreeMap<String, Vec<Lot>>,
    out: Realized,
}

impl Book {
    fn acquire(&mut self, asset: &str, lot: Lot) {
        if asset == self.quote || lot.quantity <= Decimal::ZERO {
            return;
        }
        let lots = self.lots.entry(asset.to_string()).or_default();
        lots.push(lot);
        if self.opts.method == Method::Average {
            let qty: Vec<Decimal> = lots.iter().map(|l| l.quantity).collect();
            let cost: Decimal = lots.iter().map(|l| l.cost).sum();
            for (l, c) in lots.iter_mut().zip(split(cost, &qty)) {
                l.cost = c;
            }
        }
    }

    /// The index of the lot consumed next.
    fn next_lot(&self, lots: &[Lot]) -> usize {
        match self.opts.method {
            Method::Fifo | Method::Average => 0,
            Method::Lifo => lots.len() - 1,
            Method::Hifo => {
                let mut best = 0;
                for (i, l) in lots.iter().enumerate().skip(1) {
                    let b = &lots[best];
                    if l.cost / l.quantity > b.cost / b.quantity {
                        best = i;
                    }
                }
                best
            }
        }
    }

    /// Take `quantity` of `asset` out of its lots (zero-basis `Missing` for what they lack).
    fn consume(&mut self, asset: &str, quantity: Decimal, time_ms: i64) -> Vec<LotUse> {
        let mut uses = Vec::new();
        let mut left = quantity;
        let mut lots = self.lots.remove(asset).unwrap_or_default();
        while left > Decimal::ZERO && !lots.is_empty() {
            let i = self.next_lot(&lots);
            let lot = &mut lots[i];
            let take = left.min(lot.quantity);
            let cost = if take == lot.quantity {
                lot.cost
            } else {
                lot.cost * take / lot.quantity
            };
            lot.quantity -= take;
            lot.cost -= cost;
            left -= take;
            uses.push(self.lot_use(lot.acquired_ms, take, cost, lot.basis, time_ms));
            if lot.quantity.is_zero() {
                lots.remove(i);
            }
        }
        if !lots.is_empty() {
            self.lots.insert(asset.to_string(), lots);
        }
        if left > Decimal::ZERO {
            uses.push(self.lot_use(time_ms, left, Decimal::ZERO, BasisSource::Missing, time_ms));
        }
        uses
    }

    fn lot_use(
        &self,
        acquired_ms: i64,
        quantity: Decimal,
        cost: Decimal,
        basis: BasisSource,
        time_ms: i64,
    ) -> LotUse {
        let held_ms = (time_ms - acquired_ms).max(0);
        let term = if held_ms >= i64::from(self.opts.long_term_days) * DAY_MS {
            Term::Long
        } else {
            Term::Short
        };
        LotUse {
            acquired_ms,
            quantity,
            cost,
            basis,
            proceeds: Decimal::ZERO,
            gain: -cost,
            held_days: held_ms / DAY_MS,
            term,
        }
    }

    fn dispose(
        &mut self,
        m: &Movement,
        kind: DisposalKind,
        asset: &str,
        quantity: Decimal,
        proceeds: Decimal,
        mut flags: Vec<Flag>,
    ) {
        if asset == self.quote || quantity <= Decimal::ZERO {
            return;
        }
        let mut lots = self.consume(asset, quantity, m.time_ms);
        let qty: Vec<Decimal> = lots.iter().map(|l| l.quantity).collect();
        for (l, p) in lots.iter_mut().zip(split(proceeds, &qty)) {
            l.proceeds = p;
            l.gain = p - l.cost;
        }
        if lots.iter().any(|l| l.basis == BasisSource::Market) {
            flags.push(Flag::BasisFromMarket);
        }
        if lots.iter().any(|l| l.basis == BasisSource::Missing) {
            flags.push(Flag::MissingLots);
        }
        flags.sort();
        flags.dedup();
        let cost: Decimal = lots.iter().map(|l| l.cost).sum();
        let term = if lots.iter().all(|l| l.term == Term::Long) {
            Term::Long
        } else if lots.iter().all(|l| l.term == Term::Short) {
            Term::Short
        } else {
            Term::Mixed
        };
        self.out.disposals.push(Disposal {
            time_ms: m.time_ms,
            year: year_of(m.time_ms),
            reference: m.reference.clone(),
            kind,
            asset: asset.to_string(),
            quantity,
            proceeds,
            cost,
            gain: proceeds - cost,
            term,
            held_days_min: lots.iter().map(|l| l.held_days).min().unwrap_or(0),
            held_days_max: lots.iter().map(|l| l.held_days).max().unwrap_or(0),
            lots,
            flags,
        });
    }

    fn trade(&mut self, m: &Movement, t: &Trade) {
        let notional = t.quantity * t.price;
        let mut flags = Vec::new();
        let (fee_in_base, fee_in_quote, fee_third) = if t.fee.is_zero() {
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
        } else if t.fee_asset == t.base {
            (t.fee, Decimal::ZERO, Decimal::ZERO)
        } else if t.fee_asset == t.quote {
            (Decimal::ZERO, t.fee, Decimal::ZERO)
        } else {
            let value = t.fee_value.unwrap_or_else(|| {
                flags.push(Flag::UnpricedFee);
                Decimal::ZERO
            });
            if t.fee_from_bot {
                self.dispose(
                    m,
                    DisposalKind::Fee,
                    &t.fee_asset,
                    t.fee,
                    value,
                    flags.clone(),
                );
            } else {
                flags.push(Flag::FeeOutsideBot);
            }
            (Decimal::ZERO, Decimal::ZERO, value)
        };
        match t.side {
            TradeSide::Buy => {
                let lot = Lot {
                    acquired_ms: m.time_ms,
                    quantity: t.quantity - fee_in_base,
                    cost: notional + fee_in_quote + fee_third,
                    basis: BasisSource::Trade,
                };
                self.acquire(&t.base, lot);
            }
            TradeSide::Sell => {
                let proceeds = notional - fee_in_quote - fee_third;
                let quantity = t.quantity + fee_in_base;
                self.dispose(m, DisposalKind::Sell, &t.base, quantity, proceeds, flags);
            }
        }
    }

    fn transfer_out(&mut self, m: &Movement, asset: &str, quantity: Decimal, kind: TransferKind) {
        if asset == self.quote || quantity <= Decimal::ZERO {
            return;
        }
        let lots = self.consume(asset, quantity, m.time_ms);
        self.out.transfers_out.push(TransferOut {
            time_ms: m.time_ms,
            reference: m.reference.clone(),
            kind,
            asset: asset.to_string(),
            quantity,
            cost: lots.iter().map(|l| l.cost).sum(),
            lots: lots
                .into_iter()
                .map(|l| LotUse {
                    gain: Decimal::ZERO,
                    ..l
                })
                .collect(),
        });
    }
}

/// The realized gains of a bot whose quote is `quote`, over its ledger `movements` (sorted by
/// time here, keeping the given order among equal times: pass them in ledger order).
pub fn realize(quote: &str, movements: &[Movement], opts: Options) -> Realized {
    let mut ordered: Vec<&Movement> = movements.iter().collect();
    ordered.sort_by_key(|m| m.time_ms);
    let mut book = Book {
        quote: quote.to_string(),
        opts,
        lots: BTreeMap::new(),
        out: Realized {
            method: opts.method,
            long_term_days: opts.long_term_days,
            disposals: Vec::new(),
            transfers_out: Vec::new(),
            holdings: Vec::new(),
        },
    };
    for m in ordered {
        match &m.kind {
            MovementKind::Trade(t) => book.trade(m, t),
            MovementKind::Deposit {
                asset,
                quantity,
                unit_basis,
                source,
            } => book.acquire(
                asset,
                Lot {
                    acquired_ms: m.time_ms,
                    quantity: *quantity,
                    cost: *quantity * *unit_basis,
                    basis: *source,
                },
            ),
            MovementKind::TransferOut {
                asset,
                quantity,
                kind,
            } => book.transfer_out(m, asset, *quantity, *kind),
        }
    }
    let holdings = book
        .lots
        .iter()
        .map(|(asset, lots)| Holding {
            asset: asset.clone(),
            quantity: lots.iter().map(|l| l.quantity).sum(),
            cost: lots.iter().map(|l| l.cost).sum(),
        })
        .collect();
    let mut out = book.out;
    out.holdings = holdings;
    out
}

#[cfg(test)]
mod tests;
