//! `smartfolio data download`: candle history from a venue's public API into the
//! `<SYM>USDT-<interval>.csv` files that `backtest` and `allocate` read. This module parses the
//! flags, picks the venue's candle source, calls `smartfolio_data::download` and prints what it
//! reports; the paging, resuming and gap detection are the data crate's, the venue's requests
//! and rate limits the connector's.

use crate::InputError;
use crate::common;
use smartfolio_binance::client::DEFAULT_BASE_URL as BINANCE_URL;
use smartfolio_binance::history::BinanceHistory;
use smartfolio_data::download::{
    self, AssetReport, CandleSource, DownloadReport, DownloadRequest, Event, Interval, long_time,
};
use smartfolio_data::parse_time_ms;
use smartfolio_gate::client::DEFAULT_BASE_URL as GATE_URL;
use smartfolio_gate::history::{self as gate_history, GateHistory};
use smartfolio_okx::client::DEFAULT_BASE_URL as OKX_URL;
use smartfolio_okx::history::{self as okx_history, OkxHistory};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: DataCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum DataCommand {
    /// Download candle history (public, no key) into <ASSET>USDT-<interval>.csv files; a second
    /// run resumes after each file's last row.
    Download(DownloadArgs),
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "The venue's URL: --base-url, else $SMARTFOLIO_VENUE_URL, else the venue's own.\n\nExamples:\n  smartfolio data download --venue binance --assets BTC,ETH --interval 1h --from 2024-01-01 --to 2024-03-01 --out data/\n  smartfolio backtest --data data/ --assets BTC,ETH --targets 50,50 ..."
)]
pub struct DownloadArgs {
    /// The venue: binance, okx or gate.
    #[arg(long, default_value = "binance")]
    pub venue: String,
    /// Base assets, separated by commas: BTC,ETH.
    #[arg(long, value_name = "LIST")]
    pub assets: String,
    /// The quote asset, against which prices are: only USDT, the quote of the
    /// <ASSET>USDT-<interval>.csv files that backtest, allocate and replays read.
    #[arg(long, default_value = "USDT")]
    pub quote: String,
    /// Candle interval: 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d or 1w (okx has no
    /// 8h; gate has 1m, 5m, 15m, 30m, 1h, 4h, 8h and 1d).
    #[arg(long, default_value = "1h")]
    pub interval: String,
    /// The first candle's open time, included: a date (2024-01-01), an RFC 3339 time or epoch
    /// seconds/milliseconds.
    #[arg(long, value_name = "TIME")]
    pub from: String,
    /// The end, excluded (default: now): --to 2024-03-01 ends with the candle opening
    /// 2024-02-29T23:00:00Z at 1h. Candles still forming are never written.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// The folder written (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The venue's REST base URL (a testnet, `smartfolio sim`, a mock).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

/// The environment override of the venue's URL.
const VENUE_URL_ENV: &str = "SMARTFOLIO_VENUE_URL";

fn bad(msg: String) -> anyhow::Error {
    InputError(msg).into()
}

/// The venues whose history can be downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Venue {
    Binance,
    Okx,
    Gate,
}

/// The venue named by `--venue`, and its production URL.
fn venue_default_url(venue: &str) -> anyhow::Result<(Venue, &'static str)> {
    match venue.trim() {
        "binance" => Ok((Venue::Binance, BINANCE_URL)),
        "okx" => Ok((Venue::Okx, OKX_URL)),
        "gate" => Ok((Venue::Gate, GATE_URL)),
        v => Err(bad(format!(
            "--venue {v:?} is not a venue; allowed: binance, okx, gate"
        ))),
    }
}

/// `interval` when `venue` has such candles (Binance has them all).
fn venue_interval(venue: Venue, text: &str, interval: Interval) -> anyhow::Result<Interval> {
    let (name, allowed) = match venue {
        Venue::Binance => return Ok(interval),
        Venue::Okx if okx_history::bar(interval).is_none() => {
            ("okx", okx_history::allowed_intervals())
        }
        Venue::Gate if gate_history::interval_name(interval).is_none() => {
            ("gate", gate_history::allowed_intervals())
        }
        Venue::Okx | Venue::Gate => return Ok(interval),
    };
    Err(bad(format!(
        "--interval {text:?}: {name} has no such candles; allowed: {allowed}"
    )))
}

/// The quote of the files the loader reads.
const LOADER_QUOTE: &str = "USDT";

/// `--quote`: one asset, and only the loader's quote (a file of another quote would be written
/// where nothing reads it).
fn parse_quote(text: &str) -> anyhow::Result<String> {
    let [quote] = <[String; 1]>::try_from(parse_assets("quote", text)?)
        .map_err(|_| bad(format!("--quote {text:?} names more than one asset")))?;
    if quote != LOADER_QUOTE {
        return Err(bad(format!(
            "--quote {text:?}: backtest, allocate and replays read only <ASSET>{LOADER_QUOTE}-<interval>.csv files; allowed: {LOADER_QUOTE}"
        )));
    }
    Ok(quote)
}

/// The venue's REST base URL, looked up in one place: `--base-url`, else `$SMARTFOLIO_VENUE_URL`,
/// else the venue's production URL. (The `[venue] base_url` of the configuration, when it
/// exists, belongs between the environment and the default.)
fn venue_base_url(
    flag: Option<&str>,
    env: Option<String>,
    default: &'static str,
) -> anyhow::Result<String> {
    let (source, url) = match (flag, env) {
        (Some(f), _) => ("--base-url", f.trim().to_string()),
        (None, Some(e)) if !e.trim().is_empty() => (VENUE_URL_ENV, e.trim().to_string()),
        _ => return Ok(default.to_string()),
    };
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match host {
        Some(h) if !h.is_empty() && !h.starts_with('/') && !h.contains(char::is_whitespace) => {
            Ok(url)
        }
        _ => Err(bad(format!(
            "{source} {url:?} is not a URL; allowed: http:// or https:// followed by a host, such as {default}"
        ))),
    }
}

/// `BTC,eth` → `["BTC", "ETH"]`: 1 to 20 letters or digits each, no repeats.
fn parse_assets(flag: &str, text: &str) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split(',') {
        let a = raw.trim().to_ascii_uppercase();
        if a.is_empty() || a.len() > 20 || !a.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(format!(
                "--{flag} {text:?}: {raw:?} is not an asset; allowed: 1 to 20 letters or digits each, separated by commas (BTC,ETH)"
            )));
        }
        if out.contains(&a) {
            return Err(bad(format!("--{flag} {text:?} names {a} twice")));
        }
        out.push(a);
    }
    Ok(out)
}

fn parse_interval(text: &str) -> anyhow::Result<Interval> {
    Interval::parse(text).ok_or_else(|| {
        bad(format!(
            "--interval {text:?} is not a candle interval; allowed: {}",
            Interval::allowed()
        ))
    })
}

fn parse_time(flag: &str, text: &str) -> anyhow::Result<i64> {
    parse_time_ms(text).ok_or_else(|| {
        bad(format!(
            "--{flag} {text:?} is not a time; allowed: a date (2024-01-01), an RFC 3339 time \
             (2024-01-21T07:00:00Z) or epoch seconds/milliseconds"
        ))
    })
}

/// `[from, to)` with `to` defaulting to `now_ms`; refused unless `from < to`.
fn parse_range(from: &str, to: Option<&str>, now_ms: i64) -> anyhow::Result<(i64, i64)> {
    let from_ms = parse_time("from", from)?;
    let to_ms = match to {
        Some(t) => parse_time("to", t)?,
        None => now_ms,
    };
    if from_ms >= to_ms {
        let to_text = to.map_or_else(|| format!("now ({})", long_time(now_ms)), str::to_string);
        return Err(bad(format!(
            "--from {from:?} is not before --to {to_text}; allowed: a --from earlier than --to"
        )));
    }
    Ok((from_ms, to_ms))
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Download(a) => run_download(a),
    }
}

fn run_download(args: DownloadArgs) -> anyhow::Result<()> {
    let (venue, default_url) = venue_default_url(&args.venue)?;
    let assets = parse_assets("assets", &args.assets)?;
    let quote = parse_quote(&args.quote)?;
    let interval = venue_interval(venue, &args.interval, parse_interval(&args.interval)?)?;
    let (from_ms, to_ms) = parse_range(&args.from, args.to.as_deref(), system_now_ms())?;
    let base_url = venue_base_url(
        args.base_url.as_deref(),
        std::env::var(VENUE_URL_ENV).ok(),
        default_url,
    )?;
    let req = DownloadRequest {
        assets,
        quote,
        interval,
        from_ms,
        to_ms,
        out: args.out,
    };
    let (report, requests, waited) = match venue {
        Venue::Binance => {
            let source = BinanceHistory::public(&base_url)?;
            let report = fetch(&source, &req)?;
            (report, source.requests(), source.waited())
        }
        Venue::Okx => {
            let source = OkxHistory::public(&base_url)?;
            let report = fetch(&source, &req)?;
            (report, source.requests(), source.waited())
        }
        Venue::Gate => {
            let source = GateHistory::public(&base_url)?;
            let report = fetch(&source, &req)?;
            (report, source.requests(), source.waited())
        }
    };
    for a in &report.assets {
        println!("{}", asset_line(interval, a));
    }
    println!("{}", summary_line(&report, requests, waited.as_secs()));
    finish(&report)
}

/// Download `req` from `source`, printing each event as it comes.
fn fetch<S: CandleSource>(source: &S, req: &DownloadRequest) -> anyhow::Result<DownloadReport> {
    let interval = req.interval;
    let rt = common::tokio_runtime(false)?;
    rt.block_on(download::download(source, req, &mut |e: &Event| {
        println!("{}", event_line(interval, e));
    }))
    .map_err(|e| {
        if e.is_input() {
            bad(e.to_string())
        } else {
            anyhow::Error::new(e)
        }
    })
}

fn event_line(interval: Interval, e: &Event) -> String {
    match e {
        Event::Resumed {
            symbol,
            file,
            last_ms,
        } => format!(
            "{symbol} {interval}: resuming {} after its last row, {}",
            file.display(),
            long_time(*last_ms)
        ),
        Event::Prepended {
            symbol,
            file,
            candles,
            first_ms,
        } => format!(
            "{symbol} {interval}: {} added before the first row of {}, which now starts at {}",
            plural(*candles as u64, "candle"),
            file.display(),
            long_time(*first_ms)
        ),
        Event::DroppedPartialLine { file, bytes } => format!(
            "{}: removed a last line cut by an interrupted write ({bytes} bytes); its candle is fetched again",
            file.display()
        ),
        Event::HistoryStarts { symbol, first_ms } => format!(
            "{symbol} {interval}: the venue's history starts at {}, after --from",
            long_time(*first_ms)
        ),
        Event::Gap(g) => g.to_string(),
    }
}

fn asset_line(interval: Interval, a: &AssetReport) -> String {
    let span = match (a.first_ms, a.last_ms) {
        (Some(f), Some(l)) => format!(
            "{} holds {} to {}",
            a.file.display(),
            long_time(f),
            long_time(l)
        ),
        _ if a.outcome.is_err() => "no file written".to_string(),
        _ => "no file written: the venue has no candles in the range".to_string(),
    };
    let gaps = match a.gaps.len() {
        0 => String::new(),
        n => format!(
            "; {} ({} candles missing at the venue)",
            plural(n as u64, "gap"),
            a.missing()
        ),
    };
    match &a.outcome {
        Ok(()) => format!(
            "{} {interval}: {} written; {span}{gaps}",
            a.symbol,
            plural(a.written as u64, "candle")
        ),
        Err(e) => format!(
            "{} {interval}: NOT COMPLETE: {e}; {} written{}; {span}{gaps}",
            a.symbol,
            plural(a.written as u64, "candle"),
            if a.last_ms.is_some() {
                " (a next run resumes after the last row)"
            } else {
                ""
            }
        ),
    }
}

fn summary_line(report: &DownloadReport, requests: u64, waited_s: u64) -> String {
    let failed = report.failures().count();
    format!(
        "{} of {} assets complete: {} written in {}{}; {}, {} missing at the venue",
        report.assets.len() - failed,
        report.assets.len(),
        plural(report.written() as u64, "candle"),
        plural(requests, "request"),
        if waited_s > 0 {
            format!(" (waited {waited_s} s on rate limits and retries)")
        } else {
            String::new()
        },
        plural(report.gaps() as u64, "gap"),
        plural(report.missing() as u64, "candle"),
    )
}

fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// An error when any asset is not complete: exit 2 when every failure is bad input (an asset
/// the venue does not list, a file of another layout), else 1.
fn finish(report: &DownloadReport) -> anyhow::Result<()> {
    let failures: Vec<String> = report
        .failures()
        .map(|(a, e)| format!("{}: {e}", a.asset))
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    let msg = format!(
        "{} of {} assets not downloaded completely: {}",
        failures.len(),
        report.assets.len(),
        failures.join("; ")
    );
    if report.failures().all(|(_, e)| e.is_input()) {
        Err(bad(msg))
    } else {
        Err(anyhow::anyhow!(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: anyhow::Result<impl std::fmt::Debug>) -> String {
        let e = r.unwrap_err();
        assert!(e.is::<InputError>(), "{e}");
        e.to_string()
    }

    #[test]
    fn the_url_comes_from_the_flag_then_the_environment_then_the_venue() {
        let env = Some("http://127.0.0.1:9100".to_string());
        assert_eq!(
            venue_base_url(Some("http://localhost:1"), env.clone(), BINANCE_URL).unwrap(),
            "http://localhost:1"
        );
        assert_eq!(
            venue_base_url(None, env, BINANCE_URL).unwrap(),
            "http://127.0.0.1:9100"
        );
        assert_eq!(
            venue_base_url(None, Some(" ".into()), BINANCE_URL).unwrap(),
            BINANCE_URL
        );
        assert_eq!(
            venue_base_url(None, None, BINANCE_URL).unwrap(),
            BINANCE_URL
        );
        let e = err(venue_base_url(
            None,
            Some("localhost:9100".into()),
            BINANCE_URL,
        ));
        assert!(
            e.starts_with("SMARTFOLIO_VENUE_URL \"localhost:9100\" is not a URL"),
            "{e}"
        );
        let e = err(venue_base_url(Some("ftp://x"), None, BINANCE_URL));
        assert!(e.starts_with("--base-url \"ftp://x\""), "{e}");
    }

    #[test]
    fn venues_and_their_intervals_are_named() {
        assert_eq!(
            venue_default_url("binance").unwrap(),
            (Venue::Binance, BINANCE_URL)
        );
        assert_eq!(venue_default_url("okx").unwrap(), (Venue::Okx, OKX_URL));
        assert_eq!(venue_default_url("gate").unwrap(), (Venue::Gate, GATE_URL));
        assert_eq!(
            err(venue_default_url("kraken")),
            "--venue \"kraken\" is not a venue; allowed: binance, okx, gate"
        );
        let i = |s: &str| Interval::parse(s).unwrap();
        for v in [Venue::Binance, Venue::Okx, Venue::Gate] {
            assert_eq!(venue_interval(v, "1h", i("1h")).unwrap(), i("1h"));
        }
        assert_eq!(
            venue_interval(Venue::Binance, "3m", i("3m")).unwrap(),
            i("3m")
        );
        assert_eq!(
            err(venue_interval(Venue::Gate, "3m", i("3m"))),
            "--interval \"3m\": gate has no such candles; allowed: 1m, 5m, 15m, 30m, 1h, 4h, 8h, 1d"
        );
        assert_eq!(venue_interval(Venue::Gate, "8h", i("8h")).unwrap(), i("8h"));
        assert!(
            err(venue_interval(Venue::Okx, "8h", i("8h")))
                .starts_with("--interval \"8h\": okx has no such candles; allowed: 1m, 3m")
        );
    }

    #[test]
    fn the_quote_is_the_one_the_loader_reads() {
        assert_eq!(parse_quote(" usdt").unwrap(), "USDT");
        assert_eq!(
            err(parse_quote("USDC")),
            "--quote \"USDC\": backtest, allocate and replays read only <ASSET>USDT-<interval>.csv files; allowed: USDT"
        );
        assert_eq!(
            err(parse_quote("USDT,USDC")),
            "--quote \"USDT,USDC\" names more than one asset"
        );
    }

    #[test]
    fn assets_intervals_and_ranges_are_checked() {
        assert_eq!(parse_assets("assets", "btc, ETH").unwrap(), ["BTC", "ETH"]);
        assert!(err(parse_assets("assets", "BTC,,ETH")).contains("\"\" is not an asset"));
        assert!(err(parse_assets("assets", "BTC/USDT")).contains("\"BTC/USDT\" is not an asset"));
        assert_eq!(
            err(parse_assets("assets", "BTC,btc")),
            "--assets \"BTC,btc\" names BTC twice"
        );
        assert_eq!(parse_interval("4h").unwrap().ms(), 4 * 3_600_000);
        assert_eq!(
            err(parse_interval("2d")),
            format!(
                "--interval \"2d\" is not a candle interval; allowed: {}",
                Interval::allowed()
            )
        );
        let day = 86_400_000;
        assert_eq!(
            parse_range("2024-01-01", Some("2024-01-02"), 0).unwrap(),
            (19_723 * day, 19_724 * day)
        );
        assert_eq!(
            parse_range("2024-01-01", None, 19_730 * day).unwrap().1,
            19_730 * day
        );
        assert!(
            err(parse_range("2024-13-01", None, 0))
                .starts_with("--from \"2024-13-01\" is not a time")
        );
        assert!(
            err(parse_range("2024-01-01", Some("soon"), 0))
                .starts_with("--to \"soon\" is not a time")
        );
        assert_eq!(
            err(parse_range("2024-03-01", Some("2024-01-01"), 0)),
            "--from \"2024-03-01\" is not before --to 2024-01-01; allowed: a --from earlier than --to"
        );
        assert!(
            err(parse_range("2030-01-01", None, 19_730 * day))
                .contains("--to now (2024-01-08T00:00:00Z)")
        );
    }
}
