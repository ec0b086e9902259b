//! Restart recovery: the runtime is dropped mid-way ("crash") and a new one recovers from the
//! data directory. After recovery: no client id was sent twice, the bot's ledger equals what the
//! paper exchange holds for it (one bot owns the whole account here), and no rebalance is
//! applied twice.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::{BotState, BotStatus};
use smartfolio_exchange::paper::Fault;
use smartfolio_exchange::{Exchange, ExchangeError, OrderKind, OrderRequest, OrderSize, Side};
use smartfolio_store::{BotUpdate, NewOrder, NewRebalance, OrderState, Store};

const FEE: Decimal = dec!(0.001);

async fn deployed(invest: Decimal) -> (Env, i64) {
    let mut env = Env::new(FEE, None, invest).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("r", "BTC=50,ETH=50", "threshold:3", invest);
    c.fee_rate = FEE;
    c.cooldown_ms = 0;
    let id = env.rt.create(c).await.unwrap();
    env.tick(T0, &p).await;
    assert_eq!(env.ledger(id).await, env.account().await);
    (env, id)
}

async fn assert_consistent(env: &Env, id: i64) {
    assert_unique(&env.venue_client_ids().await);
    assert_eq!(env.ledger(id).await, env.account().await, "ledger vs venue");
    assert!(env.store.open_rebalances().await.unwrap().is_empty());
    assert!(env.store.unfinished_orders().await.unwrap().is_empty());
    // Every fill the venue made for the bot is recorded once.
    let venue_fills = env.ex.account().await.fills.len();
    assert_eq!(env.store.fills(id).await.unwrap().len(), venue_fills);
}

#[tokio::test]
async fn crash_after_storing_orders_before_sending() {
    let (mut env, id) = deployed(dec!(1000)).await;
    // The venue is unreachable while the rebalance is stored and its sell attempted: the order
    // stays pending (outcome unknown); then the process dies.
    env.ex.set_fault(Fault::FailAlways(ExchangeError::Transient(
        "network down".into(),
    )));
    env.tick(T0 + MIN, &[("BTC", dec!(150)), ("ETH", dec!(100))])
        .await;
    let pending = env.store.unfinished_orders().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, OrderState::Pending);
    assert_eq!(env.store.open_rebalances().await.unwrap().len(), 1);
    let before = env.ledger(id).await;

    let mut env = env.restart(T0 + 2 * MIN).await; // the fault does not survive the restart
    let resolved = env.rt.recover().await.unwrap();
    assert_eq!(resolved, 1);
    let o = env
        .store
        .order(&pending[0].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status, OrderState::NotSent);
    let rbs = env.store.rebalances(id).await.unwrap();
    assert_eq!(rbs.last().unwrap().status, "interrupted");
    assert_eq!(env.ledger(id).await, before);

    // The owed rebalance runs on the next tick, with new client ids.
    let r = env
        .tick(T0 + 3 * MIN, &[("BTC", dec!(150)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.rebalanced, 1);
    assert_consistent(&env, id).await;
    let l = env.ledger(id).await;
    let (b, e) = (l["BTC"] * dec!(150), l["ETH"] * dec!(100));
    assert!((b - e).abs() / (b + e) < dec!(0.001), "{l:?}");
}

#[tokio::test]
async fn crash_after_the_venue_filled_before_fills_were_recorded() {
    let (env, id) = deployed(dec!(1000)).await;
    // What the runtime does up to the send: store the rebalance and its sell (with the bot's
    // next sequence number) in one transaction...
    let rec = env.store.bot(id).await.unwrap().unwrap();
    let mut state: BotState = serde_json::from_str(&rec.state).unwrap();
    let seq = state.next_seq;
    state.next_seq += 1;
    let cid = format!("sf{id}r{seq}l0");
    let qty = env.ledger(id).await["BTC"] / dec!(5);
    env.store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq,
            kind: "rebalance".into(),
            reason: "threshold".into(),
            time_ms: T0 + MIN,
            plan: "{}".into(),
            orders: vec![NewOrder {
                client_id: cid.clone(),
                leg: 0,
                base: "BTC".into(),
                quote: "USDT".into(),
                side: Side::Sell,
                quantity: qty,
                kind: OrderKind::Market,
                quote_amount: None,
            }],
            bot: Some(BotUpdate {
                id,
                status: "running".into(),
                state: serde_json::to_string(&state).unwrap(),
                config: None,
                time_ms: T0 + MIN,
            }),
        })
        .await
        .unwrap();
    // ... then the venue executes it, and the process dies before recording anything.
    env.ex
        .place_order(&OrderRequest::market(
            cid.clone(),
            "BTC",
            "USDT",
            Side::Sell,
            OrderSize::Base(qty),
        ))
        .await
        .unwrap();
    assert_ne!(env.ledger(id).await, env.account().await);

    let mut env = env.restart(T0 + 2 * MIN).await;
    env.rt.recover().await.unwrap();
    let o = env.store.order(&cid).await.unwrap().unwrap();
    assert_eq!(o.status, OrderState::Filled);
    assert_eq!(env.ledger(id).await, env.account().await);
    // Issue 9, case 3: the interrupted rebalance keeps a summary of what filled.
    let rebalances = env.store.rebalances(id).await.unwrap();
    let rb =
        smartfolio_bot::RebalanceView::from(rebalances.into_iter().find(|r| r.seq == seq).unwrap());
    assert_eq!(rb.status, "interrupted");
    let s = rb
        .summary
        .clone()
        .expect("a summary of the interrupted rebalance");
    assert_eq!(s.status, "interrupted");
    assert_eq!((s.legs_planned, s.legs_filled, s.legs_skipped), (1, 1, 0));
    assert_eq!(s.legs[0].client_id.as_deref(), Some(cid.as_str()));
    assert_eq!(s.legs[0].outcome, "filled");
    assert_eq!(s.legs[0].filled_quantity, qty);
    assert!(s.fees > Decimal::ZERO, "{s:#?}");
    // Recovering again applies nothing twice.
    let mut env = env.restart(T0 + 2 * MIN).await;
    assert_eq!(env.rt.recover().await.unwrap(), 0);
    assert_eq!(env.ledger(id).await, env.account().await);
    // The interrupted rebalance is resumed by re-planning from the ledger: the bot buys BTC back.
    let r = env
        .tick(T0 + 3 * MIN, &[("BTC", dec!(100)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.rebalanced, 1);
    assert_consistent(&env, id).await;
    let l = env.ledger(id).await;
    let rebalances = env.store.rebalances(id).await.unwrap();
    assert!(
        (l["BTC"] - l["ETH"]).abs() < dec!(0.01),
        "{l:?} {:#?}",
        rebalances.last()
    );
    let bi = env.rt.engine.index_of(id).unwrap();
    assert_eq!(env.rt.engine.bots[bi].state.status, BotStatus::Running);
}

#[tokio::test]
async fn unknown_outcome_is_looked_up_not_resent() {
    let (mut env, id) = deployed(dec!(1000)).await;
    env.ex.set_fault(Fault::UnknownOutcomeAfterApply);
    let r = env
        .tick(T0 + MIN, &[("BTC", dec!(150)), ("ETH", dec!(100))])
        .await;
    assert_eq!(r.rebalanced, 1);
    assert_consistent(&env, id).await;
    let orders = env.store.orders(id).await.unwrap();
    assert!(
        orders.iter().all(|o| o.status == OrderState::Filled),
        "{orders:?}"
    );
}

#[tokio::test]
async fn crash_in_the_middle_of_a_deploy() {
    let mut env = Env::new(FEE, None, dec!(1000)).await;
    let p = [("BTC", dec!(100)), ("ETH", dec!(100))];
    env.prices(T0, &p).await;
    let mut c = cfg("d", "BTC=50,ETH=50", "threshold:3", dec!(1000));
    c.fee_rate = FEE;
    c.max_retries = 0;
    let id = env.rt.create(c).await.unwrap();
    // The venue stops answering once the deploy's first order is stored; the process dies.
    env.ex.set_fault(Fault::FailAlways(ExchangeError::Transient(
        "connection reset".into(),
    )));
    env.tick(T0, &p).await;
    let bi = env.rt.engine.index_of(id).unwrap();
    assert_eq!(env.rt.engine.bots[bi].state.status, BotStatus::Deploying);
    assert_eq!(env.store.unfinished_orders().await.unwrap().len(), 1);
    let mut env = env.restart(T0 + MIN).await;
    env.rt.recover().await.unwrap();
    env.tick(T0 + 10 * MIN, &p).await;
    assert_consistent(&env, id).await;
    let bi = env.rt.engine.index_of(id).unwrap();
    assert_eq!(env.rt.engine.bots[bi].state.status, BotStatus::Running);
    let l = env.ledger(id).await;
    assert!(l["BTC"] > dec!(4.9) && l["ETH"] > dec!(4.9), "{l:?}");
}
