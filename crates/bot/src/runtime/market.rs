//! The venue's catalogue and the market's prices as the runtime sees them: the instruments
//! (and the rule book built from them), their statuses applied to the market, and prices filled
//! from the venue's tickers when the last tick has none. A placement refused because its
//! instrument does not trade marks it halted here at once, until the statuses are read again.
//!
//! Owns nothing of a bot's ledger; it never trades.

use super::{BotError, BotResult, Runtime};
use crate::style::ExecStyle;
use rust_decimal::Decimal;
use smartfolio_core::rules::RuleBook;
use smartfolio_core::{Targets, ValidationError};
use smartfolio_exchange::{ExchangeError, InstrumentStatus, reject};

impl Runtime {
    pub(super) async fn refresh_instruments(&mut self) -> BotResult<()> {
        let list = self.exchange.instruments().await?;
        self.instruments.clear();
        self.rules = RuleBook::new();
        for inst in list {
            self.rules.insert(&inst.base, inst.rules.clone())?;
            self.instruments.insert(inst.base.clone(), inst);
        }
        Ok(())
    }

    pub(super) fn apply_instrument_status(&mut self) {
        let m = &mut self.engine.market;
        for i in 0..m.names.len() {
            m.status[i] = self.instruments.get(&m.names[i]).map(|x| x.status);
        }
    }

    /// A placement of `asset` was refused because its instrument does not trade now (a halt
    /// begun since the statuses were last read): take it as halted at once, so no bot sends it
    /// another order and the bots holding it suspend, until the next read says otherwise.
    pub(super) fn mark_not_trading(&mut self, asset: &str) {
        if let Some(i) = self.instruments.get_mut(asset) {
            i.status = InstrumentStatus::Halted;
        }
        let m = &mut self.engine.market;
        if let Some(i) = m.get(asset) {
            m.status[i] = Some(InstrumentStatus::Halted);
        }
    }

    /// Whether `asset`'s instrument trades now, as the runtime last saw it.
    pub(super) fn trading(&self, asset: &str) -> bool {
        let m = &self.engine.market;
        m.get(asset)
            .is_some_and(|i| m.status[i] == Some(InstrumentStatus::Trading))
    }

    /// Make sure `assets` are priced: the market's last tick, else the venue's tickers.
    pub(super) async fn ensure_prices(&mut self, assets: &[String], quote: &str) -> BotResult<()> {
        let missing: Vec<String> = assets
            .iter()
            .filter(|a| *a != quote && self.engine.market.price_of(a).is_none())
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let tickers = self
            .exchange
            .tickers(&missing, quote)
            .await
            .map_err(|e| match e {
                ExchangeError::Rejected { code, .. } if code == reject::NO_PRICE => {
                    BotError::NoPrice(missing.join(", "))
                }
                ExchangeError::Rejected { code, .. } if code == reject::UNKNOWN_INSTRUMENT => {
                    BotError::UnknownInstrument {
                        asset: missing.join(", "),
                        quote: quote.to_string(),
                    }
                }
                other => BotError::Exchange(other),
            })?;
        for t in tickers {
            self.engine.market.set_price(&t.base, t.last, t.time_ms);
        }
        self.apply_instrument_status();
        Ok(())
    }

    pub(super) fn price(&self, asset: &str, quote: &str) -> BotResult<Decimal> {
        if asset == quote {
            return Ok(Decimal::ONE);
        }
        self.engine
            .market
            .price_of(asset)
            .ok_or_else(|| BotError::NoPrice(asset.to_string()))
    }

    pub(super) fn check_listed(&self, targets: &Targets, quote: &str) -> BotResult<()> {
        for a in targets.assets() {
            if a != quote && !self.instruments.contains_key(a) {
                return Err(BotError::UnknownInstrument {
                    asset: a.clone(),
                    quote: quote.to_string(),
                });
            }
        }
        Ok(())
    }

    /// A maker bot needs post-only orders on every instrument of its basket.
    pub(super) fn check_post_only(
        &self,
        targets: &Targets,
        quote: &str,
        style: ExecStyle,
    ) -> BotResult<()> {
        if style != ExecStyle::Maker {
            return Ok(());
        }
        for a in targets.assets() {
            if let Some(i) = self
                .instruments
                .get(a)
                .filter(|i| a != quote && !i.post_only)
            {
                return Err(ValidationError::new(
                    "execution.style",
                    "maker",
                    format!(
                        "market or limit: {} takes no post-only orders on {}",
                        self.venue, i.symbol
                    ),
                )
                .into());
            }
        }
        Ok(())
    }
}
