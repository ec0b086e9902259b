//! The driver loop on a real host (SQLite store, paper exchange) in a temporary directory.

use rust_decimal::Decimal;
use smartfolio_bot::{BotConfig, ManualClock, Runtime, TickReport};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_node::driver::{self, DriveOptions};
use smartfolio_node::{
    Bots, Host, Lease, MarketConfig, MarketKind, NodeConfig, NodeError, Request, Station,
    SubmitOptions, Submitted,
};
use std::time::Duration;

const HOUR: i64 = 3_600_000;

fn config(dir: &std::path::Path, speed: Option<f64>) -> NodeConfig {
    let rules = InstrumentRules {
        lot_step: Some(Decimal::new(1, 8)),
        min_size: None,
        min_notional: Some(Decimal::from(5)),
        tick_size: None,
    };
    NodeConfig {
        data_dir: dir.to_path_buf(),
        quote: "USDT".into(),
        account: "main".into(),
        paper: PaperConfig::new("main", "USDT")
            .with_instrument("BTC", rules.clone())
            .with_instrument("ETH", rules),
        balances: vec![("USDT".into(), Decimal::from(100_000))],
        market: MarketConfig {
            kind: MarketKind::Synthetic,
            seed: 5,
            assets: vec!["BTC".into(), "ETH".into()],
            step_ms: HOUR,
            start_ms: 1_700_000_000_000,
            correlation: 0.5,
            speed,
            replay_path: None,
            interval: None,
            from_ms: None,
            to_ms: None,
        },
    }
}

/// Bots that count the ticks they were driven by.
struct Counting {
    bots: Bots,
    ticks: u64,
}

#[async_trait::async_trait]
impl Station for Counting {
    fn parts(&mut self) -> (&mut Runtime, &PaperExchange, &ManualClock) {
        self.bots.parts()
    }
    async fn ticked(&mut self, _: &PriceTick, _: Option<&TickReport>, _: Duration) {
        self.ticks += 1;
    }
}

/// One market hour per wall hour: the second tick is an hour away, yet a job is answered at
/// once (while the loop waits for the tick), and a queued command is executed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_queued_commands_are_served_while_the_next_tick_is_not_due() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (mut host, mut bots) = Host::open(config(dir.path(), Some(1.0)), lease)
        .await
        .unwrap();
    let started = host.start(&mut bots).await.unwrap();
    host.mark_ready();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (handle, task) = driver::spawn(
        Counting { bots, ticks: 0 },
        Some(host),
        Some(started.market),
        DriveOptions::default(),
        async {
            let _ = stop_rx.await;
        },
    );
    let seen = handle
        .call(|s: &mut Counting| Box::pin(async move { s.ticks }))
        .await
        .unwrap();
    assert!(seen <= 1, "the job waited for a later tick: {seen} ticks");

    // A command submitted as `smartfolio bot` does: the owner is ready, so it is queued, and
    // executed between ticks once the first tick has priced the market.
    let submitted = smartfolio_node::submit(
        config(dir.path(), Some(1.0)),
        &Request::List,
        SubmitOptions {
            timeout: Duration::from_secs(60),
            no_wait: false,
        },
    )
    .await
    .unwrap();
    match submitted {
        Submitted::Done(outcome) => assert!(outcome.ok, "{outcome:?}"),
        other => panic!("{other:?}"),
    }
    let ticks = handle
        .call(|s: &mut Counting| Box::pin(async move { s.ticks }))
        .await
        .unwrap();
    assert_eq!(ticks, 1, "served before the second tick");

    stop_tx.send(()).unwrap();
    let driven = task.await.unwrap();
    let summary = driven.summary.unwrap();
    assert_eq!(summary.ended, "interrupted");
    assert_eq!((summary.ticks, summary.commands), (1, 1));
}

/// A tick that fails (here: the store is closed under a running bot, so its snapshot cannot be
/// written) ends the loop with the error, in every mode, instead of trading on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_error_ends_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(config(dir.path(), None), lease).await.unwrap();
    let mut started = host.start(&mut bots).await.unwrap();
    let first = started.market.next().await.unwrap();
    driver::observe(&mut bots, &first).await.unwrap();
    let cfg = BotConfig::new("b", "BTC=50,ETH=50", "threshold:1", Decimal::from(1000)).unwrap();
    let id = bots.rt.create(cfg).await.unwrap();
    bots.rt.deploy(id).await.unwrap();
    host.store.close().await;
    let opts = DriveOptions {
        until_ms: Some(first.time_ms + 48 * HOUR),
        ..Default::default()
    };
    let r = driver::drive(
        &mut bots,
        Some(&host),
        Some(started.market),
        None,
        std::future::pending(),
        opts,
    )
    .await;
    match r {
        Err(
            NodeError::Bot {
                context: "tick", ..
            }
            | NodeError::Exchange { .. },
        ) => {}
        other => panic!("expected the tick's error, got {other:?}"),
    }
}
