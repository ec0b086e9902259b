//! Template files: parsing and validation.
//!
//! A file holds `[[template]]` tables:
//!
//! ```toml
//! [[template]]
//! name = "majors"                 # unique, lower-case letters, digits and '-'
//! sector = "Majors"
//! description = "..."
//! assets = ["BTC", "ETH", "SOL"]  # distinct symbols
//! method = "sqrt-market-cap"      # equal, market-cap, sqrt-market-cap, inverse-vol,
//!                                 # min-variance, max-sharpe, risk-parity, hrp, or fixed
//! # weights = [50, 30, 20]        # percent, one per asset, summing to 100 (method fixed)
//! window = "365d"                 # history each computation of the method reads
//! reallocate = "every:90d"        # how often the backtest recomputes the method's weights
//! min_weight = 5                  # optional bounds in percent
//! max_weight = 50
//! triggers = ["threshold:1..10:1", "every:1d,7d"]   # sweep specs (as `smartfolio sweep`)
//! cooldowns = ["0", "3d"]         # every trigger is tried with every cooldown
//! train = "365d"                  # walk-forward training window
//! test = "90d"                    # walk-forward test window (the step)
//! ```
//!
//! Every error names the file, the line and the value as given.

use serde::Deserialize;
use smartfolio_alloc::{Method, Options};
use smartfolio_backtest::expand_spec;
use smartfolio_backtest::walkforward::{Lookback, parse_reallocate};
use smartfolio_core::Trigger;
use smartfolio_core::trigger::{DAY_MS, MAX_INTERVAL_MS, parse_duration_ms};
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// The templates shipped with smartfolio (`templates/templates.toml` in this crate).
pub const BUILTIN: &str = include_str!("../templates/templates.toml");
/// The name [`BUILTIN`]'s errors and sources carry.
pub const BUILTIN_NAME: &str = "templates.toml (built in)";

/// Most rules a template's grid may expand to.
pub const MAX_GRID: usize = 2_000;

/// A template file's error: the file, the line (1-based) and what is wrong with which value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for TemplateError {}

/// A trigger with its cooldown: one entry of a template's grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub trigger: Trigger,
    /// Milliseconds; 0 for none.
    pub cooldown_ms: i64,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.trigger)?;
        if self.cooldown_ms > 0 {
            write!(f, ", cooldown {}", format_duration(self.cooldown_ms))?;
        }
        Ok(())
    }
}

/// `3d`, `12h`, `30m`; `0` for none.
pub fn format_duration(ms: i64) -> String {
    const H: i64 = 3_600_000;
    if ms == 0 {
        "0".into()
    } else if ms % DAY_MS == 0 {
        format!("{}d", ms / DAY_MS)
    } else if ms % H == 0 {
        format!("{}h", ms / H)
    } else {
        format!("{}m", ms / 60_000)
    }
}

/// How a template weighs its assets.
#[derive(Debug, Clone, PartialEq)]
pub enum Weighting {
    /// Fixed fractions, one per asset, summing to 1.
    Fixed(Vec<f64>),
    /// An allocation method (`smartfolio_alloc`) on a trailing window, recomputed on a schedule
    /// in the backtest. `options.periods_per_year` is set from the history when used.
    Method {
        method: Method,
        options: Options,
        window: Lookback,
        reallocate: Trigger,
    },
}

impl Weighting {
    /// `equal`, `fixed`, `min-variance (365d window, every:90d, 5%..50%)`.
    pub fn describe(&self) -> String {
        match self {
            Weighting::Fixed(_) => "fixed".into(),
            Weighting::Method {
                method: Method::Equal,
                ..
            } => "equal".into(),
            Weighting::Method {
                method,
                options,
                window,
                reallocate,
            } => {
                let mut s = format!("{method} ({window} window, reallocated {reallocate}");
                if options.min_weight.is_some() || options.max_weight.is_some() {
                    let pc = |x: Option<f64>, d: f64| format!("{}%", x.unwrap_or(d) * 100.0);
                    s += &format!(
                        ", weights {}..{}",
                        pc(options.min_weight, 0.0),
                        pc(options.max_weight, 1.0)
                    );
                }
                s + ")"
            }
        }
    }

    /// Whether weights can be computed without price history (equal, fixed).
    pub fn needs_history(&self) -> bool {
        !matches!(
            self,
            Weighting::Fixed(_)
                | Weighting::Method {
                    method: Method::Equal,
                    ..
                }
        )
    }
}

/// Where a template was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub line: usize,
}

/// A validated template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: String,
    pub sector: String,
    pub description: String,
    pub assets: Vec<String>,
    pub weighting: Weighting,
    /// The grid the recommendation is chosen from, in file order.
    pub grid: Vec<Rule>,
    /// Walk-forward training window.
    pub train_ms: i64,
    /// Walk-forward test window (and step).
    pub test_ms: i64,
    pub source: Source,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    template: Vec<Spanned<RawTemplate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: Spanned<String>,
    #[serde(default)]
    sector: Option<String>,
    #[serde(default)]
    description: Option<String>,
    assets: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    method: Option<Spanned<String>>,
    #[serde(default)]
    weights: Option<Spanned<Vec<Spanned<f64>>>>,
    #[serde(default)]
    window: Option<Spanned<String>>,
    #[serde(default)]
    reallocate: Option<Spanned<String>>,
    #[serde(default)]
    min_weight: Option<Spanned<f64>>,
    #[serde(default)]
    max_weight: Option<Spanned<f64>>,
    triggers: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    cooldowns: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    train: Option<Spanned<String>>,
    #[serde(default)]
    test: Option<Spanned<String>>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

/// The 1-based line of byte `offset` in `text` (a toml span's start).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        line_of(self.text, offset)
    }

    fn err(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> TemplateError {
        TemplateError {
            file: self.file.to_string(),
            line: Some(self.line(span.start)),
            message: message.into(),
        }
    }
}

/// Parse and validate one template file's text; `file` names it in errors and sources.
pub fn parse(file: &str, text: &str) -> Result<Vec<Template>, TemplateError> {
    let cx = Ctx { file, text };
    let raw: RawFile = toml::from_str(text).map_err(|e| TemplateError {
        file: file.to_string(),
        line: e.span().map(|s| cx.line(s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut out: Vec<Template> = Vec::with_capacity(raw.template.len());
    for t in raw.template {
        let line = cx.line(t.span().start);
        let t = t.into_inner();
        let tpl = template(&cx, t, line)?;
        if let Some(prev) = out.iter().find(|p| p.name == tpl.name) {
            return Err(TemplateError {
                file: file.to_string(),
                line: Some(line),
                message: format!(
                    "template name \"{}\" is used twice (first on line {}); names must be unique",
                    tpl.name, prev.source.line
                ),
            });
        }
        out.push(tpl);
    }
    Ok(out)
}

/// Read and validate a template file.
pub fn parse_file(path: &Path) -> Result<Vec<Template>, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|e| TemplateError {
        file: path.display().to_string(),
        line: None,
        message: format!("cannot read the template file: {e}"),
    })?;
    parse(&path.display().to_string(), &text)
}

fn duration(
    cx: &Ctx<'_>,
    field: &str,
    v: &Option<Spanned<String>>,
    default_ms: i64,
    max_ms: i64,
) -> Result<i64, TemplateError> {
    let Some(v) = v else { return Ok(default_ms) };
    let text = v.get_ref();
    match parse_duration_ms(text) {
        Some(ms) if (0..=max_ms).contains(&ms) && (ms > 0 || field == "cooldowns") => Ok(ms),
        _ if field == "cooldowns" && text.trim() == "0" => Ok(0),
        _ => Err(cx.err(
            v.span(),
            format!(
                "{field} \"{text}\" is not a duration up to {}; use e.g. 30m, 12h, 3d, 2w",
                format_duration(max_ms)
            ),
        )),
    }
}

fn percent(
    cx: &Ctx<'_>,
    name: &str,
    v: &Option<Spanned<f64>>,
) -> Result<Option<f64>, TemplateError> {
    match v {
        None => Ok(None),
        Some(x) if x.get_ref().is_finite() && (0.0..=100.0).contains(x.get_ref()) => {
            Ok(Some(x.get_ref() / 100.0))
        }
        Some(x) => Err(cx.err(
            x.span(),
            format!("{name} {} is not a percentage from 0 to 100", x.get_ref()),
        )),
    }
}

fn template(cx: &Ctx<'_>, t: RawTemplate, line: usize) -> Result<Template, TemplateError> {
    let name = t.name.get_ref().trim().to_string();
    let valid_name = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_name {
        return Err(cx.err(
            t.name.span(),
            format!(
                "template name \"{}\" is not allowed; use 1 to 40 lower-case letters, digits and '-'",
                t.name.get_ref()
            ),
        ));
    }
    let ctx = |m: String| format!("template \"{name}\": {m}");

    // Assets: distinct upper-case symbols.
    let mut assets: Vec<String> = Vec::new();
    if t.assets.get_ref().is_empty() {
        return Err(cx.err(
            t.assets.span(),
            ctx("assets is empty; list at least one symbol".into()),
        ));
    }
    for a in t.assets.get_ref() {
        let sym = a.get_ref().trim().to_ascii_uppercase();
        if sym.is_empty() || sym.len() > 20 || !sym.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(cx.err(
                a.span(),
                ctx(format!(
                    "asset \"{}\" is not a symbol (letters and digits, e.g. BTC)",
                    a.get_ref()
                )),
            ));
        }
        if assets.contains(&sym) {
            return Err(cx.err(
                a.span(),
                ctx(format!(
                    "asset \"{}\" is listed twice; list each asset once",
                    a.get_ref()
                )),
            ));
        }
        assets.push(sym);
    }

    // Weighting.
    let method_text = t
        .method
        .as_ref()
        .map(|m| m.get_ref().trim().to_ascii_lowercase());
    let weighting = match (&t.weights, method_text.as_deref()) {
        (Some(w), None | Some("fixed")) => {
            let given: Vec<f64> = w.get_ref().iter().map(|x| *x.get_ref()).collect();
            let shown = format!(
                "[{}]",
                given
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if given.len() != assets.len() {
                return Err(cx.err(
                    w.span(),
                    ctx(format!(
                        "weights {shown} has {} values for {} assets; give one percentage per asset",
                        given.len(),
                        assets.len()
                    )),
                ));
            }
            if let Some(bad) = w
                .get_ref()
                .iter()
                .find(|x| !(x.get_ref().is_finite() && *x.get_ref() >= 0.0))
            {
                return Err(cx.err(
                    bad.span(),
                    ctx(format!("weight {} is not a percentage >= 0", bad.get_ref())),
                ));
            }
            let sum: f64 = given.iter().sum();
            if (sum - 100.0).abs() > 1e-6 {
                return Err(cx.err(
                    w.span(),
                    ctx(format!(
                        "weights {shown} sum to {sum}; they must sum to 100"
                    )),
                ));
            }
            Weighting::Fixed(given.iter().map(|x| x / 100.0).collect())
        }
        (Some(w), Some(_)) => {
            return Err(cx.err(
                w.span(),
                ctx(format!(
                    "weights are given with method \"{}\"; fixed weights go with method \"fixed\" (or no method)",
                    t.method.as_ref().map(|m| m.get_ref().as_str()).unwrap_or("")
                )),
            ));
        }
        (None, Some("fixed")) => {
            let m = t.method.as_ref().expect("method given");
            return Err(cx.err(
                m.span(),
                ctx("method \"fixed\" needs weights = [...] (percent, one per asset)".into()),
            ));
        }
        (None, m) => {
            let method = match m {
                None => Method::Equal,
                Some(text) => text.parse::<Method>().map_err(|e| {
                    let m = t.method.as_ref().expect("method given");
                    cx.err(
                        m.span(),
                        ctx(format!(
                            "unknown method \"{}\"; allowed: {}, fixed",
                            m.get_ref(),
                            e.allowed
                        )),
                    )
                })?,
            };
            let window = match &t.window {
                None => Lookback::Millis(365 * DAY_MS),
                Some(w) => w.get_ref().parse::<Lookback>().map_err(|e| {
                    cx.err(
                        w.span(),
                        ctx(format!("window \"{}\": {}", w.get_ref(), e.allowed)),
                    )
                })?,
            };
            let reallocate = match &t.reallocate {
                None => parse_reallocate("every:30d").expect("a valid default"),
                Some(r) => {
                    let rule = parse_reallocate(r.get_ref()).map_err(|e| {
                        cx.err(
                            r.span(),
                            ctx(format!(
                                "reallocate \"{}\": allowed {}",
                                r.get_ref(),
                                e.allowed
                            )),
                        )
                    })?;
                    if rule.needs_drift() {
                        return Err(cx.err(
                            r.span(),
                            ctx(format!(
                                "reallocate \"{}\" looks at the portfolio; use a schedule such as every:90d",
                                r.get_ref()
                            )),
                        ));
                    }
                    rule
                }
            };
            let options = Options {
                min_weight: percent(cx, "min_weight", &t.min_weight)?,
                max_weight: percent(cx, "max_weight", &t.max_weight)?,
                ..Options::default()
            };
            let n = assets.len() as f64;
            let lo = options.min_weight.unwrap_or(0.0);
            let hi = options.max_weight.unwrap_or(1.0);
            if n * lo > 1.0 + 1e-9 || n * hi < 1.0 - 1e-9 || lo > hi {
                let span = t
                    .min_weight
                    .as_ref()
                    .or(t.max_weight.as_ref())
                    .map(|s| s.span())
                    .unwrap_or(t.assets.span());
                return Err(cx.err(
                    span,
                    ctx(format!(
                        "bounds {}%..{}% cannot hold {} assets summing to 100%",
                        lo * 100.0,
                        hi * 100.0,
                        assets.len()
                    )),
                ));
            }
            Weighting::Method {
                method,
                options,
                window,
                reallocate,
            }
        }
    };

    // The grid: every trigger spec expanded, crossed with every cooldown.
    let mut triggers: Vec<Trigger> = Vec::new();
    if t.triggers.get_ref().is_empty() {
        return Err(cx.err(
            t.triggers.span(),
            ctx("triggers is empty; list at least one rule".into()),
        ));
    }
    for spec in t.triggers.get_ref() {
        let expanded = expand_spec(spec.get_ref()).map_err(|e| {
            cx.err(
                spec.span(),
                ctx(format!(
                    "trigger \"{}\": allowed {}",
                    spec.get_ref(),
                    e.allowed
                )),
            )
        })?;
        triggers.extend(expanded);
    }
    let mut cooldowns: Vec<i64> = Vec::new();
    match &t.cooldowns {
        None => cooldowns.push(0),
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(cx.err(
                    list.span(),
                    ctx("cooldowns is empty; leave it out for none".into()),
                ));
            }
            for c in list.get_ref() {
                cooldowns.push(
                    duration(cx, "cooldowns", &Some(c.clone()), 0, MAX_INTERVAL_MS).map_err(
                        |e| TemplateError {
                            message: ctx(e.message),
                            ..e
                        },
                    )?,
                );
            }
        }
    }
    let mut grid: Vec<Rule> = Vec::new();
    for trig in &triggers {
        for &cooldown_ms in &cooldowns {
            let rule = Rule {
                trigger: trig.clone(),
                cooldown_ms,
            };
            if !grid.contains(&rule) {
                grid.push(rule);
            }
        }
    }
    if grid.len() > MAX_GRID {
        return Err(cx.err(
            t.triggers.span(),
            ctx(format!(
                "the grid has {} rules (triggers x cooldowns); at most {MAX_GRID}",
                grid.len()
            )),
        ));
    }

    let wrap = |e: TemplateError| TemplateError {
        message: ctx(e.message),
        ..e
    };
    let train_ms = duration(cx, "train", &t.train, 365 * DAY_MS, 3650 * DAY_MS).map_err(wrap)?;
    let test_ms = duration(cx, "test", &t.test, 90 * DAY_MS, 3650 * DAY_MS).map_err(wrap)?;

    Ok(Template {
        sector: t.sector.unwrap_or_else(|| name.clone()),
        description: t.description.unwrap_or_default(),
        name,
        assets,
        weighting,
        grid,
        train_ms,
        test_ms,
        source: Source {
            file: cx.file.to_string(),
            line,
        },
    })
}

/// The built-in templates.
pub fn builtin() -> Vec<Template> {
    parse(BUILTIN_NAME, BUILTIN).expect("the built-in templates are valid (tested)")
}

/// The built-in templates followed by the user's: `<dir>/templates.toml` and every `*.toml` in
/// `<dir>/templates/`, in name order. A user template may not reuse a built-in or another
/// user template's name (the error names the file and the line).
pub fn load_all(user_dir: Option<&Path>) -> Result<Vec<Template>, TemplateError> {
    let mut all = builtin();
    let Some(dir) = user_dir else { return Ok(all) };
    let mut files = Vec::new();
    let single = dir.join("templates.toml");
    if single.is_file() {
        files.push(single);
    }
    let folder = dir.join("templates");
    if folder.is_dir() {
        let mut more: Vec<_> = std::fs::read_dir(&folder)
            .map_err(|e| TemplateError {
                file: folder.display().to_string(),
                line: None,
                message: format!("cannot list the template folder: {e}"),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        for t in parse_file(&f)? {
            if let Some(prev) = all.iter().find(|p| p.name == t.name) {
                return Err(TemplateError {
                    file: t.source.file.clone(),
                    line: Some(t.source.line),
                    message: format!(
                        "template name \"{}\" is already defined in {} line {}; choose another name",
                        t.name, prev.source.file, prev.source.line
                    ),
                });
            }
            all.push(t);
        }
    }
    Ok(all)
}
