//! Request bodies and previews: what a control will do before it acts (a plan from the bot's
//! ledger at the last prices, SPEC §3), allocation weights over the server's price history
//! (SPEC §5) and a backtest over that history (SPEC §4).

use crate::actor::Core;
use crate::error::ApiError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize};
use smartfolio_alloc::Method;
use smartfolio_bot::{BotConfig, BotStatus, LiveBot, StopMode};
use smartfolio_core::{Portfolio, RuleBook, Side, Targets, Trigger};
use smartfolio_exchange::Exchange;
use std::str::FromStr;

/// Decimal fields accept a JSON number or a decimal string.
pub mod dec {
    use super::*;

    fn parse<E: serde::de::Error>(v: serde_json::Value) -> Result<Decimal, E> {
        match v {
            serde_json::Value::String(s) => Decimal::from_str(s.trim())
                .or_else(|_| Decimal::from_scientific(s.trim()))
                .map_err(|_| E::custom(format!("`{s}` is not a decimal number"))),
            serde_json::Value::Number(n) => {
                let s = n.to_string();
                Decimal::from_str(&s)
                    .or_else(|_| Decimal::from_scientific(&s))
                    .map_err(|_| E::custom(format!("{s} is out of the decimal range")))
            }
            other => Err(E::custom(format!(
                "invalid type: {other}, expected a decimal number or a decimal string"
            ))),
        }
    }

    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        parse::<D::Error>(serde_json::Value::deserialize(d)?)
    }

    pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(None),
            v => parse::<D::Error>(v).map(Some),
        }
    }
}

/// `POST /api/bots` and `POST /api/preview/create`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub name: String,
    /// Percent form `BTC=50,ETH=30,SOL=20` (method `manual`, the default).
    #[serde(default)]
    pub targets: Option<String>,
    /// The basket for methods other than `manual`.
    #[serde(default)]
    pub assets: Option<Vec<String>>,
    /// `manual`, `equal` or an allocation method (`inverse-vol`, `min-variance`, ...).
    #[serde(default)]
    pub method: Option<String>,
    /// Bars of history an allocation method uses (default: all the server has, up to 2000).
    #[serde(default)]
    pub window: Option<usize>,
    /// Trigger text form, e.g. `threshold:5`.
    pub trigger: String,
    /// Quote invested.
    #[serde(deserialize_with = "dec::de")]
    pub investment: Decimal,
    #[serde(default, deserialize_with = "dec::de_opt")]
    pub stop_loss_pct: Option<Decimal>,
    #[serde(default, deserialize_with = "dec::de_opt")]
    pub take_profit_pct: Option<Decimal>,
    #[serde(default)]
    pub cooldown_ms: Option<i64>,
}

/// `POST /api/bots/{bot}/invest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvestRequest {
    #[serde(deserialize_with = "dec::de")]
    pub amount: Decimal,
}

/// `POST /api/bots/{bot}/withdraw`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    #[serde(deserialize_with = "dec::de")]
    pub amount: Decimal,
    /// `pro_rata` (default) or `overweights`.
    #[serde(default)]
    pub mode: Option<String>,
}

/// `POST /api/bots/{bot}/modify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyRequest {
    #[serde(default)]
    pub targets: Option<String>,
    #[serde(default)]
    pub trigger: Option<String>,
    #[serde(default)]
    pub cooldown_ms: Option<i64>,
}

/// `POST /api/bots/{bot}/stop`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    /// `sell_all` or `keep_coins`.
    pub mode: String,
}

/// `POST /api/bots/{bot}/preview`: a control and its parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlRequest {
    Invest {
        #[serde(deserialize_with = "dec::de")]
        amount: Decimal,
    },
    Withdraw {
        #[serde(deserialize_with = "dec::de")]
        amount: Decimal,
        #[serde(default)]
        mode: Option<String>,
    },
    Modify {
        #[serde(default)]
        targets: Option<String>,
        #[serde(default)]
        trigger: Option<String>,
        #[serde(default)]
        cooldown_ms: Option<i64>,
    },
    Pause,
    Resume,
    Stop {
        mode: String,
    },
}

/// `POST /api/preview/allocation`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    pub assets: Vec<String>,
    pub method: String,
    #[serde(default)]
    pub window: Option<usize>,
}

/// `POST /api/preview/backtest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    #[serde(default)]
    pub targets: Option<String>,
    #[serde(default)]
    pub assets: Option<Vec<String>>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub window: Option<usize>,
    pub trigger: String,
    #[serde(default, deserialize_with = "dec::de_opt")]
    pub investment: Option<Decimal>,
    /// Bars to run over (default: all the server has).
    #[serde(default)]
    pub bars: Option<usize>,
}

/// One leg of a previewed plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegView {
    pub asset: String,
    pub side: String,
    pub quantity: Decimal,
    pub price: Decimal,
    pub notional: Decimal,
    pub fee: Decimal,
    pub reason: String,
}

/// What a control (or a creation) will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanPreview {
    pub action: String,
    /// One sentence for the confirmation dialog.
    pub summary: String,
    pub value_before: Option<Decimal>,
    pub value_after: Option<Decimal>,
    pub fees: Decimal,
    pub legs: Vec<LegView>,
    pub skipped: Vec<LegView>,
    pub notes: Vec<String>,
}

/// Allocation weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationPreview {
    pub method: String,
    pub assets: Vec<String>,
    pub weights_pct: Vec<f64>,
    pub volatilities: Vec<f64>,
    pub portfolio_volatility: f64,
    pub n_returns: usize,
    /// The weights in the percent form bots take.
    pub targets: String,
}

/// A backtest over the server's history, against holding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestPreview {
    pub targets: String,
    pub trigger: String,
    pub bars: usize,
    pub from_ms: i64,
    pub to_ms: i64,
    pub times_ms: Vec<i64>,
    pub equity: Vec<f64>,
    pub hold: Vec<f64>,
    pub final_value: f64,
    pub hold_final_value: f64,
    pub rebalancing_gain: f64,
    pub rebalances: usize,
    pub fees: f64,
}

pub fn parse_stop_mode(s: &str) -> Result<StopMode, ApiError> {
    match s.trim() {
        "sell_all" | "sell-all" => Ok(StopMode::SellAll),
        "keep_coins" | "keep-coins" => Ok(StopMode::KeepCoins),
        other => Err(ApiError::invalid("mode", other, "sell_all, keep_coins")),
    }
}

pub fn parse_withdraw_mode(s: Option<&str>) -> Result<bool, ApiError> {
    match s.map(str::trim) {
        None | Some("pro_rata") | Some("pro-rata") => Ok(false),
        Some("overweights") => Ok(true),
        Some(other) => Err(ApiError::invalid("mode", other, "pro_rata, overweights")),
    }
}

pub fn parse_trigger(s: &str) -> Result<Trigger, ApiError> {
    s.parse::<Trigger>().map_err(|e| {
        let mut err = ApiError::from(e);
        err.field = Some("trigger".into());
        err
    })
}

fn check_cooldown(c: Option<i64>) -> Result<(), ApiError> {
    match c {
        Some(c) if !(0..=366 * 86_400_000).contains(&c) => Err(ApiError::invalid(
            "cooldown_ms",
            c.to_string(),
            "0 to 31622400000 (366 days)",
        )),
        _ => Ok(()),
    }
}

/// The instrument rules of the venue.
pub async fn rules(core: &Core) -> Result<RuleBook, ApiError> {
    let mut book = RuleBook::new();
    let list = core
        .ex
        .instruments()
        .await
        .map_err(|e| ApiError::internal(format!("venue instruments: {e}")))?;
    for inst in list {
        book.insert(&inst.base, inst.rules.clone())?;
    }
    Ok(book)
}

/// The assets the venue lists.
pub async fn listed(core: &Core) -> Result<Vec<String>, ApiError> {
    Ok(core
        .ex
        .instruments()
        .await
        .map_err(|e| ApiError::internal(format!("venue instruments: {e}")))?
        .into_iter()
        .map(|i| i.base)
        .collect())
}

/// What the account holds of `asset` beyond the ledgers of the bots that are not stopped.
pub async fn unallocated(core: &Core, asset: &str) -> Result<Decimal, ApiError> {
    let account: Decimal = core
        .ex
        .balances()
        .await
        .map_err(|e| ApiError::internal(format!("venue balances: {e}")))?
        .iter()
        .filter(|b| b.asset == asset)
        .map(|b| b.total())
        .sum();
    let held: Decimal = core
        .rt
        .engine
        .bots
        .iter()
        .filter(|b| b.state.status.is_active())
        .map(|b| b.holdings.get(asset).copied().unwrap_or_default())
        .sum();
    Ok(account - held)
}

fn price_of(core: &Core, asset: &str, quote: &str) -> Result<Decimal, ApiError> {
    if asset == quote {
        return Ok(Decimal::ONE);
    }
    core.rt.engine.market.price_of(asset).ok_or_else(|| {
        ApiError::unavailable(format!("no price for {asset} yet: wait for the first tick"))
            .with_field("targets")
    })
}

fn bot<'a>(core: &'a Core, key: &str) -> Result<&'a LiveBot, ApiError> {
    let id = core.rt.resolve(key)?;
    core.rt
        .engine
        .bots
        .iter()
        .find(|b| b.id == id)
        .ok_or_else(|| ApiError::not_found(format!("unknown bot `{key}`")).with_field("bot"))
}

/// Resolve targets from `targets` or `assets` + `method` (over the server's history).
pub fn resolve_targets(
    core: &Core,
    targets: Option<&str>,
    assets: Option<&[String]>,
    method: Option<&str>,
    window: Option<usize>,
) -> Result<Targets, ApiError> {
    let method = method.map(str::trim).filter(|m| !m.is_empty());
    match method {
        None | Some("manual") => {
            let t = targets.ok_or_else(|| {
                ApiError::invalid(
                    "targets",
                    "",
                    "the percent form BTC=50,ETH=30,SOL=20 (or assets with a method)",
                )
            })?;
            Ok(Targets::parse(t)?)
        }
        Some("equal") => {
            let assets = assets_of(assets)?;
            Ok(Targets::equal(&assets)?)
        }
        Some(m) => {
            let a = allocation(
                core,
                &AllocationRequest {
                    assets: assets_of(assets)?,
                    method: m.to_string(),
                    window,
                },
            )?;
            Ok(Targets::parse(&a.targets)?)
        }
    }
}

fn assets_of(assets: Option<&[String]>) -> Result<Vec<String>, ApiError> {
    let assets = assets.unwrap_or_default();
    let mut out = Vec::with_capacity(assets.len());
    for a in assets {
        out.push(smartfolio_core::targets::normalize_symbol("assets", a)?);
    }
    if out.is_empty() {
        return Err(ApiError::invalid(
            "assets",
            "[]",
            "one or more asset symbols, e.g. [\"BTC\", \"ETH\"]",
        ));
    }
    Ok(out)
}

/// A bot config from a create request (validated; nothing is created).
pub fn create_config(core: &Core, req: &CreateRequest) -> Result<BotConfig, ApiError> {
    check_cooldown(req.cooldown_ms)?;
    let targets = resolve_targets(
        core,
        req.targets.as_deref(),
        req.assets.as_deref(),
        req.method.as_deref(),
        req.window,
    )?;
    let trigger = parse_trigger(&req.trigger)?;
    let mut cfg = BotConfig::new(
        &req.name,
        &targets.to_string(),
        "threshold:5",
        req.investment,
    )?;
    cfg.trigger = trigger;
    cfg.quote = core.ex.config().quote.clone();
    cfg.account = core.ex.config().account.clone();
    cfg.venue = core.ex.name().to_string();
    cfg.fee_rate = core.ex.config().fee_rate;
    cfg.stop_loss_pct = req.stop_loss_pct;
    cfg.take_profit_pct = req.take_profit_pct;
    if let Some(c) = req.cooldown_ms {
        cfg.cooldown_ms = c;
    }
    if req.investment <= Decimal::ZERO {
        return Err(ApiError::invalid(
            "investment",
            req.investment.to_string(),
            "an amount of quote > 0",
        ));
    }
    cfg.validate()?;
    cfg.risk()?;
    Ok(cfg)
}

#[allow(clippy::too_many_arguments)]
fn plan_view(
    action: &str,
    quote: &str,
    assets: Vec<String>,
    targets: Vec<Decimal>,
    quantities: Vec<Decimal>,
    prices: Vec<Decimal>,
    cash: Decimal,
    n_targeted: usize,
    fee_rate: Decimal,
    rules: &RuleBook,
) -> Result<PlanPreview, ApiError> {
    let p = Portfolio::from_parts(
        quote.to_string(),
        assets,
        targets,
        quantities,
        prices,
        cash,
        n_targeted,
    )?;
    let opts = smartfolio_core::PlanOptions {
        fee_rate,
        rules,
        entry_prices: &[],
    };
    let plan = smartfolio_core::plan(&p, &opts)?;
    let legs: Vec<LegView> = plan
        .trades
        .iter()
        .map(|l| LegView {
            asset: l.asset.clone(),
            side: l.side.as_str().into(),
            quantity: l.quantity.normalize(),
            price: l.price,
            notional: l.notional.round_dp(8),
            fee: l.fee.round_dp(8),
            reason: l.reason.clone(),
        })
        .collect();
    let skipped = plan
        .skipped
        .iter()
        .map(|s| LegView {
            asset: s.asset.clone(),
            side: s.side.as_str().into(),
            quantity: s.quantity.normalize(),
            price: Decimal::ZERO,
            notional: s.notional.round_dp(8),
            fee: Decimal::ZERO,
            reason: s.reason.to_string(),
        })
        .collect();
    Ok(PlanPreview {
        action: action.into(),
        summary: String::new(),
        value_before: Some(plan.value.round_dp(8)),
        value_after: Some(plan.value_after.round_dp(8)),
        fees: plan.fees.round_dp(8),
        legs,
        skipped,
        notes: vec![],
    })
}

fn legs_text(p: &PlanPreview) -> String {
    if p.legs.is_empty() {
        return "no trade".into();
    }
    p.legs
        .iter()
        .map(|l| format!("{} {} {}", l.side, l.quantity.normalize(), l.asset))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The initial orders of a bot that `req` would create.
pub async fn create_preview(core: &Core, req: &CreateRequest) -> Result<PlanPreview, ApiError> {
    let cfg = create_config(core, req)?;
    let targets = cfg.parsed_targets()?;
    let rules = rules(core).await?;
    let listed = listed(core).await?;
    let assets = targets.assets().to_vec();
    for a in &assets {
        if *a != cfg.quote && !listed.contains(a) {
            return Err(ApiError::invalid(
                "targets",
                a.clone(),
                format!("assets the venue lists: {}", listed.join(", ")),
            ));
        }
    }
    let prices = assets
        .iter()
        .map(|a| price_of(core, a, &cfg.quote))
        .collect::<Result<Vec<_>, _>>()?;
    let n = assets.len();
    let mut p = plan_view(
        "create",
        &cfg.quote,
        assets,
        targets.weights().to_vec(),
        vec![Decimal::ZERO; n],
        prices,
        cfg.investment.quote,
        n,
        cfg.fee_rate,
        &rules,
    )?;
    let min_portfolio = Portfolio::from_parts(
        cfg.quote.clone(),
        targets.assets().to_vec(),
        targets.weights().to_vec(),
        vec![Decimal::ZERO; n],
        targets
            .assets()
            .iter()
            .map(|a| price_of(core, a, &cfg.quote))
            .collect::<Result<Vec<_>, _>>()?,
        Decimal::ONE,
        n,
    )?;
    let minimum = smartfolio_core::plan::minimum_investment(&min_portfolio, &rules);
    if cfg.investment.quote < minimum {
        return Err(ApiError::invalid(
            "investment",
            cfg.investment.quote.to_string(),
            format!(
                "at least {} {} (every initial leg must clear the venue's minimums)",
                minimum.round_dp(2),
                cfg.quote
            ),
        ));
    }
    let available = unallocated(core, &cfg.quote).await?;
    if cfg.investment.quote > available {
        return Err(ApiError::invalid(
            "investment",
            cfg.investment.quote.to_string(),
            format!(
                "at most {} {} (unallocated on the account)",
                available.round_dp(8),
                cfg.quote
            ),
        ));
    }
    p.summary = format!(
        "create bot `{}` with {} {}, targets {}, trigger {}: {}",
        cfg.name,
        cfg.investment.quote.normalize(),
        cfg.quote,
        cfg.targets,
        cfg.trigger,
        legs_text(&p)
    );
    Ok(p)
}

/// Assets, targets, quantities, prices, cash and the number of targeted assets.
type PortfolioParts = (
    Vec<String>,
    Vec<Decimal>,
    Vec<Decimal>,
    Vec<Decimal>,
    Decimal,
    usize,
);

fn bot_portfolio(
    core: &Core,
    b: &LiveBot,
    targets: &Targets,
    extra_cash: Decimal,
) -> Result<PortfolioParts, ApiError> {
    let quote = &b.config.quote;
    let mut assets: Vec<String> = targets.assets().to_vec();
    let mut weights: Vec<Decimal> = targets.weights().to_vec();
    let n_targeted = assets.len();
    for (a, q) in &b.holdings {
        if a != quote && !q.is_zero() && !assets.contains(a) {
            assets.push(a.clone());
            weights.push(Decimal::ZERO);
        }
    }
    let quantities = assets
        .iter()
        .map(|a| {
            b.holdings
                .get(a)
                .copied()
                .unwrap_or_default()
                .max(Decimal::ZERO)
        })
        .collect();
    let prices = assets
        .iter()
        .map(|a| price_of(core, a, quote))
        .collect::<Result<Vec<_>, _>>()?;
    let cash = b.cash().max(Decimal::ZERO) + extra_cash;
    Ok((assets, weights, quantities, prices, cash, n_targeted))
}

/// What a control on bot `key` will do.
pub async fn control_preview(
    core: &Core,
    key: &str,
    req: &ControlRequest,
) -> Result<PlanPreview, ApiError> {
    let b = bot(core, key)?;
    let name = b.config.name.clone();
    let quote = b.config.quote.clone();
    let status = b.state.status.word();
    let stopped = matches!(
        b.state.status,
        BotStatus::Stopped { .. } | BotStatus::Stopping { .. }
    );
    let wrong = |action: &str| ApiError {
        status: 409,
        field: Some("status".into()),
        value: Some(status.to_string()),
        allowed: None,
        message: format!("bot `{name}` is {status}: cannot {action}"),
    };
    let rules = rules(core).await?;
    let running = matches!(b.state.status, BotStatus::Running);
    match req {
        ControlRequest::Invest { amount } => {
            if stopped {
                return Err(wrong("invest"));
            }
            if *amount <= Decimal::ZERO {
                return Err(ApiError::invalid(
                    "amount",
                    amount.to_string(),
                    "an amount > 0",
                ));
            }
            let (a, w, q, p, cash, n) = bot_portfolio(core, b, &b.targets, *amount)?;
            let mut pv = plan_view(
                "invest",
                &quote,
                a,
                w,
                q,
                p,
                cash,
                n,
                b.config.fee_rate,
                &rules,
            )?;
            if !running {
                pv.notes.push(format!(
                    "the bot is {status}: the {amount} {quote} join its ledger now, the trades \
                     wait until it runs"
                ));
            }
            pv.summary = format!(
                "invest {} {quote} into `{name}`, then rebalance: {}",
                amount.normalize(),
                legs_text(&pv)
            );
            Ok(pv)
        }
        ControlRequest::Withdraw { amount, mode } => {
            if stopped {
                return Err(wrong("withdraw"));
            }
            let from_over = parse_withdraw_mode(mode.as_deref())?;
            if *amount <= Decimal::ZERO {
                return Err(ApiError::invalid(
                    "amount",
                    amount.to_string(),
                    "an amount > 0",
                ));
            }
            withdraw_preview(core, b, *amount, from_over, &rules)
        }
        ControlRequest::Modify {
            targets,
            trigger,
            cooldown_ms,
        } => {
            if stopped {
                return Err(wrong("modify"));
            }
            check_cooldown(*cooldown_ms)?;
            let t = match targets.as_deref() {
                Some(t) => Targets::parse(t)?,
                None => b.targets.clone(),
            };
            let listed = listed(core).await?;
            for a in t.assets() {
                if *a != quote && !listed.contains(a) {
                    return Err(ApiError::invalid(
                        "targets",
                        a.clone(),
                        "assets the venue lists (GET /api/status)",
                    ));
                }
            }
            let trig = match trigger.as_deref() {
                Some(s) => parse_trigger(s)?,
                None => b.config.trigger.clone(),
            };
            let (a, w, q, p, cash, n) = bot_portfolio(core, b, &t, Decimal::ZERO)?;
            let mut pv = plan_view(
                "modify",
                &quote,
                a,
                w,
                q,
                p,
                cash,
                n,
                b.config.fee_rate,
                &rules,
            )?;
            pv.notes.push(
                "nothing is traded now: the next rebalance (when the trigger fires) plans \
                 against the new targets; the legs are what it would trade at the last prices"
                    .into(),
            );
            pv.summary = format!(
                "modify `{name}`: targets {t}, trigger {trig}{}; at the next rebalance: {}",
                cooldown_ms.map_or(String::new(), |c| format!(", cooldown {c} ms")),
                legs_text(&pv)
            );
            pv.fees = pv.fees.round_dp(8);
            Ok(pv)
        }
        ControlRequest::Pause => {
            if !matches!(
                b.state.status,
                BotStatus::Running | BotStatus::Suspended { .. } | BotStatus::Created
            ) {
                return Err(wrong("pause"));
            }
            Ok(no_trade(
                "pause",
                format!("pause `{name}`: no trade; its holdings stay as they are"),
                b.value_exact(&core.rt.engine.market),
            ))
        }
        ControlRequest::Resume => {
            if !matches!(
                b.state.status,
                BotStatus::Paused | BotStatus::Suspended { .. }
            ) {
                return Err(wrong("resume (only a paused or suspended bot resumes)"));
            }
            Ok(no_trade(
                "resume",
                format!(
                    "resume `{name}`: its trigger is checked again from the next tick{}",
                    if b.state.pending_rebalance.is_some() {
                        " and the rebalance it owes runs"
                    } else {
                        ""
                    }
                ),
                b.value_exact(&core.rt.engine.market),
            ))
        }
        ControlRequest::Stop { mode } => {
            let mode = parse_stop_mode(mode)?;
            if matches!(b.state.status, BotStatus::Stopped { .. }) {
                return Err(wrong("stop"));
            }
            stop_preview(core, b, mode, &rules)
        }
    }
}

fn no_trade(action: &str, summary: String, value: Option<Decimal>) -> PlanPreview {
    PlanPreview {
        action: action.into(),
        summary,
        value_before: value,
        value_after: value,
        fees: Decimal::ZERO,
        legs: vec![],
        skipped: vec![],
        notes: vec![],
    }
}

fn withdraw_preview(
    core: &Core,
    b: &LiveBot,
    amount: Decimal,
    from_overweights: bool,
    rules: &RuleBook,
) -> Result<PlanPreview, ApiError> {
    let quote = b.config.quote.clone();
    let value = b.value_exact(&core.rt.engine.market).ok_or_else(|| {
        ApiError::unavailable("the bot's assets have no price yet").with_field("amount")
    })?;
    if amount > value {
        return Err(ApiError::invalid(
            "amount",
            amount.to_string(),
            format!("at most {} (the bot's value)", value.round_dp(8)),
        ));
    }
    let cash = b.cash();
    let mut legs = Vec::new();
    let mut fees = Decimal::ZERO;
    if amount > cash {
        let gross = (amount - cash) * (Decimal::ONE + b.config.fee_rate + b.config.price_margin);
        let after = value - amount;
        let mut held = Vec::new();
        for (a, q) in &b.holdings {
            if *a == quote || *q <= Decimal::ZERO {
                continue;
            }
            let p = price_of(core, a, &quote)?;
            let h = *q * p;
            let t = b.targets.weight_of(a).unwrap_or_default();
            held.push((a.clone(), *q, p, (h - t * after).max(Decimal::ZERO)));
        }
        let total: Decimal = held.iter().map(|x| x.1 * x.2).sum();
        let excess: Decimal = held.iter().map(|x| x.3).sum();
        for (a, q, p, ex) in &held {
            let h = *q * *p;
            let sell_value = if from_overweights && excess > Decimal::ZERO {
                if excess >= gross {
                    *ex * gross / excess
                } else {
                    let rest = total - excess;
                    *ex + if rest > Decimal::ZERO {
                        (h - *ex) * (gross - excess) / rest
                    } else {
                        Decimal::ZERO
                    }
                }
            } else if total > Decimal::ZERO {
                h * gross / total
            } else {
                Decimal::ZERO
            };
            let r = rules.get(a);
            let mut qty = sell_value / *p;
            if let Some(step) = r.lot_step {
                qty = smartfolio_core::rules::round_up_to_step(qty, step);
            }
            let qty = qty.min(*q);
            if qty <= Decimal::ZERO || r.check(qty, *p).is_some() {
                continue;
            }
            let notional = qty * *p;
            let fee = notional * b.config.fee_rate;
            fees += fee;
            legs.push(LegView {
                asset: a.clone(),
                side: Side::Sell.as_str().into(),
                quantity: qty,
                price: *p,
                notional: notional.round_dp(8),
                fee: fee.round_dp(8),
                reason: if from_overweights {
                    "sell from the assets above target first".into()
                } else {
                    "sell pro rata".into()
                },
            });
        }
    }
    let mut pv = PlanPreview {
        action: "withdraw".into(),
        summary: String::new(),
        value_before: Some(value.round_dp(8)),
        value_after: Some((value - amount - fees).round_dp(8)),
        fees: fees.round_dp(8),
        legs,
        skipped: vec![],
        notes: vec![],
    };
    pv.summary = format!(
        "withdraw {} {quote} from `{}`: {}",
        amount.normalize(),
        b.config.name,
        if pv.legs.is_empty() {
            "paid from its cash, no trade".to_string()
        } else {
            legs_text(&pv)
        }
    );
    Ok(pv)
}

fn stop_preview(
    core: &Core,
    b: &LiveBot,
    mode: StopMode,
    rules: &RuleBook,
) -> Result<PlanPreview, ApiError> {
    let quote = b.config.quote.clone();
    let value = b.value_exact(&core.rt.engine.market);
    let mut legs = Vec::new();
    let mut skipped = Vec::new();
    let mut fees = Decimal::ZERO;
    let mut notes = Vec::new();
    for (a, q) in &b.holdings {
        if *a == quote || *q <= Decimal::ZERO {
            continue;
        }
        if mode == StopMode::KeepCoins {
            notes.push(format!("released to the account: {} {a}", q.normalize()));
            continue;
        }
        let p = price_of(core, a, &quote)?;
        let r = rules.get(a);
        let qty = r.round_quantity(*q);
        let notional = qty * p;
        match r.check(qty, p) {
            None => {
                let fee = notional * b.config.fee_rate;
                fees += fee;
                legs.push(LegView {
                    asset: a.clone(),
                    side: "sell".into(),
                    quantity: qty,
                    price: p,
                    notional: notional.round_dp(8),
                    fee: fee.round_dp(8),
                    reason: "stop: sell everything to quote".into(),
                });
            }
            Some(reason) => skipped.push(LegView {
                asset: a.clone(),
                side: "sell".into(),
                quantity: *q,
                price: p,
                notional: notional.round_dp(8),
                fee: Decimal::ZERO,
                reason: format!("kept as coins: {reason}"),
            }),
        }
    }
    let cash = b.cash();
    notes.push(format!(
        "the ledger is closed; {} {quote} of cash (plus any sale proceeds) is released to the account",
        cash.round_dp(8).normalize()
    ));
    let mut pv = PlanPreview {
        action: "stop".into(),
        summary: String::new(),
        value_before: value.map(|v| v.round_dp(8)),
        value_after: value.map(|v| (v - fees).round_dp(8)),
        fees: fees.round_dp(8),
        legs,
        skipped,
        notes,
    };
    pv.summary = match mode {
        StopMode::SellAll => format!(
            "stop `{}` selling everything to {quote}: {}",
            b.config.name,
            legs_text(&pv)
        ),
        StopMode::KeepCoins => format!(
            "stop `{}` keeping the coins: no trade, the holdings are released",
            b.config.name
        ),
    };
    Ok(pv)
}

const DEFAULT_WINDOW: usize = 2000;

/// Allocation weights of `req.method` over the last `window` bars of the server's history.
pub fn allocation(core: &Core, req: &AllocationRequest) -> Result<AllocationPreview, ApiError> {
    let method = Method::from_str(&req.method)?;
    let assets = assets_of(Some(&req.assets))?;
    if method.needs_market_caps() {
        return Err(ApiError::invalid(
            "method",
            method.name(),
            "a method that needs no market caps (the server's market has none): equal, \
             inverse-vol, min-variance, max-sharpe, risk-parity, hrp",
        ));
    }
    let window = req.window.unwrap_or(DEFAULT_WINDOW);
    if !(3..=100_000).contains(&window) {
        return Err(ApiError::invalid(
            "window",
            window.to_string(),
            "3 to 100000 bars",
        ));
    }
    let (times, prices) = core.history.window(&assets, window)?;
    if times.len() < 3 {
        return Err(ApiError::invalid(
            "window",
            times.len().to_string(),
            "at least 3 bars of history: wait for the market to run",
        ));
    }
    let r = smartfolio_alloc::Returns::from_prices(assets.clone(), &prices).map_err(alloc_err)?;
    let bar = core.history.bar_ms().max(1);
    let opts = smartfolio_alloc::Options {
        periods_per_year: (365.0 * 86_400_000.0 / bar as f64).round().max(1.0),
        ..Default::default()
    };
    let a = smartfolio_alloc::allocate(method, &r, &opts).map_err(alloc_err)?;
    let targets = percent_targets(&assets, &a.weights)?;
    Ok(AllocationPreview {
        method: method.name().into(),
        assets,
        weights_pct: a.weights.iter().map(|w| w * 100.0).collect(),
        volatilities: a.volatilities,
        portfolio_volatility: a.portfolio_volatility,
        n_returns: a.n_returns,
        targets: targets.to_string(),
    })
}

fn alloc_err(e: smartfolio_alloc::AllocError) -> ApiError {
    match e {
        smartfolio_alloc::AllocError::Invalid(v) => v.into(),
        smartfolio_alloc::AllocError::Numerical(m) => ApiError::invalid(
            "method",
            "",
            format!("a method that converges on this window ({m})"),
        ),
    }
}

/// Weights as percents with 2 decimals summing to exactly 100 (the largest takes the rest).
fn percent_targets(assets: &[String], weights: &[f64]) -> Result<Targets, ApiError> {
    let mut p: Vec<Decimal> = weights
        .iter()
        .map(|w| {
            Decimal::from_f64_retain(w * 100.0)
                .unwrap_or_default()
                .round_dp(2)
        })
        .collect();
    let sum: Decimal = p.iter().copied().sum();
    if let Some(i) = (0..p.len()).max_by(|a, b| p[*a].cmp(&p[*b])) {
        p[i] += Decimal::ONE_HUNDRED - sum;
    }
    Ok(Targets::from_pairs(assets, &p)?)
}

const MAX_POINTS: usize = 400;

/// A backtest of targets and trigger over the server's history, against holding.
pub fn backtest(core: &Core, req: &BacktestRequest) -> Result<BacktestPreview, ApiError> {
    let targets = resolve_targets(
        core,
        req.targets.as_deref(),
        req.assets.as_deref(),
        req.method.as_deref(),
        req.window,
    )?;
    let trigger = parse_trigger(&req.trigger)?;
    let capital = req.investment.unwrap_or(Decimal::from(10_000));
    if capital <= Decimal::ZERO || capital > Decimal::from(1_000_000_000_000i64) {
        return Err(ApiError::invalid(
            "investment",
            capital.to_string(),
            "an amount > 0 and ≤ 1e12",
        ));
    }
    let bars = req.bars.unwrap_or(usize::MAX);
    if bars < 2 {
        return Err(ApiError::invalid("bars", bars.to_string(), "at least 2"));
    }
    let quote = core.ex.config().quote.clone();
    let assets: Vec<String> = targets
        .assets()
        .iter()
        .filter(|a| **a != quote)
        .cloned()
        .collect();
    let weights: Vec<f64> = targets
        .iter()
        .filter(|(a, _)| *a != quote)
        .map(|(_, w)| w.to_f64().unwrap_or(0.0))
        .collect();
    if assets.is_empty() {
        return Err(ApiError::invalid(
            "targets",
            targets.to_string(),
            "at least one asset besides the quote",
        ));
    }
    let (times, prices) = core.history.window(&assets, bars)?;
    if times.len() < 2 {
        return Err(ApiError::invalid(
            "bars",
            times.len().to_string(),
            "at least 2 bars of history: wait for the market to run",
        ));
    }
    let px = smartfolio_backtest::Prices::new(&times, &prices, assets.len())?;
    let mut cfg = smartfolio_backtest::Config::new(weights);
    cfg.capital = capital.to_f64().unwrap_or(10_000.0);
    cfg.fee_rate = core.ex.config().fee_rate.to_f64().unwrap_or(0.001);
    let rec = smartfolio_backtest::Record {
        equity: true,
        weights: false,
        trades: false,
    };
    let run = smartfolio_backtest::run(px, &trigger, &cfg, rec)?;
    let hold = smartfolio_backtest::buy_and_hold(px, &cfg, rec)?;
    let step = times.len().div_ceil(MAX_POINTS).max(1);
    let pick = |v: &[f64]| -> Vec<f64> {
        let mut out: Vec<f64> = v.iter().step_by(step).copied().collect();
        if !(v.len() - 1).is_multiple_of(step) {
            out.push(v[v.len() - 1]);
        }
        out
    };
    let mut t_out: Vec<i64> = times.iter().step_by(step).copied().collect();
    if !(times.len() - 1).is_multiple_of(step) {
        t_out.push(times[times.len() - 1]);
    }
    Ok(BacktestPreview {
        targets: targets.to_string(),
        trigger: trigger.to_string(),
        bars: times.len(),
        from_ms: times[0],
        to_ms: times[times.len() - 1],
        times_ms: t_out,
        equity: pick(&run.equity),
        hold: pick(&hold.equity),
        final_value: run.final_value,
        hold_final_value: hold.final_value,
        rebalancing_gain: run.final_value - hold.final_value,
        rebalances: run.n_rebalances,
        fees: run.total_fees,
    })
}
