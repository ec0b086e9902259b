//! Execution styles (`[execution]`): market, limit at the touch, post-only maker.

mod common;

use common::*;
use rust_decimal_macros::dec;
use smartfolio_bot::{BotError, ExecStyle};

#[tokio::test]
async fn maker_is_refused_on_an_instrument_without_post_only_naming_field_value_and_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let mut paper = paper_config(dec!(0.001), None);
    for i in &mut paper.instruments {
        if i.base == "ETH" {
            i.post_only = false;
        }
    }
    let mut env = Env::open(dir, paper, Some(dec!(10000))).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(10))])
        .await;
    let mut c = cfg("m", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.execution.style = ExecStyle::Maker;
    let e = env.rt.create(c.clone()).await.unwrap_err();
    let BotError::Invalid(v) = &e else {
        panic!("{e}")
    };
    assert_eq!(
        (v.field.as_str(), v.value.as_str()),
        ("execution.style", "maker")
    );
    assert!(
        v.allowed.contains("ETH-USDT") && v.allowed.contains("market or limit"),
        "{e}"
    );
    // Limit orders need no post-only; nor does maker on a basket that lists it everywhere.
    c.execution.style = ExecStyle::Limit;
    env.rt.create(c).await.unwrap();
    let mut c = cfg("m2", "BTC=50,SOL=50", "threshold:5", dec!(1000));
    c.execution.style = ExecStyle::Maker;
    env.prices(T0, &[("BTC", dec!(100)), ("SOL", dec!(5))])
        .await;
    env.rt.create(c).await.unwrap();
}

#[tokio::test]
async fn a_bad_execution_setting_is_refused_at_create() {
    let mut env = Env::new(dec!(0.001), None, dec!(10000)).await;
    env.prices(T0, &[("BTC", dec!(100)), ("ETH", dec!(10))])
        .await;
    let mut c = cfg("m", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.execution.limit_timeout_ms = 0;
    let e = env.rt.create(c).await.unwrap_err().to_string();
    assert!(
        e.contains("execution.limit_timeout") && e.contains("0 ms"),
        "{e}"
    );
    let mut c = cfg("m", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.execution.max_slippage_bps = Some(dec!(-1));
    let e = env.rt.create(c).await.unwrap_err().to_string();
    assert!(
        e.contains("execution.max_slippage_bps") && e.contains("-1"),
        "{e}"
    );
}

// ---- limit and maker execution on a paper book, on a clock the test steps ----

use rust_decimal::Decimal;
use smartfolio_bot::{Fallback, RebalanceSummary, Runtime, SteppedClock};
use smartfolio_exchange::paper::{BookModel, Candle, PaperExchange};
use smartfolio_exchange::{Exchange, ExchangeError, PriceTick};
use smartfolio_store::BotId;
use smartfolio_store::{SqliteStore, Store};
use std::sync::Arc;

struct Book {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    ex: Arc<PaperExchange>,
    clock: Arc<SteppedClock>,
    rt: Runtime,
}

impl Book {
    async fn open(dir: tempfile::TempDir, fresh: bool, t: i64) -> Book {
        Book::open_with(dir, fresh, t, None).await
    }

    /// [`Book::open`] with every instrument's `rules`.
    async fn open_with(
        dir: tempfile::TempDir,
        fresh: bool,
        t: i64,
        rules: Option<smartfolio_core::InstrumentRules>,
    ) -> Book {
        Book::open_full(dir, fresh, t, rules, None, false).await
    }

    /// [`Book::open_with`], every instrument's book trading `daily_volume` of quote a day as
    /// the venue reports it (None: the venue does not say).
    async fn open_full(
        dir: tempfile::TempDir,
        fresh: bool,
        t: i64,
        rules: Option<smartfolio_core::InstrumentRules>,
        daily_volume: Option<Decimal>,
        volume_fails: bool,
    ) -> Book {
        let paper = paper_config(dec!(0.001), rules)
            .with_book(BookModel {
                spread_bps: dec!(2),
                level_bps: dec!(1),
                depth: dec!(100000),
                levels: 10,
                daily_volume,
            })
            .with_maker_fee_rate(dec!(0.0008));
        let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let ex = Arc::new(PaperExchange::open(paper, store.clone()).await.unwrap());
        if fresh {
            ex.deposit("USDT", dec!(10000)).await.unwrap();
        }
        let clock = Arc::new(SteppedClock::new(t));
        let venue: Arc<dyn Exchange> = if volume_fails {
            Arc::new(VolumeFails(ex.clone()))
        } else {
            ex.clone()
        };
        let mut rt = Runtime::new(store.clone(), venue, clock.clone(), "main");
        rt.instrument_refresh_ms = 1;
        rt.load().await.unwrap();
        Book {
            _dir: dir,
            store,
            ex,
            clock,
            rt,
        }
    }

    async fn settle_rounds(&mut self) {
        self.rt.settle_rounds(&self.clock).await.unwrap();
    }

    /// A bar: resting orders fill on its range, the clock moves to its time (waits that end
    /// then end), and the runtime ticks on its close.
    async fn bar(&mut self, t: i64, bars: &[(&str, Decimal, Decimal, Decimal)]) {
        // A bar with a range sets its book's spread from it; a flat one leaves the book.
        let (ranged, flat): (Vec<_>, Vec<_>) = bars.iter().partition(|(_, h, l, _)| h > l);
        let candles: Vec<Candle> = ranged
            .iter()
            .map(|(a, h, l, c)| Candle {
                asset: a.to_string(),
                high: *h,
                low: *l,
                close: *c,
            })
            .collect();
        let tick = PriceTick {
            time_ms: t,
            prices: flat
                .iter()
                .map(|(a, _, _, c)| (a.to_string(), *c))
                .collect(),
        };
        self.ex.update_prices(&tick).await.unwrap();
        self.ex.update_candles(t, &candles).await.unwrap();
        self.clock.set(t);
        self.settle_rounds().await;
        let tick = PriceTick {
            time_ms: t,
            prices: bars
                .iter()
                .map(|(a, _, _, c)| (a.to_string(), *c))
                .collect(),
        };
        self.rt.on_tick(&tick).await.unwrap();
        self.settle_rounds().await;
    }

    async fn summaries(&self, id: BotId) -> Vec<RebalanceSummary> {
        self.store
            .rebalances(id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| smartfolio_bot::RebalanceView::from(r).summary)
            .collect()
    }
}

fn flat(p: Decimal) -> (Decimal, Decimal, Decimal) {
    (p, p, p)
}

#[tokio::test]
async fn limit_legs_rest_at_the_touch_fill_as_maker_reprice_and_fall_back_to_market() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Book::open(dir, true, T0).await;
    let (bh, bl, bc) = flat(dec!(100));
    let (eh, el, ec) = flat(dec!(10));
    b.bar(T0, &[("BTC", bh, bl, bc), ("ETH", eh, el, ec)]).await;
    let mut c = cfg("lim", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.fee_rate = dec!(0.001);
    c.execution.style = ExecStyle::Limit;
    c.execution.reprices = 1;
    c.execution.fallback = Fallback::Market;
    let id = b.rt.create(c).await.unwrap();
    // The deploy's buys are worked at once: each rests at its bid, BTC at 99.99 and ETH at
    // 9.999 (a 2 bp spread around 100 and 10).
    b.bar(T0 + MIN, &[("BTC", bh, bl, bc), ("ETH", eh, el, ec)])
        .await;
    let mut open = b.ex.open_orders().await.unwrap();
    open.sort_by(|x, y| x.base.cmp(&y.base));
    let resting: Vec<_> = open.iter().map(|o| (o.base.as_str(), o.kind)).collect();
    let limit = |price| smartfolio_exchange::OrderKind::Limit { price };
    assert_eq!(
        resting,
        [("BTC", limit(dec!(99.99))), ("ETH", limit(dec!(9.999)))],
        "{open:?}"
    );
    // Trades go through BTC's bid within the timeout: it fills as maker; ETH's does not: it is
    // canceled after the timeout and re-priced (a new client id).
    b.bar(
        T0 + 2 * MIN,
        &[
            ("BTC", dec!(100.1), dec!(99.9), dec!(100)),
            ("ETH", eh, el, ec),
        ],
    )
    .await;
    let open = b.ex.open_orders().await.unwrap();
    if open.is_empty() {
        panic!(
            "{:#?} {:#?}",
            b.summaries(id).await,
            b.ex.account().await.orders
        );
    }
    assert_eq!((open.len(), open[0].base.as_str()), (1, "ETH"));
    // The re-priced order does not fill either: after the timeout the rest goes at market.
    b.bar(T0 + 3 * MIN, &[("BTC", bh, bl, bc), ("ETH", eh, el, ec)])
        .await;
    assert!(b.ex.open_orders().await.unwrap().is_empty());
    b.bar(T0 + 4 * MIN, &[("BTC", bh, bl, bc), ("ETH", eh, el, ec)])
        .await;
    assert!(b.ex.open_orders().await.unwrap().is_empty());
    assert!(!b.rt.executing());

    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "completed", "{s:?}");
    let btc = s.legs.iter().find(|l| l.asset == "BTC").unwrap();
    let x = btc.execution.as_ref().unwrap();
    assert_eq!(
        (btc.outcome.as_str(), x.style.as_str()),
        ("filled", "limit")
    );
    assert_eq!((x.orders.len(), x.reprices, x.maker_share), (1, 0, dec!(1)));
    assert_eq!(x.average_price, Some(dec!(99.99)));
    assert_eq!(
        x.slippage_bps,
        Some(dec!(-1)),
        "a bid below the mid is a gain"
    );
    assert_eq!(btc.fees, btc.filled_quantity * dec!(0.0008) * dec!(99.99));
    let eth = s.legs.iter().find(|l| l.asset == "ETH").unwrap();
    let x = eth.execution.as_ref().unwrap();
    assert_eq!(eth.outcome, "filled");
    let kinds: Vec<&str> = x.orders.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(kinds, ["limit 9.999", "limit 9.999", "market"]);
    assert_eq!((x.reprices, x.maker_share), (1, dec!(0)));
    assert!(x.slippage_bps.unwrap() > dec!(0), "{x:?}");
    // Three orders for ETH, one for BTC, each under its own client id.
    let ids = b.venue_ids().await;
    assert_eq!(ids.len(), 4);
    assert_unique(&ids);
    // The ledger is the account (the bot holds it all, beside 9000 USDT never invested). The
    // account's 9001.x USDT keeps 24 decimals of Decimal's 28 digits, the bot's 1.x USDT 26:
    // the market fallback's quote buy (no lot step here) leaves digits beyond the 24th.
    let ledger = b.store.balances(id).await.unwrap();
    let account = b.ex.balances().await.unwrap();
    for (asset, q) in ledger {
        let held = account.iter().find(|a| a.asset == asset).unwrap().total();
        let outside = if asset == "USDT" { dec!(9000) } else { dec!(0) };
        assert!(
            (q - (held - outside)).abs() < dec!(1e-23),
            "{asset}: {q} {held}"
        );
    }
}

impl Book {
    async fn venue_ids(&self) -> Vec<String> {
        self.ex
            .account()
            .await
            .orders
            .iter()
            .map(|o| o.client_id.clone())
            .collect()
    }
}

impl Book {
    /// A crash: everything but the data directory is dropped (a resting order's round with
    /// it), then the store, the venue and a runtime are opened again and recover.
    async fn restart(self, t: i64) -> Book {
        let Book { _dir, store, .. } = self;
        store.close().await;
        drop(store);
        let mut b = Book::open(_dir, false, t).await;
        b.rt.recover().await.unwrap();
        b
    }
}

#[tokio::test]
async fn a_resting_order_survives_a_restart_found_by_client_id_and_canceled_then_replanned() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Book::open(dir, true, T0).await;
    let p = |btc, eth| [("BTC", btc, btc, btc), ("ETH", eth, eth, eth)];
    b.bar(T0, &p(dec!(100), dec!(10))).await;
    let mut c = cfg("lim", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.execution.style = ExecStyle::Maker;
    let id = b.rt.create(c).await.unwrap();
    b.bar(T0 + MIN, &p(dec!(100), dec!(10))).await;
    // Both buys rest at once.
    let resting = b.ex.open_orders().await.unwrap();
    assert_eq!(resting.len(), 2, "{resting:?}");
    assert!(
        resting.iter().all(|o| o.post_only),
        "maker orders are post-only"
    );

    let mut b = b.restart(T0 + 90_000).await;
    // Each found by its client id at the venue and canceled; the rebalance is closed as
    // interrupted.
    assert!(b.ex.open_orders().await.unwrap().is_empty());
    let stored = b.store.orders(id).await.unwrap();
    for r in &resting {
        let o =
            b.ex.order(&r.base, "USDT", &r.client_id)
                .await
                .unwrap()
                .found()
                .unwrap();
        assert_eq!(o.status, smartfolio_exchange::OrderStatus::Canceled);
        let rec = stored.iter().find(|s| s.client_id == r.client_id).unwrap();
        assert!(rec.status.is_final(), "{rec:?}");
    }
    assert_eq!(b.summaries(id).await[0].status, "interrupted");
    // The next tick plans again from the ledger under new client ids; it completes as maker
    // once trades go through the bids.
    b.bar(T0 + 2 * MIN, &p(dec!(100), dec!(10))).await;
    b.bar(
        T0 + 3 * MIN,
        &[
            ("BTC", dec!(100.05), dec!(99.9), dec!(100)),
            ("ETH", dec!(10.005), dec!(9.99), dec!(10)),
        ],
    )
    .await;
    b.bar(
        T0 + 4 * MIN,
        &[
            ("BTC", dec!(100.05), dec!(99.9), dec!(100)),
            ("ETH", dec!(10.005), dec!(9.99), dec!(10)),
        ],
    )
    .await;
    let ids = b.venue_ids().await;
    assert_unique(&ids);
    assert!(ids.len() >= 3, "{ids:?}");
    let s = b.summaries(id).await;
    let last = s.last().unwrap();
    assert_eq!(last.status, "completed", "{last:?}");
    assert!(
        last.legs
            .iter()
            .all(|l| l.execution.as_ref().unwrap().maker_share == dec!(1))
    );
    assert!(b.ex.open_orders().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_slippage_guard_stops_new_orders_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Book::open(dir, true, T0).await;
    let p = |btc, eth| [("BTC", btc, btc, btc), ("ETH", eth, eth, eth)];
    b.bar(T0, &p(dec!(100), dec!(10))).await;
    let mut c = cfg("g", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.execution.style = ExecStyle::Limit;
    c.execution.reprices = 0;
    c.execution.max_slippage_bps = Some(dec!(50));
    let id = b.rt.create(c).await.unwrap();
    b.bar(T0 + MIN, &p(dec!(100), dec!(10))).await;
    // Both buys rest at their bids. BTC's is traded through and fills as maker; ETH's is not,
    // and ETH moves 2% past the plan: its rest is not sent again (the guard reads the venue's
    // touch).
    assert_eq!(b.ex.open_orders().await.unwrap().len(), 2);
    let moved = [
        ("BTC", dec!(100.1), dec!(99.9), dec!(100)),
        ("ETH", dec!(10.2), dec!(10.2), dec!(10.2)),
    ];
    b.bar(T0 + 2 * MIN, &moved).await;
    b.bar(T0 + 3 * MIN, &p(dec!(100), dec!(10.2))).await;
    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "aborted", "{s:?}");
    let eth = s.legs.iter().find(|l| l.asset == "ETH").unwrap();
    assert_eq!(
        (eth.outcome.as_str(), eth.filled_quantity),
        ("skipped", dec!(0))
    );
    assert!(
        eth.detail.contains("moved 200 bps") && eth.detail.contains("max_slippage_bps 50"),
        "{}",
        eth.detail
    );
    assert!(s.note.as_deref().unwrap().contains("ETH moved"), "{s:?}");
    let btc = s.legs.iter().find(|l| l.asset == "BTC").unwrap();
    assert_eq!(btc.outcome, "filled");
    // Only each leg's first order reached the venue in that rebalance; after the cooldown a
    // tick plans ETH again from the ledger at its new price, under a new rebalance and client
    // id.
    assert_eq!(b.venue_ids().await.len(), 2);
    b.bar(T0 + 7 * MIN, &p(dec!(100), dec!(10.2))).await;
    let orders = b.ex.account().await.orders;
    let second: Vec<&str> = orders
        .iter()
        .filter(|o| o.client_id.starts_with("sf1r2"))
        .map(|o| o.client_id.as_str())
        .collect();
    assert!(!second.is_empty(), "{orders:?}");
    assert_eq!(
        b.summaries(id).await.len(),
        1,
        "the second rebalance is under way"
    );
}

impl Book {
    /// The venue's orders: (client id, asset, quantity, placed at).
    async fn venue_orders(&self) -> Vec<(String, String, Decimal, i64)> {
        self.ex
            .account()
            .await
            .orders
            .iter()
            .map(|o| {
                let q = o.size.base().unwrap_or(o.filled_quantity);
                (o.client_id.clone(), o.base.clone(), q, o.created_ms)
            })
            .collect()
    }

    /// The bot's ledger is the account: `outside` (never invested) aside.
    async fn assert_ledger_is_account(&self, id: BotId, outside: Decimal) {
        let ledger = self.store.balances(id).await.unwrap();
        let account = self.ex.balances().await.unwrap();
        for (asset, q) in ledger {
            let held = account.iter().find(|a| a.asset == asset).unwrap().total();
            let aside = if asset == "USDT" { outside } else { dec!(0) };
            assert_eq!(q, held - aside, "{asset}");
        }
    }
}

/// When each asset's orders were placed (of the venue's orders), two each.
fn slice_times(
    orders: &[(String, String, Decimal, i64)],
) -> std::collections::BTreeMap<String, Vec<i64>> {
    let mut at = std::collections::BTreeMap::<String, Vec<i64>>::new();
    for (_, a, _, t) in orders {
        at.entry(a.clone()).or_default().push(*t);
    }
    let counts: Vec<usize> = at.values().map(Vec::len).collect();
    assert_eq!(counts, [2, 2], "{orders:?}");
    at
}

/// Deploy 1000 USDT into BTC=50,ETH=50 with `max_slice` 300 and `slice_interval` 5 min in
/// `style`, bar by bar (each minute, `range` around the flat prices); returns the bot.
async fn sliced_deploy(style: ExecStyle, range: Decimal) -> (Book, BotId) {
    let dir = tempfile::tempdir().unwrap();
    let rules = smartfolio_core::InstrumentRules {
        lot_step: Some(dec!(0.0001)),
        tick_size: Some(dec!(0.001)),
        ..Default::default()
    };
    let mut b = Book::open_with(dir, true, T0, Some(rules)).await;
    let bars = |btc: Decimal, eth: Decimal| {
        [
            ("BTC", btc + range, btc - range, btc),
            ("ETH", eth + range / dec!(10), eth - range / dec!(10), eth),
        ]
    };
    b.bar(T0, &bars(dec!(100), dec!(10))).await;
    let mut c = cfg("sl", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.fee_rate = dec!(0.001);
    c.execution.style = style;
    c.execution.reprices = 1;
    c.execution.max_slice = Some(dec!(300));
    c.execution.slice_interval_ms = 5 * MIN;
    let id = b.rt.create(c).await.unwrap();
    for k in 1..=20 {
        b.bar(T0 + k * MIN, &bars(dec!(100), dec!(10))).await;
    }
    assert!(!b.rt.executing());
    (b, id)
}

#[tokio::test]
async fn a_leg_above_max_slice_is_sent_in_slices_slice_interval_apart_each_its_own_client_id() {
    let (b, id) = sliced_deploy(ExecStyle::Market, dec!(0)).await;
    let orders = b.venue_orders().await;
    // About 500 USDT a leg over a 300 USDT slice: two market orders each, none above 300.
    let price = |a: &str| if a == "BTC" { dec!(100) } else { dec!(10) };
    for (_, a, q, _) in &orders {
        assert!(*q * price(a) <= dec!(300), "{orders:?}");
        assert!(*q * price(a) >= dec!(240), "{orders:?}");
    }
    // The legs are worked at once: both first slices go together, and each leg's second
    // slice_interval after its first.
    let at = slice_times(&orders);
    assert_eq!(at["BTC"][0], at["ETH"][0], "{orders:?}");
    for t in at.values() {
        assert!(t[1] - t[0] >= 5 * MIN, "{orders:?}");
        assert!(t[1] - t[0] <= 6 * MIN, "{orders:?}");
    }
    let ids: Vec<String> = orders.iter().map(|o| o.0.clone()).collect();
    assert_unique(&ids);
    // Every slice's client id was stored before it was sent.
    let stored = b.store.orders(id).await.unwrap();
    for cid in &ids {
        assert!(stored.iter().any(|r| &r.client_id == cid), "{cid}");
    }
    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "completed", "{s:?}");
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!(
            (leg.outcome.as_str(), x.style.as_str()),
            ("filled", "market")
        );
        assert_eq!((x.slices, x.orders.len(), x.reprices), (2, 2, 0));
        assert_eq!(
            leg.filled_quantity,
            x.orders.iter().map(|o| o.filled_quantity).sum::<Decimal>()
        );
        // Fees by the asset paid (the base received, 0.1%), valued in the leg's fees.
        assert_eq!(x.fees.len(), 1, "{x:?}");
        assert_eq!(x.fees[&leg.asset], leg.filled_quantity * dec!(0.001));
        let fills = b.ex.account().await.fills;
        let paid: Decimal = fills
            .iter()
            .filter(|f| x.orders.iter().any(|o| o.client_id == f.client_id))
            .map(|f| f.fee * f.price)
            .sum();
        assert_eq!(leg.fees, paid);
    }
    b.assert_ledger_is_account(id, dec!(9000)).await;
}

/// Deploy 1000 USDT into BTC=50,ETH=50 at market with `max_volume_share` 0.1 and
/// `slice_interval` 5 min (and `max_slice`), on a venue whose books trade `daily_volume` a day,
/// bar by bar each minute; returns the bot.
async fn volume_sliced_deploy(
    daily_volume: Option<Decimal>,
    max_slice: Option<Decimal>,
    volume_fails: bool,
) -> (Book, BotId) {
    let dir = tempfile::tempdir().unwrap();
    let rules = smartfolio_core::InstrumentRules {
        lot_step: Some(dec!(0.0001)),
        tick_size: Some(dec!(0.001)),
        ..Default::default()
    };
    let mut b = Book::open_full(dir, true, T0, Some(rules), daily_volume, volume_fails).await;
    let bars = [
        ("BTC", dec!(100), dec!(100), dec!(100)),
        ("ETH", dec!(10), dec!(10), dec!(10)),
    ];
    b.bar(T0, &bars).await;
    let mut c = cfg("vs", "BTC=50,ETH=50", "threshold:5", dec!(1000));
    c.fee_rate = dec!(0.001);
    c.execution.max_volume_share = Some(dec!(0.1));
    c.execution.max_slice = max_slice;
    c.execution.slice_interval_ms = 5 * MIN;
    let id = b.rt.create(c).await.unwrap();
    for k in 1..=20 {
        b.bar(T0 + k * MIN, &bars).await;
    }
    assert!(!b.rt.executing());
    (b, id)
}

/// When each asset's orders were placed.
fn order_times(
    orders: &[(String, String, Decimal, i64)],
) -> std::collections::BTreeMap<String, Vec<i64>> {
    let mut at = std::collections::BTreeMap::<String, Vec<i64>>::new();
    for (_, a, _, t) in orders {
        at.entry(a.clone()).or_default().push(*t);
    }
    at
}

#[tokio::test]
async fn a_leg_above_its_share_of_the_volume_is_worked_in_slices_slice_interval_apart() {
    // 10% of 576,000 a day over 5 minutes (1/288 of a day): at most 200 quote a slice, so each
    // leg of about 500 goes in three slices.
    let (b, id) = volume_sliced_deploy(Some(dec!(576000)), None, false).await;
    let orders = b.venue_orders().await;
    let price = |a: &str| if a == "BTC" { dec!(100) } else { dec!(10) };
    for (_, a, q, _) in &orders {
        assert!(*q * price(a) <= dec!(200), "{orders:?}");
        assert!(*q * price(a) >= dec!(150), "{orders:?}");
    }
    let at = order_times(&orders);
    assert_eq!(at.values().map(Vec::len).collect::<Vec<_>>(), [3, 3]);
    assert_eq!(at["BTC"][0], at["ETH"][0], "{orders:?}");
    for t in at.values() {
        for w in t.windows(2) {
            assert!(w[1] - w[0] >= 5 * MIN, "{orders:?}");
            assert!(w[1] - w[0] <= 6 * MIN, "{orders:?}");
        }
    }
    let ids: Vec<String> = orders.iter().map(|o| o.0.clone()).collect();
    assert_unique(&ids);
    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "completed", "{s:?}");
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!(leg.outcome, "filled", "{leg:?}");
        // Market buys by quote amount at the book's ask: whole, within the spread.
        assert!(
            leg.filled_quantity >= leg.planned_quantity * dec!(0.999),
            "{leg:?}"
        );
        assert_eq!((x.slices, x.orders.len()), (3, 3));
        let note = x.slicing.as_deref().unwrap();
        assert!(
            note.contains("max_volume_share 0.1")
                && note.contains("576000")
                && note.contains("at most 200 quote a slice"),
            "{note}"
        );
    }
    b.assert_ledger_is_account(id, dec!(9000)).await;
}

#[tokio::test]
async fn with_max_slice_too_the_smaller_cap_wins() {
    // The volume allows 200 a slice, max_slice 150: four slices of about 125.
    let (b, id) = volume_sliced_deploy(Some(dec!(576000)), Some(dec!(150)), false).await;
    let orders = b.venue_orders().await;
    let at = order_times(&orders);
    assert_eq!(at.values().map(Vec::len).collect::<Vec<_>>(), [4, 4]);
    let s = &b.summaries(id).await[0];
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!((leg.outcome.as_str(), x.slices), ("filled", 4));
        let note = x.slicing.as_deref().unwrap();
        assert!(note.contains("(max_slice 150 is smaller)"), "{note}");
    }
    b.assert_ledger_is_account(id, dec!(9000)).await;
}

#[tokio::test]
async fn without_a_volume_from_the_venue_a_leg_is_sliced_by_max_slice_alone_or_whole_and_says_why()
{
    // max_slice 300: two slices each, as without max_volume_share.
    let (b, id) = volume_sliced_deploy(None, Some(dec!(300)), false).await;
    let at = order_times(&b.venue_orders().await);
    assert_eq!(at.values().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "completed", "{s:?}");
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!((leg.outcome.as_str(), x.slices), ("filled", 2));
        let note = x.slicing.as_deref().unwrap();
        assert!(
            note.contains(&format!(
                "max_volume_share not applied: the venue does not report a 24 h volume of {}",
                leg.asset
            )) && note.contains("sliced by max_slice 300 alone"),
            "{note}"
        );
    }
    b.assert_ledger_is_account(id, dec!(9000)).await;
    // Without max_slice: one order a leg, whole.
    let (b, id) = volume_sliced_deploy(None, None, false).await;
    let at = order_times(&b.venue_orders().await);
    assert_eq!(at.values().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
    let s = &b.summaries(id).await[0];
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!((leg.outcome.as_str(), x.slices), ("filled", 1));
        assert!(
            x.slicing.as_deref().unwrap().ends_with("worked whole"),
            "{x:?}"
        );
    }
    b.assert_ledger_is_account(id, dec!(9000)).await;
}

/// The paper venue whose 24-hour volume cannot be read (a failed request); everything else is
/// the paper exchange's.
struct VolumeFails(Arc<PaperExchange>);

#[async_trait::async_trait]
impl Exchange for VolumeFails {
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        self.0.server_time_ms().await
    }
    async fn instruments(&self) -> Result<Vec<smartfolio_exchange::Instrument>, ExchangeError> {
        self.0.instruments().await
    }
    async fn balances(&self) -> Result<Vec<smartfolio_exchange::Balance>, ExchangeError> {
        self.0.balances().await
    }
    async fn tickers(
        &self,
        bases: &[String],
        quote: &str,
    ) -> Result<Vec<smartfolio_exchange::Ticker>, ExchangeError> {
        self.0.tickers(bases, quote).await
    }
    async fn touch(
        &self,
        base: &str,
        quote: &str,
    ) -> Result<Option<(Decimal, Decimal)>, ExchangeError> {
        self.0.touch(base, quote).await
    }
    async fn volume_24h(&self, _: &str, _: &str) -> Result<Option<Decimal>, ExchangeError> {
        Err(ExchangeError::Transient("connection reset".into()))
    }
    async fn place_order(
        &self,
        request: &smartfolio_exchange::OrderRequest,
    ) -> Result<smartfolio_exchange::OrderAck, ExchangeError> {
        self.0.place_order(request).await
    }
    async fn cancel_order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<smartfolio_exchange::Order, ExchangeError> {
        self.0.cancel_order(base, quote, client_id).await
    }
    async fn order(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<smartfolio_exchange::OrderLookup, ExchangeError> {
        self.0.order(base, quote, client_id).await
    }
    async fn open_orders(&self) -> Result<Vec<smartfolio_exchange::Order>, ExchangeError> {
        self.0.open_orders().await
    }
    async fn fills(
        &self,
        base: &str,
        quote: &str,
        client_id: &str,
    ) -> Result<Vec<smartfolio_exchange::Fill>, ExchangeError> {
        self.0.fills(base, quote, client_id).await
    }
    async fn fills_of_order(
        &self,
        order: &smartfolio_exchange::Order,
    ) -> Result<Vec<smartfolio_exchange::Fill>, ExchangeError> {
        self.0.fills_of_order(order).await
    }
    async fn fills_since(
        &self,
        base: &str,
        quote: &str,
        since_ms: i64,
    ) -> Result<Vec<smartfolio_exchange::Fill>, ExchangeError> {
        self.0.fills_since(base, quote, since_ms).await
    }
}

#[tokio::test]
async fn a_failed_volume_read_works_the_leg_without_the_cap_says_why_and_is_no_venue_failure() {
    let (b, id) = volume_sliced_deploy(Some(dec!(576000)), Some(dec!(300)), true).await;
    let at = order_times(&b.venue_orders().await);
    assert_eq!(at.values().map(Vec::len).collect::<Vec<_>>(), [2, 2]);
    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "completed", "{s:?}");
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!((leg.outcome.as_str(), x.slices), ("filled", 2));
        let note = x.slicing.as_deref().unwrap();
        assert!(
            note.contains(&format!(
                "the 24 h volume of {} could not be read",
                leg.asset
            )) && note.contains("connection reset")
                && note.contains("sliced by max_slice 300 alone"),
            "{note}"
        );
    }
    // Not counted by the circuit breaker.
    let bi = b.rt.engine.index_of(id).unwrap();
    assert_eq!(b.rt.engine.bots[bi].state.consecutive_failures, 0);
    b.assert_ledger_is_account(id, dec!(9000)).await;
}

#[tokio::test]
async fn limit_slices_rest_at_the_touch_each_under_its_own_client_id() {
    // Every bar trades through the touch: each slice fills as maker at once.
    let (b, id) = sliced_deploy(ExecStyle::Limit, dec!(0.5)).await;
    let orders = b.venue_orders().await;
    let ids: Vec<String> = orders.iter().map(|o| o.0.clone()).collect();
    assert_unique(&ids);
    let at = slice_times(&orders);
    assert_eq!(at["BTC"][0], at["ETH"][0], "{orders:?}");
    assert!(at.values().all(|t| t[1] - t[0] >= 5 * MIN), "{orders:?}");
    let s = &b.summaries(id).await[0];
    assert_eq!(s.status, "completed", "{s:?}");
    for leg in &s.legs {
        let x = leg.execution.as_ref().unwrap();
        assert_eq!((x.slices, x.orders.len(), x.maker_share), (2, 2, dec!(1)));
        assert!(
            x.orders.iter().all(|o| o.kind.starts_with("limit")),
            "{x:?}"
        );
        assert_eq!(x.fees[&leg.asset], leg.filled_quantity * dec!(0.0008));
    }
    b.assert_ledger_is_account(id, dec!(9000)).await;
}
