//! Helpers shared by the paper-exchange tests.
#![allow(dead_code)]

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{MemoryPaperPersistence, PaperConfig, PaperExchange};
use smartfolio_exchange::{
    Exchange, ExchangeError, InstrumentRules, Order, OrderRequest, OrderSize, PriceTick, Side,
};
use std::sync::Arc;

pub fn btc_rules() -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(dec!(0.0001)),
        min_size: Some(dec!(0.001)),
        min_notional: Some(dec!(10)),
        tick_size: Some(dec!(0.01)),
    }
}

pub fn eth_rules() -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(dec!(0.001)),
        min_size: Some(dec!(0.001)),
        min_notional: Some(dec!(10)),
        tick_size: Some(dec!(0.01)),
    }
}

pub fn config() -> PaperConfig {
    PaperConfig::new("main", "USDT")
        .with_instrument("BTC", btc_rules())
        .with_instrument("ETH", eth_rules())
}

pub async fn open_with(config: PaperConfig, p: &Arc<MemoryPaperPersistence>) -> PaperExchange {
    PaperExchange::open(config, p.clone()).await.expect("open")
}

pub async fn open(p: &Arc<MemoryPaperPersistence>) -> PaperExchange {
    open_with(config(), p).await
}

pub fn tick(time_ms: i64, btc: Decimal, eth: Decimal) -> PriceTick {
    PriceTick {
        time_ms,
        prices: vec![("BTC".into(), btc), ("ETH".into(), eth)],
    }
}

pub fn market(cid: &str, base: &str, side: Side, qty: Decimal) -> OrderRequest {
    OrderRequest::market(cid, base, "USDT", side, OrderSize::Base(qty))
}

pub fn limit(cid: &str, base: &str, side: Side, qty: Decimal, price: Decimal) -> OrderRequest {
    OrderRequest::limit(cid, base, "USDT", side, qty, price)
}

/// Place `req`, then follow the acknowledgement as the runtime does: look the order up by its
/// client id and return it as the venue has it.
pub async fn place(ex: &PaperExchange, req: &OrderRequest) -> Result<Order, ExchangeError> {
    let ack = ex.place_order(req).await?;
    assert_eq!(ack.client_id, req.client_id);
    let order = ex
        .order(&req.base, &req.quote, &req.client_id)
        .await?
        .found()
        .expect("an acknowledged order is found by its client id");
    assert_eq!(order.venue_id, ack.venue_id);
    Ok(order)
}

/// The code and message of a rejection (panics on anything else).
pub fn rejection(r: Result<impl std::fmt::Debug, ExchangeError>) -> (String, String) {
    match r {
        Err(ExchangeError::Rejected { code, message }) => (code, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}
