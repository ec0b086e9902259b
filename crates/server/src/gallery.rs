//! The template gallery (`GET /api/templates`, issue 14): every template's card as the API's
//! JSON. The cards come from `smartfolio_templates` over the history a create from a template
//! reads (`smartfolio_node::template::history_dir`: `<data-dir>/history`), so a card shows the
//! weights and trigger that "Use" gets. They are kept in a [`CardCache`] until the folder's
//! files or a template change, and computed off the driver loop (which the handler holds only to
//! read the data directory).

use crate::error::ApiError;
use serde::Serialize;
use smartfolio_templates::{Card, CardCache};
use std::path::PathBuf;
use utoipa::ToSchema;

/// `GET /api/templates`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// The folder of price history the cards read (none: the server has no data directory,
    /// so no history).
    pub history_dir: Option<String>,
    /// One card per template: the built-in ones, then the data directory's.
    pub templates: Vec<TemplateCard>,
}

/// A template's card.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateCard {
    pub name: String,
    pub sector: String,
    pub description: String,
    pub assets: Vec<String>,
    /// How the weights are chosen: `fixed`, or the method with its window.
    pub weighting: String,
    /// The weights today in percent (in `assets` order, summing to 100), as the targets a bot
    /// created from the template gets (`BTC=40,ETH=60`); none when they cannot be computed.
    pub targets: Option<String>,
    /// The weights today as fractions, in `assets` order; none when they cannot be computed.
    pub weights: Option<Vec<f64>>,
    /// The window the method read (first and last bar time), when it reads history.
    pub weights_from_ms: Option<i64>,
    pub weights_to_ms: Option<i64>,
    /// Why the weights cannot be computed.
    pub weights_error: Option<String>,
    /// The assets without history, each with why.
    pub missing: Vec<String>,
    /// The history the card read, when every asset had some.
    pub history: Option<HistoryView>,
    /// The recommended trigger and its out-of-sample record; none (see
    /// `recommendation_error`) without enough history.
    pub recommendation: Option<RecommendationView>,
    /// Why there is no recommendation (a bot created from the template then gets the node's
    /// default trigger unless one is given).
    pub recommendation_error: Option<String>,
}

/// The common bars of the template's assets.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bars: usize,
    pub bar_ms: i64,
}

/// Out-of-sample figures of one run: fractions (0.12 is 12 %; the maximum drawdown is a
/// positive fraction of the peak), fees in quote on a capital of 10,000; none where a figure is
/// undefined (no volatility over a single bar, say).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub total_return: Option<f64>,
    pub cagr: Option<f64>,
    pub max_drawdown: Option<f64>,
    pub volatility: Option<f64>,
    pub turnover: Option<f64>,
    pub fees: Option<f64>,
    pub rebalances: usize,
}

/// A figure, none when it is not a finite number (JSON has no NaN).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl From<&smartfolio_backtest::Metrics> for RunView {
    fn from(m: &smartfolio_backtest::Metrics) -> Self {
        RunView {
            total_return: finite(m.total_return),
            cagr: finite(m.cagr),
            max_drawdown: finite(m.max_drawdown),
            volatility: finite(m.volatility),
            turnover: finite(m.turnover),
            fees: finite(m.total_fees),
            rebalances: m.n_rebalances,
        }
    }
}

/// The recommended rule, chosen by walk-forward, and its out-of-sample record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationView {
    /// The trigger in text form (what a create from the template gets).
    pub trigger: String,
    pub cooldown_ms: i64,
    /// The training window it was chosen on (the latest).
    pub chosen_from_ms: i64,
    pub chosen_to_ms: i64,
    /// Rules tried, the criterion, the windows' lengths and the number of folds.
    pub grid_size: usize,
    pub criterion: String,
    pub train_ms: i64,
    pub test_ms: i64,
    pub folds: usize,
    /// The joined test windows the figures below cover.
    pub out_of_sample_from_ms: i64,
    pub out_of_sample_to_ms: i64,
    pub strategy: RunView,
    pub buy_and_hold: RunView,
    /// Equal weight under the same rules.
    pub equal_weight: RunView,
    /// Final value against buy-and-hold's, less 1.
    pub rebalancing_gain: Option<f64>,
    /// The strategy's out-of-sample equity, a few dozen evenly spaced points (the last
    /// included), from a capital of 10,000.
    pub sparkline: Vec<f64>,
}

impl From<&Card> for TemplateCard {
    fn from(c: &Card) -> Self {
        let t = &c.template;
        let (weights, window, weights_error) = match &c.weights {
            Ok(w) => (Some(w.weights.clone()), w.window, None),
            Err(e) => (None, None, Some(e.clone())),
        };
        let targets = weights
            .as_ref()
            .and_then(|w| smartfolio_node::template::percent_targets(&t.assets, w).ok());
        let (recommendation, recommendation_error) = match &c.recommendation {
            Ok(r) => (
                Some(RecommendationView {
                    trigger: r.rule.trigger.to_string(),
                    cooldown_ms: r.rule.cooldown_ms,
                    chosen_from_ms: r.chosen_on.0,
                    chosen_to_ms: r.chosen_on.1,
                    grid_size: r.grid_size,
                    criterion: r.criterion.to_string(),
                    train_ms: r.train_ms,
                    test_ms: r.test_ms,
                    folds: r.folds.len(),
                    out_of_sample_from_ms: r.out_of_sample_from_ms,
                    out_of_sample_to_ms: r.out_of_sample_to_ms,
                    strategy: (&r.summary.strategy).into(),
                    buy_and_hold: (&r.summary.buy_and_hold).into(),
                    equal_weight: (&r.equal_weight).into(),
                    rebalancing_gain: finite(r.summary.rebalancing_gain),
                    sparkline: r
                        .sparkline
                        .iter()
                        .copied()
                        .filter(|x| x.is_finite())
                        .collect(),
                }),
                None,
            ),
            Err(e) => (None, Some(e.clone())),
        };
        TemplateCard {
            name: t.name.clone(),
            sector: t.sector.clone(),
            description: t.description.clone(),
            assets: t.assets.clone(),
            weighting: t.weighting.describe(),
            targets,
            weights,
            weights_from_ms: window.map(|w| w.0),
            weights_to_ms: window.map(|w| w.1),
            weights_error,
            missing: c.missing.clone(),
            history: c.history.as_ref().map(|h| HistoryView {
                from_ms: h.from_ms,
                to_ms: h.to_ms,
                bars: h.n_bars,
                bar_ms: h.bar_ms,
            }),
            recommendation,
            recommendation_error,
        }
    }
}

/// Every template's card from `data_dir`'s templates and history, through `cache` (CPU work:
/// call it off the async runtime). A template file that cannot be read is the server's own
/// fault (500), its message naming the file, the line and the value.
pub fn cards(data_dir: Option<PathBuf>, cache: &CardCache) -> Result<TemplateList, ApiError> {
    let templates = smartfolio_templates::load_all(data_dir.as_deref())
        .map_err(|e| ApiError::internal(format!("the templates cannot be read: {e}")))?;
    let defaults = smartfolio_node::Defaults {
        data_dir,
        ..Default::default()
    };
    let folder = smartfolio_node::template::history_dir(&defaults, None);
    // No data directory: no history (each card says so), as a create from a template reads.
    let read = folder.clone().unwrap_or_default();
    Ok(TemplateList {
        history_dir: folder.map(|f| f.display().to_string()),
        templates: cache
            .cards(&templates, &read)
            .iter()
            .map(|c| TemplateCard::from(c.as_ref()))
            .collect(),
    })
}
