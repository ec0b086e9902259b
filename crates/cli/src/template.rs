//! `smartfolio template list|show`: the ready-made portfolios and their cards
//! (`smartfolio_templates`): weights today, the trigger recommended by walk-forward and its
//! out-of-sample result against equal weight and buy-and-hold, each with its window.

use crate::InputError;
use crate::common::CommonArgs;
use serde_json::{Value, json};
use smartfolio_backtest::Metrics;
use smartfolio_templates::card::{CAPITAL, Card, FEE_RATE, day};
use smartfolio_templates::spec::format_duration;
use smartfolio_templates::{Template, cards, find, load_all};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Every template (built in, then `<data-dir>/templates.toml` and
    /// `<data-dir>/templates/*.toml`) with its card.
    List(View),
    /// One template's card in full: the walk-forward folds and the out-of-sample figures.
    Show {
        /// The template's name (see `template list`).
        name: String,
        #[command(flatten)]
        view: View,
    },
}

#[derive(clap::Args, Debug)]
struct View {
    /// Price history: a folder of `<SYM>.csv` / `<SYM>USDT-<interval>.csv` files
    /// (default: `<data-dir>/history`, where `data download --out` can put it).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = a.common.load()?;
    let templates =
        load_all(Some(&cfg.data_dir)).map_err(|e| anyhow::Error::new(InputError(e.to_string())))?;
    let (view, chosen): (&View, Vec<Template>) = match &a.command {
        Sub::List(v) => (v, templates.clone()),
        Sub::Show { name, view } => (
            view,
            vec![
                find(&templates, name)
                    .map_err(|e| anyhow::Error::new(InputError(e)))?
                    .clone(),
            ],
        ),
    };
    let data = view
        .data
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("history"));
    let computed = cards(&chosen, &data);
    let text = match (&a.command, view.json) {
        (Sub::List(_), true) => {
            serde_json::to_string_pretty(&Value::Array(computed.iter().map(card_json).collect()))?
        }
        (Sub::Show { .. }, true) => serde_json::to_string_pretty(&card_json(&computed[0]))?,
        (Sub::List(_), false) => list_text(&computed),
        (Sub::Show { .. }, false) => show_text(&computed[0]),
    };
    println!("{text}");
    Ok(())
}

fn num(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}%", x * 100.0)
    } else {
        "-".into()
    }
}

fn metrics_json(m: &Metrics) -> Value {
    json!({
        "final_value": num(m.final_value),
        "total_return": num(m.total_return),
        "cagr": num(m.cagr),
        "max_drawdown": num(m.max_drawdown),
        "volatility": num(m.volatility),
        "sharpe": num(m.sharpe),
        "turnover": num(m.turnover),
        "fees": num(m.total_fees),
        "rebalances": m.n_rebalances,
    })
}

fn weights_of(c: &Card) -> Vec<(String, f64)> {
    match &c.weights {
        Ok(w) => c
            .template
            .assets
            .iter()
            .cloned()
            .zip(w.weights.iter().copied())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn card_json(c: &Card) -> Value {
    let t = &c.template;
    let weights = match &c.weights {
        Ok(w) => json!({
            "weights": weights_of(c).into_iter().map(|(a, w)| (a, num(w))).collect::<serde_json::Map<_, _>>(),
            "window": w.window.map(|(f, l)| json!({"from": day(f), "to": day(l)})),
            "market_caps_as_of": w.market_caps_as_of.iter().map(|(a, t)| (a.clone(), json!(day(*t)))).collect::<serde_json::Map<_, _>>(),
        }),
        Err(e) => json!({ "error": e }),
    };
    let recommendation = match &c.recommendation {
        Ok(r) => json!({
            "trigger": r.rule.trigger.to_string(),
            "cooldown": format_duration(r.rule.cooldown_ms),
            "chosen_on": {"from": day(r.chosen_on.0), "to": day(r.chosen_on.1)},
            "criterion": r.criterion,
            "grid_size": r.grid_size,
            "train": format_duration(r.train_ms),
            "test": format_duration(r.test_ms),
            "folds": r.folds.iter().map(|f| json!({
                "train": {"from": day(f.train_from_ms), "to": day(f.train_to_ms)},
                "test": {"from": day(f.test_from_ms), "to": day(f.test_to_ms)},
                "trigger": f.rule.trigger.to_string(),
                "cooldown": format_duration(f.rule.cooldown_ms),
                "train_sharpe": num(f.train_sharpe),
            })).collect::<Vec<_>>(),
            "out_of_sample": {
                "window": {"from": day(r.out_of_sample_from_ms), "to": day(r.out_of_sample_to_ms)},
                "capital": CAPITAL,
                "fee_rate": FEE_RATE,
                "strategy": metrics_json(&r.summary.strategy),
                "equal_weight": metrics_json(&r.equal_weight),
                "buy_and_hold": metrics_json(&r.summary.buy_and_hold),
                "rebalancing_gain": num(r.summary.rebalancing_gain),
                "sparkline": r.sparkline.iter().map(|x| num(*x)).collect::<Vec<_>>(),
            },
        }),
        Err(e) => json!({ "error": e }),
    };
    json!({
        "name": t.name,
        "sector": t.sector,
        "description": t.description,
        "source": format!("{}:{}", t.source.file, t.source.line),
        "assets": t.assets,
        "method": t.weighting.describe(),
        "history": c.history.as_ref().map(|h| json!({
            "source": h.source.display().to_string(),
            "from": day(h.from_ms),
            "to": day(h.to_ms),
            "bars": h.n_bars,
            "bar": format_duration(h.bar_ms),
        })),
        "missing_history": c.missing,
        "weights_today": weights,
        "recommendation": recommendation,
    })
}

fn weights_text(c: &Card) -> String {
    match &c.weights {
        Ok(_) => weights_of(c)
            .iter()
            .map(|(a, w)| format!("{a} {:.1}%", w * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("unknown ({e})"),
    }
}

fn list_text(cards: &[Card]) -> String {
    let mut s = String::new();
    for c in cards {
        let t = &c.template;
        let _ = writeln!(s, "{} ({}): {}", t.name, t.sector, t.weighting.describe());
        let _ = writeln!(s, "  weights today: {}", weights_text(c));
        match &c.recommendation {
            Ok(r) => {
                let st = &r.summary.strategy;
                let bh = &r.summary.buy_and_hold;
                let _ = writeln!(
                    s,
                    "  recommended: {} (walk-forward, {} rules, chosen on {}..{})",
                    r.rule,
                    r.grid_size,
                    day(r.chosen_on.0),
                    day(r.chosen_on.1)
                );
                let _ = writeln!(
                    s,
                    "  out of sample {}..{}: return {} (buy-and-hold {}, equal weight {}), max drawdown {} (buy-and-hold {})",
                    day(r.out_of_sample_from_ms),
                    day(r.out_of_sample_to_ms),
                    pct(st.total_return),
                    pct(bh.total_return),
                    pct(r.equal_weight.total_return),
                    pct(st.max_drawdown),
                    pct(bh.max_drawdown)
                );
            }
            Err(e) => {
                let _ = writeln!(s, "  no recommendation: {e}");
            }
        }
    }
    s.trim_end().to_string()
}

fn show_text(c: &Card) -> String {
    let t = &c.template;
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})", t.name, t.sector);
    if !t.description.is_empty() {
        let _ = writeln!(s, "{}", t.description);
    }
    let _ = writeln!(s, "defined in:    {}:{}", t.source.file, t.source.line);
    let _ = writeln!(s, "assets:        {}", t.assets.join(", "));
    let _ = writeln!(s, "method:        {}", t.weighting.describe());
    match &c.history {
        Some(h) => {
            let _ = writeln!(
                s,
                "history:       {} ({} bars of {}, {}..{})",
                h.source.display(),
                h.n_bars,
                format_duration(h.bar_ms),
                day(h.from_ms),
                day(h.to_ms)
            );
        }
        None => {
            let _ = writeln!(s, "history:       none");
        }
    }
    for m in &c.missing {
        let _ = writeln!(s, "  missing {m}");
    }
    let window = match &c.weights {
        Ok(w) => w
            .window
            .map(|(f, l)| format!(" (window {}..{})", day(f), day(l)))
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let _ = writeln!(s, "weights today: {}{window}", weights_text(c));
    if let Ok(w) = &c.weights
        && !w.market_caps_as_of.is_empty()
    {
        let dates: Vec<String> = w
            .market_caps_as_of
            .iter()
            .map(|(a, t)| format!("{a} {}", day(*t)))
            .collect();
        let _ = writeln!(s, "market caps:   as of {}", dates.join(", "));
    }
    match &c.recommendation {
        Err(e) => {
            let _ = writeln!(s, "recommendation: none: {e}");
        }
        Ok(r) => {
            let _ = writeln!(
                s,
                "recommended:   {} (best {} of {} rules on the latest training window {}..{})",
                r.rule,
                r.criterion,
                r.grid_size,
                day(r.chosen_on.0),
                day(r.chosen_on.1)
            );
            let _ = writeln!(
                s,
                "walk-forward:  train {}, test {}, rolled forward; the figures below are the test windows joined",
                format_duration(r.train_ms),
                format_duration(r.test_ms)
            );
            for f in &r.folds {
                let _ = writeln!(
                    s,
                    "  train {}..{}  test {}..{}  {} (train sharpe {:.2})",
                    day(f.train_from_ms),
                    day(f.train_to_ms),
                    day(f.test_from_ms),
                    day(f.test_to_ms),
                    f.rule,
                    f.train_sharpe
                );
            }
            let _ = writeln!(
                s,
                "out of sample {}..{}, capital {CAPITAL}, fees {}% (exact):",
                day(r.out_of_sample_from_ms),
                day(r.out_of_sample_to_ms),
                FEE_RATE * 100.0
            );
            let _ = writeln!(
                s,
                "  {:<14} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>6}",
                "", "return", "CAGR", "max DD", "vol", "turnover", "fees", "rebal"
            );
            for (label, m) in [
                ("this template", &r.summary.strategy),
                ("equal weight", &r.equal_weight),
                ("buy-and-hold", &r.summary.buy_and_hold),
            ] {
                let _ = writeln!(
                    s,
                    "  {:<14} {:>9} {:>8} {:>9} {:>9} {:>9.2} {:>9.2} {:>6}",
                    label,
                    pct(m.total_return),
                    pct(m.cagr),
                    pct(m.max_drawdown),
                    pct(m.volatility),
                    m.turnover,
                    m.total_fees,
                    m.n_rebalances
                );
            }
            let _ = writeln!(
                s,
                "  rebalancing gain against buy-and-hold: {}",
                pct(r.summary.rebalancing_gain)
            );
        }
    }
    s.trim_end().to_string()
}
