//! The paper exchange's configuration.

use crate::{InstrumentRules, InstrumentStatus, OrderLimits};
use rust_decimal::Decimal;
use smartfolio_core::ValidationError;
use smartfolio_core::targets::normalize_symbol;

/// One instrument of the paper exchange: `base` against the exchange's quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperInstrument {
    pub base: String,
    pub rules: InstrumentRules,
    /// Maximums and price bands (none by default).
    pub limits: OrderLimits,
    pub status: InstrumentStatus,
    /// Whether post-only orders are taken (true unless configured otherwise).
    pub post_only: bool,
    /// The order book it is modelled with; None: the flat model (every order at the last
    /// price, market orders with [`PaperConfig::slippage_bps`]).
    pub book: Option<BookModel>,
}

/// An instrument's order book around the last price (the mid): the best bid and ask
/// `spread_bps` apart, then `levels` levels a side, `level_bps` apart, each holding `depth` of
/// quote. A taker order walks it from the touch (one fill per level, what is beyond the last
/// level expires or rests); a resting limit order fills as maker, at its price, when a trade
/// price crosses it (strictly: a buy when the price goes below it, a sell above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookModel {
    pub spread_bps: Decimal,
    pub level_bps: Decimal,
    /// Quote notional at each level.
    pub depth: Decimal,
    pub levels: u32,
    /// The quote volume the other traders trade on the instrument in 24 hours, as the venue
    /// reports it (`volume_24h`, a simulator's 24-hour ticker); None: not modelled (the venue
    /// says nothing).
    pub daily_volume: Option<Decimal>,
}

impl BookModel {
    /// The spread as a share of an hourly candle's high–low range (an assumption of the model,
    /// stated where it is used: liquid spot books quote a spread that is a small part of the
    /// range the price covers in an hour).
    pub const SPREAD_OF_RANGE: Decimal = Decimal::from_parts(2, 0, 0, false, 2);
    /// The narrowest spread the model quotes (0.5 bp).
    pub const MIN_SPREAD_BPS: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

    /// A book with a 1 bp spread, 1 bp between levels, 50,000 quote at each of 20 levels.
    pub fn new() -> Self {
        Self {
            spread_bps: Decimal::ONE,
            level_bps: Decimal::ONE,
            depth: Decimal::from(50_000),
            levels: 20,
            daily_volume: None,
        }
    }

    /// The book of a candle: the spread [`Self::SPREAD_OF_RANGE`] of its high–low range over
    /// its close (at least [`Self::MIN_SPREAD_BPS`]), levels half a spread apart (at least
    /// half the minimum), the depth and level count of `self`.
    pub fn from_candle(&self, high: Decimal, low: Decimal, close: Decimal) -> Self {
        let range_bps = if close > Decimal::ZERO && high > low {
            (high - low) / close * Decimal::from(10_000)
        } else {
            Decimal::ZERO
        };
        let spread = (range_bps * Self::SPREAD_OF_RANGE).max(Self::MIN_SPREAD_BPS);
        Self {
            spread_bps: spread.round_dp(4),
            level_bps: (spread / Decimal::TWO).round_dp(4),
            ..*self
        }
    }

    /// The same book, its instrument trading `quote` a day (see [`Self::daily_volume`]).
    pub fn with_daily_volume(mut self, quote: Decimal) -> Self {
        self.daily_volume = Some(quote);
        self
    }

    /// The best bid and ask around `mid`.
    pub fn touch(&self, mid: Decimal) -> (Decimal, Decimal) {
        let half = self.spread_bps / Decimal::from(20_000);
        (mid * (Decimal::ONE - half), mid * (Decimal::ONE + half))
    }

    fn validate(&self, field: &str) -> Result<(), ValidationError> {
        let bad = |k: &str, v: String, allowed: &str| {
            Err(ValidationError::new(format!("{field}.{k}"), v, allowed))
        };
        if self.spread_bps < Decimal::ZERO || self.spread_bps >= Decimal::from(10_000) {
            return bad(
                "spread_bps",
                self.spread_bps.to_string(),
                "basis points in [0, 10000)",
            );
        }
        if self.level_bps <= Decimal::ZERO || self.level_bps >= Decimal::from(1_000) {
            return bad(
                "level_bps",
                self.level_bps.to_string(),
                "basis points in (0, 1000)",
            );
        }
        if self.depth <= Decimal::ZERO {
            return bad("depth", self.depth.to_string(), "a quote notional > 0");
        }
        if !(1..=1_000).contains(&self.levels) {
            return bad("levels", self.levels.to_string(), "1 to 1000 levels");
        }
        if let Some(v) = self.daily_volume
            && v <= Decimal::ZERO
        {
            return bad(
                "daily_volume",
                v.to_string(),
                "a quote volume > 0 (or none: not modelled)",
            );
        }
        Ok(())
    }
}

impl Default for BookModel {
    fn default() -> Self {
        Self::new()
    }
}

/// How a paper exchange behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperConfig {
    /// The account's name in the persistence (several accounts may share one store).
    pub account: String,
    /// The quote currency of every instrument (e.g. `USDT`).
    pub quote: String,
    /// Fee rate on each fill, charged in the currency received (default 0.001 = 0.1%).
    pub fee_rate: Decimal,
    /// Fee rate of a resting order's fills (maker); None: [`Self::fee_rate`].
    pub maker_fee_rate: Option<Decimal>,
    /// Slippage of market orders in basis points: buys fill at `last × (1 + bps/10000)`,
    /// sells at `last × (1 − bps/10000)` (default 0).
    pub slippage_bps: Decimal,
    /// A third asset fees are paid in when the account holds enough of it free (Binance's BNB,
    /// OKX's OKB, Gate's GT): the fee's value at the last prices, converted into that asset.
    /// Without enough of it (or a price for it) the fee is charged in the currency received.
    pub fee_asset: Option<String>,
    /// The largest notional (in quote) one order can fill at one price event (its placement or
    /// a tick); the rest of a GTC limit order rests, the rest of a market or IOC order expires,
    /// and an FOK order that cannot fill whole expires unfilled. `None`: unlimited depth.
    pub depth: Option<Decimal>,
    /// How long after placement a lookup by client id may answer "not found yet" (see
    /// [`crate::settle`]); 0 (the default): orders are found as soon as they are taken.
    pub lookup_window_ms: i64,
    pub instruments: Vec<PaperInstrument>,
}

impl PaperConfig {
    /// The default fee rate, 0.1% (a typical spot taker fee).
    pub const DEFAULT_FEE_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 3);

    /// An account with the default fee, no slippage and no instruments yet.
    pub fn new(account: impl Into<String>, quote: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            quote: quote.into(),
            fee_rate: Self::DEFAULT_FEE_RATE,
            maker_fee_rate: None,
            slippage_bps: Decimal::ZERO,
            fee_asset: None,
            depth: None,
            lookup_window_ms: 0,
            instruments: Vec::new(),
        }
    }

    /// Add a trading instrument `base`/quote with these rules.
    pub fn with_instrument(mut self, base: impl Into<String>, rules: InstrumentRules) -> Self {
        self.instruments.push(PaperInstrument {
            base: base.into(),
            rules,
            limits: OrderLimits::default(),
            status: InstrumentStatus::Trading,
            post_only: true,
            book: None,
        });
        self
    }

    /// Set the limits of the instrument `base` added before (no effect for an unknown base).
    pub fn with_limits(mut self, base: &str, limits: OrderLimits) -> Self {
        for inst in &mut self.instruments {
            if inst.base.eq_ignore_ascii_case(base.trim()) {
                inst.limits = limits.clone();
            }
        }
        self
    }

    /// Pay fees in `asset` when the account holds enough of it.
    pub fn with_fee_asset(mut self, asset: impl Into<String>) -> Self {
        self.fee_asset = Some(asset.into());
        self
    }

    /// Cap what one order fills per price event at `notional` quote.
    pub fn with_depth(mut self, notional: Decimal) -> Self {
        self.depth = Some(notional);
        self
    }

    pub fn with_lookup_window_ms(mut self, ms: i64) -> Self {
        self.lookup_window_ms = ms;
        self
    }

    /// Model every instrument added so far with `book` (see [`BookModel`]).
    pub fn with_book(mut self, book: BookModel) -> Self {
        for inst in &mut self.instruments {
            inst.book = Some(book);
        }
        self
    }

    pub fn with_maker_fee_rate(mut self, rate: Decimal) -> Self {
        self.maker_fee_rate = Some(rate);
        self
    }

    pub fn with_fee_rate(mut self, fee_rate: Decimal) -> Self {
        self.fee_rate = fee_rate;
        self
    }

    pub fn with_slippage_bps(mut self, bps: Decimal) -> Self {
        self.slippage_bps = bps;
        self
    }

    /// Check every field; the error names the field, the value and what is allowed.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.account.trim().is_empty() {
            return Err(ValidationError::new(
                "paper.account",
                &self.account,
                "a non-empty account name",
            ));
        }
        normalize_symbol("paper.quote", &self.quote)?;
        if self.fee_rate < Decimal::ZERO || self.fee_rate >= Decimal::ONE {
            return Err(ValidationError::new(
                "paper.fee_rate",
                self.fee_rate.to_string(),
                "a fraction in [0, 1), e.g. 0.001 for 0.1%",
            ));
        }
        if let Some(r) = self.maker_fee_rate
            && (r < Decimal::ZERO || r >= Decimal::ONE)
        {
            return Err(ValidationError::new(
                "paper.maker_fee_rate",
                r.to_string(),
                "a fraction in [0, 1), e.g. 0.0008 for 0.08%",
            ));
        }
        if self.slippage_bps < Decimal::ZERO || self.slippage_bps >= Decimal::from(10_000) {
            return Err(ValidationError::new(
                "paper.slippage_bps",
                self.slippage_bps.to_string(),
                "basis points in [0, 10000)",
            ));
        }
        if let Some(asset) = &self.fee_asset {
            normalize_symbol("paper.fee_asset", asset)?;
        }
        if let Some(d) = self.depth
            && d <= Decimal::ZERO
        {
            return Err(ValidationError::new(
                "paper.depth",
                d.to_string(),
                "a notional > 0 (or no depth limit)",
            ));
        }
        if self.lookup_window_ms < 0 {
            return Err(ValidationError::new(
                "paper.lookup_window_ms",
                self.lookup_window_ms.to_string(),
                "milliseconds ≥ 0",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for inst in &self.instruments {
            let base = normalize_symbol("paper.instruments.base", &inst.base)?;
            if base == self.quote.trim().to_ascii_uppercase() {
                return Err(ValidationError::new(
                    "paper.instruments.base",
                    &inst.base,
                    "an asset other than the quote",
                ));
            }
            if !seen.insert(base.clone()) {
                return Err(ValidationError::new(
                    "paper.instruments.base",
                    &inst.base,
                    "each instrument listed once",
                ));
            }
            let r = &inst.rules;
            let field = |k: &str| format!("paper.instruments.{base}.{k}");
            for (key, value, strict) in [
                ("lot_step", r.lot_step, true),
                ("tick_size", r.tick_size, true),
                ("min_size", r.min_size, false),
                ("min_notional", r.min_notional, false),
            ] {
                if let Some(v) = value
                    && (v < Decimal::ZERO || (strict && v.is_zero()))
                {
                    let allowed = if strict {
                        "a number > 0"
                    } else {
                        "a number ≥ 0"
                    };
                    return Err(ValidationError::new(field(key), v.to_string(), allowed));
                }
            }
            if let Some(b) = &inst.book {
                b.validate(&field("book"))?;
            }
            let l = &inst.limits;
            for (key, value) in [
                ("max_quantity", l.max_quantity),
                ("max_market_quantity", l.max_market_quantity),
                ("max_notional", l.max_notional),
            ] {
                if let Some(v) = value
                    && v <= Decimal::ZERO
                {
                    return Err(ValidationError::new(
                        field(key),
                        v.to_string(),
                        "a number > 0",
                    ));
                }
            }
            for (key, band) in [("buy_band", l.buy_band), ("sell_band", l.sell_band)] {
                if let Some(b) = band
                    && (b.down <= Decimal::ZERO || b.down > Decimal::ONE || b.up < Decimal::ONE)
                {
                    return Err(ValidationError::new(
                        field(key),
                        format!("down {} up {}", b.down, b.up),
                        "multipliers with 0 < down ≤ 1 ≤ up",
                    ));
                }
            }
        }
        Ok(())
    }
}
