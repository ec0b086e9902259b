//! `smartfolio export`: one bot's or every bot's ledger movements as CSV (`--format generic`:
//! one row per ledger entry, decimals as stored), to stdout or `--out FILE` (an existing file
//! only with `--force`). Parses the flags, calls `smartfolio_node::record` (reads only) and
//! writes what it returns.

use crate::InputError;
use crate::common::{CommonArgs, WhichArgs, tokio_runtime};
use smartfolio_core::ValidationError;
use smartfolio_node::record::{self, EXPORT_FORMATS};
use std::io::Write as _;
use std::path::PathBuf;

const DAY_MS: i64 = 86_400_000;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  smartfolio export --all --format generic --from 2025-01-01 --to 2025-12-31 --out ledger.csv"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub which: WhichArgs,
    /// The file format: generic (koinly and cointracker are not written yet).
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

fn time(field: &str, text: &str) -> Result<i64, ValidationError> {
    smartfolio_data::parse_time_ms(text).ok_or_else(|| {
        ValidationError::new(
            field,
            text,
            "a date (2025-01-31, UTC) or a time (2025-01-31T12:00:00Z)",
        )
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = args.common.load()?;
    if !EXPORT_FORMATS.split(", ").any(|f| f == args.format) {
        return Err(ValidationError::new("format", &args.format, EXPORT_FORMATS).into());
    }
    let from_ms = args.from.as_deref().map(|t| time("from", t)).transpose()?;
    let to_ms = match args.to.as_deref() {
        // A date runs to its end; a time is included.
        Some(t) if t.trim().len() == 10 => Some(time("to", t)? + DAY_MS),
        Some(t) => Some(time("to", t)? + 1),
        None => None,
    };
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && t <= f
    {
        return Err(ValidationError::new(
            "to",
            args.to.clone().unwrap_or_default(),
            "a time after --from",
        )
        .into());
    }
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
    let text = record::generic_csv(&rows);
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
            eprintln!("{} movements written to {}", rows.len(), path.display());
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
