//! `smartfolio gains`: realized gains of one bot or all of them in a year, by lot method (SPEC
//! §10). Parses the flags, calls `smartfolio_node::record::gains_report` on the data
//! directory's store (reads only, beside a running daemon too) and prints tables or `--json`.

use crate::common::{self, CommonArgs, WhichArgs, print_failure, table};
use rust_decimal::Decimal;
use smartfolio_core::ValidationError;
use smartfolio_core::gains::{self, DEFAULT_LONG_TERM_DAYS, Disposal, Method, Options, Totals};
use smartfolio_node::command::Named;
use smartfolio_node::record::{self, GainsReport, Which};
use std::fmt::Write as _;
use std::io::Write as _;

#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  smartfolio gains --bot core --method fifo --year 2025")]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub which: WhichArgs,
    /// Which lots a disposal consumes: fifo, lifo, hifo (highest cost first) or average.
    #[arg(long, value_name = "METHOD", default_value = "fifo")]
    pub method: String,
    /// The calendar year (UTC) of the disposals reported.
    #[arg(long, value_name = "YYYY")]
    pub year: String,
    /// Whole days held from which a gain is long-term.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_LONG_TERM_DAYS)]
    pub long_term_days: u32,
    /// Print JSON (decimals as exact strings) instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn checked(args: &Args) -> Result<(Which, Options, i32), ValidationError> {
    let method: Method = args.method.parse()?;
    let opts = Options::new(method, args.long_term_days)?;
    let year = gains::parse_year(&args.year)?;
    let which = args.which.which();
    Ok((which, opts, year))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = args.common.load()?;
    let fail = |e: smartfolio_node::NodeError| -> anyhow::Result<()> {
        if args.json {
            let named = match &e {
                smartfolio_node::NodeError::Invalid(v) => Named {
                    field: Some(v.field.clone()),
                    value: Some(v.value.clone()),
                    allowed: Some(v.allowed.clone()),
                },
                _ => Named::default(),
            };
            print_failure(if e.is_input() { 2 } else { 1 }, &e.to_string(), &named)?;
        }
        Err(e.into())
    };
    let (which, opts, year) = match checked(&args) {
        Ok(c) => c,
        Err(e) => return fail(e.into()),
    };
    let report = common::tokio_runtime(false)?.block_on(async {
        let store = record::open_existing(cfg.store.as_deref(), &cfg.data_dir).await?;
        let dyn_store = store.as_deref().map(|s| s as &dyn smartfolio_store::Store);
        record::gains_report(dyn_store, &which, opts, year).await
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn n(d: Decimal) -> String {
    d.round_dp(8).normalize().to_string()
}

fn day(ms: i64) -> String {
    smartfolio_data::format_time_ms(ms)
}

fn disposals(ds: &[Disposal]) -> String {
    let mut rows = Vec::new();
    for d in ds {
        let flags: Vec<String> = d
            .flags
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        let held = if d.held_days_min == d.held_days_max {
            d.held_days_min.to_string()
        } else {
            format!("{}-{}", d.held_days_min, d.held_days_max)
        };
        rows.push(vec![
            day(d.time_ms),
            format!("{:?}", d.kind).to_lowercase(),
            d.asset.clone(),
            n(d.quantity),
            n(d.proceeds),
            n(d.cost),
            n(d.gain),
            format!("{:?}", d.term).to_lowercase(),
            held,
            flags.join(","),
        ]);
        for l in &d.lots {
            rows.push(vec![
                format!("  lot of {}", day(l.acquired_ms)),
                format!("{:?}", l.basis).to_lowercase(),
                String::new(),
                n(l.quantity),
                n(l.proceeds),
                n(l.cost),
                n(l.gain),
                format!("{:?}", l.term).to_lowercase(),
                l.held_days.to_string(),
                String::new(),
            ]);
        }
    }
    table(
        &[
            "time", "kind", "asset", "quantity", "proceeds", "cost", "gain", "term", "days",
            "flags",
        ],
        &rows,
    )
}

fn totals(ts: &[Totals]) -> String {
    let rows: Vec<Vec<String>> = ts
        .iter()
        .map(|t| {
            vec![
                t.asset.clone(),
                t.disposals.to_string(),
                n(t.total.proceeds),
                n(t.total.cost),
                n(t.total.gain),
                n(t.short_term.gain),
                n(t.long_term.gain),
            ]
        })
        .collect();
    table(
        &[
            "asset",
            "disposals",
            "proceeds",
            "cost",
            "gain",
            "short-term gain",
            "long-term gain",
        ],
        &rows,
    )
}

fn render(r: &GainsReport) -> String {
    let mut out = format!(
        "realized gains {} by {} (long-term from {} days held)\n",
        r.year, r.method, r.long_term_days
    );
    if r.bots.is_empty() {
        out.push_str("no bots\n");
    }
    for b in &r.bots {
        let _ = writeln!(out, "\nbot {} ({}), in {}", b.name, b.id, b.quote);
        if b.disposals.is_empty() {
            let _ = writeln!(out, "no disposals in {}", r.year);
        } else {
            out.push_str(&disposals(&b.disposals));
            out.push('\n');
            out.push_str(&totals(&b.totals));
        }
        for t in &b.transfers_out {
            let _ = writeln!(
                out,
                "{}: {} {} left the bot ({}) with a basis of {}",
                day(t.time_ms),
                n(t.quantity),
                t.asset,
                format!("{:?}", t.kind).to_lowercase(),
                n(t.cost)
            );
        }
    }
    for q in &r.all {
        if !q.totals.is_empty() {
            let _ = writeln!(out, "\nall bots, in {}", q.quote);
            out.push_str(&totals(&q.totals));
        }
    }
    out
}
