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
