//! Admission: everything a command checks before it writes or trades (the config, free names,
//! listed assets, prices, the minimum investment, the account's unallocated funds, the bot's
//! status and, for "rebalance now", its cooldown). The actions ([`super::lifecycle`]) and their
//! previews ([`super::preview`]) call the same checks.
//!
//! The `price_*` methods are the first half of a command's admission: its checks that need no
//! price, then the prices it reads, fetched from the venue's tickers when the market has none.
//! The command calls its own; the caller of a preview calls it first (a preview takes `&self`).
//!
//! Never writes to the store and never sends an order; the market's price cache is the only
//! state written here.

use super::{BotError, BotResult, Runtime};
use crate::config::{BotConfig, BotStatus, CoinAmount, StopMode};
use rust_decimal::Decimal;
use smartfolio_core::plan::minimum_investment;
use smartfolio_core::withdraw::Withdrawal;
use smartfolio_core::{Portfolio, Targets, Trigger, ValidationError, limits};
use smartfolio_store::{BotId, FlowItem};

impl Runtime {
    /// What the account holds of `asset` beyond every bot's ledger.
    async fn unallocated(&self, asset: &str) -> BotResult<Decimal> {
        let account: Decimal = self
            .exchange
            .balances()
            .await?
            .iter()
            .filter(|b| b.asset == asset)
            .map(|b| b.total())
            .sum();
        let held: Decimal = self
            .engine
            .bots
            .iter()
            .filter(|b| b.state.status.is_active())
            .map(|b| b.holdings.get(asset).copied().unwrap_or_default())
            .sum();
        Ok(account - held)
    }

    async fn check_funds(&self, items: &[(String, Decimal)]) -> BotResult<()> {
        for (asset, needed) in items {
            let available = self.unallocated(asset).await?;
            if available < *needed {
                return Err(BotError::InsufficientFunds {
                    asset: asset.clone(),
                    available,
                    needed: *needed,
                });
            }
        }
        Ok(())
    }

    /// The smallest investment in quote for `targets` at current prices (SPEC §6): every
    /// initial leg clears its minimums, with a margin of one lot step per asset.
    fn minimum_for(&self, targets: &Targets, quote: &str) -> BotResult<Decimal> {
        let assets = targets.assets().to_vec();
        let prices: Vec<Decimal> = assets
            .iter()
            .map(|a| self.price(a, quote))
            .collect::<BotResult<_>>()?;
        let p = Portfolio::from_parts(
            quote.to_string(),
            assets.clone(),
            targets.weights().to_vec(),
            vec![Decimal::ZERO; assets.len()],
            prices.clone(),
            Decimal::ONE,
            assets.len(),
        )?;
        let mut min = minimum_investment(&p, &self.rules);
        // Lot rounding can shave a leg below its minimum: add one lot of each asset, scaled.
        let mut lot_margin = Decimal::ZERO;
        for (i, a) in assets.iter().enumerate() {
            let t = targets.weights()[i];
            if a == quote || t.is_zero() {
                continue;
            }
            if let Some(step) = self.rules.get(a).lot_step {
                lot_margin = lot_margin.max(step * prices[i] / t);
            }
        }
        if !min.is_zero() {
            min += lot_margin;
        }
        Ok(min.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::AwayFromZero))
    }

    /// Value in quote of quote + coins at current prices.
    fn value_of(
        &self,
        quote_amount: Decimal,
        coins: &[CoinAmount],
        quote: &str,
    ) -> BotResult<Decimal> {
        let mut v = quote_amount;
        for c in coins {
            v += c.quantity * self.price(&c.asset, quote)?;
        }
        Ok(v)
    }

    fn flow_items(
        &self,
        quote_amount: Decimal,
        coins: &[CoinAmount],
        quote: &str,
    ) -> BotResult<Vec<FlowItem>> {
        let mut items = Vec::new();
        if quote_amount > Decimal::ZERO {
            items.push(FlowItem {
                asset: quote.to_string(),
                amount: quote_amount,
                value: quote_amount,
                basis: None,
            });
        }
        for c in coins {
            items.push(FlowItem {
                asset: c.asset.clone(),
                amount: c.quantity,
                value: c.quantity * self.price(&c.asset, quote)?,
                basis: c.basis,
            });
        }
        Ok(items)
    }

    /// The checks of [`Runtime::create`] that read no price: the config, the venue, a free name
    /// and listed assets. Normalizes `config` in place; returns its targets.
    async fn check_create(&self, config: &mut BotConfig) -> BotResult<Targets> {
        let targets = config.validate()?;
        if config.venue != self.venue || config.account != self.account {
            return Err(ValidationError::new(
                "venue/account",
                format!("{}/{}", config.venue, config.account),
                format!(
                    "{}/{} (the venue this runtime trades)",
                    self.venue, self.account
                ),
            )
            .into());
        }
        if self.store.bot_by_name(&config.name).await?.is_some() {
            return Err(ValidationError::new(
                "name",
                &config.name,
                "a name no other bot has (see `smartfolio bot list`)",
            )
            .into());
        }
        self.check_listed(&targets, &config.quote)?;
        self.check_post_only(&targets, &config.quote, config.execution.style)?;
        Ok(targets)
    }

    /// Fetch the prices [`Runtime::create`] and [`Runtime::preview_create`] read for `config`
    /// (its targets and coins) after the checks that read no price.
    pub async fn price_create(&mut self, config: &BotConfig) -> BotResult<()> {
        let mut config = config.clone();
        let targets = self.check_create(&mut config).await?;
        let mut assets: Vec<String> = targets.assets().to_vec();
        assets.extend(config.investment.coins.iter().map(|c| c.asset.clone()));
        self.ensure_prices(&assets, &config.quote).await
    }

    /// Everything [`Runtime::create`] checks before it writes, at the prices
    /// [`Runtime::price_create`] fetched: [`Self::check_create`], the minimum investment and the
    /// account's unallocated funds. Normalizes `config` in place; returns the targets and the
    /// deposit.
    pub(super) async fn admit_create(
        &self,
        config: &mut BotConfig,
    ) -> BotResult<(Targets, Vec<FlowItem>)> {
        let targets = self.check_create(config).await?;
        let quote = config.quote.clone();
        let items = self
            .admit_deposit(
                &targets,
                config.investment.quote,
                &config.investment.coins,
                &quote,
            )
            .await?;
        Ok((targets, items))
    }

    /// A deposit of quote and coins into a basket of `targets`: at least the minimum
    /// investment, and no more than the account holds beyond the bots' ledgers.
    async fn admit_deposit(
        &self,
        targets: &Targets,
        quote_amount: Decimal,
        coins: &[CoinAmount],
        quote: &str,
    ) -> BotResult<Vec<FlowItem>> {
        let value = self.value_of(quote_amount, coins, quote)?;
        let minimum = self.minimum_for(targets, quote)?;
        if value < minimum || value <= Decimal::ZERO {
            return Err(BotError::BelowMinimum {
                value,
                minimum,
                quote: quote.to_string(),
                targets: targets.to_string(),
            });
        }
        let items = self.flow_items(quote_amount, coins, quote)?;
        self.check_funds(
            &items
                .iter()
                .map(|i| (i.asset.clone(), i.amount))
                .collect::<Vec<_>>(),
        )
        .await?;
        Ok(items)
    }

    pub(super) fn wrong_state(&self, bi: usize, action: &str) -> BotError {
        let b = &self.engine.bots[bi];
        BotError::WrongState {
            name: b.config.name.clone(),
            status: b.state.status.word().into(),
            action: action.into(),
        }
    }

    fn require_active(&self, bi: usize, action: &str) -> BotResult<()> {
        match self.engine.bots[bi].state.status {
            BotStatus::Stopped { .. } | BotStatus::Stopping { .. } => {
                Err(self.wrong_state(bi, action))
            }
            _ => Ok(()),
        }
    }

    /// The checks of [`Runtime::invest`] that read no price: the bot is not stopped, the amount
    /// is ≥ 0 and every coin is a symbol with a quantity > 0. Returns the coins normalized.
    fn check_invest(
        &self,
        bi: usize,
        quote_amount: Decimal,
        coins: &[CoinAmount],
    ) -> BotResult<Vec<CoinAmount>> {
        self.require_active(bi, "invest")?;
        if quote_amount < Decimal::ZERO {
            return Err(
                ValidationError::new("amount", quote_amount.to_string(), "an amount ≥ 0").into(),
            );
        }
        let mut coins = coins.to_vec();
        for c in &mut coins {
            c.asset = smartfolio_core::targets::normalize_symbol("coins", &c.asset)?;
            if c.quantity <= Decimal::ZERO {
                return Err(ValidationError::new(
                    format!("coins.{}", c.asset),
                    c.quantity.to_string(),
                    "a quantity > 0",
                )
                .into());
            }
            if let Some(b) = c.basis {
                limits::PRICE.check(&format!("coins.{}.basis", c.asset), b)?;
            }
        }
        Ok(coins)
    }

    /// Fetch the prices [`Runtime::invest`] and [`Runtime::preview_invest`] read (the bot's
    /// targets and holdings, and the coins) after the checks that read no price.
    pub async fn price_invest(
        &mut self,
        id: BotId,
        quote_amount: Decimal,
        coins: &[CoinAmount],
    ) -> BotResult<()> {
        let bi = self.idx(id)?;
        let coins = self.check_invest(bi, quote_amount, coins)?;
        let b = &self.engine.bots[bi];
        let quote = b.config.quote.clone();
        let mut assets: Vec<String> = b.targets.assets().to_vec();
        assets.extend(coins.iter().map(|c| c.asset.clone()));
        assets.extend(b.holdings.keys().cloned());
        self.ensure_prices(&assets, &quote).await
    }

    /// Everything [`Runtime::invest`] checks before it writes, at the prices
    /// [`Runtime::price_invest`] fetched: normalized coins and the deposit.
    pub(super) async fn admit_invest(
        &self,
        bi: usize,
        quote_amount: Decimal,
        coins: &[CoinAmount],
    ) -> BotResult<(Vec<CoinAmount>, Vec<FlowItem>)> {
        let coins = self.check_invest(bi, quote_amount, coins)?;
        let quote = self.engine.bots[bi].config.quote.clone();
        let targets = self.engine.bots[bi].targets.clone();
        let items = self
            .admit_deposit(&targets, quote_amount, &coins, &quote)
            .await?;
        Ok((coins, items))
    }

    /// The checks of [`Runtime::withdraw`] that read no price: the bot is not stopped and the
    /// amount is > 0.
    fn check_withdraw(&self, bi: usize, amount: Decimal) -> BotResult<()> {
        self.require_active(bi, "withdraw")?;
        if amount <= Decimal::ZERO {
            return Err(ValidationError::new("amount", amount.to_string(), "an amount > 0").into());
        }
        Ok(())
    }

    /// Fetch the prices [`Runtime::withdraw`] and [`Runtime::preview_withdraw`] read (the
    /// bot's holdings) after the checks that read no price.
    pub async fn price_withdraw(&mut self, id: BotId, amount: Decimal) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_withdraw(bi, amount)?;
        let quote = self.engine.bots[bi].config.quote.clone();
        let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
        self.ensure_prices(&assets, &quote).await
    }

    /// Everything [`Runtime::withdraw`] checks before it trades, at the prices
    /// [`Runtime::price_withdraw`] fetched: [`Self::check_withdraw`], and sells the venue
    /// accepts can raise the amount (else [`BotError::OverWithdrawal`] with the largest amount
    /// that can be delivered). Returns the bot's value at the last prices and the withdrawal's
    /// sells.
    pub(super) fn admit_withdraw(
        &self,
        bi: usize,
        amount: Decimal,
        from_overweights: bool,
    ) -> BotResult<(Decimal, Withdrawal)> {
        self.check_withdraw(bi, amount)?;
        let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
        let value = self.engine.bots[bi]
            .value_exact(&self.engine.market)
            .ok_or_else(|| BotError::NoPrice(assets.join(", ")))?;
        let w = self.withdraw_legs(bi, amount, value, from_overweights)?;
        Ok((value, w))
    }

    /// The config [`Runtime::modify`] would store (validated, its assets listed) and its targets.
    pub(super) fn modified_config(
        &self,
        bi: usize,
        targets: Option<&str>,
        trigger: Option<Trigger>,
        cooldown_ms: Option<i64>,
    ) -> BotResult<(BotConfig, Targets)> {
        self.require_active(bi, "modify")?;
        let mut cfg = self.engine.bots[bi].config.clone();
        if let Some(t) = targets {
            cfg.targets = t.to_string();
        }
        if let Some(t) = trigger {
            cfg.trigger = t;
        }
        if let Some(c) = cooldown_ms {
            cfg.cooldown_ms = c;
        }
        let new_targets = cfg.validate()?;
        self.check_listed(&new_targets, &cfg.quote)?;
        self.check_post_only(&new_targets, &cfg.quote, cfg.execution.style)?;
        Ok((cfg, new_targets))
    }

    /// Fetch the prices [`Runtime::preview_modify`] reads for a modification to `targets` (the
    /// new targets and the bot's holdings) after [`Self::modified_config`]'s checks.
    pub async fn price_modify(&mut self, id: BotId, targets: Option<&str>) -> BotResult<()> {
        let bi = self.idx(id)?;
        let (cfg, new_targets) = self.modified_config(bi, targets, None, None)?;
        let mut assets: Vec<String> = new_targets.assets().to_vec();
        assets.extend(self.engine.bots[bi].holdings.keys().cloned());
        self.ensure_prices(&assets, &cfg.quote).await
    }

    pub(super) fn check_pause(&self, bi: usize) -> BotResult<()> {
        match self.engine.bots[bi].state.status {
            BotStatus::Running | BotStatus::Suspended { .. } | BotStatus::Created => Ok(()),
            _ => Err(self.wrong_state(bi, "pause")),
        }
    }

    pub(super) fn check_resume(&self, bi: usize) -> BotResult<()> {
        match self.engine.bots[bi].state.status {
            BotStatus::Paused | BotStatus::Suspended { .. } => Ok(()),
            _ => Err(self.wrong_state(bi, "resume (only a paused or suspended bot resumes)")),
        }
    }

    pub(super) fn check_stop(&self, bi: usize) -> BotResult<()> {
        if matches!(self.engine.bots[bi].state.status, BotStatus::Stopped { .. }) {
            return Err(self.wrong_state(bi, "stop"));
        }
        Ok(())
    }

    /// The checks of [`Runtime::rebalance_now`]: a running bot, outside its cooldown unless
    /// `force`. The trigger is not consulted (that is the point of the command).
    pub(super) fn check_rebalance_now(&self, bi: usize, force: bool) -> BotResult<()> {
        let b = &self.engine.bots[bi];
        if !matches!(b.state.status, BotStatus::Running) {
            return Err(self.wrong_state(bi, "rebalance now (only a running bot rebalances)"));
        }
        let now = self.clock.now_ms();
        if !force && b.trig.in_cooldown(now) {
            let until = b.trig.last_rebalance_ms.unwrap_or(now) + b.trig.cooldown_ms;
            return Err(BotError::WrongState {
                name: b.config.name.clone(),
                status: format!("in its cooldown until market time {until} ms"),
                action: "rebalance now without force".into(),
            });
        }
        Ok(())
    }

    /// Fetch the prices [`Runtime::rebalance_now`] and [`Runtime::preview_rebalance`] read (the
    /// bot's targets and holdings) after [`Self::check_rebalance_now`].
    pub async fn price_rebalance(&mut self, id: BotId, force: bool) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_rebalance_now(bi, force)?;
        let b = &self.engine.bots[bi];
        let quote = b.config.quote.clone();
        let mut assets: Vec<String> = b.targets.assets().to_vec();
        assets.extend(b.holdings.keys().cloned());
        self.ensure_prices(&assets, &quote).await
    }

    /// Fetch the prices [`Runtime::preview_stop`] reads (for `SellAll`, the bot's holdings)
    /// after the stop's checks. The stop itself prices its holdings when it sells.
    pub async fn price_stop(&mut self, id: BotId, mode: StopMode) -> BotResult<()> {
        let bi = self.idx(id)?;
        self.check_stop(bi)?;
        if mode == StopMode::SellAll {
            let quote = self.engine.bots[bi].config.quote.clone();
            let assets: Vec<String> = self.engine.bots[bi].holdings.keys().cloned().collect();
            self.ensure_prices(&assets, &quote).await?;
        }
        Ok(())
    }
}
