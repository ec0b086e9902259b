//! A bot's configuration and its persisted state.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smartfolio_core::targets::normalize_symbol;
use smartfolio_core::{RiskLimits, Targets, Trigger, ValidationError, limits};

/// Coins brought into a bot, with the cost of one unit in quote when the user gives it (SPEC
/// §10: `BTC=0.1@50000`; without it the realized gains take the market price at the transfer,
/// flagged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoinAmount {
    pub asset: String,
    pub quantity: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub basis: Option<Decimal>,
}

/// What a bot is funded with: quote and/or coins already held on the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Investment {
    #[serde(default)]
    pub quote: Decimal,
    #[serde(default)]
    pub coins: Vec<CoinAmount>,
}

/// An entry price: the asset's initial buy waits until its price is at or below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryPrice {
    pub asset: String,
    pub price: Decimal,
}

fn d_venue() -> String {
    "paper".into()
}
fn d_account() -> String {
    "main".into()
}
fn d_quote() -> String {
    "USDT".into()
}
fn d_cooldown() -> i64 {
    smartfolio_core::trigger::DEFAULT_COOLDOWN_MS
}
fn d_fee() -> Decimal {
    Decimal::new(1, 3)
}
fn d_tick_age() -> i64 {
    5 * 60_000
}
fn d_breaker() -> u32 {
    5
}
fn d_breaker_cooloff() -> i64 {
    15 * 60_000
}
fn d_snapshot() -> i64 {
    60 * 60_000
}
fn d_retries() -> u32 {
    3
}
fn d_backoff() -> u64 {
    200
}
fn d_margin() -> Decimal {
    Decimal::new(2, 3)
}

/// What a bot's name may be: the one rule for the CLI, the API and stored configs.
pub const NAME_ALLOWED: &str = "1 to 64 ASCII letters, digits, `-`, `_` or `.`; not all digits \
     (an all-digit reference is a bot id) and not `.` or `..`";

/// [`NAME_ALLOWED`] as a regular expression (the API's schema carries it).
pub const NAME_PATTERN: &str = r"^(?![0-9]+$)(?!\.\.?$)[A-Za-z0-9._-]{1,64}$";

/// The longest cooldown, 366 days: the one limit for the CLI, the API and `modify`.
pub const MAX_COOLDOWN_MS: i64 = 366 * 86_400_000;

/// Longest name, in bytes (ASCII).
pub const NAME_MAX_LEN: usize = 64;

/// Check a bot's name against [`NAME_ALLOWED`]. Names and ids never collide: a reference that
/// is all digits is always an id, anything else a name.
pub fn validate_name(name: &str) -> Result<(), ValidationError> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("name", name, NAME_ALLOWED))
    }
}

/// Everything a bot is created with. Serialized as JSON in the store (and readable from TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotConfig {
    pub name: String,
    #[serde(default = "d_venue")]
    pub venue: String,
    #[serde(default = "d_account")]
    pub account: String,
    #[serde(default = "d_quote")]
    pub quote: String,
    /// Percent form, `BTC=50,ETH=30,SOL=20` (the quote may be a basket asset).
    pub targets: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub trigger: Trigger,
    /// After a rebalance, deviations are not checked for this long (SPEC §2).
    #[serde(default = "d_cooldown")]
    pub cooldown_ms: i64,
    /// The fee rate the planner assumes (the venue's taker fee).
    #[serde(default = "d_fee")]
    pub fee_rate: Decimal,
    #[serde(default)]
    pub investment: Investment,
    #[serde(default)]
    pub entry_prices: Vec<EntryPrice>,
    /// Percent loss of value against net invested that sells to quote and stops (20 = −20%).
    #[serde(default)]
    pub stop_loss_pct: Option<Decimal>,
    /// Percent gain that sells to quote and stops (50 = +50%).
    #[serde(default)]
    pub take_profit_pct: Option<Decimal>,
    /// A price older than this (market time) is stale: the bot suspends.
    #[serde(default = "d_tick_age")]
    pub max_tick_age_ms: i64,
    /// This many consecutive venue failures open the circuit breaker (the bot suspends).
    #[serde(default = "d_breaker")]
    pub breaker_failures: u32,
    /// After this long (market time) a suspended-by-breaker bot tries again.
    #[serde(default = "d_breaker_cooloff")]
    pub breaker_cooloff_ms: i64,
    /// Value snapshots every this much market time.
    #[serde(default = "d_snapshot")]
    pub snapshot_interval_ms: i64,
    /// Retries of a placement that failed before the venue accepted it.
    #[serde(default = "d_retries")]
    pub max_retries: u32,
    /// First retry delay, doubled on each retry (wall time).
    #[serde(default = "d_backoff")]
    pub retry_backoff_ms: u64,
    /// Buys are sized so that `quantity × price × (1 + margin)` fits the bot's cash (slippage).
    #[serde(default = "d_margin")]
    pub price_margin: Decimal,
    /// How its orders are placed (market unless set: [`crate::style`]).
    #[serde(default)]
    pub execution: crate::style::ExecutionConfig,
}

impl BotConfig {
    /// A config with defaults for everything but the name, targets, trigger and investment.
    pub fn new(
        name: &str,
        targets: &str,
        trigger: &str,
        quote_investment: Decimal,
    ) -> Result<Self, ValidationError> {
        let cfg = Self {
            name: name.into(),
            venue: d_venue(),
            account: d_account(),
            quote: d_quote(),
            targets: targets.into(),
            trigger: trigger.parse()?,
            cooldown_ms: d_cooldown(),
            fee_rate: d_fee(),
            investment: Investment {
                quote: quote_investment,
                coins: vec![],
            },
            entry_prices: vec![],
            stop_loss_pct: None,
            take_profit_pct: None,
            max_tick_age_ms: d_tick_age(),
            breaker_failures: d_breaker(),
            breaker_cooloff_ms: d_breaker_cooloff(),
            snapshot_interval_ms: d_snapshot(),
            max_retries: d_retries(),
            retry_backoff_ms: d_backoff(),
            price_margin: d_margin(),
            execution: Default::default(),
        };
        Ok(cfg)
    }

    pub fn parsed_targets(&self) -> Result<Targets, ValidationError> {
        Targets::parse(&self.targets)
    }

    pub fn risk(&self) -> Result<RiskLimits, ValidationError> {
        RiskLimits::new(self.stop_loss_pct, self.take_profit_pct)
    }

    /// Check every field; symbols are upper-cased in place.
    pub fn validate(&mut self) -> Result<Targets, ValidationError> {
        validate_name(&self.name)?;
        self.quote = normalize_symbol("quote", &self.quote)?;
        let targets = self.parsed_targets()?;
        self.targets = targets.to_string();
        // A stored trigger may hold a cron line that never fires (it loads, and never ticks);
        // a config being created or changed may not.
        self.trigger.check_fires()?;
        if !(0..=MAX_COOLDOWN_MS).contains(&self.cooldown_ms) {
            return Err(ValidationError::new(
                "cooldown",
                self.cooldown_ms.to_string(),
                "a duration from 0 to 366 days (31622400000 ms)",
            ));
        }
        if self.fee_rate < Decimal::ZERO || self.fee_rate > smartfolio_core::plan::max_fee_rate() {
            return Err(ValidationError::new(
                "fee-rate",
                self.fee_rate.to_string(),
                "a proportional fee rate in [0, 0.1] (0.001 is 0.1%)",
            ));
        }
        limits::AMOUNT_OR_ZERO.check("investment.quote", self.investment.quote)?;
        for c in &mut self.investment.coins {
            c.asset = normalize_symbol("investment.coins", &c.asset)?;
            limits::QUANTITY.check(&format!("investment.coins.{}", c.asset), c.quantity)?;
            if let Some(b) = c.basis {
                limits::PRICE.check(&format!("investment.coins.{}.basis", c.asset), b)?;
            }
            if c.asset == self.quote {
                return Err(ValidationError::new(
                    format!("investment.coins.{}", c.asset),
                    c.quantity.to_string(),
                    "coins other than the quote (quote goes in investment.quote)",
                ));
            }
        }
        for e in &mut self.entry_prices {
            e.asset = normalize_symbol("entry-price", &e.asset)?;
            limits::PRICE.check(&format!("entry-price.{}", e.asset), e.price)?;
            if targets.index_of(&e.asset).is_none() {
                return Err(ValidationError::new(
                    "entry-price",
                    &e.asset,
                    format!("an asset of the basket ({})", targets.assets().join(", ")),
                ));
            }
        }
        self.risk()?;
        let positive = |field: &str, v: i64| {
            if v > 0 {
                Ok(())
            } else {
                Err(ValidationError::new(field, v.to_string(), "a duration > 0"))
            }
        };
        positive("max-tick-age", self.max_tick_age_ms)?;
        positive("breaker-cooloff", self.breaker_cooloff_ms)?;
        positive("snapshot-interval", self.snapshot_interval_ms)?;
        if self.breaker_failures == 0 {
            return Err(ValidationError::new(
                "breaker-failures",
                "0",
                "a number of consecutive failures ≥ 1",
            ));
        }
        if self.price_margin < Decimal::ZERO || self.price_margin > Decimal::new(1, 1) {
            return Err(ValidationError::new(
                "price-margin",
                self.price_margin.to_string(),
                "a fraction in [0, 0.1]",
            ));
        }
        self.execution.validate()?;
        Ok(targets)
    }
}

/// Where a bot is in its life (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BotStatus {
    Created,
    Deploying,
    Running,
    Paused,
    Suspended {
        reason: String,
        since_ms: i64,
        /// Suspended by the circuit breaker (it retries after the cool-off).
        #[serde(default)]
        breaker: bool,
    },
    Stopping {
        mode: StopMode,
        reason: String,
    },
    Stopped {
        report: Box<StopReport>,
    },
}

impl BotStatus {
    pub fn word(&self) -> &'static str {
        match self {
            BotStatus::Created => "created",
            BotStatus::Deploying => "deploying",
            BotStatus::Running => "running",
            BotStatus::Paused => "paused",
            BotStatus::Suspended { .. } => "suspended",
            BotStatus::Stopping { .. } => "stopping",
            BotStatus::Stopped { .. } => "stopped",
        }
    }

    /// The bot may still trade or be changed.
    pub fn is_active(&self) -> bool {
        !matches!(self, BotStatus::Stopped { .. })
    }
}

/// What a stop leaves behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StopReport {
    pub time_ms: i64,
    pub reason: String,
    pub mode: StopMode,
    /// Value at the stop (after any sells), in quote.
    pub final_value: Decimal,
    pub net_invested: Decimal,
    pub pnl: Decimal,
    pub pnl_pct: Option<Decimal>,
    pub fees_paid: Decimal,
    pub rebalances: usize,
    /// What the closed ledger released to the account.
    pub released: Vec<(String, Decimal)>,
    /// Holdings that could not be sold (below a venue minimum, or a failed sell), kept as coins.
    pub unsold: Vec<(String, Decimal, String)>,
}

/// How to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StopMode {
    /// Sell everything to quote, then close the ledger.
    SellAll,
    /// Keep the coins; close the ledger.
    KeepCoins,
}

/// The runtime's memory of a bot, persisted as JSON with each change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotState {
    #[serde(flatten)]
    pub status: BotStatus,
    /// Next rebalance sequence number (client ids derive from it).
    pub next_seq: i64,
    pub anchor_ms: i64,
    pub last_rebalance_ms: Option<i64>,
    /// Assets whose initial buy happened (entry prices apply to the others).
    pub bought: Vec<String>,
    /// The buy-and-hold basket from the deploy, scaled by later flows: `(asset, quantity)`,
    /// the quote's entry being its cash.
    pub hold: Vec<(String, Decimal)>,
    pub consecutive_failures: u32,
    pub last_failure: Option<String>,
    /// A rebalance is owed regardless of the trigger (after a restart or an interrupted one).
    pub pending_rebalance: Option<String>,
    /// Why the last plan could send no order (every leg below the venue's minimums or the
    /// bot's cash); cleared when a plan trades or nothing needs trading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
    /// Why reconciliation found the bot's ledger unbacked by the account: the bot stays
    /// suspended until a user resumes it (which clears this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl BotState {
    pub fn new(now_ms: i64) -> Self {
        Self {
            status: BotStatus::Created,
            next_seq: 1,
            anchor_ms: now_ms,
            last_rebalance_ms: None,
            bought: vec![],
            hold: vec![],
            consecutive_failures: 0,
            last_failure: None,
            pending_rebalance: None,
            idle: None,
            held: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_look_like_ids_or_paths() {
        for good in [
            "a",
            "core-1",
            "x.y",
            "_",
            "1a",
            "a1",
            "...",
            "-5",
            &"n".repeat(64),
        ] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "1",
            "007",
            "12345678901234567890",
            ".",
            "..",
            " a",
            "a b",
            "é",
            &"n".repeat(65),
        ] {
            let e = validate_name(bad).expect_err(bad);
            assert_eq!((e.field.as_str(), e.value.as_str()), ("name", bad));
            assert!(e.allowed.contains("not all digits"), "{e}");
        }
        let mut cfg = BotConfig::new("42", "BTC=100", "threshold:5", Decimal::ONE).unwrap();
        assert_eq!(cfg.validate().unwrap_err().field, "name");
    }
}
