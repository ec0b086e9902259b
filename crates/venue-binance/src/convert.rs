//! Binance's payloads onto the exchange interface's types, as pure functions.

use crate::model::{MyTrade, OrderResponse, OrderStatus as BnStatus, SymbolInfo, SymbolStatus};
use rust_decimal::Decimal;
use smartfolio_exchange::{
    FeePaid, Fill, Instrument, InstrumentRules, InstrumentStatus, Order, OrderKind, OrderLimits,
    OrderSize, OrderStatus, Pair, PriceBand, Side, TimeInForce,
};

fn positive(d: Decimal) -> Option<Decimal> {
    (d > Decimal::ZERO).then_some(d)
}

/// A symbol's status as the interface sees it. `HALT` and `BREAK` accept cancels only, but
/// the bot waits on both, as on any status it does not know.
pub fn status(s: &SymbolStatus) -> InstrumentStatus {
    match s {
        SymbolStatus::Trading => InstrumentStatus::Trading,
        SymbolStatus::CancelOnly => InstrumentStatus::CancelOnly,
        SymbolStatus::Halt
        | SymbolStatus::Break
        | SymbolStatus::EndOfDay
        | SymbolStatus::PreTrading
        | SymbolStatus::PostTrading
        | SymbolStatus::AuctionMatch
        | SymbolStatus::Other(_) => InstrumentStatus::Halted,
    }
}

/// A symbol's rules, limits and status. Zeros in Binance's filters disable a rule, and come out
/// as no rule.
pub fn instrument(s: &SymbolInfo) -> Instrument {
    let lot = s.lot_size();
    let market_lot = s.market_lot_size();
    let min_size = [lot.map(|l| l.min_qty), market_lot.map(|l| l.min_qty)]
        .into_iter()
        .flatten()
        .filter_map(positive)
        .max();
    let rules = InstrumentRules {
        lot_step: lot.and_then(|l| positive(l.step_size)),
        min_size,
        min_notional: s.min_notional().and_then(positive),
        tick_size: s.price_filter().and_then(|p| positive(p.tick_size)),
    };
    let bands = s.price_bands();
    let limits = OrderLimits {
        max_quantity: lot.and_then(|l| positive(l.max_qty)),
        max_market_quantity: market_lot.and_then(|l| positive(l.max_qty)),
        max_notional: s.max_notional(),
        buy_band: bands.map(|(down, up, _, _)| PriceBand { down, up }),
        sell_band: bands.map(|(_, _, down, up)| PriceBand { down, up }),
    };
    Instrument {
        symbol: s.symbol.clone(),
        base: s.base_asset.clone(),
        quote: s.quote_asset.clone(),
        rules,
        limits,
        status: status(&s.status),
        post_only: s.order_types.iter().any(|t| t == "LIMIT_MAKER"),
    }
}

/// What cannot be read from an order answer.
fn bad(field: &str, value: &str, allowed: &str) -> String {
    format!("binance order answer: {field} \"{value}\" is not one of {allowed}")
}

fn side(s: Option<&str>) -> Result<Side, String> {
    match s {
        Some("BUY") => Ok(Side::Buy),
        Some("SELL") => Ok(Side::Sell),
        other => Err(bad("side", other.unwrap_or(""), "BUY, SELL")),
    }
}

/// An order answer (query, cancel, or a `RESULT`/`FULL` placement) as an [`Order`].
/// `client_id` is ours (a cancel answer's `clientOrderId` is the cancel's own).
pub fn order(r: &OrderResponse, pair: &Pair, client_id: &str) -> Result<Order, String> {
    let order_type = r.order_type.as_deref().unwrap_or("");
    let price = r.price.unwrap_or_default();
    let (kind, post_only) = match order_type {
        "MARKET" => (OrderKind::Market, false),
        "LIMIT" => (OrderKind::Limit { price }, false),
        "LIMIT_MAKER" => (OrderKind::Limit { price }, true),
        other => return Err(bad("type", other, "MARKET, LIMIT, LIMIT_MAKER")),
    };
    let size = match r.orig_quote_order_qty.and_then(positive) {
        Some(q) if order_type == "MARKET" => OrderSize::Quote(q),
        _ => OrderSize::Base(r.orig_qty.unwrap_or_default()),
    };
    let time_in_force = match r.time_in_force.as_deref() {
        Some("IOC") => TimeInForce::Ioc,
        Some("FOK") => TimeInForce::Fok,
        _ => TimeInForce::Gtc,
    };
    let filled_quantity = r.executed_qty.unwrap_or_default();
    let filled_quote = r.cummulative_quote_qty.unwrap_or_default();
    let status = match r.status.as_ref() {
        Some(BnStatus::New) | Some(BnStatus::PendingNew) => OrderStatus::Open,
        Some(BnStatus::PartiallyFilled) => OrderStatus::PartiallyFilled,
        Some(BnStatus::Filled) => OrderStatus::Filled,
        Some(BnStatus::Canceled) => OrderStatus::Canceled,
        // A cancel in progress: not final yet.
        Some(BnStatus::PendingCancel) if filled_quantity > Decimal::ZERO => {
            OrderStatus::PartiallyFilled
        }
        Some(BnStatus::PendingCancel) => OrderStatus::Open,
        Some(BnStatus::Rejected) => OrderStatus::Rejected,
        Some(BnStatus::Expired) | Some(BnStatus::ExpiredInMatch) => OrderStatus::Expired,
        Some(BnStatus::Other(s)) => {
            return Err(bad(
                "status",
                s,
                "NEW, PENDING_NEW, PARTIALLY_FILLED, FILLED, CANCELED, PENDING_CANCEL, REJECTED, EXPIRED, EXPIRED_IN_MATCH",
            ));
        }
        None => return Err(bad("status", "", "a status (an ACK answer has none)")),
    };
    let mut fees: Vec<FeePaid> = Vec::new();
    for f in r.fills.iter().filter(|f| !f.commission.is_zero()) {
        match fees.binary_search_by(|x| x.asset.cmp(&f.commission_asset)) {
            Ok(i) => fees[i].amount += f.commission,
            Err(i) => fees.insert(
                i,
                FeePaid {
                    asset: f.commission_asset.clone(),
                    amount: f.commission,
                },
            ),
        }
    }
    let created_ms = r.time.or(r.transact_time).unwrap_or(0);
    Ok(Order {
        client_id: client_id.to_string(),
        venue_id: r.order_id.to_string(),
        base: pair.base.clone(),
        quote: pair.quote.clone(),
        side: side(r.side.as_deref())?,
        kind,
        size,
        time_in_force,
        post_only,
        filled_quantity,
        filled_quote,
        fees,
        average_price: (filled_quantity > Decimal::ZERO).then(|| filled_quote / filled_quantity),
        status,
        created_ms,
        updated_ms: r.update_time.or(r.transact_time).unwrap_or(created_ms),
    })
}

/// One of the account's trades as a [`Fill`] of the order `client_id`.
pub fn fill(t: &MyTrade, pair: &Pair, client_id: &str) -> Fill {
    Fill {
        fill_id: t.id.to_string(),
        client_id: client_id.to_string(),
        venue_order_id: t.order_id.to_string(),
        base: pair.base.clone(),
        quote: pair.quote.clone(),
        side: if t.is_buyer { Side::Buy } else { Side::Sell },
        quantity: t.qty,
        price: t.price,
        fee: t.commission,
        fee_asset: t.commission_asset.clone(),
        time_ms: t.time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn answer(status: &str, kind: &str, extra: &str) -> OrderResponse {
        serde_json::from_str(&format!(
            r#"{{"symbol":"BTCUSDT","orderId":7,"clientOrderId":"c","status":"{status}","type":"{kind}",
               "side":"BUY","price":"100","origQty":"2","executedQty":"0.5","cummulativeQuoteQty":"50",
               "timeInForce":"GTC","time":10,"updateTime":20{extra}}}"#
        ))
        .unwrap()
    }

    fn pair() -> Pair {
        Pair::new("BTC", "USDT")
    }

    #[test]
    fn statuses_map_onto_the_interface() {
        let table = [
            ("NEW", OrderStatus::Open),
            ("PENDING_NEW", OrderStatus::Open),
            ("PARTIALLY_FILLED", OrderStatus::PartiallyFilled),
            ("FILLED", OrderStatus::Filled),
            ("CANCELED", OrderStatus::Canceled),
            // A cancel in progress is not final; something filled already.
            ("PENDING_CANCEL", OrderStatus::PartiallyFilled),
            ("REJECTED", OrderStatus::Rejected),
            ("EXPIRED", OrderStatus::Expired),
            ("EXPIRED_IN_MATCH", OrderStatus::Expired),
        ];
        for (s, want) in table {
            let o = order(&answer(s, "LIMIT", ""), &pair(), "ours").unwrap();
            assert_eq!(o.status, want, "{s}");
        }
        let e = order(&answer("PAUSED", "LIMIT", ""), &pair(), "ours").unwrap_err();
        assert!(e.contains("status \"PAUSED\""), "{e}");
        let e = order(&answer("NEW", "STOP_LOSS", ""), &pair(), "ours").unwrap_err();
        assert!(e.contains("type \"STOP_LOSS\""), "{e}");
        // An ACK answer has no status: it is not an order's state.
        let ack: OrderResponse = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","orderId":7,"clientOrderId":"c","transactTime":5}"#,
        )
        .unwrap();
        assert!(order(&ack, &pair(), "ours").is_err());
    }

    #[test]
    fn sizes_kinds_and_fills_of_an_order() {
        let o = order(
            &answer("PARTIALLY_FILLED", "LIMIT_MAKER", ""),
            &pair(),
            "ours",
        )
        .unwrap();
        assert_eq!(o.client_id, "ours");
        assert_eq!(o.venue_id, "7");
        assert_eq!(
            (o.kind, o.post_only),
            (OrderKind::Limit { price: dec!(100) }, true)
        );
        assert_eq!(o.size, OrderSize::Base(dec!(2)));
        assert_eq!(o.average_price, Some(dec!(100)));
        assert_eq!((o.created_ms, o.updated_ms), (10, 20));
        let extra = r#","origQuoteOrderQty":"60","fills":[
            {"price":"100","qty":"0.3","commission":"0.0003","commissionAsset":"BTC","tradeId":1},
            {"price":"100","qty":"0.2","commission":"0.01","commissionAsset":"BNB","tradeId":2},
            {"price":"100","qty":"0","commission":"0.0001","commissionAsset":"BTC","tradeId":3}]"#;
        let m = order(&answer("FILLED", "MARKET", extra), &pair(), "ours").unwrap();
        assert_eq!(m.size, OrderSize::Quote(dec!(60)));
        assert_eq!(m.kind, OrderKind::Market);
        assert_eq!(
            m.fees,
            vec![
                FeePaid {
                    asset: "BNB".into(),
                    amount: dec!(0.01)
                },
                FeePaid {
                    asset: "BTC".into(),
                    amount: dec!(0.0004)
                },
            ]
        );
    }

    #[test]
    fn statuses_of_symbols() {
        assert_eq!(status(&SymbolStatus::Trading), InstrumentStatus::Trading);
        assert_eq!(
            status(&SymbolStatus::CancelOnly),
            InstrumentStatus::CancelOnly
        );
        for s in [
            SymbolStatus::Halt,
            SymbolStatus::Break,
            SymbolStatus::EndOfDay,
            SymbolStatus::Other("NEW_ONE".into()),
        ] {
            assert_eq!(status(&s), InstrumentStatus::Halted, "{s:?}");
        }
    }
}
