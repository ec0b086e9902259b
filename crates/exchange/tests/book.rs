//! The paper exchange's order-book model: a spread and levels of depth around the last price,
//! taker orders walking it, resting orders filling as maker when trades cross them, and the
//! book set from a candle's high–low range.

mod common;

use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{BookModel, Candle, MemoryPaperPersistence, PaperExchange};
use smartfolio_exchange::{Exchange, OrderStatus, Side, reject};
use std::sync::Arc;

fn book() -> BookModel {
    BookModel {
        spread_bps: dec!(2),
        level_bps: dec!(1),
        depth: dec!(1000),
        levels: 5,
        daily_volume: None,
    }
}

async fn booked() -> PaperExchange {
    let p = Arc::new(MemoryPaperPersistence::new());
    let cfg = config()
        .with_book(book())
        .with_fee_rate(dec!(0.001))
        .with_maker_fee_rate(dec!(0.0008));
    let ex = open_with(cfg, &p).await;
    ex.deposit_all(&[("USDT".into(), dec!(100000)), ("BTC".into(), dec!(10))])
        .await
        .unwrap();
    ex.update_prices(&tick(1_000, dec!(100), dec!(10)))
        .await
        .unwrap();
    ex
}

fn bar(asset: &str, high: Decimal, low: Decimal, close: Decimal) -> Candle {
    Candle {
        asset: asset.into(),
        high,
        low,
        close,
    }
}

#[tokio::test]
async fn the_touch_is_half_a_spread_either_side_of_the_last_price() {
    let ex = booked().await;
    assert_eq!(
        ex.touch("BTC", "USDT").await.unwrap(),
        Some((dec!(99.99), dec!(100.01)))
    );
    // Without a book the touch is the last price (the flat model is unchanged).
    let p = Arc::new(MemoryPaperPersistence::new());
    let flat = open_with(config(), &p).await;
    flat.update_prices(&tick(1, dec!(100), dec!(10)))
        .await
        .unwrap();
    assert_eq!(
        flat.touch("BTC", "USDT").await.unwrap(),
        Some((dec!(100), dec!(100)))
    );
}

#[tokio::test]
async fn a_market_buy_walks_the_book_level_by_level_at_the_taker_fee() {
    let ex = booked().await;
    // 1000 USDT a level: 9.9990 BTC at 100.01 (lot 0.0001), then the next level 1 bp up.
    let o = place(&ex, &market("m1", "BTC", Side::Buy, dec!(25)))
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    let fills = ex.fills("BTC", "USDT", "m1").await.unwrap();
    assert_eq!(fills.len(), 3, "{fills:?}");
    assert_eq!(
        (fills[0].quantity, fills[0].price),
        (dec!(9.999), dec!(100.01))
    );
    assert_eq!(fills[1].price, dec!(100.020001));
    assert!(fills[2].price > fills[1].price);
    assert_eq!(fills.iter().map(|f| f.quantity).sum::<Decimal>(), dec!(25));
    let avg = o.average_price.unwrap();
    assert!(avg > dec!(100.01) && avg < dec!(100.03), "{avg}");
    // Taker fee in the currency received.
    assert_eq!(fills[0].fee, dec!(9.999) * dec!(0.001));
    // Beyond the last level the rest of a market order expires.
    let o = place(&ex, &market("m2", "BTC", Side::Buy, dec!(60)))
        .await
        .unwrap();
    assert_eq!(o.status, OrderStatus::Expired);
    assert!(o.filled_quantity < dec!(60) && o.filled_quantity > dec!(49));
}

/// A market buy sized in quote (Binance `quoteOrderQty`) walks the book spending at most its
/// amount: the levels above the touch buy less, never cost more.
#[tokio::test]
async fn a_quote_market_buy_walks_the_book_within_its_amount() {
    let ex = booked().await;
    let usdt =
        |b: &[smartfolio_exchange::Balance]| b.iter().find(|b| b.asset == "USDT").unwrap().total();
    let before = usdt(&ex.balances().await.unwrap());
    // 2500 USDT at 100.01 would be 24.9975 BTC; the book's levels above the touch cost more.
    let req = smartfolio_exchange::OrderRequest::market(
        "q1",
        "BTC",
        "USDT",
        Side::Buy,
        smartfolio_exchange::OrderSize::Quote(dec!(2500)),
    );
    let o = place(&ex, &req).await.unwrap();
    assert_eq!(o.status, OrderStatus::Filled, "{o:?}");
    let fills = ex.fills("BTC", "USDT", "q1").await.unwrap();
    assert_eq!(fills.len(), 3, "{fills:?}");
    let spent: Decimal = fills.iter().map(|f| f.quantity * f.price).sum();
    assert!(spent <= dec!(2500), "spent {spent}");
    // What is left would not buy one lot (0.0001) at the last level.
    assert!(
        dec!(2500) - spent < dec!(0.0001) * fills[2].price,
        "spent {spent}"
    );
    assert!(o.filled_quantity < dec!(24.9975), "{}", o.filled_quantity);
    assert_eq!(before - usdt(&ex.balances().await.unwrap()), spent);
    // An amount beyond the book's depth: what the levels hold fills, the rest expires.
    let req = smartfolio_exchange::OrderRequest {
        client_id: "q2".into(),
        ..req
    };
    let req = smartfolio_exchange::OrderRequest {
        size: smartfolio_exchange::OrderSize::Quote(dec!(6000)),
        ..req
    };
    let o = place(&ex, &req).await.unwrap();
    assert_eq!(o.status, OrderStatus::Expired, "{o:?}");
    assert!(o.filled_quote <= dec!(5000), "{}", o.filled_quote);
}

#[tokio::test]
async fn a_post_only_order_that_would_cross_the_touch_is_refused_and_one_at_the_touch_rests() {
    let ex = booked().await;
    let (code, msg) = rejection(
        place(
            &ex,
            &limit("p1", "BTC", Side::Buy, dec!(1), dec!(100.01)).post_only(),
        )
        .await,
    );
    assert_eq!(code, reject::WOULD_TAKE);
    assert!(msg.contains("touch") && msg.contains("100.01"), "{msg}");
    // Above the last price but below the ask: it rests (a flat book would have filled it).
    let o = place(
        &ex,
        &limit("p2", "BTC", Side::Buy, dec!(1), dec!(100)).post_only(),
    )
    .await
    .unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    let o = place(
        &ex,
        &limit("p3", "BTC", Side::Sell, dec!(1), dec!(100.01)).post_only(),
    )
    .await
    .unwrap();
    assert_eq!(o.status, OrderStatus::Open);
}

#[tokio::test]
async fn a_resting_order_fills_as_maker_only_when_trades_go_through_its_price() {
    let ex = booked().await;
    place(&ex, &limit("b1", "BTC", Side::Buy, dec!(2), dec!(99.99)))
        .await
        .unwrap();
    place(&ex, &limit("s1", "BTC", Side::Sell, dec!(1), dec!(100.01)))
        .await
        .unwrap();
    // The bar touches the bid but does not trade through it; it goes through the ask.
    let fills = ex
        .update_candles(2_000, &[bar("BTC", dec!(100.2), dec!(99.99), dec!(100.1))])
        .await
        .unwrap();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(
        (fills[0].client_id.as_str(), fills[0].price),
        ("s1", dec!(100.01))
    );
    // Maker fee on the quote received.
    assert_eq!(fills[0].fee, dec!(100.01) * dec!(0.0008));
    let b1 = ex
        .order("BTC", "USDT", "b1")
        .await
        .unwrap()
        .found()
        .unwrap();
    assert_eq!(b1.status, OrderStatus::Open);
    let fills = ex
        .update_candles(3_000, &[bar("BTC", dec!(100.1), dec!(99.5), dec!(99.8))])
        .await
        .unwrap();
    assert_eq!(
        (fills[0].client_id.as_str(), fills[0].quantity),
        ("b1", dec!(2))
    );
    assert_eq!(fills[0].fee, dec!(2) * dec!(0.0008));
}

#[tokio::test]
async fn a_candle_sets_the_spread_from_its_range_and_a_bad_range_is_refused() {
    let ex = booked().await;
    // A 1% range (100 bp): a 2 bp spread, levels 1 bp apart.
    ex.update_candles(2_000, &[bar("BTC", dec!(100.5), dec!(99.5), dec!(100))])
        .await
        .unwrap();
    let b = ex.book("BTC").await.unwrap();
    assert_eq!((b.spread_bps, b.level_bps), (dec!(2), dec!(1)));
    // A quiet bar: the minimum spread.
    ex.update_candles(3_000, &[bar("BTC", dec!(100), dec!(100), dec!(100))])
        .await
        .unwrap();
    assert_eq!(ex.book("BTC").await.unwrap().spread_bps, dec!(0.5));
    let (code, msg) = rejection(
        ex.update_candles(4_000, &[bar("BTC", dec!(99), dec!(101), dec!(100))])
            .await,
    );
    assert_eq!(code, reject::INVALID);
    assert!(msg.contains("99") && msg.contains("low ≤ high"), "{msg}");
}

#[tokio::test]
async fn the_modelled_daily_volume_is_the_venues_24_hour_quote_volume_and_must_be_above_zero() {
    // Without one (or without a book) the venue says nothing.
    let ex = booked().await;
    assert_eq!(ex.volume_24h("BTC", "USDT").await.unwrap(), None);
    let p = Arc::new(MemoryPaperPersistence::new());
    let flat = open_with(config(), &p).await;
    assert_eq!(flat.volume_24h("BTC", "USDT").await.unwrap(), None);

    let p = Arc::new(MemoryPaperPersistence::new());
    let cfg = config().with_book(book().with_daily_volume(dec!(2400000)));
    let ex = open_with(cfg, &p).await;
    assert_eq!(
        ex.volume_24h("btc", "usdt").await.unwrap(),
        Some(dec!(2400000))
    );
    // A candle re-sets the spread; the volume stays.
    ex.update_prices(&tick(1_000, dec!(100), dec!(10)))
        .await
        .unwrap();
    ex.update_candles(2_000, &[bar("BTC", dec!(100.5), dec!(99.5), dec!(100))])
        .await
        .unwrap();
    assert_eq!(
        ex.volume_24h("BTC", "USDT").await.unwrap(),
        Some(dec!(2400000))
    );
    let (code, _) = rejection(ex.volume_24h("NOPE", "USDT").await);
    assert_eq!(code, reject::UNKNOWN_INSTRUMENT);

    for bad in [dec!(0), dec!(-1)] {
        let e = config()
            .with_book(book().with_daily_volume(bad))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("paper.instruments.BTC.book.daily_volume") && e.contains(&bad.to_string()),
            "{e}"
        );
        assert!(e.contains("a quote volume > 0"), "{e}");
    }
}
