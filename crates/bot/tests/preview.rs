//! A preview shows exactly what its action does: for each action, preview, then execute on the
//! same state (same ledger, same prices), and compare the orders leg by leg (asset, side,
//! quantity). A preview also changes nothing: no bot, order, rebalance or ledger entry.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::{BotConfig, BotResult, CoinAmount, PlanPreview, RebalanceSummary, StopMode};
use smartfolio_core::InstrumentRules;
use smartfolio_store::{BotId, Store};

type Legs = Vec<(String, String, Decimal)>;

// What the caller of a preview does: fetch the prices its action reads (`price_*`, which
// changes the market's price cache only), then preview (`&self`).

async fn preview_create(env: &mut Env, c: &BotConfig) -> BotResult<PlanPreview> {
    env.rt.price_create(c).await?;
    env.rt.preview_create(c).await
}

async fn preview_invest(
    env: &mut Env,
    id: BotId,
    amount: Decimal,
    coins: Vec<CoinAmount>,
) -> BotResult<PlanPreview> {
    env.rt.price_invest(id, amount, &coins).await?;
    env.rt.preview_invest(id, amount, coins).await
}

async fn preview_withdraw(
    env: &mut Env,
    id: BotId,
    amount: Decimal,
    over: bool,
) -> BotResult<PlanPreview> {
    env.rt.price_withdraw(id, amount).await?;
    env.rt.preview_withdraw(id, amount, over).await
}

async fn preview_modify(
    env: &mut Env,
    id: BotId,
    targets: Option<&str>,
    cooldown_ms: Option<i64>,
) -> BotResult<PlanPreview> {
    env.rt.price_modify(id, targets).await?;
    env.rt.preview_modify(id, targets, None, cooldown_ms).await
}

async fn preview_stop(env: &mut Env, id: BotId, mode: StopMode) -> BotResult<PlanPreview> {
    env.rt.price_stop(id, mode).await?;
    env.rt.preview_stop(id, mode).await
}

fn preview_legs(p: &PlanPreview) -> Legs {
    p.legs
        .iter()
        .map(|l| (l.asset.clone(), l.side.clone(), l.quantity))
        .collect()
}

/// The orders a rebalance sent (skipped legs were never orders).
fn sent_legs(s: &RebalanceSummary) -> Legs {
    s.legs
        .iter()
        .filter(|l| l.client_id.is_some())
        .map(|l| (l.asset.clone(), l.side.clone(), l.planned_quantity))
        .collect()
}

/// Lot steps and minimums, a fee and the default price margin: rounding and fees matter.
async fn env() -> Env {
    let rules = InstrumentRules {
        lot_step: Some(dec!(0.0001)),
        min_notional: Some(dec!(5)),
        ..Default::default()
    };
    let mut env = Env::new(dec!(0.001), Some(rules), dec!(100000)).await;
    env.prices(
        T0,
        &[("BTC", dec!(30000)), ("ETH", dec!(2000)), ("SOL", dec!(25))],
    )
    .await;
    env
}

fn config(name: &str, targets: &str, trigger: &str, quote: Decimal) -> BotConfig {
    let defaults = BotConfig::new(name, targets, trigger, quote).unwrap();
    let mut c = cfg(name, targets, trigger, quote);
    c.fee_rate = dec!(0.001);
    c.price_margin = defaults.price_margin;
    c.cooldown_ms = 0;
    c
}

/// Everything a preview must leave alone.
async fn fingerprint(env: &Env, ids: &[BotId]) -> String {
    let mut out = format!("{:?} {:?}", env.rt.list(), env.account().await);
    for id in ids {
        out += &format!(
            " {:?} {} {}",
            env.ledger(*id).await,
            env.store.orders(*id).await.unwrap().len(),
            env.store.rebalances(*id).await.unwrap().len(),
        );
    }
    out
}

async fn last_rebalance(env: &Env, id: BotId, kind: &str) -> RebalanceSummary {
    let rebalances = env.store.rebalances(id).await.unwrap();
    let r = smartfolio_bot::RebalanceView::from(rebalances.last().expect("a rebalance").clone());
    assert_eq!(r.kind, kind);
    r.summary.clone().expect("a closed rebalance")
}

#[tokio::test]
async fn create_preview_is_the_deploy() {
    let mut env = env().await;
    let c = config("a", "BTC=40,ETH=35,SOL=25", "threshold:2", dec!(12345.67));
    let before = fingerprint(&env, &[]).await;
    let pv = preview_create(&mut env, &c).await.unwrap();
    assert_eq!(
        fingerprint(&env, &[]).await,
        before,
        "the preview created nothing"
    );
    assert_eq!(pv.action, "create");
    assert_eq!(pv.legs.len(), 3);
    let id = env.rt.create(c).await.unwrap();
    let s = env.rt.deploy(id).await.unwrap().expect("initial orders");
    assert_eq!(sent_legs(&s), preview_legs(&pv));
    assert_eq!(s.status, "completed");
}

#[tokio::test]
async fn invest_withdraw_modify_and_stop_previews_are_their_actions() {
    let mut env = env().await;
    let id = env
        .rt
        .create(config(
            "b",
            "BTC=50,ETH=30,SOL=20",
            "threshold:1",
            dec!(20000),
        ))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    // Prices move (nothing decided): the bot drifts.
    let t1 = T0 + 10 * MIN;
    let moved = [
        ("BTC", dec!(33000)),
        ("ETH", dec!(1900)),
        ("SOL", dec!(27.5)),
    ];
    env.prices(t1, &moved).await;

    // Invest: the rebalance after the deposit.
    let before = fingerprint(&env, &[id]).await;
    let pv = preview_invest(&mut env, id, dec!(3000), vec![])
        .await
        .unwrap();
    assert_eq!(fingerprint(&env, &[id]).await, before);
    assert!(!pv.legs.is_empty());
    let s = env
        .rt
        .invest(id, dec!(3000), vec![])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent_legs(&s), preview_legs(&pv));

    // Withdraw, pro rata then from the overweights, each more than the bot's cash.
    for (amount, over) in [(dec!(2500), false), (dec!(4321.5), true)] {
        let before = fingerprint(&env, &[id]).await;
        let pv = preview_withdraw(&mut env, id, amount, over).await.unwrap();
        assert_eq!(fingerprint(&env, &[id]).await, before);
        assert!(!pv.legs.is_empty(), "{over}: {pv:?}");
        let w = env.rt.withdraw(id, amount, over).await.unwrap();
        assert_eq!(w.withdrawn, amount);
        let s = w.rebalance.expect("sells");
        assert_eq!(sent_legs(&s), preview_legs(&pv), "from overweights: {over}");
    }

    // Modify: nothing trades now; the next rebalance (same prices) trades the previewed legs.
    let before = fingerprint(&env, &[id]).await;
    let orders = env.store.orders(id).await.unwrap().len();
    let pv = preview_modify(&mut env, id, Some("BTC=20,ETH=30,SOL=50"), Some(0))
        .await
        .unwrap();
    assert_eq!(fingerprint(&env, &[id]).await, before);
    assert!(pv.legs.iter().any(|l| l.asset == "BTC" && l.side == "sell"));
    env.rt
        .modify(id, Some("BTC=20,ETH=30,SOL=50"), None, Some(0))
        .await
        .unwrap();
    assert_eq!(
        env.store.orders(id).await.unwrap().len(),
        orders,
        "the modification traded nothing"
    );
    let r = env.tick(t1 + MIN, &moved).await;
    assert_eq!(r.rebalanced, 1);
    let s = last_rebalance(&env, id, "rebalance").await;
    assert_eq!(sent_legs(&s), preview_legs(&pv));

    // Stop, selling everything.
    let before = fingerprint(&env, &[id]).await;
    let pv = preview_stop(&mut env, id, StopMode::SellAll).await.unwrap();
    assert_eq!(fingerprint(&env, &[id]).await, before);
    assert_eq!(pv.legs.len(), 3);
    env.rt.stop(id, StopMode::SellAll, "test").await.unwrap();
    let s = last_rebalance(&env, id, "stop").await;
    assert_eq!(sent_legs(&s), preview_legs(&pv));
}

#[tokio::test]
async fn paid_from_cash_and_keep_coins_trade_nothing() {
    let mut env = env().await;
    let id = env
        .rt
        .create(config("c", "BTC=50,USDT=50", "threshold:5", dec!(10000)))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    let rebalances = env.store.rebalances(id).await.unwrap().len();

    // Half the bot is cash: a small withdrawal sells nothing, in the preview and in fact.
    let pv = preview_withdraw(&mut env, id, dec!(1000), true)
        .await
        .unwrap();
    assert!(pv.legs.is_empty());
    let w = env.rt.withdraw(id, dec!(1000), true).await.unwrap();
    assert!(w.rebalance.is_none());

    let pv = preview_stop(&mut env, id, StopMode::KeepCoins)
        .await
        .unwrap();
    assert!(pv.legs.is_empty());
    assert!(pv.notes.iter().any(|n| n.contains("BTC")), "{:?}", pv.notes);
    let report = env.rt.stop(id, StopMode::KeepCoins, "test").await.unwrap();
    assert!(report.released.iter().any(|(a, _)| a == "BTC"));
    assert_eq!(env.store.rebalances(id).await.unwrap().len(), rebalances);
}

#[tokio::test]
async fn previews_refuse_what_their_actions_refuse() {
    let mut env = env().await;
    let id = env
        .rt
        .create(config("d", "BTC=50,ETH=50", "threshold:5", dec!(1000)))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    let too_much = dec!(5000);
    let p = preview_withdraw(&mut env, id, too_much, false)
        .await
        .unwrap_err();
    let a = env.rt.withdraw(id, too_much, false).await.unwrap_err();
    assert_eq!(p.to_string(), a.to_string());
    let p = env.rt.preview_resume(id).unwrap_err();
    let a = env.rt.resume(id).await.unwrap_err();
    assert_eq!(p.to_string(), a.to_string());
    // A name taken, and an investment above the account's unallocated quote.
    let p = preview_create(
        &mut env,
        &config("d", "BTC=50,ETH=50", "threshold:5", dec!(100)),
    )
    .await
    .unwrap_err();
    assert!(p.to_string().contains("name"), "{p}");
    let c = config("e", "BTC=50,ETH=50", "threshold:5", dec!(1000000));
    let p = preview_create(&mut env, &c).await.unwrap_err();
    let a = env.rt.create(c).await.unwrap_err();
    assert_eq!(p.to_string(), a.to_string());
}

async fn deployed(env: &mut Env, name: &str, targets: &str, invest: Decimal) -> BotId {
    let id = env
        .rt
        .create(config(name, targets, "threshold:5", invest))
        .await
        .unwrap();
    env.rt.deploy(id).await.unwrap();
    id
}

/// Issue 9, case 1: SOL's share of a 40 withdrawal (10%, about 4) is below the minimum
/// notional of 5. The withdrawal still delivers 40 (the other sells raise SOL's share), and the
/// preview and the record name SOL as skipped with the reason.
#[tokio::test]
async fn a_share_below_the_minimum_moves_to_the_other_sells() {
    let mut env = env().await;
    let id = deployed(&mut env, "w1", "BTC=45,ETH=45,SOL=10", dec!(4000)).await;
    let pv = preview_withdraw(&mut env, id, dec!(40), false)
        .await
        .unwrap();
    let sol = pv.skipped.iter().find(|l| l.asset == "SOL");
    assert!(
        sol.is_some_and(|l| l.reason.contains("minimum notional 5")),
        "{pv:#?}"
    );
    let w = env.rt.withdraw(id, dec!(40), false).await.unwrap();
    assert_eq!(w.withdrawn, dec!(40));
    let s = w.rebalance.expect("sells");
    assert_eq!(sent_legs(&s), preview_legs(&pv));
    assert_eq!(s.status, "completed", "{s:#?}");
    assert!(
        s.legs
            .iter()
            .any(|l| l.asset == "SOL" && l.outcome == "skipped" && l.client_id.is_none()),
        "{s:#?}"
    );
    assert_eq!(s.legs_planned, s.legs.len());
    assert_eq!(s.legs_filled + s.legs_skipped, s.legs_planned);
}

/// Issue 9, case 1: 7 more than the bot's cash, where every pro rata share is below the
/// minimum. It used to preview "paid from its cash" and withdraw only the cash; now one sell
/// raises it all, and the preview shows that sell.
#[tokio::test]
async fn a_withdrawal_beyond_the_cash_sells_even_when_every_share_is_small() {
    let mut env = env().await;
    let id = deployed(&mut env, "w2", "BTC=45,ETH=45,SOL=10", dec!(4000)).await;
    let cash = env
        .ledger(id)
        .await
        .get("USDT")
        .copied()
        .unwrap_or_default();
    let amount = cash + dec!(7);
    let pv = preview_withdraw(&mut env, id, amount, false).await.unwrap();
    assert!(!pv.summary.contains("paid from its cash"), "{pv:#?}");
    assert_eq!(pv.legs.len(), 1, "{pv:#?}");
    let w = env.rt.withdraw(id, amount, false).await.unwrap();
    assert_eq!(w.withdrawn, amount);
    assert_eq!(sent_legs(&w.rebalance.expect("a sell")), preview_legs(&pv));
    assert!(
        env.ledger(id)
            .await
            .get("USDT")
            .copied()
            .unwrap_or_default()
            >= Decimal::ZERO
    );
}

/// Issue 9, case 1: more than the sells can raise (here all of the bot's value, with fees and
/// the price margin on top) is refused before anything trades, naming the largest amount that
/// can be delivered; that amount then is delivered in full.
#[tokio::test]
async fn more_than_can_be_delivered_is_refused_before_trading() {
    let mut env = env().await;
    let id = deployed(&mut env, "w3", "BTC=45,ETH=45,SOL=10", dec!(4000)).await;
    let value = env.rt.show(id).await.unwrap().pnl.unwrap().value;
    let orders = env.store.orders(id).await.unwrap().len();
    let p = preview_withdraw(&mut env, id, value, false)
        .await
        .unwrap_err();
    let e = env.rt.withdraw(id, value, false).await.unwrap_err();
    assert_eq!(p.to_string(), e.to_string());
    let smartfolio_bot::BotError::OverWithdrawal(r) = &e else {
        panic!("{e}");
    };
    let largest = r.largest;
    assert!(largest < value && largest > value * dec!(0.99), "{largest}");
    assert!(e.to_string().contains(&format!("{largest} USDT")), "{e}");
    assert_eq!(
        env.store.orders(id).await.unwrap().len(),
        orders,
        "nothing traded"
    );
    let w = env.rt.withdraw(id, largest, false).await.unwrap();
    assert_eq!(w.withdrawn, largest);
}

/// Issue 9, case 1: the venue under-delivers once trading started (a sell is rejected). What
/// was raised leaves the bot, the record is `partial`, and the answer is an error, never a
/// success.
#[tokio::test]
async fn a_shortfall_after_trading_is_partial_and_an_error() {
    let mut env = env().await;
    let id = deployed(&mut env, "w4", "BTC=45,ETH=45,SOL=10", dec!(4000)).await;
    let invested = env.rt.show(id).await.unwrap().summary.net_invested;
    env.ex
        .set_fault(smartfolio_exchange::paper::Fault::RejectNext);
    let e = env.rt.withdraw(id, dec!(100), false).await.unwrap_err();
    let smartfolio_bot::BotError::WithdrawShortfall(s) = &e else {
        panic!("{e}");
    };
    let (requested, withdrawn) = (&s.requested, &s.withdrawn);
    assert_eq!(*requested, dec!(100));
    assert!(*withdrawn > Decimal::ZERO && *withdrawn < dec!(100), "{e}");
    assert!(e.to_string().contains("rejected"), "{e}");
    assert_eq!(
        env.rt.show(id).await.unwrap().summary.net_invested,
        invested - *withdrawn
    );
    let s = last_rebalance(&env, id, "withdraw").await;
    assert_eq!(s.status, "partial", "{s:#?}");
}
