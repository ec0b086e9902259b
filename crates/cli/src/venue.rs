//! `smartfolio venue check`: is the configured venue usable? It parses its flags, then
//! `smartfolio_node::venue::check` does the work: the venue reachable and its clock offset, the
//! key's permissions (a key that can withdraw is refused unless `--allow-withdrawal-keys`), the
//! balances, and each bot's instruments with their rules and status. Exit 0 when all is well,
//! 1 otherwise (the venue's own answer printed).

use crate::common::{self, CommonArgs};
use smartfolio_node::venue::{self, VenueReport};
use std::fmt::Write as _;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Check the venue: reachable, clock offset, key permissions, balances, bots' instruments.
    #[command(
        after_help = "Examples:\n  SMARTFOLIO_VENUE=binance SMARTFOLIO_API_KEY=... SMARTFOLIO_API_SECRET=... smartfolio venue check\n  SMARTFOLIO_VENUE=okx SMARTFOLIO_API_KEY=... SMARTFOLIO_API_SECRET=... SMARTFOLIO_API_PASSPHRASE=... smartfolio venue check\n  smartfolio venue check --json"
    )]
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Accept a key that can withdraw funds (refused by default).
    #[arg(long)]
    pub allow_withdrawal_keys: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Cmd::Check(a) = args.cmd;
    let mut cfg = a.common.load()?;
    if a.allow_withdrawal_keys {
        cfg.venue.allow_withdrawal_keys = true;
    }
    let report = common::tokio_runtime(false)?.block_on(async {
        let bots = venue::stored_bots(&cfg.data_dir, cfg.venue.kind, &cfg.account).await?;
        venue::check(&cfg.venue, &bots).await
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    if report.ok {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "venue check failed: {}",
            report.problems.join("; ")
        ))
    }
}

fn text(r: &VenueReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "venue: {} at {}", r.venue, r.base_url);
    match (r.server_time_ms, r.clock_offset_ms) {
        (Some(t), Some(o)) => {
            let _ = writeln!(
                out,
                "  reachable: yes; server time {}; clock offset {o} ms (venue − local)",
                smartfolio_data::format_time_ms(t)
            );
        }
        _ => {
            let _ = writeln!(out, "  reachable: no");
        }
    }
    if let Some(p) = &r.permissions {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(
            out,
            "  key: reading {}, spot trading {}, withdrawals {}, IP-restricted {}",
            yes(p.reading),
            yes(p.spot_trading),
            yes(p.withdrawals),
            yes(p.ip_restricted)
        );
    }
    if !r.balances.is_empty() || r.permissions.is_some() {
        let _ = writeln!(out, "balances:");
        if r.balances.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for b in &r.balances {
            let _ = writeln!(
                out,
                "  {:<8} free {:>20}  locked {:>20}",
                b.asset,
                b.free.normalize(),
                b.locked.normalize()
            );
        }
    }
    if !r.instruments.is_empty() {
        let _ = writeln!(out, "instruments of the bots:");
        let d = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        for i in &r.instruments {
            let _ = writeln!(
                out,
                "  {}/{} ({}): {}; lot step {}, min size {}, min notional {}, tick {}; bots: {}",
                i.base,
                i.quote,
                d(&i.symbol),
                i.status.as_deref().unwrap_or("not listed"),
                d(&i.lot_step),
                d(&i.min_size),
                d(&i.min_notional),
                d(&i.tick_size),
                i.bots.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "{}",
        if r.ok {
            "all checks passed".to_string()
        } else {
            format!("{} problem(s)", r.problems.len())
        }
    );
    out
}
