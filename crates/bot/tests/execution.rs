//! The execution layer: a tick only starts a rebalance (its orders' answers are recorded as they
//! arrive), and a command that trades on a bot whose rebalance is under way runs after it.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::BotStatus;
use smartfolio_store::Store;

const P: [(&str, Decimal); 2] = [("BTC", dec!(100)), ("ETH", dec!(100))];
const MOVED: [(&str, Decimal); 2] = [("BTC", dec!(150)), ("ETH", dec!(100))];

/// A withdrawal asked while the tick's rebalance is being placed waits for that rebalance to
/// end, then withdraws in full from the ledger it left; nothing stays open or pending.
#[tokio::test]
async fn a_withdrawal_mid_rebalance_runs_after_it() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    env.prices(T0, &P).await;
    let mut c = cfg("x", "BTC=50,ETH=50", "threshold:3", dec!(1000));
    c.cooldown_ms = 0;
    let id = env.rt.create(c).await.unwrap();
    env.rt.deploy(id).await.unwrap();
    assert_eq!(env.tick_only(T0 + MIN, &MOVED).await.rebalanced, 1);
    assert!(env.rt.executing(), "the tick only started the rebalance");
    let w = env.rt.withdraw(id, dec!(100), false).await.unwrap();
    assert_eq!(w.withdrawn, dec!(100));
    assert!(!env.rt.executing());
    let kinds: Vec<(String, String)> = env
        .store
        .rebalances(id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.status))
        .collect();
    assert_eq!(
        kinds,
        [
            ("deploy".to_string(), "completed".to_string()),
            ("rebalance".into(), "completed".into()),
            ("withdraw".into(), "completed".into()),
        ]
    );
    assert!(env.store.unfinished_orders().await.unwrap().is_empty());
    assert_unique(&env.venue_client_ids().await);
}

/// A bot whose rebalance is under way decides nothing on the next tick; the answers that have
/// arrived are recorded by the runtime (here: waited for), and the rebalance ends once.
#[tokio::test]
async fn a_bot_mid_rebalance_decides_nothing_until_it_ends() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    env.prices(T0, &P).await;
    let mut c = cfg("y", "BTC=50,ETH=50", "threshold:3", dec!(1000));
    c.cooldown_ms = 0;
    let id = env.rt.create(c).await.unwrap();
    env.rt.deploy(id).await.unwrap();
    assert_eq!(env.tick_only(T0 + MIN, &MOVED).await.rebalanced, 1);
    let moved_more = [("BTC", dec!(300)), ("ETH", dec!(100))];
    // The next tick records what has arrived without waiting; the bot rebalances again only
    // once its first rebalance has ended.
    while env.rt.executing() {
        assert_eq!(env.tick_only(T0 + 2 * MIN, &moved_more).await.rebalanced, 0);
        env.rt.settle_executions().await.unwrap();
    }
    let n = env.store.rebalances(id).await.unwrap().len();
    assert_eq!(n, 2, "deploy and one rebalance");
    assert!(env.store.open_rebalances().await.unwrap().is_empty());
}

/// A stop-loss the tick decides only starts its sells; the stop closes (the final report kept,
/// the ledger released) when they have ended.
#[tokio::test]
async fn a_risk_stop_from_a_tick_closes_when_its_sells_end() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    env.prices(T0, &P).await;
    let mut c = cfg("z", "BTC=50,ETH=50", "threshold:50", dec!(100));
    c.stop_loss_pct = Some(dec!(20));
    let id = env.rt.create(c).await.unwrap();
    env.rt.deploy(id).await.unwrap();
    let fallen = [("BTC", dec!(70)), ("ETH", dec!(90))];
    assert_eq!(env.tick_only(T0 + MIN, &fallen).await.stopped, 1);
    assert!(env.rt.executing(), "the tick only started the stop's sells");
    let status = |env: &Env| {
        let bi = env.rt.engine.index_of(id).unwrap();
        env.rt.engine.bots[bi].state.status.clone()
    };
    assert!(matches!(status(&env), BotStatus::Stopping { .. }));
    env.rt.settle_executions().await.unwrap();
    match status(&env) {
        BotStatus::Stopped { report } => {
            assert!(report.reason.contains("stop-loss"), "{}", report.reason);
            assert_eq!(report.final_value, dec!(80));
            assert_eq!(report.released, vec![("USDT".to_string(), dec!(80))]);
            assert!(report.unsold.is_empty(), "{:?}", report.unsold);
        }
        s => panic!("{s:?}"),
    }
    assert!(env.ledger(id).await.is_empty());
    assert!(env.store.open_rebalances().await.unwrap().is_empty());
}

/// The market moves up between the decision and the fill (the venue's price is 1 % above the
/// one the deploy was planned at, five times the 0.2 % price margin): the buys, sent by quote
/// amount, buy less at the higher price, and the bot's cash never goes below zero. Sized in
/// base at the decision's price, they spent about 7 USDT more than the bot's 1000.
#[tokio::test]
async fn a_buy_the_market_moved_up_under_never_takes_the_cash_below_zero() {
    let rules = smartfolio_core::InstrumentRules {
        lot_step: Some(dec!(0.001)),
        tick_size: Some(dec!(0.01)),
        ..Default::default()
    };
    // The account holds more than the bot: the venue would not refuse an overspend.
    let mut env = Env::new(dec!(0.001), Some(rules), dec!(5000)).await;
    env.prices(T0, &P).await;
    let mut c = cfg("up", "BTC=50,ETH=50", "threshold:3", dec!(1000));
    c.price_margin = dec!(0.002);
    c.fee_rate = dec!(0.001);
    let id = env.rt.create(c).await.unwrap();
    let up = smartfolio_exchange::PriceTick {
        time_ms: T0,
        prices: [("BTC".to_string(), dec!(101)), ("ETH".into(), dec!(101))].into(),
    };
    env.ex.update_prices(&up).await.unwrap();
    let s = env.rt.deploy(id).await.unwrap().expect("the deploy trades");
    assert_eq!(s.status, "completed", "{s:?}");
    let ledger = env.ledger(id).await;
    let cash = ledger.get("USDT").copied().unwrap_or_default();
    assert!(
        cash >= Decimal::ZERO,
        "the bot's cash went below zero: {ledger:?}"
    );
    let orders = env.store.orders(id).await.unwrap();
    assert_eq!(orders.len(), 2);
    let venue = env.ex.account().await.orders;
    for o in &orders {
        // Stored with the quote amount it was sent as: the planned notional at 100, at most.
        let amount = o
            .quote_amount
            .expect("a market buy is stored with its quote amount");
        assert!(amount <= o.quantity * dec!(100), "{o:?}");
        let sent = venue.iter().find(|v| v.client_id == o.client_id).unwrap();
        assert_eq!(
            sent.size,
            smartfolio_exchange::OrderSize::Quote(amount),
            "{sent:?}"
        );
        assert!(sent.filled_quote <= amount, "{sent:?}");
        // The price rose: less than planned was bought.
        assert!(o.filled_quantity < o.quantity, "{o:?}");
        assert_eq!(o.status, smartfolio_store::OrderState::Filled);
    }
    // What the buys spent is what the ledger lost.
    let spent: Decimal = venue.iter().map(|v| v.filled_quote).sum();
    assert_eq!(cash, dec!(1000) - spent);
}
