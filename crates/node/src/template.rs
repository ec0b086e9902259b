//! A new bot from a template (issue 14, SPEC §9): the template's assets and weights today (its
//! method on the latest window, or its fixed weights) and the trigger and cooldown its card
//! recommends (walk-forward), filled into a [`CreateSpec`] wherever the command gives none.
//! Each value the command gives overrides one of the template's.
//!
//! The owner's data directory holds the user's templates and the history the cards read
//! (`<data-dir>/history` unless the caller names another folder). Where history is missing the
//! resolution says which assets lack it and falls back as the template allows: equal and fixed
//! weights need none, and without a recommendation the trigger is the node's default; a
//! method that needs history refuses unless the command gives the targets.

use crate::command::{CreateSpec, DEFAULT_TRIGGER, Defaults};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};
use smartfolio_core::{Targets, ValidationError};
use smartfolio_templates::card::day;
use smartfolio_templates::spec::format_duration;
use smartfolio_templates::{Card, Weighting};
use std::path::{Path, PathBuf};

/// What a template gave a new bot, and how each setting was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FromTemplate {
    /// The template's name.
    pub template: String,
    /// One line per setting: where the weights and the trigger came from (the method and its
    /// window, the walk-forward and its windows, or the command), the assets without history
    /// and the fallbacks taken.
    pub notes: Vec<String>,
}

/// The history folder a template's card reads: `history`, else `<data-dir>/history`.
pub fn history_dir(d: &Defaults, history: Option<&Path>) -> Option<PathBuf> {
    history
        .map(Path::to_path_buf)
        .or_else(|| d.data_dir.as_ref().map(|dir| dir.join("history")))
}

/// `spec` with its template resolved (the template field cleared), and what the template gave;
/// `spec` itself, and nothing, when it names no template. `history` overrides the folder of
/// price history the card reads ([`history_dir`]).
pub fn resolve(
    spec: &CreateSpec,
    d: &Defaults,
    history: Option<&Path>,
) -> Result<(CreateSpec, Option<FromTemplate>), ValidationError> {
    let Some(name) = spec.template.as_deref() else {
        return Ok((spec.clone(), None));
    };
    let all = smartfolio_templates::load_all(d.data_dir.as_deref())
        .map_err(|e| ValidationError::new("template", name, format!("readable templates: {e}")))?;
    let template = smartfolio_templates::find(&all, name).map_err(|_| {
        ValidationError::new(
            "template",
            name,
            format!(
                "one of the known templates: {}",
                all.iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    // No data directory: no history (the card says so).
    let folder = history_dir(d, history).unwrap_or_default();
    let card = smartfolio_templates::card(template, &folder);
    let mut out = spec.clone();
    out.template = None;
    let notes = fill(&mut out, &card)?;
    Ok((
        out,
        Some(FromTemplate {
            template: template.name.clone(),
            notes,
        }),
    ))
}

/// Fill the settings `spec` leaves out from `card`; the notes saying how each was chosen.
fn fill(spec: &mut CreateSpec, card: &Card) -> Result<Vec<String>, ValidationError> {
    let t = &card.template;
    let mut notes = vec![format!(
        "template `{}` ({}): {}",
        t.name,
        t.sector,
        t.assets.join(", ")
    )];
    if !card.missing.is_empty() {
        notes.push(format!("no price history: {}", card.missing.join("; ")));
    }
    if !spec.targets.trim().is_empty() {
        notes.push("targets: as given, not the template's".into());
    } else {
        let w = card.weights.as_ref().map_err(|why| {
            ValidationError::new(
                "template",
                &t.name,
                format!("targets given with it (its weights cannot be computed here: {why})"),
            )
        })?;
        spec.targets = percent_targets(&t.assets, &w.weights)?;
        let how = match (&t.weighting, w.window) {
            (Weighting::Fixed(_), _) => "the template's fixed weights".to_string(),
            (_, None) => format!("{} weights (no history needed)", t.weighting.describe()),
            (_, Some((from, to))) => format!(
                "{} on the window {} to {}",
                t.weighting.describe(),
                day(from),
                day(to)
            ),
        };
        notes.push(format!("targets {}: {how}", spec.targets));
    }
    match &card.recommendation {
        Ok(r) => {
            let window = format!(
                "chosen by walk-forward over {} rules (best training {}, {} training and {} \
                 test windows) on {} to {}; out of sample {} to {}",
                r.grid_size,
                r.criterion,
                format_duration(r.train_ms),
                format_duration(r.test_ms),
                day(r.chosen_on.0),
                day(r.chosen_on.1),
                day(r.out_of_sample_from_ms),
                day(r.out_of_sample_to_ms),
            );
            match &spec.trigger {
                Some(_) => notes.push("trigger: as given, not the template's".into()),
                None => {
                    spec.trigger = Some(r.rule.trigger.to_string());
                    notes.push(format!("trigger {}: {window}", r.rule.trigger));
                }
            }
            match spec.cooldown_ms {
                Some(_) => notes.push("cooldown: as given, not the template's".into()),
                None => {
                    spec.cooldown_ms = Some(r.rule.cooldown_ms);
                    notes.push(format!(
                        "cooldown {}: recommended with the trigger",
                        format_duration(r.rule.cooldown_ms)
                    ));
                }
            }
        }
        Err(why) if spec.trigger.is_none() || spec.cooldown_ms.is_none() => notes.push(format!(
            "no recommended trigger ({why}); {} as given or the defaults (trigger {}, the \
             node's cooldown)",
            "trigger and cooldown", DEFAULT_TRIGGER
        )),
        Err(_) => notes.push("trigger and cooldown: as given".into()),
    }
    Ok(notes)
}

/// Fractions (summing to 1) as percent targets with two decimals summing to exactly 100: the
/// rounding remainder goes to the largest weight.
pub fn percent_targets(assets: &[String], weights: &[f64]) -> Result<String, ValidationError> {
    let mut pct: Vec<Decimal> = Vec::with_capacity(weights.len());
    for (a, w) in assets.iter().zip(weights) {
        let p = Decimal::from_f64(w * 100.0)
            .filter(|p| *p >= Decimal::ZERO)
            .ok_or_else(|| ValidationError::new(format!("weight of {a}"), w.to_string(), "≥ 0"))?;
        pct.push(p.round_dp(2));
    }
    let rest = Decimal::ONE_HUNDRED - pct.iter().copied().sum::<Decimal>();
    if let Some(big) = (0..pct.len()).max_by(|&i, &j| pct[i].cmp(&pct[j]).then(j.cmp(&i))) {
        pct[big] += rest;
    }
    Ok(Targets::from_pairs(assets, &pct)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    include!("../tests/fixtures/templates.rs");

    /// A data directory with the test templates and history for BTC and ETH (none for SOL).
    fn home() -> (tempfile::TempDir, Defaults) {
        let home = tempfile::tempdir().unwrap();
        write_templates_and_history(home.path());
        let d = Defaults {
            data_dir: Some(home.path().to_path_buf()),
            ..Defaults::default()
        };
        (home, d)
    }

    fn spec(template: &str) -> CreateSpec {
        CreateSpec {
            name: "b".into(),
            template: Some(template.into()),
            investment: Some(Decimal::from(500)),
            ..CreateSpec::default()
        }
    }

    #[test]
    fn a_template_gives_its_weights_and_its_recommended_rule() {
        let (_home, d) = home();
        let (s, from) = resolve(&spec("pair"), &d, None).unwrap();
        assert_eq!(s.template, None);
        assert_eq!(s.targets, "BTC=70,ETH=30");
        let card = smartfolio_templates::card(
            smartfolio_templates::find(
                &smartfolio_templates::load_all(d.data_dir.as_deref()).unwrap(),
                "pair",
            )
            .unwrap(),
            &d.data_dir.as_ref().unwrap().join("history"),
        );
        let rule = card.recommendation.unwrap().rule;
        assert_eq!(s.trigger, Some(rule.trigger.to_string()));
        assert_eq!(s.cooldown_ms, Some(rule.cooldown_ms));
        let from = from.unwrap();
        assert_eq!(from.template, "pair");
        assert!(
            from.notes.iter().any(|n| n.contains("walk-forward")),
            "{from:?}"
        );
        // The result builds a config.
        s.config(&d).unwrap();
    }

    #[test]
    fn each_setting_given_overrides_the_templates() {
        let (_home, d) = home();
        let mut given = spec("pair");
        given.targets = "BTC=50,ETH=50".into();
        given.trigger = Some("every:1d".into());
        given.cooldown_ms = Some(0);
        let (s, from) = resolve(&given, &d, None).unwrap();
        assert_eq!(
            (s.targets.as_str(), s.trigger.as_deref(), s.cooldown_ms),
            ("BTC=50,ETH=50", Some("every:1d"), Some(0))
        );
        assert_eq!(from.unwrap().notes.len(), 4);
        // One override leaves the others to the template.
        let mut one = spec("pair");
        one.trigger = Some("every:7d".into());
        let (s, _) = resolve(&one, &d, None).unwrap();
        assert_eq!(s.targets, "BTC=70,ETH=30");
        assert_eq!(s.trigger.as_deref(), Some("every:7d"));
        assert!(s.cooldown_ms.is_some());
    }

    #[test]
    fn missing_history_is_named_and_equal_weight_needs_none() {
        let (_home, d) = home();
        let (s, from) = resolve(&spec("trio"), &d, None).unwrap();
        // Thirds to two decimals, the remainder on the first of the largest.
        assert_eq!(s.targets, "BTC=33.34,ETH=33.33,SOL=33.33");
        // No recommendation: the node's default trigger and cooldown.
        assert_eq!((s.trigger.as_deref(), s.cooldown_ms), (None, None));
        let notes = from.unwrap().notes.join("\n");
        assert!(notes.contains("no price history: SOL"), "{notes}");
        assert!(notes.contains("no recommended trigger"), "{notes}");
        assert_eq!(s.config(&d).unwrap().trigger.to_string(), DEFAULT_TRIGGER);

        // A method that needs history refuses, naming the asset, unless targets are given.
        let e = resolve(&spec("vol"), &d, None).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("template", "vol"));
        assert!(e.allowed.contains("SOL"), "{e}");
        assert!(e.allowed.contains("targets given"), "{e}");
        let mut given = spec("vol");
        given.targets = "BTC=60,SOL=40".into();
        assert_eq!(
            resolve(&given, &d, None).unwrap().0.targets,
            "BTC=60,SOL=40"
        );
    }

    #[test]
    fn an_unknown_template_lists_the_known_ones() {
        let (_home, d) = home();
        let e = resolve(&spec("nope"), &d, None).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("template", "nope"));
        for known in ["majors", "pair", "trio", "vol"] {
            assert!(e.allowed.contains(known), "{e}");
        }
        // Through the protocol's check too.
        let req = crate::Request::Create {
            spec: Box::new(spec("nope")),
        };
        assert_eq!(req.check(&d).unwrap_err().field, "template");
    }

    #[test]
    fn percents_sum_to_exactly_100() {
        let a: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            percent_targets(&a, &[0.123456, 0.5, 0.376544]).unwrap(),
            "A=12.35,B=50,C=37.65"
        );
        assert_eq!(
            percent_targets(&a, &[0.0, 0.6666666, 0.3333334]).unwrap(),
            "A=0,B=66.67,C=33.33"
        );
    }
}
