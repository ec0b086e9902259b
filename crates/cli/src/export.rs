//! `smartfolio export`: one bot's or every bot's ledger movements as CSV (`--format generic`:
//! one row per ledger entry, decimals as stored; `koinly` and `cointracker`: the tax software's
//! import formats, one row per transaction), to stdout or `--out FILE` (an existing file
//! only with `--force`). Parses the flags, calls `smartfolio_node::record` (reads only) and
//! writes what it returns.

use crate::InputError;
use crate::common::{self, CommonArgs, WhichArgs, tokio_runtime};
use smartfolio_node::record::{self, ExportFormat};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  smartfolio export --all --format generic --from 2025-01-01 --to 2025-12-31 --out ledger.csv\n  smartfolio export --bot core --format koinly --from 2025-01-01 --to 2025-12-31 --out koinly.csv"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub which: WhichArgs,
    /// The file format: generic (one row per ledger entry), koinly (Koinly's universal CSV) or
    /// cointracker (CoinTracker's CSV).
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// Movements at or after this time (a date is its midnight UTC, or a full time).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Movements up to this time (a date includes its whole day, UTC).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Write to this file instead of stdout (refused when it exists, unless --force).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With --out: replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = args.common.load()?;
    let format = ExportFormat::parse(&args.format)?;
    let (from_ms, to_ms) = common::time_range(args.from.as_deref(), args.to.as_deref())?;
    if let Some(path) = &args.out
        && !args.force
        && std::fs::symlink_metadata(path).is_ok()
    {
        return Err(InputError(format!(
            "invalid out: \"{}\" exists; allowed: a path where no file is (or --force to replace it)",
            path.display()
        ))
        .into());
    }
    let which = args.which.which();
    let rows = tokio_runtime(false)?.block_on(async {
        let store = record::open_existing(cfg.store.as_deref(), &cfg.data_dir).await?;
        let dyn_store = store.as_deref().map(|s| s as &dyn smartfolio_store::Store);
        record::export_rows(dyn_store, &which, from_ms, to_ms).await
    })?;
    let (text, written) = format.file(&rows);
    match &args.out {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new();
            file.write(true);
            if args.force {
                file.create(true).truncate(true);
            } else {
                file.create_new(true);
            }
            let write = |p: &PathBuf| -> std::io::Result<()> {
                let mut f = file.open(p)?;
                f.write_all(text.as_bytes())?;
                f.sync_all()
            };
            write(path).map_err(|e| {
                InputError(format!(
                    "invalid out: \"{}\" cannot be written ({e}); allowed: a writable path",
                    path.display()
                ))
            })?;
            eprintln!("{written} rows written to {}", path.display());
            Ok(())
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
    }
}
