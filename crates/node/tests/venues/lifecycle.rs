//! Bots on a real venue (Binance, OKX or Gate, the test binary's [`crate::VENUE`]) through the real
//! connector, against the local simulator speaking that venue on 127.0.0.1: the host built for
//! `venue.kind = binance`, `okx` or `gate` with a live market, a bot deployed with real orders, a
//! threshold rebalance, invest, withdraw and a stop that sells all; the bot's ledger equals the
//! simulator's account at each step and no client id is used twice. A venue that is down suspends
//! the bot (nothing is sold); a wrong key is refused with the venue's answer; the key never reaches
//! the database; ledgers the account does not back hold their bots. The faults are in `faults`, the
//! shared rig in `common`.

use crate::common::*;

#[tokio::test]
async fn a_bot_lives_its_whole_life_on_the_venue_through_the_connector() {
    let (sim, server) = simulator().await;
    let mut n = node(&server).await;
    let t = n.tick().await;
    assert_eq!(t.bots, 0);

    // Deploy with real orders.
    n.run(Request::Create {
        spec: Box::new(spec()),
    })
    .await;
    assert_eq!(n.bot().state.status.word(), "running");
    assert!(
        n.bot()
            .holdings
            .get("BTC")
            .is_some_and(|q| *q > Decimal::ZERO)
    );
    assert!(
        n.bot()
            .holdings
            .get("ETH")
            .is_some_and(|q| *q > Decimal::ZERO)
    );
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    let deployed_orders = assert_client_ids_unique(&sim).await;
    assert_eq!(deployed_orders, 2, "one buy per asset");
    // The bot's assets are read from the next tick on, beside market.assets.
    let t = n.market.next().await.unwrap();
    assert!(
        t.price("ETH").is_some() && t.price("BTC").is_some(),
        "{t:?}"
    );
    driver::step(&mut n.bots, &t).await.unwrap();

    // A threshold rebalance: BTC +30% is 6.5 points of drift, above 5.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;

    // Invest, withdraw.
    n.run(Request::Invest {
        bot: "live".into(),
        amount: Some(dec!(500)),
        coins: vec![],
    })
    .await;
    assert_ledger_is_account(&n, &sim, dec!(1500)).await;
    n.run(Request::Withdraw {
        bot: "live".into(),
        amount: dec!(300),
        overweights: false,
    })
    .await;
    assert_ledger_is_account(&n, &sim, dec!(1200)).await;

    // Stop, selling everything: what the ledger released is what the account holds beyond
    // the start minus the net invested.
    let id = n.bot().id;
    let report = n
        .bots
        .rt
        .stop(id, StopMode::SellAll, "end of the test")
        .await
        .unwrap();
    assert_eq!(n.bot().state.status.word(), "stopped");
    let released: BTreeMap<String, Decimal> = report.released.iter().cloned().collect();
    assert_account_is(&sim, &released, dec!(1200)).await;
    assert!(report.unsold.is_empty(), "{:?}", report.unsold);
    assert_client_ids_unique(&sim).await;

    // The key and the secret are nowhere in the data directory.
    drop(n.host);
    for entry in std::fs::read_dir(&n.dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        for s in [KEY, SECRET] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} found in the data directory"
            );
        }
    }
    server.shutdown().await;
}

/// Calls per rebalance: each order is placed once, looked up once and its fills read once
/// (the fills by the venue's id the lookup found, not by a second lookup).
#[tokio::test]
async fn a_rebalance_looks_each_order_up_once_and_reads_its_fills_once() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    // The bot's assets are read from the next tick on.
    n.tick().await;
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    sim.take_calls();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let calls = sim.take_calls();
    let count = |endpoint: &str| calls.get(endpoint).map_or(0, |c| c.0);
    let [place, lookup, fills] = VENUE.order_endpoints();
    assert_eq!(count(place), 2, "a sell and a buy: {calls:?}");
    assert_eq!(count(lookup), 2, "one lookup per order: {calls:?}");
    assert_eq!(count(fills), 2, "one fills read per order: {calls:?}");
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_venue_that_is_down_suspends_the_bot_and_nothing_is_sold() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let orders = sim.paper().account().await.orders.len();
    let before = account(&sim).await;

    // The venue answers nothing but errors; prices age past the bot's stale limit.
    sim.set_faults(Faults {
        server_errors: 1_000_000,
        ..Faults::default()
    })
    .unwrap();
    let r = n.tick().await;
    assert_eq!(r.suspended, 0, "a fresh price is still fresh");
    n.ahead
        .store(n.bot().config.max_tick_age_ms + 1_000, Ordering::SeqCst);
    let r = n.tick().await;
    assert_eq!(r.suspended, 1, "{r:?}");
    let reason = suspended_reason(&n);
    assert!(reason.contains("stale price"), "{reason}");
    // It stays suspended, and nothing was sent.
    n.tick().await;
    assert_eq!(n.bot().state.status.word(), "suspended");
    sim.set_faults(Faults::default()).unwrap();
    assert_eq!(sim.paper().account().await.orders.len(), orders);
    assert_eq!(account(&sim).await, before);

    // The venue is back: fresh prices resume the bot.
    n.tick().await;
    assert_eq!(n.bot().state.status.word(), "running");
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_or_secret_is_refused_with_the_venues_answer() {
    let (sim, server) = simulator().await;
    let (bad_key, bad_secret) = VENUE.bad_key_codes();
    for (key, secret, code) in [
        ("not-the-key", SECRET, bad_key),
        (KEY, "not-the-secret", bad_secret),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
        let cfg = node_config(dir.path(), venue_config(&server, keys(key, secret)));
        let (host, mut bots) = Host::open(cfg, lease).await.unwrap();
        let e = host.start(&mut bots).await.err().unwrap().to_string();
        assert!(e.contains(code), "{e}");
        assert!(!e.contains(secret) && !e.contains(SECRET), "{e}");

        let report = venue::check(&venue_config(&server, keys(key, secret)), &[])
            .await
            .unwrap();
        assert!(!report.ok);
        let problems = report.problems.join("; ");
        assert!(problems.contains(code), "{problems}");
        assert!(!problems.contains(SECRET), "{problems}");
    }

    // The right key: all is well, with the bots' instruments and their rules.
    let bots = vec![(
        "b".to_string(),
        "USDT".to_string(),
        vec!["BTC".to_string(), "ETH".to_string()],
    )];
    let good = venue_config(&server, keys(KEY, SECRET));
    let report = venue::check(&good, &bots).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert!(report.clock_offset_ms.is_some());
    assert_eq!(
        report.permissions.as_ref().map(|p| p.withdrawals),
        Some(false)
    );
    assert!(
        report
            .balances
            .iter()
            .any(|b| b.asset == "USDT" && b.free == START_USDT)
    );
    let btc = report.instruments.iter().find(|i| i.base == "BTC").unwrap();
    assert_eq!(btc.lot_step.as_deref(), Some("0.00001"));
    assert_eq!(btc.status.as_deref(), Some("trading"));
    let unlisted = vec![(
        "c".to_string(),
        "USDT".to_string(),
        vec!["DOGE".to_string()],
    )];
    let report = venue::check(&good, &unlisted).await.unwrap();
    assert!(
        !report.ok && report.problems[0].contains("DOGE"),
        "{:?}",
        report.problems
    );

    // A key that can withdraw: refused for trading unless allowed (where the venue tells).
    sim.set_key_can_withdraw(true);
    if !VENUE.shows_withdrawal_permission() {
        // Gate cannot show it: the check passes on what Gate does show, and trading starts.
        let report = venue::check(&good, &[]).await.unwrap();
        assert!(report.ok, "{:?}", report.problems);
        assert_eq!(
            report.permissions.as_ref().map(|p| p.spot_trading),
            Some(true)
        );
        server.shutdown().await;
        return;
    }
    let report = venue::check(&good, &[]).await.unwrap();
    assert!(
        !report.ok && report.problems[0].contains("withdraw"),
        "{:?}",
        report.problems
    );
    let allowed = VenueConfig {
        allow_withdrawal_keys: true,
        ..good.clone()
    };
    assert!(venue::check(&allowed, &[]).await.unwrap().ok);
    let dir = tempfile::tempdir().unwrap();
    let lease = Lease::take(dir.path(), Duration::ZERO).await.unwrap();
    let (host, mut bots) = Host::open(node_config(dir.path(), good.clone()), lease)
        .await
        .unwrap();
    let e = host.start(&mut bots).await.err().unwrap().to_string();
    assert!(e.contains("can withdraw"), "{e}");
    drop((host, bots));
    // A command run without a daemon checks the key the same way, before it trades.
    let dir = tempfile::tempdir().unwrap();
    let create = Request::Create {
        spec: Box::new(spec()),
    };
    let opts = smartfolio_node::SubmitOptions {
        timeout: Duration::from_secs(5),
        no_wait: false,
    };
    let e = smartfolio_node::submit(node_config(dir.path(), good), &create, opts)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("can withdraw"), "{e}");
    assert!(sim.paper().account().await.orders.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn on_start_ledgers_the_account_does_not_back_hold_their_bots_and_nothing_is_sold() {
    let (sim, server) = simulator().await;
    let n = deployed(&server).await;
    let btc = n.bot().holdings["BTC"];

    // While no daemon runs, someone sells part of the account's BTC by hand.
    let dir = n.close();
    sim.paper().withdraw("BTC", btc / dec!(2)).await.unwrap();
    let orders = sim.paper().account().await.orders.len();
    let before = account(&sim).await;

    let (mut n, held) = open_node(&server, dir).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0].1.contains("BTC") && held[0].1.contains("account"),
        "{held:?}"
    );
    let reason = suspended_reason(&n);
    assert!(reason.contains("reconciliation"), "{reason}");
    // The hold is an event, as every change of status is (the server's live events).
    let events = n.bots.rt.take_events();
    assert!(
        events.iter().any(|e| matches!(
            &e.kind,
            EventKind::StateChanged { from: "running", to: "suspended", reason: Some(r) }
                if r.contains("reconciliation")
        )),
        "{events:?}"
    );
    // Fresh prices and a drift that would trigger a rebalance: still nothing trades.
    sim.set_prices(&[("BTC", dec!(60000))]).await.unwrap();
    for _ in 0..3 {
        let r = n.tick().await;
        assert_eq!((r.resumed, r.rebalanced), (0, 0), "{r:?}");
    }
    assert_eq!(n.bot().state.status.word(), "suspended");
    assert_eq!(sim.paper().account().await.orders.len(), orders);
    assert_eq!(account(&sim).await, before);

    // A restart keeps the hold (it is stored), without holding the bot twice.
    let dir = n.close();
    let (mut n, held) = open_node(&server, dir).await;
    assert!(held.is_empty(), "{held:?}");
    n.tick().await;
    assert_eq!(n.bot().state.status.word(), "suspended");
    // The user resumes it: the hold is lifted.
    n.run(Request::Resume { bot: "live".into() }).await;
    assert!(n.bot().state.held.is_none());
    server.shutdown().await;
}
