//! How the runtime uses the exchange interface v2: rate limits waited through the clock (and
//! never waited out inside a placement when long), unknown outcomes settled by the venue's lookup
//! policy and never re-sent, and fees paid in a third asset.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_bot::runtime::MAX_INLINE_WAIT_MS;
use smartfolio_bot::{BotStatus, Clock, StopMode};
use smartfolio_exchange::ExchangeError;
use smartfolio_exchange::paper::Fault;
use smartfolio_store::{OrderState, Store};

const P: [(&str, Decimal); 2] = [("BTC", dec!(100)), ("ETH", dec!(100))];

async fn created(env: &mut Env, invest: Decimal) -> i64 {
    env.prices(T0, &P).await;
    env.rt
        .create(cfg("v2", "BTC=50,ETH=50", "threshold:3", invest))
        .await
        .unwrap()
}

fn status(env: &Env, id: i64) -> BotStatus {
    let bi = env.rt.engine.index_of(id).unwrap();
    env.rt.engine.bots[bi].state.status.clone()
}

/// A venue's `retry_after` is waited through the runtime's clock (a manual clock moves on by
/// it), not by sleeping on the wall clock; the same client id is then sent once more and fills.
#[tokio::test]
async fn a_rate_limit_is_waited_out_through_the_clock() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let id = created(&mut env, dec!(1000)).await;
    env.ex
        .set_fault(Fault::FailNextOrder(ExchangeError::RateLimited {
            retry_after_ms: 1_500,
        }));
    let before = env.clock.now_ms();
    env.rt.deploy(id).await.unwrap();
    assert!(
        env.clock.now_ms() >= before + 1_500,
        "the wait went through the clock: {} → {}",
        before,
        env.clock.now_ms()
    );
    let orders = env.store.orders(id).await.unwrap();
    assert_eq!(orders.len(), 2);
    assert!(orders.iter().all(|o| o.status == OrderState::Filled));
    assert_unique(&env.venue_client_ids().await);
}

/// A rate limit longer than a placement may wait is not waited out: the order is not sent, no
/// other order goes to the venue before the limit lifts, and the bot deploys once it has.
#[tokio::test]
async fn a_long_rate_limit_sends_nothing_until_it_lifts() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let id = created(&mut env, dec!(1000)).await;
    env.ex
        .set_fault(Fault::FailNextOrder(ExchangeError::RateLimited {
            retry_after_ms: 60_000,
        }));
    let before = env.clock.now_ms();
    let s = env.rt.deploy(id).await.unwrap().unwrap();
    assert!(env.clock.now_ms() - before <= MAX_INLINE_WAIT_MS as i64);
    assert_eq!(s.legs[0].outcome, "failed");
    assert!(
        s.legs[0].detail.contains("rate-limited"),
        "{}",
        s.legs[0].detail
    );
    assert_eq!(s.legs[1].outcome, "skipped", "{:#?}", s.legs);
    assert!(
        env.venue_client_ids().await.is_empty(),
        "nothing reached the venue during the limit"
    );
    env.tick(T0 + 30_000, &P).await;
    assert!(
        env.venue_client_ids().await.is_empty(),
        "nothing reached the venue during the limit"
    );
    // Once the limit has lifted, the bot deploys with new client ids.
    for k in 2..6 {
        env.tick(T0 + k * MIN, &P).await;
    }
    assert_eq!(status(&env, id), BotStatus::Running);
    let ids = env.venue_client_ids().await;
    assert_eq!(ids.len(), 2);
    assert_unique(&ids);
}

/// An unknown outcome whose order the venue does not have (open or filled) is settled as not
/// sent; it is never re-sent under its client id.
#[tokio::test]
async fn an_unknown_outcome_is_settled_never_resent() {
    let mut env = Env::new(Decimal::ZERO, None, dec!(1000)).await;
    let id = created(&mut env, dec!(1000)).await;
    env.ex
        .set_fault(Fault::FailNextOrder(ExchangeError::UnknownOutcome(
            "timeout after sending".into(),
        )));
    env.rt.deploy(id).await.unwrap();
    let orders = env.store.orders(id).await.unwrap();
    let first = &orders[0];
    assert_eq!(first.status, OrderState::NotSent, "{orders:?}");
    assert!(
        first
            .error
            .as_deref()
            .unwrap_or("")
            .contains("no such order"),
        "{first:?}"
    );
    let venue = env.venue_client_ids().await;
    assert!(
        !venue.contains(&first.client_id),
        "the order was sent again: {venue:?}"
    );
    assert_unique(&venue);
}

/// On a venue whose lookups lag (Binance `-2013` right after placement), a not-found inside
/// the lookup window keeps the order pending; after the window it is settled from the open
/// orders and fills (here: nothing happened) and the bot re-plans under new client ids.
#[tokio::test]
async fn a_not_found_inside_the_lookup_window_is_not_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let paper = paper_config(Decimal::ZERO, None).with_lookup_window_ms(30_000);
    let mut env = Env::open(dir, paper, Some(dec!(1000))).await;
    let id = created(&mut env, dec!(1000)).await;
    env.ex
        .set_fault(Fault::FailNextOrder(ExchangeError::UnknownOutcome(
            "503".into(),
        )));
    env.rt.deploy(id).await.unwrap();
    let first = env.store.orders(id).await.unwrap()[0].clone();
    assert_eq!(first.status, OrderState::Pending);
    // Inside the window: still pending, whatever the ticks.
    env.tick(T0 + 10_000, &P).await;
    env.tick(T0 + 20_000, &P).await;
    let o = env.store.order(&first.client_id).await.unwrap().unwrap();
    assert_eq!(o.status, OrderState::Pending);
    // After it: settled as not sent (not open, no fills), and the bot deploys anew.
    for k in 1..5 {
        env.tick(T0 + k * MIN, &P).await;
    }
    let o = env.store.order(&first.client_id).await.unwrap().unwrap();
    assert_eq!(o.status, OrderState::NotSent);
    assert_eq!(status(&env, id), BotStatus::Running);
    let venue = env.venue_client_ids().await;
    assert!(!venue.contains(&first.client_id));
    assert_unique(&venue);
    assert_eq!(env.ledger(id).await, env.account_without("BNB").await);
}

/// Fees paid in a third asset the bot does not hold (BNB held by the account outside the bot)
/// are recorded in that asset and valued at its price, and never debited from the bot.
#[tokio::test]
async fn fees_in_a_third_asset_are_recorded_and_valued_never_debited_from_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let paper = paper_config(dec!(0.001), None).with_fee_asset("BNB");
    let mut env = Env::open(dir, paper, Some(dec!(1000))).await;
    env.ex.deposit("BNB", dec!(1)).await.unwrap();
    let prices = [("BTC", dec!(100)), ("ETH", dec!(100)), ("BNB", dec!(500))];
    env.prices(T0, &prices).await;
    let mut c = cfg("bnb", "BTC=50,ETH=50", "threshold:3", dec!(1000));
    c.fee_rate = dec!(0.001);
    let id = env.rt.create(c).await.unwrap();
    let s = env.rt.deploy(id).await.unwrap().unwrap();

    let fills = env.store.fills(id).await.unwrap();
    assert_eq!(fills.len(), 2);
    let bnb_fees: Decimal = fills.iter().map(|f| f.fee).sum();
    assert!(fills.iter().all(|f| f.fee_asset == "BNB"), "{fills:?}");
    // Fees of 0.1% of the notional, in BNB at 500.
    let notional: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
    assert_eq!(bnb_fees, notional * dec!(0.001) / dec!(500));
    let leg_fees: Decimal = s.legs.iter().map(|l| l.fees).sum();
    assert_eq!(leg_fees, bnb_fees * dec!(500));

    let ledger = env.ledger(id).await;
    assert!(!ledger.contains_key("BNB"), "{ledger:?}");
    // The whole quantity bought is the bot's (no fee taken from the base).
    let bought: Decimal = fills
        .iter()
        .filter(|f| f.base == "BTC")
        .map(|f| f.quantity)
        .sum();
    assert_eq!(ledger["BTC"], bought);
    // The account paid the fees from its own BNB; everything else is the bot's.
    let account = env.account().await;
    assert_eq!(account["BNB"], dec!(1) - bnb_fees);
    assert_eq!(ledger, env.account_without("BNB").await);
    // The fees the bot paid, as its stop reports them, are the BNB at its price.
    let r = env.rt.stop(id, StopMode::KeepCoins, "done").await.unwrap();
    assert_eq!(r.fees_paid, bnb_fees * dec!(500));
}

/// An order the venue acknowledged but does not show yet (inside its lookup window) is followed
/// on later ticks; it is not a venue failure and is never sent again.
#[tokio::test]
async fn an_acknowledged_order_not_visible_yet_is_followed_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let paper = paper_config(Decimal::ZERO, None).with_lookup_window_ms(30_000);
    let mut env = Env::open(dir, paper, Some(dec!(1000))).await;
    let id = created(&mut env, dec!(1000)).await;
    env.ex.set_fault(Fault::LookupNotFound(1));
    let s = env.rt.deploy(id).await.unwrap().unwrap();
    assert_eq!(s.legs[0].outcome, "unknown");
    assert!(s.legs[0].detail.contains("acknowledged"), "{:?}", s.legs[0]);
    let bi = env.rt.engine.index_of(id).unwrap();
    assert_eq!(env.rt.engine.bots[bi].state.consecutive_failures, 0);
    let first = env.store.orders(id).await.unwrap()[0].clone();
    assert_eq!(first.status, OrderState::Pending);
    for k in 1..4 {
        env.tick(T0 + k * 10_000, &P).await;
    }
    let o = env.store.order(&first.client_id).await.unwrap().unwrap();
    assert_eq!(o.status, OrderState::Filled);
    assert_eq!(status(&env, id), BotStatus::Running);
    assert_unique(&env.venue_client_ids().await);
    assert_eq!(env.ledger(id).await, env.account().await);
}
