//! Bot profiles (issue 14, "copy successful profiles"): a bot's settings as a TOML file that
//! another bot can be created from. A profile holds the version, the assets, the targets (or
//! the method `equal`), the trigger, the cooldown, the risk settings and the execution style;
//! never keys, balances, investments or history.
//!
//! ```toml
//! version = 1
//! assets = ["BTC", "ETH", "SOL"]
//! targets = { BTC = "50", ETH = "30", SOL = "20" }   # percent; or method = "equal"
//! trigger = "threshold:5"
//! cooldown_ms = 259200000                          # 3d
//!
//! [risk]
//! stop_loss_pct = "20"
//! take_profit_pct = "50"
//!
//! [execution]
//! orders = "market"
//! price_margin = "0.002"
//! ```
//!
//! [`export`] writes one from a bot's config; [`read`] checks one (every error names the file,
//! the line, the key and the value: an unknown key, an asset the venue does not list, a version
//! other than [`VERSION`]) and [`Profile::apply`] fills a create command with it.

use crate::command::CreateSpec;
use rust_decimal::Decimal;
use serde::Deserialize;
use smartfolio_bot::BotConfig;
use smartfolio_core::{Targets, Trigger, ValidationError};
use smartfolio_templates::spec::line_of;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The profile version this smartfolio writes and reads.
pub const VERSION: i64 = 1;

/// The only execution style bots have: market orders (sells first, then buys sized to the
/// cash the sells raised).
pub const ORDERS: &str = "market";

/// A checked profile: what a new bot takes from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Percent form, in the profile's asset order.
    pub targets: String,
    pub trigger: String,
    pub cooldown_ms: Option<i64>,
    pub stop_loss_pct: Option<Decimal>,
    pub take_profit_pct: Option<Decimal>,
    pub price_margin: Option<Decimal>,
}

impl Profile {
    /// Fill what `spec` leaves out from the profile (a value the command gives wins).
    pub fn apply(&self, spec: &mut CreateSpec) {
        if spec.targets.trim().is_empty() && spec.template.is_none() {
            spec.targets = self.targets.clone();
        }
        spec.trigger.get_or_insert_with(|| self.trigger.clone());
        spec.cooldown_ms = spec.cooldown_ms.or(self.cooldown_ms);
        spec.stop_loss_pct = spec.stop_loss_pct.or(self.stop_loss_pct);
        spec.take_profit_pct = spec.take_profit_pct.or(self.take_profit_pct);
        spec.price_margin = spec.price_margin.or(self.price_margin);
    }
}

/// A bot's settings as a profile ([`read`] reads it back to the same settings).
pub fn export(c: &BotConfig) -> Result<String, ValidationError> {
    let targets = c.parsed_targets()?;
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = format!(
        "# A smartfolio bot profile: settings only (no keys, balances or history).\n\
         # Create a bot from it: smartfolio bot create NAME --from FILE --invest AMOUNT\n\
         version = {VERSION}\n"
    );
    let assets: Vec<String> = targets.assets().iter().map(|a| quoted(a)).collect();
    let _ = writeln!(out, "assets = [{}]", assets.join(", "));
    let pct: Vec<String> = targets
        .iter()
        .map(|(a, w)| {
            format!(
                "{a} = {}",
                quoted(&(w * Decimal::ONE_HUNDRED).normalize().to_string())
            )
        })
        .collect();
    let _ = writeln!(out, "targets = {{ {} }}  # percent", pct.join(", "));
    let _ = writeln!(out, "trigger = {}", quoted(&c.trigger.to_string()));
    let _ = writeln!(
        out,
        "cooldown_ms = {}  # {}",
        c.cooldown_ms,
        smartfolio_templates::spec::format_duration(c.cooldown_ms)
    );
    out.push_str("\n[risk]\n");
    for (key, value, example) in [
        ("stop_loss_pct", c.stop_loss_pct, "20"),
        ("take_profit_pct", c.take_profit_pct, "50"),
    ] {
        let _ = match value {
            Some(p) => writeln!(out, "{key} = {}", quoted(&p.normalize().to_string())),
            None => writeln!(out, "# {key} = \"{example}\"  (none)"),
        };
    }
    let _ = write!(
        out,
        "\n[execution]\norders = {}\nprice_margin = {}\n",
        quoted(ORDERS),
        quoted(&c.price_margin.normalize().to_string())
    );
    Ok(out)
}

#[derive(Deserialize)]
struct Versioned {
    version: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // `version` is read by `Versioned` first.
struct Raw {
    version: toml::Value,
    assets: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    targets: Option<Spanned<BTreeMap<Spanned<String>, Spanned<Number>>>>,
    #[serde(default)]
    method: Option<Spanned<String>>,
    trigger: Spanned<String>,
    #[serde(default)]
    cooldown_ms: Option<Spanned<i64>>,
    #[serde(default)]
    risk: Option<RawRisk>,
    #[serde(default)]
    execution: Option<RawExecution>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRisk {
    #[serde(default)]
    stop_loss_pct: Option<Spanned<Number>>,
    #[serde(default)]
    take_profit_pct: Option<Spanned<Number>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExecution {
    #[serde(default)]
    orders: Option<Spanned<String>>,
    #[serde(default)]
    price_margin: Option<Spanned<Number>>,
}

/// A decimal as a string (exact) or a TOML number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Text(String),
    Int(i64),
    Float(f64),
}

impl Number {
    fn text(&self) -> String {
        match self {
            Number::Text(s) => s.clone(),
            Number::Int(i) => i.to_string(),
            Number::Float(x) => x.to_string(),
        }
    }
}

/// Errors name the file and line with the key: `field` is `FILE:LINE: KEY`.
struct Cx<'a> {
    file: String,
    text: &'a str,
}

impl Cx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        key: &str,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> ValidationError {
        ValidationError::new(
            format!("{}:{}: {key}", self.file, line_of(self.text, span.start)),
            value,
            allowed,
        )
    }

    fn decimal(
        &self,
        n: &Spanned<Number>,
        key: &str,
        allowed: &str,
    ) -> Result<Decimal, ValidationError> {
        let text = n.get_ref().text();
        text.trim()
            .parse::<Decimal>()
            .map_err(|_| self.err(n.span(), key, &text, allowed))
    }
}

/// Read and check the profile at `path`; `listed`: the assets the venue lists (the quote
/// included), or `None` when only the venue knows (a real venue names an unlisted asset when
/// the bot deploys).
pub fn read(path: &Path, listed: Option<&[String]>) -> Result<Profile, ValidationError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ValidationError::new(
            "--from",
            path.display().to_string(),
            format!("a readable profile file ({e})"),
        )
    })?;
    parse(&path.display().to_string(), &text, listed)
}

/// Check a profile's text; `file` names it in errors.
pub fn parse(
    file: &str,
    text: &str,
    listed: Option<&[String]>,
) -> Result<Profile, ValidationError> {
    let cx = Cx {
        file: file.to_string(),
        text,
    };
    let syntax = |e: toml::de::Error| {
        let span = e.span().unwrap_or(0..0);
        let near = text.get(span.clone()).unwrap_or("").trim().to_string();
        let message = e.message().trim().to_string();
        // An unknown key's span is the key itself.
        let key = if message.starts_with("unknown field") {
            near.clone()
        } else {
            "profile".to_string()
        };
        cx.err(span, &key, near, message)
    };
    // The version first: a profile of another version may have other keys.
    let v: Versioned = toml::from_str(text).map_err(syntax)?;
    match &v.version {
        Some(v) if v.get_ref().as_integer() == Some(VERSION) => {}
        Some(v) => {
            return Err(cx.err(
                v.span(),
                "version",
                v.get_ref().to_string(),
                format!("{VERSION} (the profile version this smartfolio reads)"),
            ));
        }
        None => {
            return Err(cx.err(
                0..0,
                "version",
                "",
                format!("version = {VERSION} (missing)"),
            ));
        }
    }
    let raw: Raw = toml::from_str(text).map_err(syntax)?;

    let mut assets: Vec<String> = Vec::new();
    for a in raw.assets.get_ref() {
        let sym = smartfolio_core::targets::normalize_symbol("assets", a.get_ref())
            .map_err(|e| cx.err(a.span(), "assets", a.get_ref(), e.allowed))?;
        if let Some(listed) = listed
            && !listed.contains(&sym)
        {
            return Err(cx.err(
                a.span(),
                "assets",
                a.get_ref(),
                format!("an asset the venue lists ({})", listed.join(", ")),
            ));
        }
        if assets.contains(&sym) {
            return Err(cx.err(a.span(), "assets", a.get_ref(), "distinct assets"));
        }
        assets.push(sym);
    }
    let targets = match (&raw.targets, &raw.method) {
        (Some(t), None) => {
            let mut pct = vec![None; assets.len()];
            for (k, n) in t.get_ref() {
                let key = format!("targets.{}", k.get_ref());
                let i = assets
                    .iter()
                    .position(|a| a.eq_ignore_ascii_case(k.get_ref().trim()))
                    .ok_or_else(|| {
                        cx.err(
                            k.span(),
                            &key,
                            k.get_ref(),
                            format!("one of the assets ({})", assets.join(", ")),
                        )
                    })?;
                pct[i] = Some(cx.decimal(n, &key, "a percent in [0, 100]")?);
            }
            let mut given = Vec::with_capacity(assets.len());
            for (a, p) in assets.iter().zip(pct) {
                given.push(
                    p.ok_or_else(|| cx.err(t.span(), "targets", a, "a percent for every asset"))?,
                );
            }
            Targets::from_pairs(&assets, &given)
                .map_err(|e| cx.err(t.span(), "targets", e.value, e.allowed))?
        }
        (None, Some(m)) if m.get_ref() == "equal" => Targets::equal(&assets)
            .map_err(|e| cx.err(raw.assets.span(), "assets", e.value, e.allowed))?,
        (None, Some(m)) => {
            return Err(cx.err(
                m.span(),
                "method",
                m.get_ref(),
                "equal (other methods: give the targets)",
            ));
        }
        (Some(t), Some(_)) => {
            return Err(cx.err(t.span(), "targets", "", "targets or method, not both"));
        }
        (None, None) => {
            return Err(cx.err(
                raw.assets.span(),
                "targets",
                "",
                "targets = { ASSET = \"PERCENT\", ... } or method = \"equal\"",
            ));
        }
    };
    let trigger = raw.trigger.get_ref().parse::<Trigger>().map_err(|e| {
        cx.err(
            raw.trigger.span(),
            "trigger",
            raw.trigger.get_ref(),
            e.allowed,
        )
    })?;
    let cooldown_ms = match &raw.cooldown_ms {
        Some(c) if !(0..=smartfolio_bot::MAX_COOLDOWN_MS).contains(c.get_ref()) => {
            return Err(cx.err(
                c.span(),
                "cooldown_ms",
                c.get_ref().to_string(),
                "milliseconds from 0 to 366 days (31622400000)",
            ));
        }
        Some(c) => Some(*c.get_ref()),
        None => None,
    };
    let risk = raw.risk.as_ref();
    let pct = |n: Option<&Spanned<Number>>, key: &str| {
        n.map(|n| cx.decimal(n, key, "a percent")).transpose()
    };
    let stop_loss_pct = pct(
        risk.and_then(|r| r.stop_loss_pct.as_ref()),
        "risk.stop_loss_pct",
    )?;
    let take_profit_pct = pct(
        risk.and_then(|r| r.take_profit_pct.as_ref()),
        "risk.take_profit_pct",
    )?;
    let exec = raw.execution.as_ref();
    if let Some(o) = exec.and_then(|e| e.orders.as_ref())
        && o.get_ref() != ORDERS
    {
        return Err(cx.err(o.span(), "execution.orders", o.get_ref(), ORDERS));
    }
    let price_margin = exec
        .and_then(|e| e.price_margin.as_ref())
        .map(|n| cx.decimal(n, "execution.price_margin", "a fraction in [0, 0.1]"))
        .transpose()?;
    Ok(Profile {
        targets: targets.to_string(),
        trigger: trigger.to_string(),
        cooldown_ms,
        stop_loss_pct,
        take_profit_pct,
        price_margin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed() -> Vec<String> {
        ["BTC", "ETH", "SOL", "USDT"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn config() -> BotConfig {
        let mut c = BotConfig::new(
            "core",
            "BTC=50,ETH=30.5,SOL=19.5",
            "every:1d+threshold:2",
            Decimal::from(1000),
        )
        .unwrap();
        c.cooldown_ms = 3 * 86_400_000;
        c.stop_loss_pct = Some(Decimal::from(20));
        c.take_profit_pct = Some(Decimal::new(755, 1));
        c.price_margin = Decimal::new(3, 3);
        c
    }

    #[test]
    fn an_exported_profile_reads_back_to_the_same_settings() {
        let c = config();
        let text = export(&c).unwrap();
        let p = parse("p.toml", &text, Some(&listed())).unwrap();
        assert_eq!(p.targets, c.targets);
        assert_eq!(p.trigger, c.trigger.to_string());
        assert_eq!(p.cooldown_ms, Some(c.cooldown_ms));
        assert_eq!(p.stop_loss_pct, c.stop_loss_pct);
        assert_eq!(p.take_profit_pct, c.take_profit_pct);
        assert_eq!(p.price_margin, Some(c.price_margin));
        // Nothing about money, keys or the bot itself.
        let settings: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for word in ["1000", "invest", "key", "balance", "name", "core"] {
            assert!(!settings.contains(word), "{word} in {text}");
        }
    }

    fn refused(text: &str) -> ValidationError {
        parse("p.toml", text, Some(&listed())).unwrap_err()
    }

    const GOOD: &str =
        "version = 1\nassets = [\"BTC\", \"ETH\"]\nmethod = \"equal\"\ntrigger = \"threshold:5\"\n";

    #[test]
    fn errors_name_the_file_the_line_the_key_and_the_value() {
        assert_eq!(
            parse("p.toml", GOOD, Some(&listed())).unwrap().targets,
            "BTC=50,ETH=50"
        );
        let e = refused(&format!("{GOOD}colour = \"red\"\n"));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("p.toml:5: colour", "colour")
        );
        assert!(e.allowed.contains("colour"), "{e}");
        let e = refused(&GOOD.replace("\"ETH\"]", "\"ETH\", \"DOGE\"]"));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("p.toml:2: assets", "DOGE")
        );
        assert!(e.allowed.contains("BTC, ETH, SOL"), "{e}");
        let e = refused(&GOOD.replace("version = 1", "version = 2"));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("p.toml:1: version", "2")
        );
        let e = refused(&GOOD.replace("threshold:5", "sometimes"));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("p.toml:4: trigger", "sometimes")
        );
        let e = refused(&GOOD.replace(
            "method = \"equal\"",
            "targets = { BTC = \"60\", SOL = \"40\" }",
        ));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("p.toml:3: targets.SOL", "SOL")
        );
        let e = refused(&format!("{GOOD}[execution]\norders = \"limit\"\n"));
        assert_eq!(
            (e.field.as_str(), e.value.as_str()),
            ("p.toml:6: execution.orders", "limit")
        );
        let e = refused("assets = [\"BTC\"]\n");
        assert_eq!(e.field, "p.toml:1: version");
    }

    #[test]
    fn what_the_command_gives_wins_over_the_profile() {
        let p = parse("p.toml", &export(&config()).unwrap(), Some(&listed())).unwrap();
        let mut spec = CreateSpec {
            name: "b".into(),
            trigger: Some("every:7d".into()),
            investment: Some(Decimal::from(500)),
            cooldown_ms: Some(0),
            ..CreateSpec::default()
        };
        p.apply(&mut spec);
        assert_eq!(spec.targets, "BTC=50,ETH=30.5,SOL=19.5");
        assert_eq!(spec.trigger.as_deref(), Some("every:7d"));
        assert_eq!(spec.cooldown_ms, Some(0));
        assert_eq!(spec.stop_loss_pct, Some(Decimal::from(20)));
        assert_eq!(spec.price_margin, Some(Decimal::new(3, 3)));
    }
}
