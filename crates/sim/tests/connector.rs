//! The real Binance connector (`BinanceExchange`) drives the simulator on 127.0.0.1:0: every
//! answer goes through the connector's parsing and mapping, and the account's balances must move
//! exactly as the fills say.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_binance::BinanceExchange;
use smartfolio_binance::error::{BAD_KEY, BAD_SIGNATURE};
use smartfolio_exchange::feed::ReplayFeed;
use smartfolio_exchange::feed::SyntheticConfig;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_exchange::{
    Exchange, ExchangeError, InstrumentStatus, OrderLookup, OrderRequest, OrderSize, OrderStatus,
    Side, reject,
};
use smartfolio_sim::{DEFAULT_MAX_NOTIONAL, DEFAULT_MAX_QUANTITY, SimConfig, SimMarket, Simulator};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[tokio::test]
async fn instruments_balances_and_tickers_read_back_what_the_engine_holds() {
    let rig = Rig::start().await;
    let mut instruments = rig.ex.instruments().await.unwrap();
    instruments.sort_by(|a, b| a.base.cmp(&b.base));
    assert_eq!(instruments.len(), 2);
    let (btc, eth) = (&instruments[0], &instruments[1]);
    assert_eq!((btc.symbol.as_str(), btc.base.as_str()), ("BTCUSDT", "BTC"));
    assert_eq!(btc.quote, "USDT");
    assert_eq!(btc.rules, btc_rules());
    assert_eq!(eth.rules, eth_rules());
    assert_eq!(btc.status, InstrumentStatus::Trading);
    assert_eq!(btc.limits.max_quantity, Some(DEFAULT_MAX_QUANTITY));
    assert_eq!(btc.limits.max_notional, Some(DEFAULT_MAX_NOTIONAL));

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

    let tickers = rig
        .ex
        .tickers(&["BTC".into(), "ETH".into()], "USDT")
        .await
        .unwrap();
    assert_eq!(tickers.len(), 2);
    assert_eq!(
        (tickers[0].base.as_str(), tickers[0].last),
        ("BTC", dec!(40000))
    );
    assert_eq!(
        (tickers[1].base.as_str(), tickers[1].last),
        ("ETH", dec!(2000))
    );
    let one = rig.ex.tickers(&["ETH".into()], "USDT").await.unwrap();
    assert_eq!(one[0].last, dec!(2000));
    let unknown = rig.ex.tickers(&["DOGE".into()], "USDT").await.unwrap_err();
    assert!(
        matches!(&unknown, ExchangeError::Rejected { code, .. } if code == reject::UNKNOWN_INSTRUMENT),
        "{unknown:?}"
    );
    let book = rig.ex.client().book_tickers(&["BTCUSDT"]).await.unwrap();
    assert_eq!(book[0].bid_price, dec!(40000));
    assert_eq!(book[0].ask_price, dec!(40000));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_market_buy_by_quote_then_a_market_sell_move_the_balances_exactly_as_their_fills() {
    let rig = Rig::start().await;
    let buy = OrderRequest::market(
        "buy-1",
        "BTC",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(1000)),
    );
    let ack = rig.ex.place_order(&buy).await.unwrap();
    assert_eq!(ack.client_id, "buy-1");
    assert_eq!(ack.time_ms, T0);

    let order = rig
        .ex
        .order("BTC", "USDT", "buy-1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(order.status, OrderStatus::Filled);
    assert_eq!(order.size, OrderSize::Quote(dec!(1000)));
    assert_eq!(order.venue_id, ack.venue_id);
    let fills = rig.ex.fills("BTC", "USDT", "buy-1").await.unwrap();
    assert!(!fills.is_empty());
    let qty: Decimal = fills.iter().map(|f| f.quantity).sum();
    let quote: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
    assert_eq!(qty, dec!(0.025));
    assert_eq!(quote, dec!(1000));
    assert_eq!(order.filled_quantity, qty);
    assert_eq!(order.filled_quote, quote);
    // The fee is in the asset received, 0.1%.
    assert_eq!(sum_fees(&fills, "BTC"), dec!(0.000025));
    assert_eq!(order.fees.len(), 1);
    assert_eq!(order.fees[0].amount, dec!(0.000025));
    assert_eq!(rig.balance("USDT").await.free, dec!(10000) - quote);
    assert_eq!(
        rig.balance("BTC").await.free,
        dec!(0.1) + qty - sum_fees(&fills, "BTC")
    );

    rig.advance(1_000);
    rig.sim.set_prices(&[("BTC", dec!(41000))]).await.unwrap();
    let sell = OrderRequest::market(
        "sell-1",
        "BTC",
        "USDT",
        Side::Sell,
        OrderSize::Base(dec!(0.05)),
    );
    rig.ex.place_order(&sell).await.unwrap();
    let sold = rig.ex.fills("BTC", "USDT", "sell-1").await.unwrap();
    let sold_qty: Decimal = sold.iter().map(|f| f.quantity).sum();
    let proceeds: Decimal = sold.iter().map(|f| f.quantity * f.price).sum();
    assert_eq!(sold_qty, dec!(0.05));
    assert_eq!(proceeds, dec!(2050));
    assert_eq!(sum_fees(&sold, "USDT"), dec!(2.05));
    assert_eq!(
        rig.balance("USDT").await.free,
        dec!(10000) - quote + proceeds - sum_fees(&sold, "USDT")
    );
    assert_eq!(
        rig.balance("BTC").await.free,
        dec!(0.1) + qty - sum_fees(&fills, "BTC") - sold_qty
    );

    // Every fill since the start, with the client ids the connector learns from the orders.
    let all = rig.ex.fills_since("BTC", "USDT", T0).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|f| f.client_id.as_str()).collect();
    assert_eq!(ids, ["buy-1", "sell-1"]);
    assert_eq!(all[1].time_ms, T0 + 1_000);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_resting_limit_order_locks_its_quote_shows_as_open_and_is_canceled() {
    let rig = Rig::start().await;
    let req = OrderRequest::limit("rest-1", "BTC", "USDT", Side::Buy, dec!(0.01), dec!(39000));
    rig.ex.place_order(&req).await.unwrap();
    let o = rig
        .ex
        .order("BTC", "USDT", "rest-1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    assert_eq!(o.filled_quantity, Decimal::ZERO);
    let usdt = rig.balance("USDT").await;
    assert_eq!((usdt.free, usdt.locked), (dec!(9610), dec!(390)));
    let open = rig.ex.open_orders().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_id, "rest-1");
    assert_eq!(
        (open[0].base.as_str(), open[0].quote.as_str()),
        ("BTC", "USDT")
    );

    let canceled = rig.ex.cancel_order("BTC", "USDT", "rest-1").await.unwrap();
    assert_eq!(canceled.status, OrderStatus::Canceled);
    let usdt = rig.balance("USDT").await;
    assert_eq!((usdt.free, usdt.locked), (dec!(10000), Decimal::ZERO));
    assert!(rig.ex.open_orders().await.unwrap().is_empty());
    // A second cancel: the order is no longer open.
    let again = rig
        .ex
        .cancel_order("BTC", "USDT", "rest-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&again, ExchangeError::Rejected { code, .. } if code == reject::UNKNOWN_ORDER),
        "{again:?}"
    );
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_resting_limit_order_fills_when_the_price_crosses_with_its_fee() {
    let rig = Rig::start().await;
    let req = OrderRequest::limit("maker-1", "BTC", "USDT", Side::Buy, dec!(0.01), dec!(39000));
    rig.ex.place_order(&req).await.unwrap();
    rig.advance(60_000);
    rig.sim.set_prices(&[("BTC", dec!(38900))]).await.unwrap();

    let o = rig
        .ex
        .order("BTC", "USDT", "maker-1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.average_price, Some(dec!(39000)));
    assert_eq!(o.fees.len(), 1);
    assert_eq!(
        (o.fees[0].asset.as_str(), o.fees[0].amount),
        ("BTC", dec!(0.00001))
    );
    let fills = rig.ex.fills("BTC", "USDT", "maker-1").await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].time_ms, T0 + 60_000);
    let usdt = rig.balance("USDT").await;
    assert_eq!((usdt.free, usdt.locked), (dec!(9610), Decimal::ZERO));
    assert_eq!(
        rig.balance("BTC").await.free,
        dec!(0.1) + dec!(0.01) - dec!(0.00001)
    );
    assert!(rig.ex.open_orders().await.unwrap().is_empty());
    // The maker flag: the fill came after the placement.
    let trades = rig
        .ex
        .client()
        .my_trades(&smartfolio_binance::TradesQuery {
            symbol: "BTCUSDT".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(trades.len(), 1);
    assert!(trades[0].is_maker && trades[0].is_buyer);

    // The candles saw both prices, one minute apart.
    let klines = rig
        .ex
        .client()
        .klines("BTCUSDT", "1m", None, None, None)
        .await
        .unwrap();
    let closes: Vec<(i64, Decimal)> = klines.iter().map(|k| (k.open_time, k.close)).collect();
    assert_eq!(closes, [(T0, dec!(40000)), (T0 + 60_000, dec!(38900))]);
    let hourly = rig
        .ex
        .client()
        .klines("BTCUSDT", "1h", None, None, None)
        .await
        .unwrap();
    assert_eq!(hourly.len(), 1);
    assert_eq!(
        (hourly[0].open, hourly[0].low, hourly[0].close),
        (dec!(40000), dec!(38900), dec!(38900))
    );
    rig.server.shutdown().await;
}

#[tokio::test]
async fn lookups_by_client_id_find_placed_orders_and_answer_not_found_for_others() {
    let rig = Rig::start().await;
    assert_eq!(
        rig.ex.order("BTC", "USDT", "never-sent").await.unwrap(),
        OrderLookup::NotFoundYet
    );
    let req = OrderRequest::market(
        "look-1",
        "ETH",
        "USDT",
        Side::Buy,
        OrderSize::Base(dec!(0.5)),
    );
    let ack = rig.ex.place_order(&req).await.unwrap();
    let o = rig
        .ex
        .order("ETH", "USDT", "look-1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(
        (o.client_id.as_str(), o.venue_id.as_str()),
        ("look-1", ack.venue_id.as_str())
    );
    assert_eq!(o.filled_quantity, dec!(0.5));
    // The same id on another pair is another order: not found there.
    assert_eq!(
        rig.ex.order("BTC", "USDT", "look-1").await.unwrap(),
        OrderLookup::NotFoundYet
    );
    // A reused client id is refused and changes nothing.
    let before = rig.balance("USDT").await;
    let dup = rig.ex.place_order(&req).await.unwrap_err();
    assert!(
        matches!(&dup, ExchangeError::Rejected { code, .. } if code == reject::DUPLICATE_CLIENT_ID),
        "{dup:?}"
    );
    assert_eq!(rig.balance("USDT").await, before);
    // Too little balance is Binance's insufficient-balance reject.
    let big = OrderRequest::market(
        "big-1",
        "BTC",
        "USDT",
        Side::Buy,
        OrderSize::Quote(dec!(20000)),
    );
    let e = rig.ex.place_order(&big).await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Rejected { code, .. } if code == reject::INSUFFICIENT_BALANCE),
        "{e:?}"
    );
    rig.server.shutdown().await;
}

#[tokio::test]
async fn signed_requests_are_checked_for_key_signature_and_timestamp() {
    let rig = Rig::start().await;
    let wrong_secret = BinanceExchange::new(client(&rig.server, &rig.clock, KEY, "other", 0));
    let e = wrong_secret.balances().await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Rejected { code, .. } if code == BAD_SIGNATURE),
        "{e:?}"
    );
    let wrong_key = BinanceExchange::new(client(&rig.server, &rig.clock, "other", SECRET, 0));
    let e = wrong_key.balances().await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Rejected { code, .. } if code == BAD_KEY),
        "{e:?}"
    );
    // A client whose clock is 30 s behind is refused with -1021; the connector measures the
    // offset from /api/v3/time and signs again, once.
    let late = client(&rig.server, &rig.clock, KEY, SECRET, -30_000);
    assert_eq!(late.clock_offset_ms(), None);
    let account = late.account().await.unwrap();
    assert_eq!(late.clock_offset_ms(), Some(30_000));
    assert!(account.balances.iter().any(|b| b.asset == "USDT"));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn the_24hr_ticker_reports_the_days_prices_in_binances_shape() {
    let rig = Rig::start().await;
    // Prices a day and a minute ago (before the window), then within the day.
    rig.advance(60_000);
    rig.sim.set_prices(&[("BTC", dec!(42000))]).await.unwrap();
    rig.advance(86_400_000);
    rig.sim.set_prices(&[("BTC", dec!(41000))]).await.unwrap();
    rig.advance(1_000);
    rig.sim.set_prices(&[("BTC", dec!(43050))]).await.unwrap();
    let now = T0 + 60_000 + 86_400_000 + 1_000;

    let t = get_json(&rig.server, "/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    let fields: Vec<&str> = t.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = vec![
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "prevClosePrice",
        "lastPrice",
        "lastQty",
        "bidPrice",
        "bidQty",
        "askPrice",
        "askQty",
        "openPrice",
        "highPrice",
        "lowPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    ];
    let mut got = fields.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(t["symbol"], "BTCUSDT");
    // The window opens at the minute of 42000 (a day before now, rounded down to the minute).
    assert_eq!(t["openPrice"], "42000.00000000");
    assert_eq!(t["prevClosePrice"], "40000.00000000");
    assert_eq!(t["highPrice"], "43050.00000000");
    assert_eq!(t["lowPrice"], "41000.00000000");
    assert_eq!(t["lastPrice"], "43050.00000000");
    assert_eq!(t["priceChange"], "1050.00000000");
    assert_eq!(t["priceChangePercent"], "2.500");
    assert_eq!(t["bidPrice"], "43050.00000000");
    assert_eq!(t["askPrice"], "43050.00000000");
    assert_eq!(t["volume"], "0.00000000");
    assert_eq!(
        (t["openTime"].as_i64(), t["closeTime"].as_i64()),
        (Some(now - 86_400_000), Some(now))
    );
    assert_eq!(
        (t["firstId"].as_i64(), t["count"].as_i64()),
        (Some(-1), Some(0))
    );

    let mini = get_json(&rig.server, "/api/v3/ticker/24hr?symbol=ETHUSDT&type=MINI").await;
    assert!(mini.get("bidPrice").is_none() && mini.get("priceChange").is_none());
    assert_eq!(mini["lastPrice"], "2000.00000000");
    assert_eq!(mini["openPrice"], "2000.00000000");

    let all = get_json(&rig.server, "/api/v3/ticker/24hr").await;
    let symbols: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(symbols, ["BTCUSDT", "ETHUSDT"]);
    let some = get_json(
        &rig.server,
        "/api/v3/ticker/24hr?symbols=%5B%22ETHUSDT%22%5D",
    )
    .await;
    assert_eq!(some.as_array().unwrap().len(), 1);
    let bad = get_json(&rig.server, "/api/v3/ticker/24hr?symbol=DOGEUSDT").await;
    assert_eq!(bad["code"], -1121);
    let bad = get_json(&rig.server, "/api/v3/ticker/24hr?type=HUGE").await;
    assert_eq!(bad["code"], -1100);
    rig.server.shutdown().await;
}

#[tokio::test]
async fn the_sapi_reads_ccxt_and_venue_check_make_answer_for_the_key() {
    let rig = Rig::start().await;
    let r = rig.ex.client().api_restrictions().await.unwrap();
    assert!(r.enable_reading && r.enable_spot_and_margin_trading);
    assert!(!r.enable_withdrawals && !r.enable_margin && !r.enable_futures);

    // The balances leave out a zero one (the connector asks with omitZeroBalances=true).
    let sell = OrderRequest::market(
        "sell-all",
        "BTC",
        "USDT",
        Side::Sell,
        OrderSize::Base(dec!(0.1)),
    );
    rig.ex.place_order(&sell).await.unwrap();
    let balances = rig.ex.balances().await.unwrap();
    assert!(balances.iter().all(|b| b.asset != "BTC"), "{balances:?}");
    assert!(balances.iter().any(|b| b.asset == "USDT"));
    rig.server.shutdown().await;
}

#[tokio::test]
async fn a_synthetic_market_starts_after_a_made_up_history_that_klines_serve() {
    let clock = Arc::new(AtomicI64::new(T0 + 30_000));
    let c = clock.clone();
    let mut market = SyntheticConfig::new(&["BTC"], 7);
    market.start_ms = T0 + 30_000;
    market.step_ms = 1_000;
    let sim = Simulator::with_clock(
        SimConfig {
            market: Some(SimMarket::Synthetic(market)),
            history_ms: 3 * 3_600_000,
            ..sim_config(PaperConfig::new("sim", "USDT").with_instrument("BTC", btc_rules()))
        },
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .await
    .unwrap();
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    let rows = get_json(
        &server,
        "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000",
    )
    .await;
    let rows = rows.as_array().unwrap();
    // Three hours of minutes before the start's minute, then the start's own.
    assert_eq!(rows.len(), 181);
    let times: Vec<i64> = rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
    assert_eq!(times[0], T0 - 3 * 3_600_000);
    assert!(times.windows(2).all(|w| w[1] - w[0] == 60_000));
    assert_eq!(*times.last().unwrap(), T0);
    // The history moved, and the market starts where it ended.
    let closes: Vec<&str> = rows.iter().map(|r| r[4].as_str().unwrap()).collect();
    assert!(closes.iter().any(|c| *c != closes[0]));
    assert_eq!(rows[180][1], rows[179][4]);
    drop(server);
    let e = Simulator::with_clock(
        SimConfig {
            history_ms: -1,
            ..sim_config(PaperConfig::new("sim", "USDT").with_instrument("BTC", btc_rules()))
        },
        Arc::new(|| T0),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("history_ms -1"), "{e}");
}

#[tokio::test]
async fn a_replay_plays_one_bar_per_step_at_the_simulators_time_then_holds_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("prices.csv");
    std::fs::write(
        &csv,
        "timestamp,BTC\n2024-01-01T00:00:00Z,42000\n2024-01-01T01:00:00Z,42100.5\n",
    )
    .unwrap();
    let load = smartfolio_data::LoadOptions {
        assets: vec!["BTC".into()],
        ..Default::default()
    };
    let feed = ReplayFeed::load(&csv, &load, "USDT", Default::default()).unwrap();
    let clock = Arc::new(AtomicI64::new(T0));
    let c = clock.clone();
    let sim = Simulator::with_clock(
        SimConfig {
            market: Some(SimMarket::Replay {
                feed,
                step_ms: 1_000,
            }),
            ..sim_config(PaperConfig::new("sim", "USDT").with_instrument("BTC", btc_rules()))
        },
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .await
    .unwrap();
    // The first bar is taken at the start.
    assert_eq!(sim.paper().last_price("BTC").await, Some(dec!(42000)));
    clock.fetch_add(60_000, Ordering::SeqCst);
    assert!(sim.step().await.unwrap());
    assert_eq!(sim.paper().last_price("BTC").await, Some(dec!(42100.5)));
    // The bars ran out: the price stays.
    assert!(!sim.step().await.unwrap());
    assert_eq!(sim.paper().last_price("BTC").await, Some(dec!(42100.5)));
    // The candles are on the simulator's clock, not the bars' dates.
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    let rows = get_json(&server, "/api/v3/klines?symbol=BTCUSDT&interval=1m").await;
    let rows = rows.as_array().unwrap();
    let opens: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[4].as_str().unwrap()))
        .collect();
    assert_eq!(
        opens,
        [(T0, "42000.00000000"), (T0 + 60_000, "42100.50000000")]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn answers_report_the_used_weight_per_minute_and_the_order_counts() {
    let rig = Rig::start().await;
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let req = http.get(format!("{}{path}", rig.server.base_url()));
        async move { req.send().await.unwrap() }
    };
    let header = |r: &reqwest::Response, name: &str| -> Option<u64> {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().parse().unwrap())
    };
    let r = get("/api/v3/exchangeInfo").await;
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(20));
    let r = get("/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(22));
    // An error answer counts too.
    let r = get("/api/v3/klines?symbol=DOGEUSDT&interval=1m").await;
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(24));
    assert_eq!(header(&r, "x-mbx-order-count-10s"), None);

    // An accepted order reports the order counts; a refused one does not.
    let place = |id: &str, quote: &str| {
        let payload = format!(
            "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty={quote}&newClientOrderId={id}&timestamp={}",
            rig.clock.load(Ordering::SeqCst)
        );
        let signature = smartfolio_binance::sign::sign(SECRET, &payload);
        http.post(format!(
            "{}/api/v3/order?{payload}&signature={signature}",
            rig.server.base_url()
        ))
        .header("X-MBX-APIKEY", KEY)
        .send()
    };
    let r = place("w-1", "100").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(25));
    assert_eq!(header(&r, "x-mbx-order-count-10s"), Some(1));
    assert_eq!(header(&r, "x-mbx-order-count-1d"), Some(1));
    let r = place("w-2", "1").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "x-mbx-order-count-10s"), None);
    rig.advance(10_000);
    let r = place("w-3", "100").await.unwrap();
    assert_eq!(header(&r, "x-mbx-order-count-10s"), Some(1));
    assert_eq!(header(&r, "x-mbx-order-count-1d"), Some(2));

    // The next minute starts again.
    rig.advance(60_000);
    let r = get("/api/v3/exchangeInfo").await;
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(20));
    rig.server.shutdown().await;
}
