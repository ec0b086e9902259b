//! A template's card, computed from the history it is given (SPEC §9): the weights today, the
//! recommended rule chosen by walk-forward, and the out-of-sample result against equal weight
//! (same rules) and buy-and-hold. Every figure carries its window and source.

use crate::select::{self, SelectError, Setup, TargetPath, WalkForwardChoice};
use crate::spec::{Rule, Template, Weighting, format_duration};
use rayon::prelude::*;
use smartfolio_alloc::{Method, latest_known};
use smartfolio_backtest::engine::{Config, Prices};
use smartfolio_backtest::walkforward::WalkForward;
use smartfolio_core::Trigger;
use smartfolio_data::{LoadOptions, PriceTable, format_time_ms};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Capital of every card's runs, in quote.
pub const CAPITAL: f64 = 10_000.0;
/// Fee rate of every card's runs (exact model, SPEC §3): 0.1 % of traded notional.
pub const FEE_RATE: f64 = 0.001;

/// The history a card was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The folder read.
    pub source: PathBuf,
    /// The files read, one per asset.
    pub files: Vec<PathBuf>,
    /// The assets' common bars (inner join): first and last time, count, spacing.
    pub from_ms: i64,
    pub to_ms: i64,
    pub n_bars: usize,
    pub bar_ms: i64,
}

/// The weights today, from the template's method.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Fractions in the template's asset order, summing to 1.
    pub weights: Vec<f64>,
    /// The window the method read (first and last bar time), when it reads history.
    pub window: Option<(i64, i64)>,
    /// Market-cap methods: the date of each asset's cap used (its latest known on or before
    /// the last bar, which may be much older than the prices), in asset order.
    pub market_caps_as_of: Vec<(String, i64)>,
}

/// One fold of the walk-forward, in time.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldWindow {
    pub train_from_ms: i64,
    pub train_to_ms: i64,
    pub test_from_ms: i64,
    pub test_to_ms: i64,
    pub rule: Rule,
    pub train_sharpe: f64,
}

/// The recommended rule and the out-of-sample record of the walk-forward that chose it.
#[derive(Debug, Clone)]
pub struct Recommendation {
    /// The rule to use now: the best (by Sharpe) on the latest training window.
    pub rule: Rule,
    /// That training window (first and last bar time).
    pub chosen_on: (i64, i64),
    /// The rules tried.
    pub grid_size: usize,
    pub criterion: &'static str,
    pub train_ms: i64,
    pub test_ms: i64,
    pub folds: Vec<FoldWindow>,
    /// The joined test windows: first and last bar time.
    pub out_of_sample_from_ms: i64,
    pub out_of_sample_to_ms: i64,
    /// The strategy against buy-and-hold, and equal weight under the same rules.
    pub summary: smartfolio_backtest::Summary,
    pub equal_weight: smartfolio_backtest::Metrics,
    /// The strategy's equity over the joined test windows, at most [`SPARKLINE_POINTS`] points
    /// (every k-th bar, the last one included), starting at [`CAPITAL`] less the first fees.
    pub sparkline: Vec<f64>,
}

/// Points kept of the out-of-sample equity curve.
pub const SPARKLINE_POINTS: usize = 60;

/// A template's card.
#[derive(Debug, Clone)]
pub struct Card {
    pub template: Template,
    /// The history used, when every asset had some.
    pub history: Option<History>,
    /// Assets without history in the folder, each with why.
    pub missing: Vec<String>,
    /// The weights today, or why they cannot be computed.
    pub weights: Result<Weights, String>,
    /// The recommendation, or why there is none (missing or short history).
    pub recommendation: Result<Recommendation, String>,
}

/// What `bot create --template NAME` takes from a card: assets, target weights and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    pub assets: Vec<String>,
    /// Fractions summing to 1, in `assets` order.
    pub weights: Vec<f64>,
    pub trigger: Trigger,
    pub cooldown_ms: i64,
}

impl Card {
    /// The settings a bot created from this template starts with; `None` (with the reason in
    /// `weights` or `recommendation`) when the weights or the recommended rule are unknown.
    pub fn bot_settings(&self) -> Option<BotSettings> {
        let w = self.weights.as_ref().ok()?;
        let r = self.recommendation.as_ref().ok()?;
        Some(BotSettings {
            assets: self.template.assets.clone(),
            weights: w.weights.clone(),
            trigger: r.rule.trigger.clone(),
            cooldown_ms: r.rule.cooldown_ms,
        })
    }
}

/// Whether `dir` has a price file for `asset` (`<SYM>.csv` or `<SYM>USDT-<interval>.csv`).
fn has_file(listing: &[String], asset: &str) -> bool {
    let a = asset.to_ascii_lowercase();
    listing.iter().any(|name| {
        let name = name.to_ascii_lowercase();
        let Some(stem) = name.strip_suffix(".csv") else {
            return false;
        };
        stem == a
            || stem
                .rsplit_once('-')
                .is_some_and(|(pair, _)| pair.strip_suffix("usdt") == Some(a.as_str()))
    })
}

/// Cards of every template from the history in `data` (a folder of `<SYM>.csv` /
/// `<SYM>USDT-<interval>.csv` files), in parallel; in the templates' order.
pub fn cards(templates: &[Template], data: &Path) -> Vec<Card> {
    let listing = list(data);
    templates
        .par_iter()
        .map(|t| card_with(t, data, &listing))
        .collect()
}

/// One template's card (see [`cards`]).
pub fn card(template: &Template, data: &Path) -> Card {
    card_with(template, data, &list(data))
}

fn list(data: &Path) -> Result<Vec<String>, String> {
    std::fs::read_dir(data)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .map_err(|e| format!("no price history at {}: {e}", data.display()))
}

fn card_with(t: &Template, data: &Path, listing: &Result<Vec<String>, String>) -> Card {
    let mut card = Card {
        template: t.clone(),
        history: None,
        missing: Vec::new(),
        weights: static_weights(t).ok_or_else(String::new),
        recommendation: Err(String::new()),
    };
    let why_none = match listing {
        Err(e) => Some(e.clone()),
        Ok(files) => {
            card.missing = t
                .assets
                .iter()
                .filter(|a| !has_file(files, a))
                .map(|a| {
                    format!(
                        "{a}: no {a}.csv or {a}USDT-<interval>.csv in {}",
                        data.display()
                    )
                })
                .collect();
            (!card.missing.is_empty()).then(|| {
                format!(
                    "no price history for {}; the backtest needs every asset's",
                    t.assets
                        .iter()
                        .filter(|a| !has_file(files, a))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        }
    };
    if let Some(why) = why_none {
        if card.weights.is_err() {
            card.weights = Err(format!(
                "{} needs price history: {why}",
                t.weighting.describe()
            ));
        }
        card.recommendation = Err(why);
        return card;
    }
    let opts = LoadOptions {
        assets: t.assets.clone(),
        ..LoadOptions::default()
    };
    let table = match smartfolio_data::load(data, &opts) {
        Ok(table) => table,
        Err(e) => {
            let why = format!("the price history could not be read: {e}");
            if card.weights.is_err() {
                card.weights = Err(why.clone());
            }
            card.recommendation = Err(why);
            return card;
        }
    };
    card.history = Some(History {
        source: data.to_path_buf(),
        files: table.files.clone(),
        from_ms: table.times_ms[0],
        to_ms: table.times_ms[table.n_bars() - 1],
        n_bars: table.n_bars(),
        bar_ms: table.bar_ms,
    });
    if card.weights.is_err() {
        card.weights = weights_today(t, &table);
    }
    card.recommendation = recommend(t, &table).map_err(|e| explain(e, t, data, &table));
    card
}

/// Equal and fixed weights need no history.
fn static_weights(t: &Template) -> Option<Weights> {
    let n = t.assets.len();
    match &t.weighting {
        Weighting::Fixed(w) => Some(Weights {
            weights: w.clone(),
            window: None,
            market_caps_as_of: Vec::new(),
        }),
        Weighting::Method {
            method: Method::Equal,
            ..
        } => Some(Weights {
            weights: vec![1.0 / n as f64; n],
            window: None,
            market_caps_as_of: Vec::new(),
        }),
        Weighting::Method { .. } => None,
    }
}

fn walk_forward_of(t: &Template, table: &PriceTable) -> Option<WalkForward> {
    match &t.weighting {
        Weighting::Method {
            method,
            options,
            window,
            reallocate,
        } if *method != Method::Equal => Some(WalkForward {
            method: *method,
            options: smartfolio_alloc::Options {
                periods_per_year: table.periods_per_year(),
                ..options.clone()
            },
            reallocate: reallocate.clone(),
            lookback: *window,
        }),
        _ => None,
    }
}

/// The method on the window ending at the last bar.
fn weights_today(t: &Template, table: &PriceTable) -> Result<Weights, String> {
    let wf = walk_forward_of(t, table).expect("static weightings are handled before");
    let prices = Prices::try_from(table).map_err(|e| e.to_string())?;
    let last = table.n_bars() - 1;
    let plan = wf
        .plan(prices, &table.assets, table.market_caps.as_deref(), last)
        .map_err(|e| format!("{}: {e}", t.weighting.describe()))?;
    let r = &plan.reallocations[0];
    let market_caps_as_of = match (&table.market_caps, wf.method.needs_market_caps()) {
        (Some(caps), true) => latest_known(caps, table.n_assets(), last)
            .iter()
            .zip(&table.assets)
            .filter_map(|(k, a)| k.map(|(bar, _)| (a.clone(), table.times_ms[bar])))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Weights {
        weights: r.weights.clone(),
        window: Some((table.times_ms[r.window_from], r.time_ms)),
        market_caps_as_of,
    })
}

#[derive(Debug)]
enum RecommendError {
    Select(SelectError),
    Other(String),
}

fn recommend(t: &Template, table: &PriceTable) -> Result<Recommendation, RecommendError> {
    let prices = Prices::try_from(table).map_err(|e| RecommendError::Other(e.to_string()))?;
    let n = table.n_assets();
    // The targets over time, and the bar they start at (the method's first full window).
    let (start, path) = match (walk_forward_of(t, table), static_weights(t)) {
        (_, Some(w)) => (0, TargetPath::fixed(w.weights)),
        (Some(wf), None) => {
            let plan = wf
                .plan(prices, &table.assets, table.market_caps.as_deref(), 0)
                .map_err(|e| RecommendError::Other(format!("{}: {e}", t.weighting.describe())))?;
            let s = plan.start;
            let mut it = plan.reallocations.into_iter();
            let first = it.next().expect("a plan has its start bar");
            (
                s,
                TargetPath {
                    initial: first.weights,
                    changes: it
                        .map(|r| smartfolio_backtest::TargetChange {
                            bar: r.bar - s,
                            weights: r.weights,
                        })
                        .collect(),
                },
            )
        }
        (None, None) => unreachable!("every weighting is static or a method"),
    };
    let times = &table.times_ms[start..];
    let slice = Prices::new(times, &prices.values()[start * n..], n)
        .map_err(|e| RecommendError::Other(e.to_string()))?;
    let cfg = Config {
        capital: CAPITAL,
        fee_rate: FEE_RATE,
        ..Config::new(path.initial.clone())
    };
    let setup = Setup {
        grid: &t.grid,
        train_ms: t.train_ms,
        test_ms: t.test_ms,
        cfg: &cfg,
        periods_per_year: table.periods_per_year(),
    };
    let c: WalkForwardChoice =
        select::walk_forward(slice, &path, &setup).map_err(RecommendError::Select)?;
    let at = |i: usize| times[i];
    let oos = &c.out_of_sample;
    let step = oos.equity.len().div_ceil(SPARKLINE_POINTS).max(1);
    let mut sparkline: Vec<f64> = oos.equity.iter().step_by(step).copied().collect();
    if !(oos.equity.len() - 1).is_multiple_of(step) {
        sparkline.push(*oos.equity.last().expect("a test window has bars"));
    }
    Ok(Recommendation {
        rule: t.grid[c.today].clone(),
        chosen_on: (at(c.today_window.0), at(c.today_window.1)),
        grid_size: t.grid.len(),
        criterion: "sharpe",
        train_ms: t.train_ms,
        test_ms: t.test_ms,
        folds: c
            .folds
            .iter()
            .map(|f| FoldWindow {
                train_from_ms: at(f.train_from),
                train_to_ms: at(f.train_to - 1),
                test_from_ms: at(f.test_from),
                test_to_ms: at(f.test_to - 1),
                rule: t.grid[f.rule].clone(),
                train_sharpe: f.train_sharpe,
            })
            .collect(),
        out_of_sample_from_ms: at(oos.from),
        out_of_sample_to_ms: at(oos.to),
        summary: oos.summary.clone(),
        equal_weight: oos.equal_weight.clone(),
        sparkline,
    })
}

/// Why a template has no recommendation, naming the assets that limit its history.
fn explain(e: RecommendError, t: &Template, data: &Path, table: &PriceTable) -> String {
    match e {
        RecommendError::Other(m) => m,
        RecommendError::Select(SelectError::Invalid(v)) => v.to_string(),
        RecommendError::Select(SelectError::TooShort { .. }) => {
            // Each asset's own range, to say which ones cut the common history short.
            let mut ranges = Vec::new();
            for a in &t.assets {
                let one = LoadOptions {
                    assets: vec![a.clone()],
                    interval: None,
                    ..LoadOptions::default()
                };
                if let Ok(tab) = smartfolio_data::load(data, &one) {
                    ranges.push((a.clone(), tab.times_ms[0], tab.times_ms[tab.n_bars() - 1]));
                }
            }
            // An asset limits the history when it starts after another or ends before one.
            let first_start = ranges.iter().map(|r| r.1).min();
            let latest_start = ranges.iter().map(|r| r.1).max();
            let earliest_end = ranges.iter().map(|r| r.2).min();
            let last_end = ranges.iter().map(|r| r.2).max();
            let limits: Vec<String> = ranges
                .iter()
                .filter(|r| {
                    (Some(r.1) == latest_start && latest_start > first_start)
                        || (Some(r.2) == earliest_end && earliest_end < last_end)
                })
                .map(|(a, f, l)| format!("{a} from {} to {}", day(*f), day(*l)))
                .collect();
            format!(
                "too little common history for a walk-forward: the assets share {} bars from {} \
                 to {}, and a training window of {} plus a test window of at least 2 bars is \
                 needed{}{}",
                table.n_bars(),
                day(table.times_ms[0]),
                day(table.times_ms[table.n_bars() - 1]),
                format_duration(t.train_ms),
                if t.weighting.needs_history() {
                    format!(" after the method's first {} window", weighting_window(t))
                } else {
                    String::new()
                },
                if limits.is_empty() {
                    String::new()
                } else {
                    format!("; limited by {}", limits.join(", "))
                }
            )
        }
    }
}

fn weighting_window(t: &Template) -> String {
    match &t.weighting {
        Weighting::Method { window, .. } => window.to_string(),
        Weighting::Fixed(_) => String::new(),
    }
}

/// `2024-03-01` (or the full time when not midnight).
pub fn day(ms: i64) -> String {
    format_time_ms(ms)
}

/// What a folder's history looks like from outside: every file's name, length and modification
/// time. Cards are recomputed when it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(String, u64, Option<SystemTime>)>);

impl Fingerprint {
    /// The folder's files (an unreadable folder has the empty fingerprint: its cards say why).
    pub fn of(data: &Path) -> Fingerprint {
        let mut files: Vec<(String, u64, Option<SystemTime>)> = std::fs::read_dir(data)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let meta = e.metadata().ok()?;
                        meta.is_file().then(|| {
                            (
                                e.file_name().to_string_lossy().into_owned(),
                                meta.len(),
                                meta.modified().ok(),
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        Fingerprint(files)
    }
}

/// A kept card with the folder and the fingerprint it was computed from.
type Kept = (PathBuf, Fingerprint, Arc<Card>);

/// Cards kept until the history or the template changes (for callers that show them again and
/// again, such as a dashboard): one entry per template name.
#[derive(Debug, Default)]
pub struct CardCache {
    entries: Mutex<HashMap<String, Kept>>,
}

impl CardCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cards of `templates` from `data`: the kept ones when the folder's fingerprint and the
    /// template are unchanged, the others computed (in parallel) and kept.
    pub fn cards(&self, templates: &[Template], data: &Path) -> Vec<Arc<Card>> {
        let print = Fingerprint::of(data);
        let kept: Vec<Option<Arc<Card>>> = {
            let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            templates
                .iter()
                .map(|t| {
                    map.get(&t.name)
                        .filter(|(dir, fp, c)| dir == data && *fp == print && c.template == *t)
                        .map(|(_, _, c)| c.clone())
                })
                .collect()
        };
        let listing = list(data);
        let fresh: Vec<Option<Card>> = templates
            .par_iter()
            .zip(&kept)
            .map(|(t, k)| k.is_none().then(|| card_with(t, data, &listing)))
            .collect();
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        kept.into_iter()
            .zip(fresh)
            .map(|(k, f)| match (k, f) {
                (Some(k), _) => k,
                (None, Some(c)) => {
                    let c = Arc::new(c);
                    map.insert(
                        c.template.name.clone(),
                        (data.to_path_buf(), print.clone(), c.clone()),
                    );
                    c
                }
                (None, None) => unreachable!("a card is computed for every template not kept"),
            })
            .collect()
    }
}
