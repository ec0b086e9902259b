//! Bots on a real venue (Binance, OKX or Gate: [`crate::VENUE`]) under the simulator's faults, each
//! in that venue's words, a rebalance's orders through the runtime's placement and lookup rounds: a
//! 5xx on a placement is settled by lookup (not sent, past Binance's lookup window) and never
//! re-sent; a 429's Retry-After is waited out through the clock, then the same client id sent once;
//! a 418 ban longer than the runtime waits sends nothing (no order, lookup or price read) until it
//! lifts, then a fresh plan trades under new ids; a skewed venue clock (-1021) is met by one
//! resync; an order Binance does not find yet (-2013) is looked up again until found, its fill
//! applied; a rejected placement leaves nothing and the next plan trades under new ids; a placement
//! that times out after the venue took it (the `[venue] timeout`) is found by client id with its
//! fill, never re-sent; a slow venue is waited for; partial fills are applied and the remainder
//! bought on later ticks, never sold; a halted symbol gets no order and the bot says why; a halt
//! begun since the last read of the statuses stops the rebalance at the refused buy, never retried,
//! and suspends the bot until a read shows trading again. Each ends with unique client ids and the
//! ledger equal to the account.

use crate::common::*;

#[tokio::test]
async fn a_5xx_on_a_placement_is_settled_by_lookup_as_not_sent_and_never_re_sent() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    // BTC +30%: the rebalance's sell meets an HTTP 500 (-1000): the venue took nothing, but the
    // connector cannot know; the order is unknown, not re-sent.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = tick_with(
        &mut n,
        &sim,
        Faults {
            server_errors: 1,
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let lost: Vec<_> = stored_orders(&n)
        .await
        .into_iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Pending)
        .collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    let lost = lost[0].client_id.clone();
    assert_eq!(sim.paper().account().await.orders.len(), deployed_orders);

    // Inside Binance's lookup window "not found" proves nothing: it stays pending.
    n.tick().await;
    assert_eq!(
        n.host.store.order(&lost).await.unwrap().unwrap().status,
        smartfolio_store::OrderState::Pending
    );
    // Past the window, the lookup (order, open orders, fills) settles it as never sent; the
    // bot plans afresh under new client ids.
    n.ahead.store(
        smartfolio_exchange::LookupPolicy::DEFAULT_WINDOW_MS + 1_000,
        Ordering::SeqCst,
    );
    n.tick().await;
    assert_eq!(
        n.host.store.order(&lost).await.unwrap().unwrap().status,
        smartfolio_store::OrderState::NotSent
    );
    n.tick().await;
    let orders = sim.paper().account().await.orders;
    let lost = VENUE.at_venue(&lost);
    assert!(orders.iter().all(|o| o.client_id != lost), "{orders:?}");
    assert!(orders.len() > deployed_orders, "the fresh rebalance traded");
    assert_client_ids_unique(&sim).await;
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    assert!(
        stored_orders(&n)
            .await
            .iter()
            .all(|o| o.status != smartfolio_store::OrderState::Pending)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_429_on_a_placement_is_waited_out_through_the_clock_then_sent_once() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let t = n.market.next().await.unwrap();
    sim.set_faults(Faults {
        rate_limited: Some(smartfolio_sim::RateLimitFault {
            status: 429,
            times: 1,
            retry_after_s: 1,
        }),
        ..Faults::default()
    })
    .unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_eq!(sim.faults(), Faults::default(), "the 429 was taken");
    // The placement round waited Retry-After on the clock before sending the same client id
    // again: the clock moved past the tick by at least that.
    assert!(
        n.bots.clock.now_ms() >= t.time_ms + 1_000,
        "{} < {} + 1000",
        n.bots.clock.now_ms(),
        t.time_ms
    );
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_skewed_venue_clock_is_met_by_one_resync_and_the_rebalance_goes_through() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();
    let offset = n.host.connector.as_ref().unwrap().clock_offset_ms();

    // The venue's clock jumps ahead beyond its window (45 s: beyond OKX's 30 s too; 90 s on
    // Gate, whose window is 60 s): the next signed request is refused (-1021, OKX 50102, Gate
    // REQUEST_EXPIRED), the connector measures the offset again and signs once more.
    let skew = VENUE.skew_beyond_window_ms();
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let t = n.market.next().await.unwrap();
    sim.set_faults(Faults {
        clock_skew_ms: skew,
        ..Faults::default()
    })
    .unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let now = n.host.connector.as_ref().unwrap().clock_offset_ms();
    assert!(
        now.is_some_and(|o| o >= skew - 1_000) && now != offset,
        "{offset:?} → {now:?}"
    );
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn orders_binance_does_not_find_yet_are_looked_up_again_and_their_fills_applied() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    // Every placement is taken, but the next two lookups of it answer -2013: not found yet
    // is not "never sent".
    sim.set_faults(Faults {
        not_found_after_order: 2,
        ..Faults::default()
    })
    .unwrap();
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_eq!(pending_orders(&n).await, 1, "the sell waits for its lookup");
    let mut ticks = 1;
    while pending_orders(&n).await > 0 {
        assert!(ticks < 10, "still pending after {ticks} ticks");
        n.tick().await;
        ticks += 1;
    }
    // Found on a later lookup: its fill is applied (the ledger is the account again), and the
    // rebalance, whose sell the tick could not see filled, is closed as interrupted.
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    let rebalances = n.host.store.rebalances(n.bot().id).await.unwrap();
    assert_eq!(rebalances.last().unwrap().status, "interrupted");
    // The bot owes a fresh rebalance, planned from its ledger: the buy, under a new id.
    sim.set_faults(Faults::default()).unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_rejected_placement_leaves_nothing_and_the_next_plan_trades_under_new_ids() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.paper().account().await.orders.len();

    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    tick_with(
        &mut n,
        &sim,
        Faults {
            rejects: 1,
            ..Faults::default()
        },
    )
    .await;
    let rejected: Vec<_> = stored_orders(&n)
        .await
        .into_iter()
        .filter(|o| o.status == smartfolio_store::OrderState::Rejected)
        .collect();
    // The sell took the reject. OKX lists no minimum notional (its minimum is minSz), so the
    // buy the runtime sizes from no proceeds reaches the venue there, which refuses it for its
    // size (the engine's 5 USDT minimum); Binance's NOTIONAL filter and Gate's
    // min_quote_amount keep it from being sent.
    let (sells, others): (Vec<_>, Vec<_>) = rejected.into_iter().partition(|o| o.side == "sell");
    assert_eq!(sells.len(), 1, "{sells:?}");
    let rejected = sells;
    match VENUE {
        Venue::Binance | Venue::Gate => assert!(others.is_empty(), "{others:?}"),
        Venue::Okx => assert!(
            others.iter().all(|o| o
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("min_size"))),
            "{others:?}"
        ),
    }
    assert_eq!(sim.paper().account().await.orders.len(), deployed_orders);
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;

    // The drift is still there: the next plan trades, under new client ids.
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let orders = sim.paper().account().await.orders;
    assert_eq!(orders.len(), deployed_orders + 2, "{orders:?}");
    let rejected = VENUE.at_venue(&rejected[0].client_id);
    assert!(orders.iter().all(|o| o.client_id != rejected), "{orders:?}");
    assert_client_ids_unique(&sim).await;
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_placement_that_times_out_after_the_venue_took_it_is_found_by_client_id_not_re_sent() {
    let (sim, server) = simulator().await;
    let venue = VenueConfig {
        timeouts: Timeouts {
            request_ms: 300,
            connect_ms: 300,
        },
        ..venue_config(&server, keys(KEY, SECRET))
    };
    let mut n = deployed_on(venue).await;
    // The setting reached the connector's HTTP client (Binance's shows its configuration).
    if let Some(b) = &n.host.binance {
        let client = b.client().config().clone();
        assert_eq!(
            (client.timeout, client.connect_timeout),
            (Duration::from_millis(300), Duration::from_millis(300))
        );
    }
    // BTC +30%: the sell is taken and filled at the venue, but its answer never comes. The
    // client gives up after its timeout (an unknown outcome).
    accepted_sell_is_found_by_client_id(
        &mut n,
        &sim,
        Faults {
            hang_after_order: 1,
            ..Faults::default()
        },
    )
    .await;
    server.shutdown().await;
}

/// BTC +30% with `faults` meeting the sell after the venue took and filled it: the lookup by
/// client id finds the order filled, its fill is applied and the buy follows; the sell reached
/// the venue once and the rebalance completes.
async fn accepted_sell_is_found_by_client_id(n: &mut Node, sim: &Simulator, faults: Faults) {
    let deployed_orders = sim.client_ids().await.0;
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = tick_with(n, sim, faults).await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let orders = stored_orders(n).await;
    let sell = orders.iter().rev().find(|o| o.side == "sell").unwrap();
    assert_eq!(
        sell.status,
        smartfolio_store::OrderState::Filled,
        "{sell:?}"
    );
    assert!(sell.filled_quantity > Decimal::ZERO);
    assert_one_sell_and_buy(n, sim, deployed_orders).await;
    let rebalances = n.host.store.rebalances(n.bot().id).await.unwrap();
    assert_eq!(rebalances.last().unwrap().status, "completed");
}

#[tokio::test]
async fn an_unknown_outcome_answer_is_settled_by_client_id_with_its_fill_never_re_sent() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    // The sell is taken and filled, and the venue answers that it does not know the outcome
    // (Binance -1007, OKX 50004).
    accepted_sell_is_found_by_client_id(
        &mut n,
        &sim,
        Faults {
            unknown_after_order: 1,
            ..Faults::default()
        },
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_venue_is_waited_for_and_each_order_sent_once() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.client_ids().await.0;

    // Every answer comes 50 ms late: the rebalance waits for them, nothing is sent twice.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let t = n.market.next().await.unwrap();
    let slow = Faults {
        latency_ms: 50,
        ..Faults::default()
    };
    sim.set_faults(slow.clone()).unwrap();
    let r = driver::step(&mut n.bots, &t).await.unwrap();
    assert_eq!(sim.faults(), slow, "latency is not counted down");
    sim.set_faults(Faults::default()).unwrap();
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn partial_fills_are_applied_and_the_remainder_bought_on_later_ticks_never_sold() {
    // The venue's book fills at most 100 USDT of an order per price; a market order's rest
    // expires.
    let (sim, server) = simulator_with(Faults {
        partial_fill_quote: Some(dec!(100)),
        ..Faults::default()
    })
    .await;
    let mut n = node(&server).await;
    n.tick().await;
    n.run(Request::Create {
        spec: Box::new(spec()),
    })
    .await;
    // The deploy's buys of 500 each filled 100 each: what filled is in the ledger, no more.
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    let cash = |n: &Node| n.bot().holdings.get("USDT").copied().unwrap_or_default();
    assert!(cash(&n) > dec!(700), "{:?}", n.bot().holdings);

    // The remainder: every tick sees the bot off target and buys again, until it is within its
    // 5-point threshold; the ledger is the account after each tick.
    let mut ticks = 0;
    loop {
        let r = n.tick().await;
        assert_ledger_is_account(&n, &sim, dec!(1000)).await;
        if r.rebalanced == 0 {
            break;
        }
        ticks += 1;
        assert!(ticks < 12, "still rebalancing after {ticks} ticks");
    }
    assert!(ticks >= 2, "the remainder took more ticks: {ticks}");
    assert!(cash(&n) < dec!(100), "{:?}", n.bot().holdings);
    // Only buys: the plan never called for a sell, and none was sent.
    let sides = venue_sides(&sim).await;
    assert!(
        sides.iter().all(|s| *s == smartfolio_exchange::Side::Buy),
        "{sides:?}"
    );
    assert_client_ids_unique(&sim).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_halted_symbol_gets_no_order_the_bot_says_why_and_nothing_is_sold() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.client_ids().await.0;
    let before = account(&sim).await;

    // ETH is halted while BTC's rise calls for selling BTC and buying ETH. Once the runtime has
    // read the statuses again (every minute of its clock), no order is sent for either (selling
    // BTC alone would leave the bot off target in cash), and the bot says why.
    sim.set_faults(Faults {
        halted: vec!["ETH".into()],
        ..Faults::default()
    })
    .unwrap();
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let refresh = n.bots.rt.instrument_refresh_ms;
    n.ahead.store(refresh + 1_000, Ordering::SeqCst);
    for _ in 0..2 {
        let r = n.tick().await;
        assert_eq!(r.rebalanced, 0, "{r:?}");
    }
    let reason = suspended_reason(&n);
    assert!(reason.contains("ETH is halted"), "{reason}");
    assert_eq!(sim.client_ids().await.0, deployed_orders);
    assert_eq!(account(&sim).await, before);

    // Trading again, seen on the next read of the statuses: the bot resumes and rebalances, a
    // sell and a buy once each.
    sim.set_faults(Faults::default()).unwrap();
    n.ahead.store(2 * (refresh + 1_000), Ordering::SeqCst);
    let mut ticks = 0;
    while n.tick().await.rebalanced == 0 {
        ticks += 1;
        assert!(ticks < 5, "no rebalance after the halt lifted");
    }
    assert_eq!(n.bot().state.status.word(), "running");
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_halt_begun_since_the_last_status_read_stops_the_rebalance_at_the_refused_buy() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.client_ids().await.0;

    // ETH halts after the runtime's last read of the statuses (the clock stays within the
    // minute between reads, so the runtime still takes ETH as trading) while BTC's rise calls
    // for selling BTC and buying ETH. The sell goes through; the venue refuses the ETH buy
    // ("Market is closed."): the runtime takes ETH as halted at once and the bot suspends.
    sim.set_faults(Faults {
        halted: vec!["ETH".into()],
        ..Faults::default()
    })
    .unwrap();
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    let reason = suspended_reason(&n);
    assert!(reason.contains("ETH is halted"), "{reason}");
    let rebalance: Vec<_> = stored_orders(&n)
        .await
        .into_iter()
        .filter(|o| o.rebalance_id > 1)
        .collect();
    assert_eq!(rebalance.len(), 2, "{rebalance:?}");
    let sell = rebalance.iter().find(|o| o.side == "sell").unwrap();
    assert_eq!(sell.base, "BTC");
    assert!(sell.filled_quantity > Decimal::ZERO && sell.filled_quantity <= sell.quantity);
    let buy = rebalance.iter().find(|o| o.side == "buy").unwrap();
    assert_eq!(buy.base, "ETH");
    assert_eq!(
        buy.status,
        smartfolio_store::OrderState::Rejected,
        "{buy:?}"
    );
    assert_eq!(
        venue_sides(&sim).await[deployed_orders..],
        [smartfolio_exchange::Side::Sell]
    );
    assert_client_ids_unique(&sim).await;
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;

    // While the halt holds, ticks within the minute send no order: the buy is never retried.
    let held = account(&sim).await;
    let stored = stored_orders(&n).await.len();
    for _ in 0..3 {
        let r = n.tick().await;
        assert_eq!(r.rebalanced, 0, "{r:?}");
    }
    assert!(suspended_reason(&n).contains("ETH is halted"));
    assert_eq!(stored_orders(&n).await.len(), stored);
    assert_eq!(account(&sim).await, held);

    // Trading again, seen on the next read of the statuses: the bot resumes and buys the ETH
    // it is short of, under a new client id.
    sim.set_faults(Faults::default()).unwrap();
    n.ahead
        .store(n.bots.rt.instrument_refresh_ms + 1_000, Ordering::SeqCst);
    let mut ticks = 0;
    while n.tick().await.rebalanced == 0 {
        ticks += 1;
        assert!(ticks < 5, "no rebalance after the halt lifted");
    }
    assert_eq!(n.bot().state.status.word(), "running");
    let sides = venue_sides(&sim).await;
    assert_eq!(sides.len(), deployed_orders + 2, "{sides:?}");
    assert_eq!(sides[deployed_orders + 1], smartfolio_exchange::Side::Buy);
    let stored = stored_orders(&n).await;
    let mut ids: Vec<&str> = stored.iter().map(|o| o.client_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), stored.len(), "a client id stored twice");
    assert_client_ids_unique(&sim).await;
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_ip_ban_418_sends_nothing_until_it_lifts_then_the_plan_trades_under_new_ids() {
    let (sim, server) = simulator().await;
    let mut n = deployed(&server).await;
    let deployed_orders = sim.client_ids().await.0;

    // The rebalance's sell meets a 418 with Retry-After 60 s, longer than the runtime waits
    // inline: the order is not sent again now, and nothing reaches the venue.
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    let r = tick_with(
        &mut n,
        &sim,
        Faults {
            rate_limited: Some(smartfolio_sim::RateLimitFault {
                status: 418,
                times: 1,
                retry_after_s: 60,
            }),
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_eq!(sim.client_ids().await.0, deployed_orders);
    let refused: Vec<String> = stored_orders(&n)
        .await
        .into_iter()
        .filter(|o| o.rebalance_id > 1)
        .map(|o| o.client_id)
        .collect();
    assert_eq!(refused.len(), 1, "the buy waits for the sell: {refused:?}");

    // While the ban holds, ticks send nothing at all (no price read, no lookup, no order).
    let seen = sim.requests();
    for _ in 0..2 {
        n.tick().await;
    }
    assert_eq!(sim.requests(), seen, "a request was sent during the ban");

    // 61 s later the ban has lifted: the refused order is settled (the venue never had it) and
    // a fresh plan trades, under new client ids; the refused id never reaches the venue.
    n.ahead.store(61_000, Ordering::SeqCst);
    let mut ticks = 0;
    while n.tick().await.rebalanced == 0 {
        ticks += 1;
        assert!(ticks < 5, "no rebalance after the ban lifted");
    }
    assert!(sim.requests() > seen);
    let orders = sim.paper().account().await.orders;
    assert!(
        orders
            .iter()
            .all(|o| o.client_id != VENUE.at_venue(&refused[0])),
        "{orders:?}"
    );
    assert!(
        stored_orders(&n)
            .await
            .iter()
            .all(|o| o.status != smartfolio_store::OrderState::Pending)
    );
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}

/// A deployed bot whose rebalance's sell the venue took but did not find on its first lookup
/// (-2013): the order pending, looked up again. The orders before the rebalance.
async fn with_sell_pending(server: &RunningSim, sim: &Simulator) -> (Node, usize) {
    let mut n = deployed(server).await;
    let deployed_orders = sim.client_ids().await.0;
    sim.set_prices(&[("BTC", dec!(52000))]).await.unwrap();
    sim.set_faults(Faults {
        not_found_after_order: 1,
        ..Faults::default()
    })
    .unwrap();
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_eq!(pending_orders(&n).await, 1);
    sim.set_faults(Faults::default()).unwrap();
    (n, deployed_orders)
}

#[tokio::test]
async fn a_rate_limited_lookup_waits_out_retry_after_and_never_trips_the_breaker() {
    let (sim, server) = simulator().await;
    // The sell is taken, but its lookup answers -2013 once: it stays pending, looked up again.
    let (mut n, deployed_orders) = with_sell_pending(&server, &sim).await;

    // The next lookup meets a 429 with Retry-After 60 s (longer than the runtime waits inline).
    tick_with(
        &mut n,
        &sim,
        Faults {
            rate_limited: Some(smartfolio_sim::RateLimitFault {
                status: 429,
                times: 1,
                retry_after_s: 60,
            }),
            ..Faults::default()
        },
    )
    .await;
    // More ticks than the breaker's failures while the limit holds: no lookup is sent, none
    // counts as a failure of the venue, the bot is not suspended and its order stays pending.
    let seen = sim.requests();
    let breaker = n.bot().config.breaker_failures;
    for _ in 0..=breaker {
        n.tick().await;
    }
    assert_eq!(
        sim.requests(),
        seen,
        "a request was sent during the rate limit"
    );
    assert_eq!(n.bot().state.consecutive_failures, 0);
    assert_eq!(n.bot().state.status.word(), "running");
    assert_eq!(pending_orders(&n).await, 1);

    // Once Retry-After has passed, the lookup finds the sell filled; the bot trades on.
    n.ahead.store(61_000, Ordering::SeqCst);
    let mut ticks = 0;
    while pending_orders(&n).await > 0 {
        ticks += 1;
        assert!(ticks < 5, "still pending after {ticks} ticks");
        n.tick().await;
    }
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    assert_eq!(n.bot().state.status.word(), "running");
    server.shutdown().await;
}

#[tokio::test]
async fn a_rate_limit_during_the_start_is_waited_out_and_the_order_in_flight_settled_not_re_sent() {
    let (sim, server) = simulator().await;
    // The sell is taken, but its lookup answers -2013 once: pending when the daemon stops.
    let (n, deployed_orders) = with_sell_pending(&server, &sim).await;
    let dir = n.close();

    // The restart's first two requests are refused with 429, Retry-After 1 s: the start waits
    // each out and asks again, then recovers the sell by client id (found filled).
    sim.set_faults(Faults {
        rate_limited: Some(smartfolio_sim::RateLimitFault {
            status: 429,
            times: 2,
            retry_after_s: 1,
        }),
        ..Faults::default()
    })
    .unwrap();
    let (mut n, held) = open_node(&server, dir).await;
    assert_eq!(sim.faults(), Faults::default(), "both 429s were met");
    assert!(held.is_empty(), "{held:?}");
    assert_eq!(pending_orders(&n).await, 0, "the start settled the sell");
    assert_eq!(
        sim.client_ids().await.0,
        deployed_orders + 1,
        "the start placed nothing"
    );
    assert_ledger_is_account(&n, &sim, dec!(1000)).await;
    // The interrupted rebalance is planned afresh: the buy, under a new id.
    let r = n.tick().await;
    assert_eq!(r.rebalanced, 1, "{r:?}");
    assert_one_sell_and_buy(&n, &sim, deployed_orders).await;
    server.shutdown().await;
}
