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
use smartfolio_bot::{BotConfig, CoinAmount};
use smartfolio_core::{Targets, Trigger};
use smartfolio_node::{CreateSpec, Request};
use utoipa::ToSchema;

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

    /// A field that may be absent (`#[serde(default)]` gives None) but, when present, is a
    /// decimal in the grammar (never null).
    pub fn de_some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        de(d).map(Some)
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

/// Integer fields as JSON Schema counts them: a JSON number with no fractional part (`5` or
/// `5.0`), in the field's range.
pub mod int {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error, Unexpected};
    use serde_json::Value;

    fn integral<E: Error>(v: &Value, expected: &'static str) -> Result<Option<i128>, E> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Some(i.into()));
                }
                if let Some(u) = n.as_u64() {
                    return Ok(Some(u.into()));
                }
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    Ok(Some(f as i128))
                } else {
                    Err(E::invalid_value(Unexpected::Float(f), &expected))
                }
            }
            Value::String(s) => Err(E::invalid_type(Unexpected::Str(s), &expected)),
            Value::Bool(b) => Err(E::invalid_type(Unexpected::Bool(*b), &expected)),
            Value::Array(_) => Err(E::invalid_type(Unexpected::Seq, &expected)),
            Value::Object(_) => Err(E::invalid_type(Unexpected::Map, &expected)),
        }
    }

    fn ranged<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
        d: D,
        expected: &'static str,
    ) -> Result<Option<T>, D::Error> {
        let v = Value::deserialize(d)?;
        match integral::<D::Error>(&v, expected)? {
            None => Ok(None),
            Some(i) => T::try_from(i)
                .map(Some)
                .map_err(|_| D::Error::invalid_value(Unexpected::Other(&v.to_string()), &expected)),
        }
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        ranged(d, "an integer")
    }

    pub fn opt_usize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        ranged(d, "an integer ≥ 0")
    }
}

/// Where targets come from: `manual` (the percent form in `targets`), `equal` weights over
/// `assets`, or an allocation method over `assets` and the server's price history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetMethod {
    Manual,
    Equal,
    InverseVol,
    MinVariance,
    MaxSharpe,
    RiskParity,
    Hrp,
}

/// An allocation method the server can run (none needs market caps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AllocMethod {
    Equal,
    InverseVol,
    MinVariance,
    MaxSharpe,
    RiskParity,
    Hrp,
}

impl AllocMethod {
    pub fn method(self) -> Method {
        match self {
            AllocMethod::Equal => Method::Equal,
            AllocMethod::InverseVol => Method::InverseVol,
            AllocMethod::MinVariance => Method::MinVariance,
            AllocMethod::MaxSharpe => Method::MaxSharpe,
            AllocMethod::RiskParity => Method::RiskParity,
            AllocMethod::Hrp => Method::Hrp,
        }
    }
}

impl TargetMethod {
    /// Every method, as `GET /api/status` lists them.
    pub const ALL: [TargetMethod; 7] = [
        TargetMethod::Manual,
        TargetMethod::Equal,
        TargetMethod::InverseVol,
        TargetMethod::MinVariance,
        TargetMethod::MaxSharpe,
        TargetMethod::RiskParity,
        TargetMethod::Hrp,
    ];

    pub fn name(self) -> &'static str {
        match self.alloc() {
            None => "manual",
            Some(m) => m.method().name(),
        }
    }

    /// The allocation method, or `None` for manual targets.
    pub fn alloc(self) -> Option<AllocMethod> {
        match self {
            TargetMethod::Manual => None,
            TargetMethod::Equal => Some(AllocMethod::Equal),
            TargetMethod::InverseVol => Some(AllocMethod::InverseVol),
            TargetMethod::MinVariance => Some(AllocMethod::MinVariance),
            TargetMethod::MaxSharpe => Some(AllocMethod::MaxSharpe),
            TargetMethod::RiskParity => Some(AllocMethod::RiskParity),
            TargetMethod::Hrp => Some(AllocMethod::Hrp),
        }
    }
}

/// An asset symbol the server trades (`GET /api/status` lists them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Asset(pub String);

impl utoipa::PartialSchema for Asset {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("asset".into())))
            .description(Some(
                "an asset symbol the server trades (GET /api/status lists them), e.g. BTC",
            ))
            .into()
    }
}

impl ToSchema for Asset {}

/// The shortest and longest allocation window, in bars.
pub const WINDOW: std::ops::RangeInclusive<usize> = 3..=100_000;
/// The most bars a backtest may ask for (it runs over at most the server's history).
pub const MAX_BARS: usize = 1_000_000;

/// `POST /api/bots` and `POST /api/preview/create`. Targets come from `targets` (method
/// `manual`, the default), from `assets` with another method, or from `template`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// A unique name: 1 to 64 ASCII letters, digits, `-`, `_` or `.`; not all digits (an
    /// all-digit reference is a bot id) and not `.` or `..`.
    #[schema(
        pattern = r"^(?![0-9]+$)(?!\.\.?$)[A-Za-z0-9._-]{1,64}$",
        example = "core"
    )]
    pub name: String,
    /// Percent form `BTC=50,ETH=30,SOL=20`: assets the server trades, weights > 0 summing
    /// to 100 (method `manual`, the default).
    #[serde(default)]
    #[schema(format = "targets", example = "BTC=50,ETH=30,SOL=20")]
    pub targets: Option<String>,
    /// The basket for methods other than `manual`: 2 to 20 distinct assets.
    #[serde(default)]
    #[schema(min_items = 2)]
    pub assets: Option<Vec<Asset>>,
    /// `manual` (default), `equal` or an allocation method.
    #[serde(default)]
    pub method: Option<TargetMethod>,
    /// Bars of history an allocation method uses (default: all the server has, up to 2000).
    #[serde(default, deserialize_with = "int::opt_usize")]
    #[schema(minimum = 3, maximum = 100_000)]
    pub window: Option<usize>,
    /// A template's name (`smartfolio template list`): the targets, trigger and cooldown the
    /// body does not give come from it: its weights today (from the history in the data
    /// directory's `history` folder; equal and fixed weights need none) and the trigger and
    /// cooldown its walk-forward recommends (without history, the default `threshold:3`).
    /// 409 when the server has no such template (`allowed` lists the known ones), cannot
    /// compute its weights (`allowed` names the assets without history) or does not list one
    /// of its assets.
    #[serde(default)]
    #[schema(example = "cushioned", min_length = 1, max_length = 64)]
    pub template: Option<String>,
    /// A profile (`smartfolio bot export` writes one; `GET /api/bots/{bot}/profile`): the
    /// targets, trigger, cooldown, risk settings and execution style the body does not give
    /// come from it, as `bot create --from` takes them. Not with `template`. Its errors name
    /// the file, the line, the key and the value: 422, or 409 for an asset the venue does not
    /// list.
    #[serde(default)]
    pub profile: Option<crate::profile::ProfileUpload>,
    /// Trigger text form, e.g. `threshold:5`, `every:1d`, `daily@08:00+threshold:2`; required
    /// unless `template` or `profile` gives it.
    #[serde(default)]
    #[schema(format = "trigger", example = "threshold:5")]
    pub trigger: Option<String>,
    /// Quote invested (> 0; required unless `coins` are given; at least the venue's minimum
    /// for the basket, at most the account's unallocated quote: 409 otherwise).
    #[serde(default, deserialize_with = "dec::de_some")]
    #[schema(value_type = String, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$", example = "1000")]
    pub investment: Option<Decimal>,
    /// Coins brought in from the account's unallocated holdings (only the difference to the
    /// targets is traded).
    #[serde(default)]
    pub coins: Option<Vec<CoinRequest>>,
    /// Percent loss against net invested that sells to quote and stops: in (0, 100).
    #[serde(default, deserialize_with = "dec::de_opt")]
    #[schema(value_type = Option<String>, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,2}(\.[0-9]{1,12})?$", example = "20")]
    pub stop_loss_pct: Option<Decimal>,
    /// Percent gain against net invested that sells to quote and stops: > 0.
    #[serde(default, deserialize_with = "dec::de_opt")]
    #[schema(value_type = Option<String>, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$", example = "50")]
    pub take_profit_pct: Option<Decimal>,
    /// After a rebalance, deviations are not checked for this long: 0 to 366 days.
    #[serde(default, deserialize_with = "int::opt_i64")]
    #[schema(minimum = 0, maximum = 31_622_400_000i64)]
    pub cooldown_ms: Option<i64>,
    /// The venue account the bot trades on: one the server configures (422 otherwise,
    /// `allowed` naming them); its default account when left out. Format `account`: the name
    /// of a configured account (`GET /api/status` names the default one).
    #[serde(default)]
    #[schema(format = "account", example = "main", min_length = 1, max_length = 64)]
    pub account: Option<String>,
}

impl CreateRequest {
    /// Whether the targets come from the template or the profile: one is given, and neither
    /// targets nor an allocation method are.
    pub fn targets_from_template(&self) -> bool {
        (self.template.is_some() || self.profile.is_some())
            && self.targets.is_none()
            && self.method.and_then(TargetMethod::alloc).is_none()
    }
}

/// Coins of the account brought into a bot.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoinRequest {
    pub asset: Asset,
    /// Units of the asset (> 0).
    #[serde(deserialize_with = "dec::de")]
    #[schema(value_type = String, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$", example = "0.5")]
    pub quantity: Decimal,
    /// The cost of one unit in quote, the coins' basis for realized gains (> 0); without it the
    /// market price at the transfer is their basis, flagged.
    #[serde(default, deserialize_with = "dec::de_opt")]
    #[schema(value_type = Option<String>, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$", example = "50000")]
    pub basis: Option<Decimal>,
}

fn coins_of(coins: &Option<Vec<CoinRequest>>) -> Vec<CoinAmount> {
    coins
        .iter()
        .flatten()
        .map(|c| CoinAmount {
            asset: c.asset.0.clone(),
            quantity: c.quantity,
            basis: c.basis,
        })
        .collect()
}

/// `POST /api/bots/{bot}/invest`: quote and/or coins.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvestRequest {
    /// Quote to invest (> 0; required unless `coins` are given; at least the venue's minimum,
    /// at most the account's unallocated quote: 409 otherwise).
    #[serde(default, deserialize_with = "dec::de_some")]
    #[schema(value_type = String, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$", example = "100")]
    pub amount: Option<Decimal>,
    /// Coins brought in from the account.
    #[serde(default)]
    pub coins: Option<Vec<CoinRequest>>,
}

/// `POST /api/bots/{bot}/rebalance`: rebalance now, whatever the trigger says.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// Rebalance even inside the cooldown after the last rebalance (default false).
    #[serde(default)]
    pub force: Option<bool>,
}

/// How a withdrawal sells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawMode {
    /// Sell every asset in proportion (the default).
    #[default]
    ProRata,
    /// Sell the overweight assets first.
    Overweights,
}

impl WithdrawMode {
    pub fn from_overweights(self) -> bool {
        self == WithdrawMode::Overweights
    }
}

/// `POST /api/bots/{bot}/withdraw`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Quote to withdraw (> 0; at most what the bot holds: 409 otherwise).
    #[serde(deserialize_with = "dec::de")]
    #[schema(value_type = String, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,15}(\.[0-9]{1,12})?$", example = "100")]
    pub amount: Decimal,
    /// `pro_rata` (default) or `overweights`.
    #[serde(default)]
    pub mode: Option<WithdrawMode>,
}

/// `POST /api/bots/{bot}/modify`: at least one of the fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyRequest {
    /// New targets, percent form over assets the server trades.
    #[serde(default)]
    #[schema(format = "targets", example = "BTC=50,ETH=50")]
    pub targets: Option<String>,
    /// New trigger, text form.
    #[serde(default)]
    #[schema(format = "trigger", example = "threshold:3")]
    pub trigger: Option<String>,
    /// New cooldown: 0 to 366 days.
    #[serde(default, deserialize_with = "int::opt_i64")]
    #[schema(minimum = 0, maximum = 31_622_400_000i64)]
    pub cooldown_ms: Option<i64>,
}

/// How to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopModeName {
    /// Sell everything to quote, then close the ledger.
    SellAll,
    /// Keep the coins; close the ledger.
    KeepCoins,
}

/// `POST /api/bots/{bot}/stop`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    pub mode: StopModeName,
}

/// `POST /api/bots/{bot}/preview`: a control (`action`) and the body the control's own route
/// takes (decoded by `api::Decode`, so its errors name the body's fields).
#[derive(Debug, Clone)]
pub enum ControlRequest {
    Invest(InvestRequest),
    Withdraw(WithdrawRequest),
    Modify(ModifyRequest),
    Rebalance(RebalanceRequest),
    Pause,
    Resume,
    Stop(StopRequest),
}

impl ControlRequest {
    /// The command of the node's protocol this control is, on bot `bot` (the one mapping of
    /// the API's controls; the protocol validates and applies the defaults).
    pub fn into_request(self, bot: String) -> Request {
        match self {
            ControlRequest::Invest(r) => Request::Invest {
                bot,
                amount: r.amount,
                coins: coins_of(&r.coins),
            },
            ControlRequest::Withdraw(r) => Request::Withdraw {
                bot,
                amount: r.amount,
                overweights: r.mode.unwrap_or_default().from_overweights(),
            },
            ControlRequest::Modify(r) => Request::Modify {
                bot,
                targets: r.targets,
                trigger: r.trigger,
                cooldown_ms: r.cooldown_ms,
            },
            ControlRequest::Rebalance(r) => Request::Rebalance {
                bot,
                force: r.force.unwrap_or(false),
            },
            ControlRequest::Pause => Request::Pause { bot },
            ControlRequest::Resume => Request::Resume { bot },
            ControlRequest::Stop(r) => Request::Stop {
                bot,
                keep_coins: r.mode == StopModeName::KeepCoins,
            },
        }
    }
}

/// Its schema is composed in [`crate::openapi`] from the bodies of the controls' routes: one
/// object per `action`, so the two can never disagree.
impl utoipa::PartialSchema for ControlRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Object)
            .into()
    }
}

impl ToSchema for ControlRequest {}

/// A body with no fields (pause and resume previews).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// `POST /api/preview/allocation`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    /// 2 to 20 distinct assets the server trades.
    #[schema(min_items = 2)]
    pub assets: Vec<Asset>,
    pub method: AllocMethod,
    /// Bars of history (default: all the server has, up to 2000).
    #[serde(default, deserialize_with = "int::opt_usize")]
    #[schema(minimum = 3, maximum = 100_000)]
    pub window: Option<usize>,
}

/// `POST /api/preview/backtest`. Targets as in [`CreateRequest`].
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Percent form over assets the server trades (method `manual`, the default).
    #[serde(default)]
    #[schema(format = "targets", example = "BTC=50,ETH=50")]
    pub targets: Option<String>,
    /// The basket for methods other than `manual`: 2 to 20 distinct assets.
    #[serde(default)]
    #[schema(min_items = 2)]
    pub assets: Option<Vec<Asset>>,
    #[serde(default)]
    pub method: Option<TargetMethod>,
    #[serde(default, deserialize_with = "int::opt_usize")]
    #[schema(minimum = 3, maximum = 100_000)]
    pub window: Option<usize>,
    #[schema(format = "trigger", example = "threshold:5")]
    pub trigger: String,
    /// Starting capital in quote, in (0, 1e12) (default 10000).
    #[serde(default, deserialize_with = "dec::de_opt")]
    #[schema(value_type = Option<String>, pattern = r"^(?=[0-9.]*[1-9])[0-9]{1,12}(\.[0-9]{1,12})?$", example = "10000")]
    pub investment: Option<Decimal>,
    /// Bars to run over (default: all the server has).
    #[serde(default, deserialize_with = "int::opt_usize")]
    #[schema(minimum = 2, maximum = 1_000_000)]
    pub bars: Option<usize>,
}

/// One leg of a previewed plan.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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

/// Allocation weights and what they rest on, as `smartfolio allocate` prints them: each
/// asset's volatility, return and share of the portfolio's risk over the window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AllocationPreview {
    pub method: String,
    pub assets: Vec<String>,
    pub weights_pct: Vec<f64>,
    /// Annualised volatility of each asset (fraction): sample standard deviation of the
    /// per-bar returns × √`periods_per_year`.
    pub volatilities: Vec<f64>,
    /// Annualised return of each asset over the window (fraction, compounded).
    pub returns: Vec<f64>,
    /// Each asset's share of the portfolio variance, `w_i (Σw)_i / w'Σw` (fractions summing
    /// to 1; Σ the `covariance` estimate).
    pub risk_contributions: Vec<f64>,
    /// The portfolio's annualised volatility (fraction).
    pub portfolio_volatility: f64,
    /// The covariance estimator behind the risk contributions: `sample` or `ledoit-wolf`.
    pub covariance: String,
    pub n_returns: usize,
    /// Bars per year the figures are annualised with.
    pub periods_per_year: f64,
    /// The window's first and last bar (ms).
    pub from_ms: i64,
    pub to_ms: i64,
    /// The weights in the percent form bots take.
    pub targets: String,
}

/// A backtest over the server's history, against holding.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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

pub fn parse_trigger(s: &str) -> Result<Trigger, ApiError> {
    s.parse::<Trigger>().map_err(|e| {
        let mut err = ApiError::from(e);
        err.field = Some("trigger".into());
        err
    })
}

fn check_window(w: Option<usize>) -> Result<(), ApiError> {
    match w {
        Some(w) if !WINDOW.contains(&w) => Err(ApiError::invalid(
            "window",
            w.to_string(),
            format!("{} to {} bars", WINDOW.start(), WINDOW.end()),
        )),
        _ => Ok(()),
    }
}

/// What the allocation and backtest previews read of the loop's state: the server's price
/// history and the node's quote and fee rate. The loop publishes a copy when they are read
/// (`crate::reads`), so they are computed off the loop.
pub struct PreviewPrices {
    pub history: crate::actor::PriceHistory,
    pub quote: String,
    pub fee_rate: Decimal,
}

impl PreviewPrices {
    /// A copy of what the loop holds now.
    pub fn of(core: &Core) -> Self {
        PreviewPrices {
            history: core.history.clone(),
            quote: core.defaults.quote.clone(),
            fee_rate: core.defaults.fee_rate,
        }
    }
}

/// Resolve targets from `targets` or `assets` + `method` (over the server's history).
pub fn resolve_targets(
    history: &crate::actor::PriceHistory,
    targets: Option<&str>,
    assets: Option<&[Asset]>,
    method: Option<TargetMethod>,
    window: Option<usize>,
) -> Result<Targets, ApiError> {
    check_window(window)?;
    // A basket is checked whenever it is given (distinct, 2 to 20), used or not.
    if assets.is_some() {
        assets_of(assets)?;
    }
    match method.and_then(TargetMethod::alloc) {
        None => {
            let t = targets.ok_or_else(|| {
                ApiError::invalid(
                    "targets",
                    "",
                    "the percent form BTC=50,ETH=30,SOL=20 (or assets with a method)",
                )
            })?;
            Ok(Targets::parse(t)?)
        }
        Some(AllocMethod::Equal) => Ok(Targets::equal(&assets_of(assets)?)?),
        Some(method) => {
            let a = allocation(
                history,
                &AllocationRequest {
                    assets: assets.map(<[Asset]>::to_vec).unwrap_or_default(),
                    method,
                    window,
                },
            )?;
            Ok(Targets::parse(&a.targets)?)
        }
    }
}

fn assets_of(assets: Option<&[Asset]>) -> Result<Vec<String>, ApiError> {
    let assets = assets.unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(assets.len());
    for (i, a) in assets.iter().enumerate() {
        let field = format!("assets[{i}]");
        let symbol = smartfolio_core::targets::normalize_symbol(&field, &a.0)?;
        if out.contains(&symbol) {
            return Err(ApiError::invalid(field, &a.0, "distinct assets"));
        }
        out.push(symbol);
    }
    let (min, max) = (
        smartfolio_core::targets::MIN_ASSETS,
        smartfolio_core::targets::MAX_ASSETS,
    );
    if !(min..=max).contains(&out.len()) {
        return Err(ApiError::invalid(
            "assets",
            format!("{} assets", out.len()),
            format!("{min} to {max} distinct asset symbols, e.g. [\"BTC\", \"ETH\"]"),
        ));
    }
    Ok(out)
}

/// The node's command for a create request: targets resolved (an allocation method runs over
/// the server's history), a template resolved by the node (`smartfolio_node::template`: what
/// the body does not give), checked by the protocol with the node's defaults; the config it
/// builds. A taken name is a conflict (409): the request is valid, another bot has the name;
/// so is a template the server does not have or cannot compute the weights of.
pub fn create_spec(core: &Core, req: &CreateRequest) -> Result<(CreateSpec, BotConfig), ApiError> {
    if req.trigger.is_none() && req.template.is_none() && req.profile.is_none() {
        return Err(ApiError::invalid(
            "trigger",
            "",
            "a trigger in text form such as threshold:5 (required unless a template or a \
             profile gives it)",
        ));
    }
    if let (Some(t), Some(_)) = (&req.template, &req.profile) {
        return Err(ApiError::invalid(
            "profile",
            format!("a profile with template {t}"),
            "a template or a profile, not both",
        ));
    }
    let targets = if req.targets_from_template() {
        // A basket is checked whenever it is given, used or not.
        check_window(req.window)?;
        if req.assets.is_some() {
            assets_of(req.assets.as_deref())?;
        }
        String::new()
    } else {
        resolve_targets(
            &core.history,
            req.targets.as_deref(),
            req.assets.as_deref(),
            req.method,
            req.window,
        )?
        .to_string()
    };
    let mut spec = CreateSpec {
        name: req.name.clone(),
        targets,
        template: req.template.clone(),
        trigger: req.trigger.clone(),
        investment: req.investment,
        coins: coins_of(&req.coins),
        entry_prices: vec![],
        stop_loss_pct: req.stop_loss_pct,
        take_profit_pct: req.take_profit_pct,
        cooldown_ms: req.cooldown_ms,
        price_margin: None,
        execution: None,
        account: req.account.clone(),
    };
    if let Some(up) = &req.profile {
        crate::profile::read(core, up, "profile.file")?
            .1
            .apply(&mut spec);
    }
    let (spec, _) =
        smartfolio_node::template::resolve(&spec, &core.defaults, None).map_err(|e| {
            let mut conflict = ApiError::from(e);
            conflict.status = 409;
            conflict
        })?;
    let cfg = spec.config(&core.defaults)?;
    if core.rt.resolve(&cfg.name).is_ok() {
        return Err(ApiError {
            status: 409,
            field: Some("name".into()),
            value: Some(cfg.name.clone()),
            allowed: Some("a name no other bot has (GET /api/bots)".into()),
            message: format!("a bot named `{}` exists", cfg.name),
        });
    }
    Ok((spec, cfg))
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

/// The initial orders of a bot that `req` would create (the node's preview of create and
/// deploy: nothing is created).
pub async fn create_preview(core: &mut Core, req: &CreateRequest) -> Result<PlanPreview, ApiError> {
    let (spec, _) = create_spec(core, req)?;
    let node_req = Request::Create {
        spec: Box::new(spec),
    };
    Ok(
        smartfolio_node::command::preview(&mut core.rt, &node_req, &core.defaults)
            .await
            .map_err(ApiError::from)?
            .into(),
    )
}

/// What a control on bot `key` will do (the node's preview of its command: nothing changes).
pub async fn control_preview(
    core: &mut Core,
    key: &str,
    req: &ControlRequest,
) -> Result<PlanPreview, ApiError> {
    let req = req.clone().into_request(key.to_string());
    Ok(
        smartfolio_node::command::preview(&mut core.rt, &req, &core.defaults)
            .await?
            .into(),
    )
}

const DEFAULT_WINDOW: usize = 2000;

/// Allocation weights of `req.method` over the last `window` bars of the server's history.
pub fn allocation(
    history: &crate::actor::PriceHistory,
    req: &AllocationRequest,
) -> Result<AllocationPreview, ApiError> {
    let method = req.method.method();
    let assets = assets_of(Some(&req.assets))?;
    check_window(req.window)?;
    let window = req.window.unwrap_or(DEFAULT_WINDOW);
    let (times, prices) = history.window(&assets, window)?;
    if times.len() < 3 {
        return Err(short_history("window", times.len(), 3));
    }
    let r = smartfolio_alloc::Returns::from_prices(assets.clone(), &prices)
        .map_err(|e| alloc_err(method, e))?;
    let bar = history.bar_ms().max(1);
    let opts = smartfolio_alloc::Options {
        periods_per_year: (365.0 * 86_400_000.0 / bar as f64).round().max(1.0),
        ..Default::default()
    };
    let a = smartfolio_alloc::allocate(method, &r, &opts).map_err(|e| alloc_err(method, e))?;
    let targets = percent_targets(&assets, &a.weights)?;
    Ok(AllocationPreview {
        method: method.name().into(),
        assets,
        weights_pct: a.weights.iter().map(|w| w * 100.0).collect(),
        volatilities: a.volatilities,
        returns: a.returns,
        risk_contributions: a.risk_contributions,
        portfolio_volatility: a.portfolio_volatility,
        covariance: a.cov.to_string(),
        n_returns: a.n_returns,
        periods_per_year: a.periods_per_year,
        from_ms: times[0],
        to_ms: times[times.len() - 1],
        targets: targets.to_string(),
    })
}

/// A method the request names correctly but the server's price window cannot support now (no
/// asset above the risk-free rate, a solver that does not converge, ...): the history is state,
/// so this is a conflict (409) naming the method and why.
fn alloc_err(method: Method, e: smartfolio_alloc::AllocError) -> ApiError {
    let why = match e {
        smartfolio_alloc::AllocError::Invalid(v) => format!("{}: {}", v.value, v.allowed),
        smartfolio_alloc::AllocError::Numerical(m) => m,
    };
    ApiError {
        status: 409,
        field: Some("method".into()),
        value: Some(method.name().into()),
        allowed: Some(format!(
            "a method the server's price window supports now ({why}); try another method or window"
        )),
        message: format!(
            "{} cannot allocate over this price window: {why}",
            method.name()
        ),
    }
}

/// Too little history yet: a conflict with the server's state (409), not a bad request.
fn short_history(field: &str, have: usize, need: usize) -> ApiError {
    ApiError {
        status: 409,
        field: Some(field.into()),
        value: Some(have.to_string()),
        allowed: Some(format!(
            "at least {need} bars of history: wait for the market to run"
        )),
        message: format!("the server has {have} bars of history, {need} are needed"),
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
pub fn backtest(p: &PreviewPrices, req: &BacktestRequest) -> Result<BacktestPreview, ApiError> {
    let targets = resolve_targets(
        &p.history,
        req.targets.as_deref(),
        req.assets.as_deref(),
        req.method,
        req.window,
    )?;
    let trigger = parse_trigger(&req.trigger)?;
    let capital = req.investment.unwrap_or(Decimal::from(10_000));
    if capital <= Decimal::ZERO || capital >= Decimal::from(1_000_000_000_000i64) {
        return Err(ApiError::invalid(
            "investment",
            capital.to_string(),
            "an amount > 0 and < 1e12",
        ));
    }
    let bars = req.bars.unwrap_or(MAX_BARS);
    if !(2..=MAX_BARS).contains(&bars) {
        return Err(ApiError::invalid(
            "bars",
            bars.to_string(),
            format!("2 to {MAX_BARS}"),
        ));
    }
    let quote = p.quote.clone();
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
    let (times, prices) = p.history.window(&assets, bars)?;
    if times.len() < 2 {
        return Err(short_history("bars", times.len(), 2));
    }
    let px = smartfolio_backtest::Prices::new(&times, &prices, assets.len())?;
    let mut cfg = smartfolio_backtest::Config::new(weights);
    cfg.capital = capital.to_f64().unwrap_or(10_000.0);
    cfg.fee_rate = p.fee_rate.to_f64().unwrap_or(0.001);
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
