//! Execution quality by style, measured on a book (issue 13): one bot of BTC/ETH/SOL/XRP at
//! 25% each, `weekly@mon/00:00+threshold:5` (the weekly schedule gated by a 5 pp deviation),
//! 100,000 USDT, replayed bar by bar over the hourly candles in `$SMARTFOLIO_DATA/hourly`
//! (2024 to 2026) on the paper exchange's book model: each bar's high–low range sets the
//! spread, a resting order fills as maker when the bar trades through it, a taker walks the
//! book. Fees: each venue's regular spot tier (OKX taker 0.10%, maker 0.08%; Binance 0.10% both;
//! Gate 0.20% both), one block of rows per schedule. The runtime is the product's:
//! orders rest on a [`SteppedClock`] the replay moves one bar at a time, so a limit attempt
//! rests one bar (the first bar after `limit_timeout`).
//!
//! Prints one row per style: fees paid, slippage against the mid at the decision (the close
//! of the bar that decided, notional-weighted, positive = cost) split into the drift (the
//! mid at each order's placement against the mid at the decision: the price moving while
//! the legs are worked one after another) and the rest (each fill against the mid when its
//! order was placed: the spread, the book walked, a resting order's gain), the share of legs completed
//! and of the planned notional filled, the mean and largest time from a rebalance's decision
//! to its end, and the final value. A table, not a timing: `cargo bench -p smartfolio-bot
//! --bench execution` (needs `SMARTFOLIO_DATA`; without it, it says so and exits).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use smartfolio_bot::{BotConfig, EventKind, ExecStyle, Runtime, SteppedClock};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::{BookModel, Candle, PaperConfig, PaperExchange};
use smartfolio_exchange::{PriceTick, Side};
use smartfolio_store::{SqliteStore, Store};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

const ASSETS: [&str; 4] = ["BTC", "ETH", "SOL", "XRP"];
const HOUR: i64 = 3_600_000;

/// One bar of every asset: (asset, high, low, close), at the bar's close time.
struct Bar {
    time_ms: i64,
    rows: Vec<(String, Decimal, Decimal, Decimal)>,
}

fn load(dir: &Path, from_ms: i64, to_ms: i64) -> Result<Vec<Bar>, String> {
    let mut by_time: BTreeMap<i64, Vec<(String, Decimal, Decimal, Decimal)>> = BTreeMap::new();
    for a in ASSETS {
        let path = dir.join(format!("{a}USDT-1h.csv"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || format!("{}:{}: {line}", path.display(), n + 1);
            if f.len() < 5 {
                return Err(bad());
            }
            let open = smartfolio_data::parse_time_ms(f[0]).ok_or_else(bad)?;
            let t = open + HOUR;
            if t < from_ms || t > to_ms {
                continue;
            }
            let d = |s: &str| Decimal::from_str(s).map_err(|_| bad());
            by_time
                .entry(t)
                .or_default()
                .push((a.to_string(), d(f[2])?, d(f[3])?, d(f[4])?));
        }
    }
    // Inner join: a bar missing an asset is left out, never filled.
    Ok(by_time
        .into_iter()
        .filter(|(_, rows)| rows.len() == ASSETS.len())
        .map(|(time_ms, rows)| Bar { time_ms, rows })
        .collect())
}

fn rules(a: &str) -> InstrumentRules {
    let (lot, tick) = match a {
        "BTC" => ("0.00001", "0.01"),
        "ETH" => ("0.0001", "0.01"),
        "SOL" => ("0.001", "0.01"),
        _ => ("0.1", "0.0001"),
    };
    InstrumentRules {
        lot_step: Some(Decimal::from_str(lot).unwrap()),
        min_size: None,
        min_notional: Some(Decimal::from(5)),
        tick_size: Some(Decimal::from_str(tick).unwrap()),
    }
}

/// A venue's regular spot fee tier.
#[derive(Clone, Copy)]
struct Schedule {
    venue: &'static str,
    taker: Decimal,
    maker: Decimal,
}

const SCHEDULES: [Schedule; 3] = [
    Schedule {
        venue: "OKX",
        taker: Decimal::from_parts(10, 0, 0, false, 4),
        maker: Decimal::from_parts(8, 0, 0, false, 4),
    },
    Schedule {
        venue: "Binance",
        taker: Decimal::from_parts(10, 0, 0, false, 4),
        maker: Decimal::from_parts(10, 0, 0, false, 4),
    },
    Schedule {
        venue: "Gate",
        taker: Decimal::from_parts(20, 0, 0, false, 4),
        maker: Decimal::from_parts(20, 0, 0, false, 4),
    },
];

struct Row {
    style: ExecStyle,
    reprices: u32,
    rebalances: usize,
    fees: Decimal,
    traded: Decimal,
    slippage_cost: Decimal,
    /// The part of `slippage_cost` from the mid moving between the decision and each
    /// order's placement.
    drift_cost: Decimal,
    legs: usize,
    legs_done: usize,
    planned_notional: Decimal,
    filled_notional: Decimal,
    hours: Vec<f64>,
    maker_share: f64,
    final_value: Decimal,
}

async fn run(style: ExecStyle, reprices: u32, fees: Schedule, bars: &[Bar]) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let mut paper = PaperConfig::new("main", "USDT")
        .with_fee_rate(fees.taker)
        .with_maker_fee_rate(fees.maker);
    for a in ASSETS {
        paper = paper.with_instrument(a, rules(a));
    }
    let paper = paper.with_book(BookModel::new());
    let ex = Arc::new(PaperExchange::open(paper, store.clone()).await.unwrap());
    ex.deposit("USDT", Decimal::from(100_000)).await.unwrap();
    let t0 = bars[0].time_ms;
    let clock = Arc::new(SteppedClock::new(t0));
    let mut rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), "main");
    rt.load().await.unwrap();

    let mut mids: HashMap<i64, HashMap<String, Decimal>> = HashMap::new();
    let mut started: HashMap<i64, i64> = HashMap::new();
    let mut hours = Vec::new();
    let mut id = None;
    for bar in bars {
        let candles: Vec<Candle> = bar
            .rows
            .iter()
            .map(|(a, h, l, c)| Candle {
                asset: a.clone(),
                high: *h,
                low: *l,
                close: *c,
            })
            .collect();
        ex.update_candles(bar.time_ms, &candles).await.unwrap();
        clock.set(bar.time_ms);
        rt.settle_rounds(&clock).await.unwrap();
        let tick = PriceTick {
            time_ms: bar.time_ms,
            prices: bar
                .rows
                .iter()
                .map(|(a, _, _, c)| (a.clone(), *c))
                .collect(),
        };
        if id.is_none() {
            rt.observe_prices(&tick);
            let mut c = BotConfig::new(
                "bench",
                "BTC=25,ETH=25,SOL=25,XRP=25",
                "weekly@mon/00:00+threshold:5",
                Decimal::from(100_000),
            )
            .unwrap();
            c.execution.style = style;
            c.execution.reprices = reprices;
            // The bot sizes its buys on the venue's taker fee.
            c.fee_rate = fees.taker;
            id = Some(rt.create(c).await.unwrap());
        }
        rt.on_tick(&tick).await.unwrap();
        rt.settle_rounds(&clock).await.unwrap();
        for e in rt.take_events() {
            match e.kind {
                EventKind::RebalanceStarted { seq, .. } => {
                    started.insert(seq, e.time_ms);
                    mids.insert(
                        seq,
                        bar.rows
                            .iter()
                            .map(|(a, _, _, c)| (a.clone(), *c))
                            .collect(),
                    );
                }
                EventKind::RebalanceFinished { seq, .. } => {
                    if let Some(s) = started.get(&seq) {
                        hours.push((e.time_ms - s) as f64 / HOUR as f64);
                    }
                }
                _ => {}
            }
        }
    }
    let id = id.unwrap();
    // Slippage and fees from the venue's own fills, against the close of the deciding bar.
    let account = ex.account().await;
    let closes: HashMap<(i64, &str), Decimal> = bars
        .iter()
        .flat_map(|b| {
            b.rows
                .iter()
                .map(|(a, _, _, c)| ((b.time_ms, a.as_str()), *c))
        })
        .collect();
    let placed: HashMap<&str, i64> = account
        .orders
        .iter()
        .map(|o| (o.client_id.as_str(), o.created_ms))
        .collect();
    let (mut fees, mut traded, mut cost, mut drift, mut maker_q, mut filled_q) = (
        Decimal::ZERO,
        Decimal::ZERO,
        Decimal::ZERO,
        Decimal::ZERO,
        0.0,
        0.0,
    );
    let maker_orders: HashMap<&str, bool> = account
        .orders
        .iter()
        .map(|o| {
            (
                o.client_id.as_str(),
                o.kind != smartfolio_exchange::OrderKind::Market,
            )
        })
        .collect();
    for f in &account.fills {
        let seq: i64 = f
            .client_id
            .split('r')
            .nth(1)
            .and_then(|s| s.split('l').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let Some(mid) = mids.get(&seq).and_then(|m| m.get(&f.base)) else {
            continue;
        };
        let notional = f.quantity * f.price;
        traded += notional;
        fees += f.fee_value(None).unwrap_or_default();
        let d = (f.price - mid) * f.quantity;
        cost += if f.side == Side::Buy { d } else { -d };
        // The mid when the order was placed: the close of the bar it was placed on.
        let at = placed
            .get(f.client_id.as_str())
            .and_then(|t| closes.get(&(*t, f.base.as_str())))
            .copied()
            .unwrap_or(*mid);
        let m = (at - mid) * f.quantity;
        drift += if f.side == Side::Buy { m } else { -m };
        let q = f.quantity.to_f64().unwrap_or(0.0);
        filled_q += q;
        // A fill of a limit order after its placement rested (maker).
        let rested = maker_orders
            .get(f.client_id.as_str())
            .copied()
            .unwrap_or(false)
            && account
                .orders
                .iter()
                .find(|o| o.client_id == f.client_id)
                .is_some_and(|o| f.time_ms > o.created_ms);
        if rested {
            maker_q += q;
        }
    }
    let rebalances: Vec<smartfolio_bot::RebalanceView> = store
        .rebalances(id)
        .await
        .unwrap()
        .into_iter()
        .map(Into::into)
        .collect();
    let (mut legs, mut done, mut planned_n, mut filled_n) = (0, 0, Decimal::ZERO, Decimal::ZERO);
    let last: HashMap<String, Decimal> = bars
        .last()
        .unwrap()
        .rows
        .iter()
        .map(|(a, _, _, c)| (a.clone(), *c))
        .collect();
    for r in &rebalances {
        let Some(s) = &r.summary else { continue };
        let mid = mids.get(&r.seq);
        for l in &s.legs {
            if l.client_id.is_none() && l.execution.is_none() {
                continue; // skipped by the plan (below the minimums): never an order
            }
            legs += 1;
            if l.outcome == "filled" {
                done += 1;
            }
            let p = mid
                .and_then(|m| m.get(&l.asset))
                .copied()
                .unwrap_or_default();
            planned_n += l.planned_quantity * p;
            filled_n += l.filled_quantity * p;
        }
    }
    let value: Decimal = store
        .balances(id)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, q)| if a == "USDT" { q } else { q * last[&a] })
        .sum();
    Row {
        style,
        reprices,
        rebalances: rebalances.len(),
        fees,
        traded,
        slippage_cost: cost,
        drift_cost: drift,
        legs,
        legs_done: done,
        planned_notional: planned_n,
        filled_notional: filled_n,
        hours,
        maker_share: if filled_q > 0.0 {
            maker_q / filled_q
        } else {
            0.0
        },
        final_value: value,
    }
}

fn main() {
    let Ok(data) = std::env::var("SMARTFOLIO_DATA") else {
        eprintln!("SMARTFOLIO_DATA is not set: no hourly data, no table");
        return;
    };
    let from = smartfolio_data::parse_time_ms("2024-01-01").unwrap();
    let to = smartfolio_data::parse_time_ms("2026-12-31").unwrap();
    let bars = match load(&Path::new(&data).join("hourly"), from, to) {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => {
            eprintln!("no common hourly bars of {ASSETS:?} in {data}/hourly");
            return;
        }
        Err(e) => {
            eprintln!("reading the hourly data: {e}");
            std::process::exit(1);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{} hourly bars of {} from {} to {}; BTC/ETH/SOL/XRP 25% each, weekly@mon/00:00+threshold:5, 100000 USDT",
        bars.len(),
        ASSETS.join("/"),
        bars[0].time_ms,
        bars.last().unwrap().time_ms
    );
    println!(
        "| fees (taker / maker) | style | rebalances | traded (USDT) | fees (USDT) | fees (bps) | slippage vs mid at decision (bps) | of which drift (bps) | fees+slippage (USDT) | vs market | legs completed | notional filled | maker share | hours to complete (mean / max) | final value (USDT) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let only: Option<String> = std::env::var("BENCH_FEES").ok();
    for fees in SCHEDULES {
        if only
            .as_deref()
            .is_some_and(|v| !v.eq_ignore_ascii_case(fees.venue))
        {
            continue;
        }
        let mut market_cost = None;
        for (style, reprices) in [
            (ExecStyle::Market, 0),
            (ExecStyle::Limit, 3),
            (ExecStyle::Limit, 0),
            (ExecStyle::Maker, 3),
            (ExecStyle::Maker, 0),
        ] {
            let r = rt.block_on(run(style, reprices, fees, &bars));
            let total = r.fees + r.slippage_cost;
            let market = *market_cost.get_or_insert(total);
            let bps = |x: Decimal| {
                if r.traded > Decimal::ZERO {
                    (x / r.traded * Decimal::from(10_000)).round_dp(2)
                } else {
                    Decimal::ZERO
                }
            };
            let mean = r.hours.iter().sum::<f64>() / r.hours.len().max(1) as f64;
            let max = r.hours.iter().copied().fold(0.0, f64::max);
            println!(
                "| {} {}% / {}% | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} ({:.1}%) | {:.2}% | {:.1}% | {:.2} / {:.0} | {} |",
                fees.venue,
                (fees.taker * Decimal::from(100)).normalize(),
                (fees.maker * Decimal::from(100)).normalize(),
                if r.style == ExecStyle::Market {
                    "market".to_string()
                } else {
                    format!("{}, {} re-prices", r.style, r.reprices)
                },
                r.rebalances,
                r.traded.round_dp(0),
                r.fees.round_dp(2),
                bps(r.fees),
                bps(r.slippage_cost),
                bps(r.drift_cost),
                total.round_dp(2),
                if market > Decimal::ZERO {
                    format!("{:.2}×", (total / market).to_f64().unwrap_or(0.0))
                } else {
                    "-".into()
                },
                r.legs_done,
                r.legs,
                100.0 * r.legs_done as f64 / r.legs.max(1) as f64,
                if r.planned_notional > Decimal::ZERO {
                    (r.filled_notional / r.planned_notional * Decimal::from(100))
                        .to_f64()
                        .unwrap_or(0.0)
                } else {
                    0.0
                },
                100.0 * r.maker_share,
                mean,
                max,
                r.final_value.round_dp(2),
            );
        }
    }
}
