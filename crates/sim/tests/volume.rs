//! The 24-hour quote volume each venue's ticker reports: the book model's modelled
//! `daily_volume` where the instrument has one, 0 where it has none (the simulated market has
//! no other traders).

mod common;

use common::{KEY, SECRET, btc_rules, client, eth_rules, get_json, priced_sim_of, sim_config};
use rust_decimal_macros::dec;
use secrecy::SecretString;
use serde_json::Value;
use smartfolio_binance::BinanceExchange;
use smartfolio_exchange::Exchange;
use smartfolio_exchange::paper::{BookModel, PaperConfig};
use smartfolio_okx::OkxExchange;
use smartfolio_okx::client::{ClientConfig, OkxClient};
use smartfolio_sim::{Simulator, Wire};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// BTC modelled with a book trading 2,400,000 USDT a day, ETH without a book, priced 40000
/// and 2000.
async fn sim() -> (Simulator, Arc<AtomicI64>) {
    let paper = PaperConfig::new("sim", "USDT")
        .with_instrument("BTC", btc_rules())
        .with_book(BookModel::new().with_daily_volume(dec!(2400000)))
        .with_instrument("ETH", eth_rules());
    priced_sim_of(sim_config(paper)).await
}

#[tokio::test]
async fn binance_24hr_tickers_report_the_modelled_quote_volume() {
    let (sim, clock) = sim().await;
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    let t = get_json(&server, "/api/v3/ticker/24hr?symbol=BTCUSDT&type=MINI").await;
    assert_eq!(t["quoteVolume"], "2400000.00000000");
    assert_eq!(t["volume"], "60.00000000");
    let t = get_json(&server, "/api/v3/ticker/24hr?symbol=BTCUSDT").await;
    assert_eq!(t["quoteVolume"], "2400000.00000000");
    let t = get_json(&server, "/api/v3/ticker/24hr?symbol=ETHUSDT").await;
    assert_eq!(
        (&t["quoteVolume"], &t["volume"]),
        (&Value::from("0.00000000"), &Value::from("0.00000000"))
    );
    // The connector reads it.
    let ex = BinanceExchange::new(client(&server, &clock, KEY, SECRET, 0));
    assert_eq!(
        ex.volume_24h("BTC", "USDT").await.unwrap(),
        Some(dec!(2400000))
    );
    assert_eq!(ex.volume_24h("ETH", "USDT").await.unwrap(), Some(dec!(0)));
    server.shutdown().await;
}

#[tokio::test]
async fn okx_tickers_report_the_modelled_quote_volume_as_vol_ccy_24h() {
    let (sim, clock) = sim().await;
    let wire = Wire::Okx {
        passphrase: SecretString::from("sim-pass".to_string()),
        demo: false,
    };
    let server = sim
        .serve_wire(([127, 0, 0, 1], 0).into(), wire)
        .await
        .unwrap();
    let t = get_json(&server, "/api/v5/market/ticker?instId=BTC-USDT").await;
    assert_eq!(t["data"][0]["volCcy24h"], "2400000");
    assert_eq!(t["data"][0]["vol24h"], "60");
    let all = get_json(&server, "/api/v5/market/tickers?instType=SPOT").await;
    let eth = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["instId"] == "ETH-USDT")
        .unwrap();
    assert_eq!(
        (&eth["volCcy24h"], &eth["vol24h"]),
        (&"0".into(), &"0".into())
    );
    let c = clock.clone();
    let okx = OkxClient::new(
        ClientConfig {
            base_url: server.base_url(),
            ..ClientConfig::default()
        },
        None,
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .unwrap();
    let ex = OkxExchange::new(okx);
    assert_eq!(
        ex.volume_24h("BTC", "USDT").await.unwrap(),
        Some(dec!(2400000))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn gate_tickers_report_the_modelled_quote_volume() {
    let (sim, _clock) = sim().await;
    let server = sim
        .serve_wire(([127, 0, 0, 1], 0).into(), Wire::Gate)
        .await
        .unwrap();
    let t = get_json(&server, "/api/v4/spot/tickers?currency_pair=BTC_USDT").await;
    assert_eq!(
        (&t[0]["quote_volume"], &t[0]["base_volume"]),
        (&"2400000".into(), &"60".into())
    );
    let t = get_json(&server, "/api/v4/spot/tickers?currency_pair=ETH_USDT").await;
    assert_eq!(
        (&t[0]["quote_volume"], &t[0]["base_volume"]),
        (&"0".into(), &"0".into())
    );
    server.shutdown().await;
}
