//! smartfolio-templates: ready-made portfolios (issue 14, SPEC §9).
//!
//! - [`spec`]: template files (TOML): the built-in `templates/templates.toml`, embedded in the
//!   binary, and the user's in the data directory; validated with errors naming the file, the
//!   line and the value.
//! - [`select`]: the recommended rule, chosen by walk-forward on the backtest engine (pick on a
//!   training window, report on the following test window, roll forward).
//! - [`card`]: a template's card from the price history it is given: the weights today, the
//!   recommendation and its out-of-sample result against equal weight and buy-and-hold.
//!
//! ## For `bot create --template NAME`
//!
//! ```no_run
//! # fn f(data_dir: &std::path::Path, history: &std::path::Path) -> Result<(), String> {
//! // Built-in templates, then <data-dir>/templates.toml and <data-dir>/templates/*.toml.
//! let all = smartfolio_templates::load_all(Some(data_dir)).map_err(|e| e.to_string())?;
//! // An unknown name is an error listing the known ones.
//! let template = smartfolio_templates::find(&all, "majors")?;
//! // `history`: `--data DIR`, default `<data-dir>/history`.
//! let card = smartfolio_templates::card(template, history);
//! match card.bot_settings() {
//!     // assets, weights (fractions summing to 1, in assets' order), trigger, cooldown_ms
//!     Some(s) => println!("{:?} {:?} {} {}", s.assets, s.weights, s.trigger, s.cooldown_ms),
//!     // Why not: `card.weights` / `card.recommendation` hold the reasons (missing history...).
//!     None => println!("{:?} {:?}", card.weights.err(), card.recommendation.err()),
//! }
//! # Ok(()) }
//! ```
//!
//! Flags given on the command line override the template's values one by one.

pub mod card;
pub mod select;
pub mod spec;

pub use card::{BotSettings, Card, CardCache, card, cards};
pub use spec::{Rule, Template, TemplateError, Weighting, builtin, load_all, parse, parse_file};

/// The template named `name`, or an error listing the known names.
pub fn find<'a>(templates: &'a [Template], name: &str) -> Result<&'a Template, String> {
    templates
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            format!(
                "unknown template \"{name}\"; known templates: {}",
                templates
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}
