//! `smartfolio plan` (being implemented).

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`smartfolio plan` is not implemented yet")
}
