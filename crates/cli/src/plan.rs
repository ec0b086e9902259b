//! `smartfolio plan`: value a basket, measure its drift, evaluate the deviation trigger and print
//! the plan of SPEC §3 (legs, fees, weights after, skipped legs), as a table or as JSON.
//!
//! Every number is parsed as an exact decimal; every bad input is a `ValidationError` (field,
//! value, what is allowed) or an `InputError`, which exit with code 2.

use crate::InputError;
use anyhow::Context;
use rust_decimal::Decimal;
use serde::Serialize;
use serde::ser::SerializeMap;
use smartfolio_core::plan::{Plan, PlanOptions, plan as make_plan};
use smartfolio_core::portfolio::DEFAULT_QUOTE;
use smartfolio_core::targets::{decimal_from_f64, parse_decimal, split_pairs};
use smartfolio_core::{
    DeviationCheck, InstrumentRules, Portfolio, RuleBook, Targets, Trigger, ValidationError, limits,
};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

// The trigger used when none is given is a new bot's (the command protocol's).
use smartfolio_node::command::DEFAULT_TRIGGER;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example (SPEC §7 example 1):\n  smartfolio plan --targets BTC=50,ETH=30,SOL=20 \\\n    --holdings BTC=0.11,ETH=1.14,SOL=14 --cash 0 --prices BTC=50000,ETH=2500,SOL=150"
)]
pub struct Args {
    /// Target weights in percent, summing to 100: BTC=50,ETH=30,SOL=20. The quote may be one of
    /// them (USDT=20 holds 20% cash).
    #[arg(
        long,
        value_name = "ASSET=PCT,...",
        required_unless_present = "targets_from"
    )]
    pub targets: Option<String>,
    /// Read the targets from the JSON that `smartfolio allocate --json` writes
    /// ({"weights": {"BTC": "0.5", ...}}, fractions summing to 1).
    #[arg(long, value_name = "FILE", conflicts_with = "targets")]
    pub targets_from: Option<PathBuf>,
    /// Units held per asset: BTC=0.11,ETH=1.14. Held assets without a target are sold.
    #[arg(long, value_name = "ASSET=UNITS,...")]
    pub holdings: Option<String>,
    /// Cash held, in quote units.
    #[arg(
        long,
        value_name = "QUOTE",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub cash: String,
    /// Mark price per asset in quote: BTC=50000,ETH=2500,SOL=150.
    #[arg(long, value_name = "ASSET=PRICE,...")]
    pub prices: String,
    /// Proportional fee rate on traded notional, paid in quote (0.001 is 0.1%).
    #[arg(
        long,
        value_name = "RATE",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub fee_rate: String,
    /// Absolute threshold in percentage points (threshold:PP).
    #[arg(
        long,
        value_name = "PP",
        conflicts_with = "trigger",
        allow_negative_numbers = true
    )]
    pub threshold: Option<String>,
    /// Relative threshold in percent of each target (rel-threshold:PCT).
    #[arg(
        long,
        value_name = "PCT",
        conflicts_with = "trigger",
        allow_negative_numbers = true
    )]
    pub rel_threshold: Option<String>,
    /// Any trigger in text form (threshold:3, every:1d+threshold:2, daily@08:00|threshold:5, ...).
    /// `plan` evaluates the deviation rules; schedule rules are evaluated by the bot.
    /// Default: threshold:3.
    #[arg(long, value_name = "RULE")]
    pub trigger: Option<String>,
    /// Instrument rules per asset, a TOML file of tables:
    /// [BTC] lot_step = "0.00001", min_size = "0.00001", min_notional = "5", tick_size = "0.01".
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The quote currency values are measured in.
    #[arg(long, value_name = "SYMBOL", default_value = DEFAULT_QUOTE)]
    pub quote: String,
    /// Print one JSON object (decimal numbers as strings) instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = build(&args)?;
    let text = if args.json {
        let mut t = serde_json::to_string_pretty(&report.json())?;
        t.push('\n');
        t
    } else {
        report.table()
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is not an error of ours.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Everything `plan` prints.
pub struct Report {
    pub portfolio: Portfolio,
    pub plan: Plan,
    pub trigger: Trigger,
    pub trigger_is_default: bool,
    pub check: DeviationCheck,
}

fn parse_pairs(
    field: &str,
    text: &str,
    range: limits::Range,
) -> Result<Vec<(String, Decimal)>, ValidationError> {
    let form = format!(
        "comma-separated ASSET={} pairs such as BTC=0.5,ETH=2",
        if field == "prices" { "PRICE" } else { "UNITS" }
    );
    split_pairs(field, text, &form)?
        .into_iter()
        .map(|(k, v)| {
            let sym = k.to_ascii_uppercase();
            range
                .parse(&format!("{field}.{sym}"), v)
                .map(|d| (k.to_string(), d))
        })
        .collect()
}

fn parse_pp(field: &str, raw: &str, max: f64, what: &str) -> Result<f64, ValidationError> {
    match raw.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= max => Ok(x),
        _ => Err(ValidationError::new(
            field,
            raw,
            format!("{what}: a number in (0, {max}]"),
        )),
    }
}

fn trigger_of(args: &Args) -> Result<(Trigger, bool), ValidationError> {
    if let Some(t) = &args.trigger {
        return Ok((t.parse()?, false));
    }
    let mut rules = Vec::new();
    if let Some(t) = &args.threshold {
        rules.push(Trigger::Threshold {
            pp: parse_pp("threshold", t, 100.0, "percentage points")?,
        });
    }
    if let Some(t) = &args.rel_threshold {
        rules.push(Trigger::RelThreshold {
            pct: parse_pp("rel-threshold", t, 1e6, "percent of each target")?,
        });
    }
    Ok(match rules.len() {
        0 => (DEFAULT_TRIGGER.parse()?, true),
        1 => (rules.remove(0), false),
        _ => (Trigger::AnyOf(rules), false),
    })
}

fn read_file(flag: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        InputError(format!(
            "invalid {flag}: {:?} cannot be read ({e}); allowed: a readable file",
            path.display().to_string()
        ))
        .into()
    })
}

/// Read a rules file: a TOML table per asset with the keys of [`InstrumentRules::KEYS`], each a
/// decimal string or a number.
pub fn parse_rules(text: &str, path: &Path) -> anyhow::Result<RuleBook> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        InputError(format!(
            "invalid rules file {}: {}; allowed: TOML tables such as [BTC] lot_step = \"0.00001\"",
            path.display(),
            e.to_string().trim_end()
        ))
    })?;
    let mut book = RuleBook::new();
    let in_file = || format!("in rules file {}", path.display());
    for (asset, value) in &table {
        let toml::Value::Table(keys) = value else {
            return Err(anyhow::Error::new(ValidationError::new(
                "rules",
                asset,
                "a table per asset such as [BTC] with keys lot_step, min_size, min_notional, tick_size",
            )))
            .with_context(in_file);
        };
        let sym = asset.to_ascii_uppercase();
        let mut rules = InstrumentRules::default();
        for (key, v) in keys {
            let field = format!("rules.{sym}.{key}");
            let number = match v {
                toml::Value::String(s) => parse_decimal(&field, s, "a decimal number"),
                toml::Value::Integer(i) => Ok(Decimal::from(*i)),
                toml::Value::Float(x) => decimal_from_f64(*x).ok_or_else(|| {
                    ValidationError::new(&field, x.to_string(), "a finite decimal number")
                }),
                other => Err(ValidationError::new(
                    &field,
                    other.to_string(),
                    "a decimal string such as \"0.001\" or a number",
                )),
            };
            // An unknown key is reported before its value is looked at.
            if !InstrumentRules::KEYS.contains(&key.as_str()) {
                rules.set(&sym, key, Decimal::ZERO).with_context(in_file)?;
            }
            rules
                .set(&sym, key, number.with_context(in_file)?)
                .with_context(in_file)?;
        }
        book.insert(asset, rules).with_context(in_file)?;
    }
    Ok(book)
}

/// Parse the flags, value the portfolio and plan.
pub fn build(args: &Args) -> anyhow::Result<Report> {
    let targets = match (&args.targets, &args.targets_from) {
        (Some(t), None) => Targets::parse(t)?,
        (None, Some(path)) => {
            let text = read_file("targets-from", path)?;
            Targets::from_allocation_json(&text)
                .with_context(|| format!("in targets file {}", path.display()))?
        }
        _ => {
            return Err(InputError(
                "invalid targets: give exactly one of --targets ASSET=PCT,... and --targets-from FILE"
                    .into(),
            )
            .into());
        }
    };
    let holdings = match &args.holdings {
        Some(h) => parse_pairs("holdings", h, limits::QUANTITY_OR_ZERO)?,
        None => Vec::new(),
    };
    let prices = parse_pairs("prices", &args.prices, limits::PRICE)?;
    let cash = limits::AMOUNT_OR_ZERO.parse("cash", &args.cash)?;
    let fee_rate = parse_decimal("fee-rate", &args.fee_rate, "a fee rate in [0, 0.1]")?;
    let (trigger, trigger_is_default) = trigger_of(args)?;
    let rules = match &args.rules {
        Some(path) => parse_rules(&read_file("rules", path)?, path)?,
        None => RuleBook::new(),
    };
    let portfolio = Portfolio::new(&targets, &args.quote, cash, &holdings, &prices)?;
    let plan = make_plan(
        &portfolio,
        &PlanOptions {
            fee_rate,
            rules: &rules,
            ..Default::default()
        },
    )?;
    let check = trigger.check_deviation(portfolio.drift());
    Ok(Report {
        portfolio,
        plan,
        trigger,
        trigger_is_default,
        check,
    })
}

// ------------------------------------------------------------------------------ formatting

/// An exact decimal as JSON text: normalized, no exponent.
fn exact(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Quote money to the cent.
fn cents(d: Decimal) -> String {
    let r = d.round_dp(2);
    let r = if r.is_zero() { Decimal::ZERO } else { r };
    format!("{r:.2}")
}

/// A quantity or price to at most 8 decimals.
fn units(d: Decimal) -> String {
    d.round_dp(8).normalize().to_string()
}

fn pct(w: Decimal) -> String {
    format!("{:.2}%", (w * Decimal::ONE_HUNDRED).round_dp(2))
}

fn pp(d: Decimal) -> String {
    let r = d.round_dp(2);
    if r.is_zero() {
        "0.00 pp".to_string()
    } else if r > Decimal::ZERO {
        format!("+{r:.2} pp")
    } else {
        format!("{r:.2} pp")
    }
}

/// A JSON tree whose objects keep their members in order (serde_json's map would sort them).
pub enum J {
    Null,
    Bool(bool),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
    Map(Vec<(String, J)>),
}

impl Serialize for J {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Null => s.serialize_unit(),
            J::Bool(b) => s.serialize_bool(*b),
            J::Str(t) => s.serialize_str(t),
            J::Arr(items) => s.collect_seq(items),
            J::Obj(members) => {
                let mut m = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            J::Map(members) => {
                let mut m = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

fn dec_j(d: Decimal) -> J {
    J::Str(exact(d))
}

fn str_j(s: impl Into<String>) -> J {
    J::Str(s.into())
}

impl Report {
    pub fn triggered(&self) -> bool {
        self.check.fired.is_some()
    }

    fn trigger_text(&self) -> String {
        if self.trigger_is_default {
            format!("{} (default)", self.trigger)
        } else {
            self.trigger.to_string()
        }
    }

    fn schedule_notes(&self) -> Vec<String> {
        self.check
            .schedules
            .iter()
            .map(|(rule, gate)| match gate {
                None => format!("{rule}: schedule, evaluated by the bot"),
                Some(true) => {
                    format!("{rule}: schedule, evaluated by the bot (its minimum deviation is met)")
                }
                Some(false) => format!(
                    "{rule}: schedule, evaluated by the bot (its minimum deviation is not met)"
                ),
            })
            .collect()
    }

    /// Weight entries per asset, plus loose cash (the quote without a target) when any is held
    /// before or after.
    fn weight_rows(&self, after: bool) -> Vec<(String, Decimal)> {
        let p = &self.plan;
        let ws = if after {
            &p.weights_after
        } else {
            &p.weights_before
        };
        let mut rows: Vec<(String, Decimal)> =
            p.assets.iter().cloned().zip(ws.iter().copied()).collect();
        if p.cash_before != Decimal::ZERO || p.cash_after != Decimal::ZERO {
            let loose = if after {
                p.loose_cash_weight_after
            } else {
                p.loose_cash_weight_before
            };
            if let Some(w) = loose {
                rows.push((p.quote.clone(), w));
            }
        }
        rows
    }

    /// The JSON object of issue 2 (decimal numbers as strings), with extra fields.
    pub fn json(&self) -> J {
        let p = &self.plan;
        let map = |rows: Vec<(String, Decimal)>| {
            J::Map(rows.into_iter().map(|(a, w)| (a, dec_j(w))).collect())
        };
        let targets: Vec<(String, Decimal)> = p
            .assets
            .iter()
            .cloned()
            .zip(p.targets.iter().copied())
            .collect();
        let deviations: Vec<(String, Decimal)> = p
            .assets
            .iter()
            .cloned()
            .zip(self.portfolio.deviations_pp())
            .collect();
        let trades = p
            .trades
            .iter()
            .map(|l| {
                J::Obj(vec![
                    ("asset", str_j(&l.asset)),
                    ("side", str_j(l.side.as_str())),
                    ("quantity", dec_j(l.quantity)),
                    ("notional", dec_j(l.notional)),
                    ("fee", dec_j(l.fee)),
                    ("price", dec_j(l.price)),
                    ("limit_price", dec_j(l.limit_price)),
                    ("reason", str_j(&l.reason)),
                ])
            })
            .collect();
        let skipped = p
            .skipped
            .iter()
            .map(|s| {
                J::Obj(vec![
                    ("asset", str_j(&s.asset)),
                    ("side", str_j(s.side.as_str())),
                    ("notional", dec_j(s.notional)),
                    ("quantity", dec_j(s.quantity)),
                    ("reason", str_j(s.reason.to_string())),
                ])
            })
            .collect();
        J::Obj(vec![
            ("value", dec_j(p.value)),
            ("value_after", dec_j(p.value_after)),
            ("fees", dec_j(p.fees)),
            ("max_deviation_pp", dec_j(p.max_deviation_before_pp)),
            ("triggered", J::Bool(self.triggered())),
            ("weights_before", map(self.weight_rows(false))),
            ("weights_after", map(self.weight_rows(true))),
            ("trades", J::Arr(trades)),
            ("skipped", J::Arr(skipped)),
            ("quote", str_j(&p.quote)),
            ("fee_rate", dec_j(p.fee_rate)),
            ("exact_value_after", dec_j(p.exact_value_after)),
            ("cash_before", dec_j(p.cash_before)),
            ("cash_after", dec_j(p.cash_after)),
            ("max_deviation_after_pp", dec_j(p.max_deviation_after_pp)),
            ("targets", map(targets)),
            ("deviations_pp", map(deviations)),
            ("trigger", str_j(self.trigger.to_string())),
            (
                "trigger_reason",
                self.check.fired.map_or(J::Null, |r| str_j(r.to_string())),
            ),
            (
                "trigger_notes",
                J::Arr(self.schedule_notes().into_iter().map(J::Str).collect()),
            ),
            ("buy_scale", p.buy_scale.map_or(J::Null, dec_j)),
        ])
    }

    /// The human-readable report.
    pub fn table(&self) -> String {
        let p = &self.plan;
        let pf = &self.portfolio;
        let q = &p.quote;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "value: {} {q}   (cash {} {q}, fee rate {})",
            cents(p.value),
            cents(p.cash_before),
            exact(p.fee_rate)
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{:<8} {:>14} {:>16} {:>14} {:>8} {:>8} {:>10}",
            "asset", "price", "holding", "value", "weight", "target", "deviation"
        );
        let devs = pf.deviations_pp();
        for (i, a) in p.assets.iter().enumerate() {
            let _ = writeln!(
                o,
                "{:<8} {:>14} {:>16} {:>14} {:>8} {:>8} {:>10}",
                a,
                units(pf.prices()[i]),
                units(pf.quantities()[i]),
                cents(pf.holding_value(i)),
                pct(p.weights_before[i]),
                pct(p.targets[i]),
                pp(devs[i]),
            );
        }
        if let Some(w) = p.loose_cash_weight_before
            && p.cash_before != Decimal::ZERO
        {
            let _ = writeln!(
                o,
                "{:<8} {:>14} {:>16} {:>14} {:>8} {:>8} {:>10}",
                q,
                "1",
                units(p.cash_before),
                cents(p.cash_before),
                pct(w),
                "-",
                "(cash)"
            );
        }
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "max deviation: {:.2} pp",
            p.max_deviation_before_pp.round_dp(2)
        );
        let verdict = match &self.check.fired {
            Some(r) => format!("FIRES ({r})"),
            None if self.check.schedules.is_empty() => "does not fire".to_string(),
            None => "no deviation rule fires".to_string(),
        };
        let _ = writeln!(o, "trigger {}: {verdict}", self.trigger_text());
        for note in self.schedule_notes() {
            let _ = writeln!(o, "  {note}");
        }
        let _ = writeln!(o);
        if p.trades.is_empty() {
            let _ = writeln!(o, "plan: no trades (every asset is on target or skipped)");
        } else {
            let _ = writeln!(o, "plan (sells execute first):");
            let _ = writeln!(
                o,
                "{:<5} {:<8} {:>18} {:>14} {:>10} {:>14}  reason",
                "side", "asset", "quantity", "notional", "fee", "limit price"
            );
            for l in &p.trades {
                let _ = writeln!(
                    o,
                    "{:<5} {:<8} {:>18} {:>14} {:>10} {:>14}  {}",
                    l.side.as_str(),
                    l.asset,
                    units(l.quantity),
                    cents(l.notional),
                    cents(l.fee),
                    units(l.limit_price),
                    l.reason
                );
            }
        }
        if let Some(k) = p.buy_scale {
            let _ = writeln!(o, "buys scaled by {} for lack of cash", units(k));
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "fees: {} {q}", cents(p.fees));
        let _ = writeln!(
            o,
            "value after: {} {q}   (cash after {} {q})",
            cents(p.value_after),
            cents(p.cash_after)
        );
        let after: Vec<String> = self
            .weight_rows(true)
            .iter()
            .map(|(a, w)| format!("{a} {}", pct(*w)))
            .collect();
        let _ = writeln!(o, "weights after: {}", after.join(", "));
        let _ = writeln!(
            o,
            "max deviation after: {:.2} pp",
            p.max_deviation_after_pp.round_dp(2)
        );
        if p.skipped.is_empty() {
            let _ = writeln!(o, "skipped legs: none");
        } else {
            let _ = writeln!(o, "skipped legs:");
            for s in &p.skipped {
                let _ = writeln!(
                    o,
                    "  {} {} {} {q}: {}",
                    s.side.as_str(),
                    s.asset,
                    cents(s.notional),
                    s.reason
                );
            }
        }
        o
    }
}
