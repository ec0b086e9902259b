//! Request bodies and previews: what a control will do before it acts (the runtime's
//! `preview_*` methods, which run the same checks and leg calculations as the action and change
//! nothing; this module only maps their view to our JSON), allocation weights over the server's
//! price history (SPEC §5) and a backtest over that history (SPEC §4).

use crate::actor::Core;
use crate::error::ApiError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize};
use smartfolio_alloc::Method;
use smartfolio_bot::{BotConfig, StopMode};
use smartfolio_core::{Targets, Trigger};
use smartfolio_exchange::Exchange;
use std::str::FromStr;

/// The API's one number grammar: every decimal (amounts, investments, percents) is a JSON
/// string of 1 to 15 ASCII digits, optionally followed by `.` and 1 to 12 digits: `"123.45"`.
/// No sign, no exponent, no spaces, no JSON number (a JSON number is a binary float to most
/// clients, and would round). Each field then has its range (amounts > 0, ...).
pub mod dec {
    use super::*;
    use serde::de::{Error, Unexpected};

    /// What [`de`] accepts, for error messages.
    pub const ALLOWED: &str = "a decimal string such as \"123.45\": 1 to 15 digits, then \
         optionally `.` and 1 to 12 digits (no sign, no exponent)";

    /// The grammar as a regular expression (the OpenAPI schemas refine it per field).
    pub const PATTERN: &str = r"^[0-9]{1,15}(\.[0-9]{1,12})?$";
    /// A decimal > 0 in the grammar.
    pub const POSITIVE: &str = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$";
    /// A percent in (0, 100) in the grammar (stop-loss).
    pub const PERCENT_BELOW_100: &str = r"^(?=[0-9.]*[1-9])[0-9]{1,2}(\.[0-9]{1,12})?$";
    /// A decimal in (0, 1e12) in the grammar (backtest capital).
    pub const CAPITAL: &str = r"^(?=[0-9.]*[1-9])[0-9]{1,12}(\.[0-9]{1,12})?$";

    /// Whether `s` is in the grammar.
    pub fn is_decimal_text(s: &str) -> bool {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |p: &str, max: usize| {
            !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
        };
        digits(int, 15) && frac.is_none_or(|f| digits(f, 12))
    }

    struct Expected;

    impl serde::de::Expected for Expected {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(ALLOWED)
        }
    }

    /// Parse the grammar's text; too many digits for a decimal is a range error.
    pub fn parse<E: Error>(s: &str) -> Result<Decimal, E> {
        if !is_decimal_text(s) {
            return Err(E::invalid_value(Unexpected::Str(s), &Expected));
        }
        Decimal::from_str_exact(s).map_err(|_| E::invalid_value(Unexpected::Str(s), &Expected))
    }

    fn from_value<E: Error>(v: serde_json::Value) -> Result<Decimal, E> {
        match v {
            serde_json::Value::String(s) => parse(&s),
            serde_json::Value::Number(n) => {
                let text = n.to_string();
                let unexpected = if let Some(u) = n.as_u64() {
                    Unexpected::Unsigned(u)
                } else if let Some(i) = n.as_i64() {
                    Unexpected::Signed(i)
                } else {
                    Unexpected::Other(&text)
                };
                Err(E::invalid_type(unexpected, &Expected))
            }
            serde_json::Value::Bool(b) => Err(E::invalid_type(Unexpected::Bool(b), &Expected)),
            serde_json::Value::Null => Err(E::invalid_type(Unexpected::Unit, &Expected)),
            serde_json::Value::Array(_) => Err(E::invalid_type(Unexpected::Seq, &Expected)),
            serde_json::Value::Object(_) => Err(E::invalid_type(Unexpected::Map, &Expected)),
        }
    }

    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        from_value(serde_json::Value::deserialize(d)?)
    }

    pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Ok(None),
            v => from_value(v).map(Some),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn one_grammar() {
            for good in [
                "0",
                "5",
                "123.45",
                "0.000000000001",
                "007.50",
                "999999999999999.999999999999",
            ] {
                assert!(is_decimal_text(good), "{good}");
                parse::<serde_json::Error>(good).expect(good);
            }
            for bad in [
                "",
                "5e2",
                "1e-30",
                "1E3",
                "+5",
                "-5",
                " 5",
                "5 ",
                ".5",
                "5.",
                "1,5",
                "-",
                "0x10",
                "inf",
                "NaN",
                "1_000",
                "٣",
                "1000000000000000",
                "0.0000000000001",
            ] {
                assert!(!is_decimal_text(bad), "{bad}");
                let e = parse::<serde_json::Error>(bad).unwrap_err().to_string();
                assert!(e.contains("no exponent"), "{bad}: {e}");
            }
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

/// `POST /api/bots/{bot}/preview`: a control (`action`) and the body the control's own route
/// takes (decoded by `api::Decode`, so its errors name the body's fields).
#[derive(Debug, Clone)]
pub enum ControlRequest {
    Invest(InvestRequest),
    Withdraw(WithdrawRequest),
    Modify(ModifyRequest),
    Pause,
    Resume,
    Stop(StopRequest),
}

/// A body with no fields (pause and resume previews).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

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

impl From<smartfolio_bot::PlanPreview> for PlanPreview {
    fn from(v: smartfolio_bot::PlanPreview) -> Self {
        let leg = |l: smartfolio_bot::PreviewLeg| LegView {
            asset: l.asset,
            side: l.side,
            quantity: l.quantity.normalize(),
            price: l.price,
            notional: l.notional.round_dp(8),
            fee: l.fee.round_dp(8),
            reason: l.reason,
        };
        PlanPreview {
            action: v.action,
            summary: v.summary,
            value_before: v.value_before.map(|x| x.round_dp(8)),
            value_after: v.value_after.map(|x| x.round_dp(8)),
            fees: v.fees.round_dp(8),
            legs: v.legs.into_iter().map(leg).collect(),
            skipped: v.skipped.into_iter().map(leg).collect(),
            notes: v.notes,
        }
    }
}

/// The initial orders of a bot that `req` would create (the runtime's preview of create and
/// deploy: nothing is created).
pub async fn create_preview(core: &mut Core, req: &CreateRequest) -> Result<PlanPreview, ApiError> {
    let cfg = create_config(core, req)?;
    Ok(core.rt.preview_create(&cfg).await?.into())
}

fn positive(amount: Decimal) -> Result<Decimal, ApiError> {
    if amount <= Decimal::ZERO {
        return Err(ApiError::invalid(
            "amount",
            amount.to_string(),
            "an amount > 0",
        ));
    }
    Ok(amount)
}

/// What a control on bot `key` will do (the runtime's preview of it: nothing changes).
pub async fn control_preview(
    core: &mut Core,
    key: &str,
    req: &ControlRequest,
) -> Result<PlanPreview, ApiError> {
    let id = core.rt.resolve(key)?;
    let rt = &mut core.rt;
    let view = match req {
        ControlRequest::Invest(InvestRequest { amount }) => {
            rt.preview_invest(id, positive(*amount)?, vec![]).await?
        }
        ControlRequest::Withdraw(WithdrawRequest { amount, mode }) => {
            let from_overweights = parse_withdraw_mode(mode.as_deref())?;
            rt.preview_withdraw(id, positive(*amount)?, from_overweights)
                .await?
        }
        ControlRequest::Modify(ModifyRequest {
            targets,
            trigger,
            cooldown_ms,
        }) => {
            check_cooldown(*cooldown_ms)?;
            let trigger = trigger.as_deref().map(parse_trigger).transpose()?;
            rt.preview_modify(id, targets.as_deref(), trigger, *cooldown_ms)
                .await?
        }
        ControlRequest::Pause => rt.preview_pause(id)?,
        ControlRequest::Resume => rt.preview_resume(id)?,
        ControlRequest::Stop(StopRequest { mode }) => {
            rt.preview_stop(id, parse_stop_mode(mode)?).await?
        }
    };
    Ok(view.into())
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
