//! The record of bots' ledgers, read from the store: realized gains (SPEC §10; the arithmetic is
//! `smartfolio_core::gains`) for `smartfolio gains`, and the ledger's movements as rows for
//! `smartfolio export` (the generic CSV: one row per ledger entry, decimals as stored; Koinly's
//! and CoinTracker's CSV, one row per transaction, in `formats`).
//!
//! Reads only: nothing is written and no owner of the data directory is needed (readers run
//! beside a daemon), so a data directory without a SQLite database reads as one without bots
//! and is not created.
//!
//! A bot's movements come from its ledger in the order written: each fill once (its price,
//! side and fee from the fill row; a fee in a third asset paid by the bot when its ledger
//! debited it, valued at the last price of that asset the bot's own record shows), deposits
//! (coins at the cost basis given with them, else at the value their flow recorded at the
//! transfer, the market's, hence flagged),
//! withdrawals and the release of a stop that keeps the coins.

use crate::error::{NodeError, NodeResult};
use rust_decimal::Decimal;
use serde::Serialize;
use smartfolio_core::ValidationError;
use smartfolio_core::gains::{
    self, BasisSource, Disposal, Movement, MovementKind, Options, Realized, Totals, Trade,
    TradeSide, TransferKind, TransferOut,
};
use smartfolio_store::{
    Backend, BotRecord, DB_FILE, FillRecord, FlowRecord, Store, StoreError, open_store,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Which bots a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// One bot, by id or name.
    Bot(String),
    All,
}

/// The configured store (`store`: a PostgreSQL URL, else SQLite in `data_dir`); `None`, with
/// nothing created, when it is SQLite and `data_dir` has no database yet.
pub async fn open_existing(
    store: Option<&str>,
    data_dir: &Path,
) -> NodeResult<Option<Arc<dyn Backend>>> {
    let sqlite = store.is_none_or(|s| s.trim().is_empty());
    if sqlite && !data_dir.join(DB_FILE).is_file() {
        return Ok(None);
    }
    Ok(Some(open_store(store, data_dir).await?))
}

fn unknown_bot(reference: &str) -> NodeError {
    NodeError::Invalid(ValidationError::new(
        "bot",
        reference,
        "the id or name of an existing bot",
    ))
}

/// The bots `which` names, by id. An unknown bot is an error naming it.
pub async fn select_bots(store: Option<&dyn Store>, which: &Which) -> NodeResult<Vec<BotRecord>> {
    let Some(store) = store else {
        return match which {
            Which::All => Ok(vec![]),
            Which::Bot(r) => Err(unknown_bot(r)),
        };
    };
    match which {
        Which::All => Ok(store.list_bots().await?),
        Which::Bot(r) => {
            let found = if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) {
                match r.parse::<i64>() {
                    Ok(id) => store.bot(id).await?,
                    Err(_) => None,
                }
            } else {
                store.bot_by_name(r).await?
            };
            found.map(|b| vec![b]).ok_or_else(|| unknown_bot(r))
        }
    }
}

fn bad(what: String) -> NodeError {
    NodeError::Store(StoreError::BadValue(what))
}

/// What a bot's ledger entries refer to: its fills by fill id, its flows by `flow:<id>`.
struct Referenced {
    fills: HashMap<String, FillRecord>,
    flows: HashMap<String, FlowRecord>,
}

async fn referenced(store: &dyn Store, bot: &BotRecord) -> NodeResult<Referenced> {
    let fills = store.fills(bot.id).await?;
    let flows = store.flows(bot.id).await?;
    Ok(Referenced {
        fills: fills.into_iter().map(|f| (f.fill_id.clone(), f)).collect(),
        flows: flows
            .into_iter()
            .map(|f| (format!("flow:{}", f.id), f))
            .collect(),
    })
}

/// A bot's ledger as the gains engine's movements, in ledger order.
pub async fn movements(store: &dyn Store, bot: &BotRecord) -> NodeResult<Vec<Movement>> {
    let Referenced { fills, flows } = referenced(store, bot).await?;
    let ledger = store.ledger(bot.id).await?;
    let fee_debited: HashSet<(&str, &str)> = ledger
        .iter()
        .filter(|e| e.kind == "fee")
        .map(|e| (e.reference.as_str(), e.asset.as_str()))
        .collect();
    // The last price of each asset in the bot's own record, as the ledger is walked.
    let mut last_price: HashMap<String, Decimal> = HashMap::new();
    let mut seen_fills: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for e in &ledger {
        let kind = match e.kind.as_str() {
            "trade" | "fee" => {
                if !seen_fills.insert(e.reference.as_str()) {
                    continue;
                }
                let f = fills.get(&e.reference).ok_or_else(|| {
                    bad(format!(
                        "ledger entry {} of bot {} names fill `{}`, which is not stored",
                        e.id, bot.id, e.reference
                    ))
                })?;
                last_price.insert(f.base.clone(), f.price);
                let side = match f.side.as_str() {
                    "buy" => TradeSide::Buy,
                    "sell" => TradeSide::Sell,
                    other => return Err(bad(format!("fill {} side `{other}`", f.fill_id))),
                };
                MovementKind::Trade(Trade {
                    base: f.base.clone(),
                    quote: f.quote.clone(),
                    side,
                    quantity: f.quantity,
                    price: f.price,
                    fee: f.fee,
                    fee_asset: f.fee_asset.clone(),
                    fee_value: last_price.get(&f.fee_asset).map(|p| f.fee * *p),
                    fee_from_bot: fee_debited.contains(&(f.fill_id.as_str(), f.fee_asset.as_str())),
                })
            }
            "deposit" | "withdraw" => {
                let flow = flows.get(&e.reference).ok_or_else(|| {
                    bad(format!(
                        "ledger entry {} of bot {} names flow `{}`, which is not stored",
                        e.id, bot.id, e.reference
                    ))
                })?;
                let unit = flow.value / flow.amount;
                last_price.insert(flow.asset.clone(), unit);
                if e.kind == "deposit" {
                    // The basis given at the transfer, else the market's (flagged).
                    let (unit_basis, source) = match flow.basis {
                        Some(b) => (b, BasisSource::Given),
                        None => (unit, BasisSource::Market),
                    };
                    MovementKind::Deposit {
                        asset: flow.asset.clone(),
                        quantity: flow.amount,
                        unit_basis,
                        source,
                    }
                } else {
                    MovementKind::TransferOut {
                        asset: flow.asset.clone(),
                        quantity: flow.amount,
                        kind: TransferKind::Withdraw,
                    }
                }
            }
            "release" => MovementKind::TransferOut {
                asset: e.asset.clone(),
                quantity: -e.amount,
                kind: TransferKind::Release,
            },
            other => {
                return Err(bad(format!(
                    "ledger entry {} of bot {} has kind `{other}`",
                    e.id, bot.id
                )));
            }
        };
        out.push(Movement {
            time_ms: e.time_ms,
            reference: e.reference.clone(),
            kind,
        });
    }
    Ok(out)
}

/// One bot's realized gains in a year.
#[derive(Debug, Clone, Serialize)]
pub struct BotGains {
    pub id: i64,
    pub name: String,
    pub quote: String,
    /// The year's disposals, each with the lots it consumed.
    pub disposals: Vec<Disposal>,
    /// Coins that left the bot that year with their basis (not disposals).
    pub transfers_out: Vec<TransferOut>,
    /// Per asset, then every asset's (`*`); empty in a year without disposals.
    pub totals: Vec<Totals>,
}

/// Every selected bot's totals of one quote together (for `--all`).
#[derive(Debug, Clone, Serialize)]
pub struct QuoteTotals {
    pub quote: String,
    pub totals: Vec<Totals>,
}

/// What `smartfolio gains` reports.
#[derive(Debug, Clone, Serialize)]
pub struct GainsReport {
    pub method: gains::Method,
    pub year: i32,
    pub long_term_days: u32,
    pub bots: Vec<BotGains>,
    /// Across the bots, per quote; present when more than one bot is reported.
    pub all: Vec<QuoteTotals>,
}

/// The realized gains of `year` for the bots `which` names. A year without activity is an
/// empty report, not an error.
pub async fn gains_report(
    store: Option<&dyn Store>,
    which: &Which,
    opts: Options,
    year: i32,
) -> NodeResult<GainsReport> {
    let bots = select_bots(store, which).await?;
    let mut out = GainsReport {
        method: opts.method,
        year,
        long_term_days: opts.long_term_days,
        bots: Vec::new(),
        all: Vec::new(),
    };
    let mut by_quote: BTreeMap<String, Realized> = BTreeMap::new();
    for bot in bots {
        // `bots` is non-empty only when there is a store.
        let Some(store) = store else { break };
        let realized = gains::realize(&bot.quote, &movements(store, &bot).await?, opts);
        let disposals: Vec<Disposal> = realized
            .disposals
            .iter()
            .filter(|d| d.year == year)
            .cloned()
            .collect();
        by_quote
            .entry(bot.quote.clone())
            .or_insert_with(|| Realized {
                method: opts.method,
                long_term_days: opts.long_term_days,
                disposals: vec![],
                transfers_out: vec![],
                holdings: vec![],
            })
            .disposals
            .extend(disposals.iter().cloned());
        out.bots.push(BotGains {
            id: bot.id,
            name: bot.name,
            quote: bot.quote,
            totals: realized.totals(year),
            transfers_out: realized
                .transfers_out
                .into_iter()
                .filter(|t| gains::year_of(t.time_ms) == year)
                .collect(),
            disposals,
        });
    }
    if out.bots.len() > 1 {
        out.all = by_quote
            .into_iter()
            .map(|(quote, r)| QuoteTotals {
                totals: r.totals(year),
                quote,
            })
            .collect();
    }
    Ok(out)
}

mod formats;
#[cfg(test)]
mod tests;
pub use formats::{
    COINTRACKER_COLUMNS, EXPORT_FORMATS, ExportFormat, KOINLY_COLUMNS, TaxTransaction, TxKind,
    cointracker_csv, koinly_csv, transactions,
};

/// The columns of the generic export, in order.
pub const GENERIC_COLUMNS: [&str; 15] = [
    "ledger_id",
    "time",
    "time_ms",
    "bot",
    "venue",
    "kind",
    "asset",
    "quantity",
    "price",
    "quote_value",
    "fee",
    "fee_asset",
    "order_id",
    "fill_id",
    "reference",
];

/// One ledger movement as the generic export writes it: decimals as stored (a trade's quote
/// value is its quantity times its price; a flow's is the value stored with it), empty where
/// the movement has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub ledger_id: i64,
    pub time_ms: i64,
    pub bot: String,
    pub venue: String,
    /// The bot's quote, the currency of `quote_value`.
    pub quote: String,
    /// `deposit`, `withdraw`, `trade`, `fee` or `release`.
    pub kind: String,
    pub asset: String,
    /// Signed, as the ledger holds it.
    pub quantity: Decimal,
    pub price: Option<Decimal>,
    pub quote_value: Option<Decimal>,
    /// The fill's fee and its asset, on each row of the fill (the fee itself is its `fee` row).
    pub fee: Option<(Decimal, String)>,
    pub order_id: Option<String>,
    pub fill_id: Option<String>,
    pub reference: String,
}

/// The ledger movements of the bots `which` names with `from_ms <= time < to_ms`, bot by bot
/// in ledger order.
pub async fn export_rows(
    store: Option<&dyn Store>,
    which: &Which,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
) -> NodeResult<Vec<ExportRow>> {
    let bots = select_bots(store, which).await?;
    let mut out = Vec::new();
    for bot in bots {
        let Some(store) = store else { break };
        let Referenced { fills, flows } = referenced(store, &bot).await?;
        for e in store.ledger(bot.id).await? {
            if from_ms.is_some_and(|f| e.time_ms < f) || to_ms.is_some_and(|t| e.time_ms >= t) {
                continue;
            }
            let mut row = ExportRow {
                ledger_id: e.id,
                time_ms: e.time_ms,
                bot: bot.name.clone(),
                venue: bot.venue.clone(),
                quote: bot.quote.clone(),
                kind: e.kind.clone(),
                asset: e.asset.clone(),
                quantity: e.amount,
                price: None,
                quote_value: None,
                fee: None,
                order_id: None,
                fill_id: None,
                reference: e.reference.clone(),
            };
            if let Some(f) = fills.get(&e.reference).filter(|_| e.kind != "release") {
                row.price = Some(f.price);
                row.quote_value = if e.asset == f.quote {
                    Some(e.amount.abs())
                } else if e.asset == f.base {
                    Some(e.amount.abs() * f.price)
                } else {
                    None
                };
                row.fee = Some((f.fee, f.fee_asset.clone()));
                row.order_id = Some(f.client_id.clone());
                row.fill_id = Some(f.fill_id.clone());
            } else if let Some(flow) = flows.get(&e.reference) {
                row.quote_value = Some(flow.value);
            }
            out.push(row);
        }
    }
    Ok(out)
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An ISO-8601 UTC time with milliseconds.
fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The generic CSV: a header of [`GENERIC_COLUMNS`], then one line per row.
pub fn generic_csv(rows: &[ExportRow]) -> String {
    let mut out = GENERIC_COLUMNS.join(",");
    out.push('\n');
    let opt = |d: Option<Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    for r in rows {
        let (fee, fee_asset) = match &r.fee {
            Some((f, a)) => (f.to_string(), a.clone()),
            None => (String::new(), String::new()),
        };
        let cells = [
            r.ledger_id.to_string(),
            iso_ms(r.time_ms),
            r.time_ms.to_string(),
            r.bot.clone(),
            r.venue.clone(),
            r.kind.clone(),
            r.asset.clone(),
            r.quantity.to_string(),
            opt(r.price),
            opt(r.quote_value),
            fee,
            fee_asset,
            r.order_id.clone().unwrap_or_default(),
            r.fill_id.clone().unwrap_or_default(),
            r.reference.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}
