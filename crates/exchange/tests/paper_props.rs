//! Property test: random sequences of valid and invalid operations never make a balance
//! negative, rejected operations change nothing, balances move only by fills (value conserved at
//! fill prices, less fees in the received currency), locks match open orders, and a restart
//! restores the same account.

mod common;

use common::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use smartfolio_exchange::paper::{MemoryPaperPersistence, PaperAccount, PaperExchange};
use smartfolio_exchange::{Exchange, InstrumentStatus, OrderKind, OrderStatus, Side};
use std::collections::BTreeMap;
use std::sync::Arc;

const ASSETS: [&str; 3] = ["USDT", "BTC", "ETH"];
const BASES: [&str; 2] = ["BTC", "ETH"];

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        asset: usize,
        units: u32,
    },
    Tick {
        btc: u32,
        eth: u32,
    },
    Market {
        base: usize,
        buy: bool,
        steps: i64,
    },
    Limit {
        base: usize,
        buy: bool,
        steps: i64,
        pct: i32,
        off_tick: bool,
    },
    Cancel {
        which: usize,
    },
    Reuse {
        which: usize,
    },
    Status {
        base: usize,
        trading: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize, 1..20_000u32).prop_map(|(asset, units)| Op::Deposit { asset, units }),
        3 => (5_000_000..7_000_000u32, 250_000..350_000u32).prop_map(|(btc, eth)| Op::Tick { btc, eth }),
        4 => (0..2usize, any::<bool>(), -2..4000i64).prop_map(|(base, buy, steps)| Op::Market { base, buy, steps }),
        4 => (0..2usize, any::<bool>(), -2..4000i64, -6..6i32, prop::bool::weighted(0.1))
            .prop_map(|(base, buy, steps, pct, off_tick)| Op::Limit { base, buy, steps, pct, off_tick }),
        1 => (0..64usize).prop_map(|which| Op::Cancel { which }),
        1 => (0..64usize).prop_map(|which| Op::Reuse { which }),
        1 => (0..2usize, prop::bool::weighted(0.7)).prop_map(|(base, trading)| Op::Status { base, trading }),
    ]
}

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn totals(acc: &PaperAccount) -> BTreeMap<String, Decimal> {
    acc.balances
        .iter()
        .map(|b| (b.asset.clone(), b.total()))
        .collect()
}

/// Check the account against the model built from deposits and the fills it reports.
fn check_invariants(
    acc: &PaperAccount,
    deposits: &BTreeMap<String, Decimal>,
    fee_rate: Decimal,
) -> Result<(), TestCaseError> {
    for b in &acc.balances {
        prop_assert!(b.free >= Decimal::ZERO, "negative free {:?}", b);
        prop_assert!(b.locked >= Decimal::ZERO, "negative locked {:?}", b);
    }
    let mut expected = deposits.clone();
    for f in &acc.fills {
        let notional = f.quantity * f.price;
        match f.side {
            Side::Buy => {
                prop_assert_eq!(&f.fee_asset, &f.base);
                prop_assert_eq!(f.fee, f.quantity * fee_rate);
                *expected.entry(f.base.clone()).or_default() += f.quantity - f.fee;
                *expected.entry(f.quote.clone()).or_default() -= notional;
            }
            Side::Sell => {
                prop_assert_eq!(&f.fee_asset, &f.quote);
                prop_assert_eq!(f.fee, notional * fee_rate);
                *expected.entry(f.base.clone()).or_default() -= f.quantity;
                *expected.entry(f.quote.clone()).or_default() += notional - f.fee;
            }
        }
    }
    let got = totals(acc);
    for asset in ASSETS {
        let e = expected.get(asset).copied().unwrap_or_default();
        let g = got.get(asset).copied().unwrap_or_default();
        prop_assert_eq!(e, g, "total of {}", asset);
    }
    // Locks are exactly what the open orders reserve.
    let mut locks: BTreeMap<String, Decimal> = BTreeMap::new();
    for o in acc.orders.iter().filter(|o| !o.status.is_final()) {
        let rest = o.size.amount() - o.filled_quantity;
        match (o.side, o.kind) {
            (Side::Buy, OrderKind::Limit { price }) => {
                *locks.entry(o.quote.clone()).or_default() += rest * price
            }
            (Side::Sell, _) => *locks.entry(o.base.clone()).or_default() += rest,
            (Side::Buy, OrderKind::Market) => prop_assert!(false, "a market order rests: {:?}", o),
        }
    }
    for b in &acc.balances {
        prop_assert_eq!(b.locked, locks.get(&b.asset).copied().unwrap_or_default());
    }
    // Every filled order's fills add up to it.
    for o in acc
        .orders
        .iter()
        .filter(|o| o.status == OrderStatus::Filled)
    {
        let q: Decimal = acc
            .fills
            .iter()
            .filter(|f| f.client_id == o.client_id)
            .map(|f| f.quantity)
            .sum();
        prop_assert_eq!(q, o.size.amount());
    }
    Ok(())
}

async fn run(ops: Vec<Op>, fee_bp: u32, slip_bps: u32) -> Result<(), TestCaseError> {
    let fee_rate = d(fee_bp as i64, 4);
    let p = Arc::new(MemoryPaperPersistence::new());
    let cfg = config()
        .with_fee_rate(fee_rate)
        .with_slippage_bps(Decimal::from(slip_bps));
    let ex = open_with(cfg.clone(), &p).await;
    let mut deposits: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut last: [Option<Decimal>; 2] = [None, None];
    let mut ids: Vec<String> = Vec::new();
    let mut time = 0i64;
    for (k, op) in ops.into_iter().enumerate() {
        let before = ex.account().await;
        let applied = p.applied();
        let result: Result<(), String> = match op {
            Op::Deposit { asset, units } => {
                let (asset, amount) = match asset {
                    0 => ("USDT", d(units as i64, 0)),
                    1 => ("BTC", d(units as i64, 5)),
                    _ => ("ETH", d(units as i64, 4)),
                };
                let r = ex.deposit(asset, amount).await;
                if r.is_ok() {
                    *deposits.entry(asset.to_string()).or_default() += amount;
                }
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            Op::Tick { btc, eth } => {
                time += 60_000;
                let (b, e) = (d(btc as i64, 2), d(eth as i64, 2));
                let r = ex.update_prices(&tick(time, b, e)).await;
                if r.is_ok() {
                    last = [Some(b), Some(e)];
                }
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            Op::Market { base, buy, steps } => {
                let cid = format!("m{k}");
                let side = if buy { Side::Buy } else { Side::Sell };
                let r = ex
                    .place_order(&market(&cid, BASES[base], side, d(steps, 4)))
                    .await;
                if r.is_ok() {
                    ids.push(cid);
                }
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            Op::Limit {
                base,
                buy,
                steps,
                pct,
                off_tick,
            } => {
                let reference =
                    last[base].unwrap_or(if base == 0 { d(60000, 0) } else { d(3000, 0) });
                let mut price = (reference * (Decimal::ONE + d(pct as i64, 2))).round_dp(2);
                if off_tick {
                    price += d(5, 3);
                }
                let cid = format!("l{k}");
                let side = if buy { Side::Buy } else { Side::Sell };
                let r = ex
                    .place_order(&limit(&cid, BASES[base], side, d(steps, 4), price))
                    .await;
                if r.is_ok() {
                    ids.push(cid);
                }
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            Op::Cancel { which } => match ids.get(which % ids.len().max(1)) {
                Some(cid) => {
                    let base = before
                        .orders
                        .iter()
                        .find(|o| &o.client_id == cid)
                        .map(|o| o.base.clone())
                        .unwrap_or_default();
                    ex.cancel_order(&base, "USDT", cid)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                None => Err("nothing to cancel".into()),
            },
            Op::Reuse { which } => match ids.get(which % ids.len().max(1)) {
                Some(cid) => {
                    let r = ex
                        .place_order(&market(cid, "BTC", Side::Buy, d(10, 4)))
                        .await;
                    prop_assert!(r.is_err(), "a reused client id was accepted");
                    r.map(|_| ()).map_err(|e| e.to_string())
                }
                None => Err("nothing to reuse".into()),
            },
            Op::Status { base, trading } => {
                let status = if trading {
                    InstrumentStatus::Trading
                } else {
                    InstrumentStatus::Halted
                };
                ex.set_status(BASES[base], status)
                    .map_err(|e| e.to_string())
            }
        };
        let after = ex.account().await;
        if result.is_err() {
            prop_assert_eq!(&after, &before, "a failed operation changed the account");
            prop_assert_eq!(p.applied(), applied);
        }
        // Value conservation per fill: at the fill price, the account loses exactly the fee.
        let new_fills = &after.fills[before.fills.len()..];
        if new_fills.len() == 1 {
            let f = &new_fills[0];
            let t0 = totals(&before);
            let t1 = totals(&after);
            let delta = |a: &str| {
                t1.get(a).copied().unwrap_or_default() - t0.get(a).copied().unwrap_or_default()
            };
            let value_change = delta(&f.base) * f.price + delta(&f.quote);
            let fee_value = if f.fee_asset == f.base {
                f.fee * f.price
            } else {
                f.fee
            };
            prop_assert_eq!(value_change, -fee_value);
        }
        check_invariants(&after, &deposits, fee_rate)?;
        prop_assert_eq!(p.account("main").unwrap_or_default(), after);
    }
    // A restart restores the same account.
    let account = ex.account().await;
    let reopened = PaperExchange::open(cfg, p.clone()).await.unwrap();
    prop_assert_eq!(reopened.account().await, account.clone());
    prop_assert_eq!(
        reopened.open_orders().await.unwrap().len(),
        account
            .orders
            .iter()
            .filter(|o| !o.status.is_final())
            .count()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_account_consistent(
        ops in prop::collection::vec(op(), 1..60),
        fee_bp in prop::sample::select(vec![0u32, 10, 25]),
        slip_bps in prop::sample::select(vec![0u32, 5, 30]),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(run(ops, fee_bp, slip_bps))?;
    }
}
