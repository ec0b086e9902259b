//! The real OKX connector (`OkxExchange`) drives the simulator speaking OKX v5 on 127.0.0.1:0:
//! every answer goes through the connector's parsing and mapping, the account's balances move
//! exactly as the fills say, and each injected fault reaches the connector in OKX's words.

mod common;

use common::{T0, btc_rules, priced_sim, sum_fees};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::settle::settle;
use smartfolio_exchange::{
    Balance, Exchange, ExchangeError, InstrumentStatus, LookupPolicy, OrderLookup, OrderRequest,
    OrderSize, OrderStatus, Settled, Side, reject,
};
use smartfolio_okx::OkxExchange;
use smartfolio_okx::client::{ClientConfig, Credentials, OkxClient};
use smartfolio_sim::{Faults, RateLimitFault, RunningSim, Simulator, Wire};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const KEY: &str = "sim-key";
const SECRET: &str = "sim-secret";
const PASSPHRASE: &str = "sim-passphrase";

struct Rig {
    sim: Simulator,
    server: RunningSim,
    clock: Arc<AtomicI64>,
    ex: OkxExchange,
}

struct Opts {
    timeout: Duration,
    faults: Faults,
    demo: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            faults: Faults::default(),
            demo: false,
        }
    }
}

impl Rig {
    async fn start() -> Self {
        Self::start_with(Opts::default()).await
    }

    async fn start_with(o: Opts) -> Self {
        let (sim, clock) = priced_sim(o.faults).await;
        let wire = Wire::Okx {
            passphrase: PASSPHRASE.to_string().into(),
            demo: o.demo,
        };
        let server = sim
            .serve_wire(([127, 0, 0, 1], 0).into(), wire)
            .await
            .unwrap();
        let ex = OkxExchange::new(client(
            &server,
            &clock,
            (KEY, SECRET, PASSPHRASE),
            o.demo,
            o.timeout,
        ));
        Self {
            sim,
            server,
            clock,
            ex,
        }
    }

    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    async fn balance(&self, asset: &str) -> Balance {
        self.ex
            .balances()
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.asset == asset)
            .unwrap_or(Balance {
                asset: asset.into(),
                free: Decimal::ZERO,
                locked: Decimal::ZERO,
            })
    }
}

fn client(
    server: &RunningSim,
    clock: &Arc<AtomicI64>,
    (key, secret, passphrase): (&str, &str, &str),
    demo: bool,
    timeout: Duration,
) -> OkxClient {
    let c = clock.clone();
    OkxClient::new(
        ClientConfig {
            base_url: server.base_url(),
            demo,
            timeout,
            ..ClientConfig::default()
        },
        Some(Credentials::new(key, secret, passphrase)),
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .unwrap()
}

fn buy(id: &str) -> OrderRequest {
    OrderRequest::market(id, "BTC", "USDT", Side::Buy, OrderSize::Quote(dec!(1000)))
}

fn rejected(e: &ExchangeError, want: &str) -> bool {
    matches!(e, ExchangeError::Rejected { code, .. } if code == want)
}

#[tokio::test]
async fn instruments_balances_tickers_and_key_permissions_read_back_what_the_engine_holds() {
    let rig = Rig::start().await;
    let mut all = rig.ex.instruments().await.unwrap();
    all.sort_by(|a, b| a.base.cmp(&b.base));
    assert_eq!(all.len(), 2);
    let btc = &all[0];
    assert_eq!(
        (btc.symbol.as_str(), btc.base.as_str(), btc.quote.as_str()),
        ("BTC-USDT", "BTC", "USDT")
    );
    // OKX spot has no minimum notional: lotSz, minSz and tickSz carry the rules.
    let want = btc_rules();
    assert_eq!(btc.rules.lot_step, want.lot_step);
    assert_eq!(btc.rules.min_size, want.min_size);
    assert_eq!(btc.rules.tick_size, want.tick_size);
    assert_eq!(btc.rules.min_notional, None);
    assert_eq!(btc.status, InstrumentStatus::Trading);
    assert_eq!(
        btc.limits.max_notional,
        Some(smartfolio_sim::DEFAULT_MAX_NOTIONAL)
    );

    rig.sim
        .paper()
        .set_status("ETH", InstrumentStatus::Halted)
        .unwrap();
    let eth = rig
        .ex
        .instruments()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.base == "ETH")
        .unwrap();
    assert_eq!(eth.status, InstrumentStatus::Halted);

    assert_eq!(rig.balance("USDT").await.free, dec!(10000));
    assert_eq!(rig.balance("BTC").await.free, dec!(0.1));
    let t = rig
        .ex
        .tickers(&["BTC".into(), "ETH".into()], "USDT")
        .await
        .unwrap();
    assert_eq!((t[0].base.as_str(), t[0].last), ("BTC", dec!(40000)));
    assert_eq!((t[1].base.as_str(), t[1].last), ("ETH", dec!(2000)));
    let e = rig.ex.tickers(&["DOGE".into()], "USDT").await.unwrap_err();
    assert!(rejected(&e, reject::UNKNOWN_INSTRUMENT), "{e:?}");

    let perm = rig.ex.key_config().await.unwrap();
    assert!(perm.can_trade() && !perm.can_withdraw(), "{perm:?}");
    rig.sim.set_key_can_withdraw(true);
    assert!(rig.ex.key_config().await.unwrap().can_withdraw());
    assert_eq!(rig.ex.server_time_ms().await.unwrap(), T0);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_market_buy_by_quote_and_a_sell_by_base_move_the_balances_exactly_as_their_fills() {
    let rig = Rig::start().await;
    let ack = rig.ex.place_order(&buy("buy1")).await.unwrap();
    assert_eq!((ack.client_id.as_str(), ack.time_ms), ("buy1", T0));
    let o = rig
        .ex
        .order("BTC", "USDT", "buy1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.size, OrderSize::Quote(dec!(1000)));
    assert_eq!(o.venue_id, ack.venue_id);
    let fills = rig.ex.fills("BTC", "USDT", "buy1").await.unwrap();
    let qty: Decimal = fills.iter().map(|f| f.quantity).sum();
    let quote: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
    assert_eq!((qty, quote), (dec!(0.025), dec!(1000)));
    assert_eq!((o.filled_quantity, o.filled_quote), (qty, quote));
    // OKX sends the fee negative; the connector reads the amount paid, in the asset received.
    assert_eq!(sum_fees(&fills, "BTC"), dec!(0.000025));
    assert_eq!(o.fees[0].amount, dec!(0.000025));
    assert_eq!(rig.balance("USDT").await.free, dec!(9000));
    assert_eq!(
        rig.balance("BTC").await.free,
        dec!(0.1) + qty - dec!(0.000025)
    );

    rig.advance(1_000);
    let sell = OrderRequest::market(
        "sell1",
        "BTC",
        "USDT",
        Side::Sell,
        OrderSize::Base(dec!(0.05)),
    );
    rig.ex.place_order(&sell).await.unwrap();
    let o = rig
        .ex
        .order("BTC", "USDT", "sell1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(
        (o.status, o.size),
        (OrderStatus::Filled, OrderSize::Base(dec!(0.05)))
    );
    let since = rig.ex.fills_since("BTC", "USDT", T0).await.unwrap();
    assert_eq!(since.len(), 2);
    assert_eq!(
        (since[0].client_id.as_str(), since[1].client_id.as_str()),
        ("buy1", "sell1")
    );
    assert_eq!(sum_fees(&since, "USDT"), dec!(2));
    assert_eq!(
        rig.balance("USDT").await.free,
        dec!(9000) + dec!(2000) - dec!(2)
    );
    // A client id is never taken twice.
    let e = rig.ex.place_order(&buy("buy1")).await.unwrap_err();
    assert!(rejected(&e, reject::DUPLICATE_CLIENT_ID), "{e:?}");
    assert_eq!(rig.sim.client_ids().await, (2, vec![]));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_limit_order_rests_lists_as_pending_fills_when_crossed_and_a_cancel_ends_another() {
    let rig = Rig::start().await;
    let limit = OrderRequest::limit("lim1", "BTC", "USDT", Side::Buy, dec!(0.01), dec!(39000));
    rig.ex.place_order(&limit).await.unwrap();
    let rest = OrderRequest::limit("lim2", "ETH", "USDT", Side::Buy, dec!(0.5), dec!(1500));
    rig.ex.place_order(&rest).await.unwrap();
    let open = rig.ex.open_orders().await.unwrap();
    let mut ids: Vec<&str> = open.iter().map(|o| o.client_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["lim1", "lim2"]);
    assert_eq!(rig.balance("USDT").await.locked, dec!(390) + dec!(750));

    rig.advance(1_000);
    rig.sim.set_prices(&[("BTC", dec!(38900))]).await.unwrap();
    let o = rig
        .ex
        .order("BTC", "USDT", "lim1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(
        (o.status, o.filled_quantity),
        (OrderStatus::Filled, dec!(0.01))
    );
    let canceled = rig.ex.cancel_order("ETH", "USDT", "lim2").await.unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert!(rig.ex.open_orders().await.unwrap().is_empty());
    assert_eq!(rig.balance("USDT").await.locked, Decimal::ZERO);
    // A second cancel is refused as not open, in OKX's words.
    let e = rig
        .ex
        .cancel_order("ETH", "USDT", "lim2")
        .await
        .unwrap_err();
    assert!(rejected(&e, reject::ORDER_NOT_OPEN), "{e:?}");
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_passphrase_or_secret_and_the_wrong_environment_are_refused_with_okxs_answer() {
    let rig = Rig::start().await;
    let t = Duration::from_secs(5);
    for (keys, code, want) in [
        (("other", SECRET, PASSPHRASE), reject::BAD_KEY, "50111"),
        ((KEY, SECRET, "wrong"), reject::BAD_KEY, "50105"),
        ((KEY, "wrong", PASSPHRASE), reject::BAD_SIGNATURE, "50113"),
    ] {
        let ex = OkxExchange::new(client(&rig.server, &rig.clock, keys, false, t));
        let e = ex.balances().await.unwrap_err();
        assert!(rejected(&e, code), "{keys:?}: {e:?}");
        assert!(e.to_string().contains(want), "{e}");
        assert!(!e.to_string().contains("wrong"), "no secret in errors: {e}");
    }
    // A demo client on a live key: OKX's environment mismatch.
    let demo = OkxExchange::new(client(
        &rig.server,
        &rig.clock,
        (KEY, SECRET, PASSPHRASE),
        true,
        t,
    ));
    let e = demo.balances().await.unwrap_err();
    assert!(
        rejected(&e, reject::BAD_KEY) && e.to_string().contains("50101"),
        "{e:?}"
    );
    // Public data needs no key.
    assert_eq!(demo.instruments().await.unwrap().len(), 2);
    rig.server.shutdown().await;

    let rig = Rig::start_with(Opts {
        demo: true,
        ..Opts::default()
    })
    .await;
    assert_eq!(rig.balance("USDT").await.free, dec!(10000));
    let live = OkxExchange::new(client(
        &rig.server,
        &rig.clock,
        (KEY, SECRET, PASSPHRASE),
        false,
        t,
    ));
    let e = live.balances().await.unwrap_err();
    assert!(e.to_string().contains("50101"), "{e:?}");
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_rate_limit_is_50011_and_bans_calls_for_its_retry_after_with_nothing_sent() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            rate_limited: Some(RateLimitFault {
                status: 429,
                times: 1,
                retry_after_s: 2,
            }),
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.balances().await.unwrap_err();
    assert_eq!(
        e,
        ExchangeError::RateLimited {
            retry_after_ms: 2_000
        }
    );
    let before = rig.sim.requests();
    let e = rig.ex.place_order(&buy("wait1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::RateLimited { .. }), "{e:?}");
    assert_eq!(rig.sim.requests(), before, "nothing sent during the ban");
    rig.advance(2_000);
    rig.ex.place_order(&buy("wait2")).await.unwrap();
    let orders = rig.sim.paper().account().await.orders;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].client_id, "wait2");
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_5xx_on_placement_is_an_unknown_outcome_settled_as_absent_without_a_resend() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            server_errors: 1,
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.place_order(&buy("five1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::UnknownOutcome(_)), "{e:?}");
    let window = LookupPolicy::default().window_ms;
    let settled = settle(&rig.ex, "BTC", "USDT", "five1", T0, T0 + window + 1)
        .await
        .unwrap();
    assert_eq!(settled, Settled::Absent);
    assert!(rig.sim.paper().account().await.orders.is_empty());
    rig.server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_outcome_50004_or_a_dropped_answer_is_settled_by_clordid_with_its_fill() {
    for faults in [
        Faults {
            unknown_after_order: 1,
            ..Faults::default()
        },
        Faults {
            hang_after_order: 1,
            ..Faults::default()
        },
    ] {
        let rig = Rig::start_with(Opts {
            timeout: Duration::from_millis(300),
            ..Opts::default()
        })
        .await;
        rig.sim.set_faults(faults.clone()).unwrap();
        let e = rig.ex.place_order(&buy("unk1")).await.unwrap_err();
        assert!(
            matches!(e, ExchangeError::UnknownOutcome(_)),
            "{faults:?}: {e:?}"
        );
        let Settled::Found(order) = settle(&rig.ex, "BTC", "USDT", "unk1", T0, T0)
            .await
            .unwrap()
        else {
            panic!("{faults:?}: the order stands at the venue")
        };
        assert_eq!(order.status, OrderStatus::Filled);
        let fills = rig.ex.fills("BTC", "USDT", "unk1").await.unwrap();
        let quote: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
        assert_eq!(quote, dec!(1000));
        assert_eq!(rig.sim.client_ids().await, (1, vec![]));
        assert_eq!(rig.balance("USDT").await.free, dec!(9000));
        rig.server.shutdown().await;
    }
}

#[tokio::test]
async fn lookups_answer_51603_for_a_while_after_placement_then_find_the_order() {
    let rig = Rig::start().await;
    rig.sim
        .set_faults(Faults {
            not_found_after_order: 2,
            ..Faults::default()
        })
        .unwrap();
    rig.ex.place_order(&buy("idx1")).await.unwrap();
    let settled = settle(&rig.ex, "BTC", "USDT", "idx1", T0, T0)
        .await
        .unwrap();
    assert!(matches!(settled, Settled::Wait { .. }), "{settled:?}");
    assert_eq!(
        rig.ex.order("BTC", "USDT", "idx1").await.unwrap(),
        OrderLookup::NotFoundYet
    );
    let o = rig
        .ex
        .order("BTC", "USDT", "idx1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_skewed_server_clock_is_met_by_one_resync_on_50102() {
    for skew in [45_000i64, -45_000] {
        let rig = Rig::start().await;
        rig.sim
            .set_faults(Faults {
                clock_skew_ms: skew,
                ..Faults::default()
            })
            .unwrap();
        assert_eq!(rig.balance("USDT").await.free, dec!(10000), "skew {skew}");
        assert_eq!(rig.ex.client().clock_offset_ms(), Some(skew));
        rig.server.shutdown().await;
    }
}

#[tokio::test]
async fn rejects_halts_and_partial_fills_reach_the_connector_in_okxs_words() {
    let rig = Rig::start_with(Opts {
        faults: Faults {
            partial_fill_quote: Some(dec!(400)),
            ..Faults::default()
        },
        ..Opts::default()
    })
    .await;
    rig.sim
        .set_faults(Faults {
            rejects: 1,
            halted: vec!["ETH".into()],
            partial_fill_quote: Some(dec!(400)),
            ..Faults::default()
        })
        .unwrap();
    let e = rig.ex.place_order(&buy("rej1")).await.unwrap_err();
    assert!(matches!(e, ExchangeError::Rejected { .. }), "{e:?}");
    let eth = OrderRequest::market(
        "halt1",
        "ETH",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(100)),
    );
    let e = rig.ex.place_order(&eth).await.unwrap_err();
    assert!(rejected(&e, reject::NOT_TRADING), "{e:?}");
    let statuses = rig.ex.instruments().await.unwrap();
    let eth_status = statuses.iter().find(|i| i.base == "ETH").unwrap().status;
    assert_eq!(eth_status, InstrumentStatus::Halted);
    assert!(rig.sim.paper().account().await.orders.is_empty());
    // Too small for minSz: OKX's 51020, the interface's minimum size.
    let tiny = OrderRequest::market(
        "tiny1",
        "BTC",
        "USDT",
        Side::Sell,
        OrderSize::Base(dec!(0.00002)),
    );
    let e = rig.ex.place_order(&tiny).await.unwrap_err();
    assert!(rejected(&e, reject::MIN_SIZE), "{e:?}");
    // A partial fill: 400 of the 1000 USDT asked, the rest expired.
    rig.ex.place_order(&buy("part1")).await.unwrap();
    let o = rig
        .ex
        .order("BTC", "USDT", "part1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(
        (o.status, o.filled_quantity, o.filled_quote),
        (OrderStatus::Expired, dec!(0.01), dec!(400))
    );
    assert_eq!(rig.balance("USDT").await.free, dec!(9600));
    rig.server.shutdown().await;
}

/// A sleep that moves the shared clock by what it is asked to wait (`pace`) or does not wait
/// at all, as a client without budgets would send.
fn sleep_on(clock: &Arc<AtomicI64>, pace: bool) -> smartfolio_exchange::history::Sleep {
    let c = clock.clone();
    Arc::new(move |d: Duration| {
        if pace {
            c.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
        }
        Box::pin(async {})
    })
}

#[tokio::test]
async fn with_okxs_limits_enforced_a_paced_burst_is_never_refused_and_an_unpaced_one_is_50011() {
    let rig = Rig::start_with(Opts {
        faults: Faults::parse("okx-limits=strict").unwrap(),
        ..Opts::default()
    })
    .await;
    let creds = (KEY, SECRET, PASSPHRASE);
    let timeout = Duration::from_secs(10);
    let paced = OkxExchange::new(
        client(&rig.server, &rig.clock, creds, false, timeout)
            .with_sleep(sleep_on(&rig.clock, true)),
    );
    paced.place_order(&buy("burst0")).await.unwrap();
    // OKX's counts: 10 balance reads and 60 lookups of BTC-USDT's orders per 2 s.
    for n in 0..25 {
        paced
            .balances()
            .await
            .unwrap_or_else(|e| panic!("balance read {n}: {e}"));
    }
    for n in 0..130 {
        let found = paced
            .order("BTC", "USDT", "burst0")
            .await
            .unwrap_or_else(|e| panic!("lookup {n}: {e}"));
        assert!(matches!(found, OrderLookup::Found(_)), "{found:?}");
    }
    assert_eq!(rig.sim.limit_refusals(), 0, "the paced client keeps within");

    // The same burst from a client whose budget waits do not wait: the 11th read in the window
    // is refused with 50011, and the client then holds every call for OKX's 2 s window.
    rig.advance(2_000);
    let unpaced = OkxExchange::new(
        client(&rig.server, &rig.clock, creds, false, timeout)
            .with_sleep(sleep_on(&rig.clock, false)),
    );
    for n in 0..10 {
        unpaced
            .balances()
            .await
            .unwrap_or_else(|e| panic!("balance read {n}: {e}"));
    }
    let e = unpaced.balances().await.unwrap_err();
    assert!(matches!(e, ExchangeError::RateLimited { .. }), "{e:?}");
    assert_eq!(rig.sim.limit_refusals(), 1);
    // The refused read took nothing from the window: one window later a read is taken.
    rig.advance(2_000);
    paced.balances().await.unwrap();
    assert_eq!(rig.sim.limit_refusals(), 1);
    assert_eq!(rig.sim.paper().account().await.orders.len(), 1);
    rig.server.shutdown().await;
}
