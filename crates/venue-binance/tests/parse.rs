//! Parsing of Binance's payloads, from fixtures written from the documented shapes.

use rust_decimal_macros::dec;
use smartfolio_binance::model::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn exchange_info_filters_statuses_and_rate_limits() {
    let info: ExchangeInfo = parse("exchange_info.json");
    assert_eq!(info.server_time, Some(1_700_000_000_123));
    assert_eq!(info.rate_limits.len(), 4);
    let w = &info.rate_limits[0];
    assert_eq!(w.rate_limit_type, RateLimitType::RequestWeight);
    assert_eq!((w.window_ms(), w.limit), (60_000, 6000));
    assert_eq!(info.rate_limits[1].rate_limit_type, RateLimitType::Orders);
    assert_eq!(info.rate_limits[1].window_ms(), 10_000);
    assert_eq!(info.rate_limits[2].window_ms(), 86_400_000);
    assert_eq!(
        info.rate_limits[3].rate_limit_type,
        RateLimitType::RawRequests
    );

    let btc = info.symbol("BTCUSDT").unwrap();
    assert_eq!(btc.status, SymbolStatus::Trading);
    assert_eq!(
        (btc.base_asset.as_str(), btc.quote_asset.as_str()),
        ("BTC", "USDT")
    );
    assert_eq!(btc.base_asset_precision, Some(8));
    assert_eq!(btc.quote_order_qty_market_allowed, Some(true));
    let p = btc.price_filter().unwrap();
    assert_eq!(
        (p.min_price, p.max_price, p.tick_size),
        (dec!(0.01), dec!(1000000), dec!(0.01))
    );
    let l = btc.lot_size().unwrap();
    assert_eq!(
        (l.min_qty, l.max_qty, l.step_size),
        (dec!(0.00001), dec!(9000), dec!(0.00001))
    );
    let m = btc.market_lot_size().unwrap();
    assert_eq!(
        (m.min_qty, m.max_qty, m.step_size),
        (dec!(0), dec!(92.13511208), dec!(0))
    );
    assert_eq!(btc.min_notional(), Some(dec!(5)));
    assert_eq!(btc.max_notional(), Some(dec!(9000000)));
    assert_eq!(
        btc.price_bands(),
        Some((dec!(0.2), dec!(5), dec!(0.2), dec!(5)))
    );
    let notional = btc
        .filters
        .iter()
        .find_map(|f| match f {
            Filter::Notional(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert!(notional.apply_min_to_market && !notional.apply_max_to_market);
    assert_eq!(notional.avg_price_mins, Some(5));
    // ICEBERG_PARTS, TRAILING_DELTA, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS are kept as Other.
    assert_eq!(
        btc.filters.iter().filter(|f| **f == Filter::Other).count(),
        4
    );

    assert_eq!(info.symbol("ETHUSDT").unwrap().status, SymbolStatus::Halt);
    let luna = info.symbol("LUNAUSDT").unwrap();
    assert_eq!(luna.status, SymbolStatus::Break);
    assert_eq!(luna.min_notional(), None);
    assert_eq!(luna.price_bands(), None);
    assert_eq!(
        info.symbol("XRPUSDT").unwrap().status,
        SymbolStatus::CancelOnly
    );
    let new = info.symbol("NEWUSDT").unwrap();
    assert_eq!(new.status, SymbolStatus::Other("SOME_FUTURE_STATUS".into()));
    assert_eq!(new.filters, vec![Filter::Other]);
}

#[test]
fn older_exchange_info_with_min_notional_and_numbers_in_either_form() {
    let info: ExchangeInfo = parse("exchange_info_older.json");
    assert_eq!(info.server_time, Some(1_650_000_000_000));
    assert_eq!(info.rate_limits[0].limit, 1200);
    assert_eq!(info.rate_limits[1].window_ms(), 10_000);
    let s = info.symbol("BNBBTC").unwrap();
    assert_eq!(s.base_asset_precision, Some(8));
    assert_eq!(s.min_notional(), Some(dec!(0.0001)));
    assert_eq!(s.max_notional(), None);
    assert_eq!(s.price_filter().unwrap().tick_size, dec!(0.000001));
    assert_eq!(s.lot_size().unwrap().step_size, dec!(0.01));
    assert_eq!(
        s.price_bands(),
        Some((dec!(0.2), dec!(5), dec!(0.2), dec!(5)))
    );
    assert!(matches!(
        s.filters
            .iter()
            .find(|f| matches!(f, Filter::MinNotional(_))),
        Some(Filter::MinNotional(MinNotionalFilter {
            apply_to_market: true,
            ..
        }))
    ));
}

#[test]
fn account_balances() {
    let a: Account = parse("account.json");
    assert_eq!(a.can_trade, Some(true));
    assert_eq!(a.can_withdraw, Some(false));
    assert_eq!(a.account_type.as_deref(), Some("SPOT"));
    assert_eq!(a.permissions, vec!["SPOT".to_string()]);
    assert_eq!(a.commission_rates.as_ref().unwrap().taker, dec!(0.001));
    let b: Vec<(String, _, _)> = a
        .balances
        .iter()
        .map(|b| (b.asset.clone(), b.free, b.locked))
        .collect();
    assert_eq!(
        b,
        vec![
            ("BTC".to_string(), dec!(0.1), dec!(0)),
            ("USDT".to_string(), dec!(10000), dec!(250.5)),
            ("BNB".to_string(), dec!(0.05), dec!(0)),
        ]
    );
}

#[test]
fn tickers_and_book_tickers() {
    let t: Vec<TickerPrice> = parse("ticker_price.json");
    assert_eq!(t[0].price, dec!(37000.01));
    assert_eq!(
        (t[1].symbol.as_str(), t[1].price),
        ("ETHUSDT", dec!(2050.5))
    );
    let b: BookTicker = parse("book_ticker.json");
    assert_eq!((b.bid_price, b.bid_qty), (dec!(36999.99), dec!(1.25)));
    assert_eq!((b.ask_price, b.ask_qty), (dec!(37000.01), dec!(0.4)));
}

#[test]
fn the_24_hour_ticker_gives_the_quote_volume_as_a_string_or_a_number() {
    let t: Ticker24h = parse("ticker_24hr_mini.json");
    assert_eq!(
        (t.symbol.as_str(), t.quote_volume),
        ("BTCUSDT", Some(dec!(99012345.678)))
    );
    let t: Ticker24h =
        serde_json::from_str(r#"{"symbol":"BTCUSDT","quoteVolume":1234.5}"#).unwrap();
    assert_eq!(t.quote_volume, Some(dec!(1234.5)));
    let t: Ticker24h = serde_json::from_str(r#"{"symbol":"BTCUSDT"}"#).unwrap();
    assert_eq!(t.quote_volume, None);
}

#[test]
fn order_answers_ack_result_full() {
    let ack: OrderResponse = parse("order_ack.json");
    assert_eq!(ack.order_id, 28);
    assert_eq!(ack.client_order_id, "sf-lq0c9kz4w7Hk2Lm9Qa1ZxYb3Cd");
    assert_eq!(ack.transact_time, Some(1_700_000_000_500));
    assert_eq!((ack.status.as_ref(), ack.executed_qty), (None, None));
    assert!(ack.fills.is_empty());

    let r: OrderResponse = parse("order_result.json");
    assert_eq!(r.status, Some(OrderStatus::Filled));
    assert_eq!(r.executed_qty, Some(dec!(0.0027)));
    assert_eq!(r.cummulative_quote_qty, Some(dec!(99.900027)));
    assert_eq!(r.orig_quote_order_qty, Some(dec!(100)));
    assert_eq!(r.order_type.as_deref(), Some("MARKET"));
    assert!(r.fills.is_empty());

    let f: OrderResponse = parse("order_full.json");
    assert_eq!(f.side.as_deref(), Some("SELL"));
    assert_eq!(f.fills.len(), 2);
    assert_eq!(f.fills[0].commission_asset, "BNB");
    assert_eq!(f.fills[0].commission, dec!(0.0001));
    assert_eq!(f.fills[0].trade_id, Some(56));
    assert_eq!(
        (f.fills[1].price, f.fills[1].qty),
        (dec!(37000), dec!(0.001))
    );
    let quote: rust_decimal::Decimal = f.fills.iter().map(|x| x.price * x.qty).sum();
    assert_eq!(Some(quote), f.cummulative_quote_qty);
}

#[test]
fn order_query_and_cancel() {
    let q: OrderResponse = parse("order_query.json");
    assert_eq!(q.status, Some(OrderStatus::PartiallyFilled));
    assert_eq!(
        (q.time, q.update_time),
        (Some(1_700_000_002_000), Some(1_700_000_003_000))
    );
    assert_eq!(q.price, Some(dec!(36000)));
    let c: OrderResponse = parse("order_cancel.json");
    assert_eq!(c.status, Some(OrderStatus::Canceled));
    // A cancel's clientOrderId is the cancel's own; ours is origClientOrderId.
    assert_eq!(c.client_order_id, "cancelMyOrder1");
    assert_eq!(
        c.orig_client_order_id.as_deref(),
        Some("sf-lq0c9kz6bbbbbbbbbbbbbbbbb")
    );
}

#[test]
fn my_trades_with_commission_assets() {
    let t: Vec<MyTrade> = parse("my_trades.json");
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].id, t[0].order_id), (56, 29));
    assert_eq!(
        (t[0].commission, t[0].commission_asset.as_str()),
        (dec!(0.0001), "BNB")
    );
    assert_eq!(t[1].quote_qty, Some(dec!(37)));
    assert!(!t[0].is_buyer && !t[0].is_maker);
}

#[test]
fn klines_server_time_and_errors() {
    let k: Vec<Kline> = parse("klines.json");
    assert_eq!(k.len(), 2);
    assert_eq!(k[0].open_time, 1_704_067_200_000);
    assert_eq!(k[0].close_time, 1_704_070_799_999);
    assert_eq!((k[0].open, k[0].close), (dec!(42283.58), dec!(42475.23)));
    assert_eq!(k[1].trades, 43819);
    let t: ServerTime = parse("time.json");
    assert_eq!(t.server_time, 1_700_000_000_123);
    let e: ErrorBody = parse("error_invalid_symbol.json");
    assert_eq!((e.code, e.msg.as_str()), (-1121, "Invalid symbol."));
}

#[test]
fn a_malformed_payload_names_the_field_and_value() {
    let e = serde_json::from_str::<TickerPrice>(r#"{"symbol":"BTCUSDT","price":"12,5"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"12,5\" is not a decimal number"), "{e}");
    let e = serde_json::from_str::<TickerPrice>(r#"{"symbol":"BTCUSDT"}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing field `price`"), "{e}");
    // A kline with a missing element is refused, not read short.
    assert!(serde_json::from_str::<Kline>(r#"[1,"1","1","1","1","1",2,"1",3,"1"]"#).is_err());
}
