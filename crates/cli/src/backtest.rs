//! `smartfolio backtest` and `smartfolio sweep` (being implemented).

#[derive(clap::Args)]
pub struct BacktestArgs {}

#[derive(clap::Args)]
pub struct SweepArgs {}

pub fn run_backtest(_args: BacktestArgs) -> anyhow::Result<()> {
    anyhow::bail!("`smartfolio backtest` is not implemented yet")
}

pub fn run_sweep(_args: SweepArgs) -> anyhow::Result<()> {
    anyhow::bail!("`smartfolio sweep` is not implemented yet")
}
