//! `smartfolio`: the command-line entry point. Each subcommand lives in its own module; this
//! file only dispatches and maps errors to exit codes (2 for bad input, 1 for anything else).

mod allocate;
mod backtest;
mod bot;
mod common;
mod config;
mod data;
mod demo;
mod error;
mod export;
mod gains;
mod plan;
mod run;
mod serve;
mod sim;
mod template;
mod venue;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub use error::InputError;

/// smartfolio: a self-hosted smart-portfolio rebalancing bot.
#[derive(Parser)]
#[command(name = "smartfolio", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Value a basket, measure its drift and plan the trades that put it back on target.
    Plan(plan::Args),
    /// Compute target weights from price history with a transparent method.
    Allocate(allocate::Args),
    /// Run a rebalancing strategy over real or generated history.
    Backtest(backtest::BacktestArgs),
    /// Run a grid of triggers over the same history and rank them.
    Sweep(backtest::SweepArgs),
    /// Create, inspect and change bots (executed by the running daemon, or here when none runs).
    Bot(bot::Args),
    /// The daemon: run every bot on the market feed (the single owner of the data directory).
    Run(run::Args),
    /// The dashboard and API over a store (PostgreSQL's workers, or a data directory's daemon),
    /// running no bots: reads from the store, commands queued for the process trading them.
    Serve(serve::Args),
    /// The dashboard and API on a fast synthetic market with a sample bot (no setup).
    Demo(demo::Args),
    /// A local venue simulator on 127.0.0.1 (Binance spot or OKX v5 REST over the paper engine).
    Sim(sim::Args),
    /// Realized gains of one bot or all bots in a year, by lot method (fifo, lifo, hifo,
    /// average), with the lots each disposal consumed.
    Gains(gains::Args),
    /// Every ledger movement of one bot or all bots as CSV (`--format generic`).
    Export(export::Args),
    /// Price history from a venue: `data download` writes the candle files backtest reads.
    Data(data::Args),
    /// Ready-made portfolios: each template's weights, recommended trigger (walk-forward) and
    /// out-of-sample record.
    Template(template::Args),
    /// The configured venue: `venue check` (reachable, clock, key permissions, balances, bots'
    /// instruments).
    Venue(venue::Args),
}

/// Printing into a closed pipe (`smartfolio backtest | head`) ends a one-shot command quietly, as
/// a Unix tool does, instead of a panic on the failed write. The long-running commands (`run`,
/// `demo`) keep Rust's default of ignoring SIGPIPE, so a dropped HTTP client never kills them.
#[cfg(unix)]
fn quiet_on_closed_pipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn quiet_on_closed_pipe() {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Run(_) | Command::Serve(_) | Command::Demo(_) | Command::Sim(_)
    ) {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Plan(a) => plan::run(a),
        Command::Allocate(a) => allocate::run(a),
        Command::Backtest(a) => backtest::run_backtest(a),
        Command::Sweep(a) => backtest::run_sweep(a),
        Command::Bot(a) => bot::run(a),
        Command::Run(a) => run::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Data(a) => data::run(a),
        Command::Gains(a) => gains::run(a),
        Command::Export(a) => export::run(a),
        Command::Template(a) => template::run(a),
        Command::Venue(a) => venue::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(error::exit_code(&e))
        }
    }
}
