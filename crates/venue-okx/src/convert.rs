//! OKX's payloads onto the exchange interface's types, as pure functions.

use crate::model::{InstrumentInfo, OrderDetail, TradeFill};
use rust_decimal::Decimal;
use smartfolio_exchange::{
    FeePaid, Fill, Instrument, InstrumentRules, InstrumentStatus, Order, OrderKind, OrderLimits,
    OrderSize, OrderStatus, Pair, Side, TimeInForce,
};

fn positive(d: Option<Decimal>) -> Option<Decimal> {
    d.filter(|d| *d > Decimal::ZERO)
}

/// `BTC-USDT` for a pair.
pub fn inst_id(base: &str, quote: &str) -> String {
    let p = Pair::new(base, quote);
    format!("{}-{}", p.base, p.quote)
}

/// The pair of an `instId` (`BTC-USDT`), if it has that shape.
pub fn pair_of(inst_id: &str) -> Option<Pair> {
    let (base, quote) = inst_id.split_once('-')?;
    (!base.is_empty() && !quote.is_empty() && !quote.contains('-')).then(|| Pair::new(base, quote))
}

/// An instrument's `state` as the interface sees it: `live` trades; `suspend` is halted;
/// `preopen` (listed, not trading yet), `test` and any state OKX adds later make the bot wait
/// as on a halt.
pub fn status(state: &str) -> InstrumentStatus {
    match state {
        "live" => InstrumentStatus::Trading,
        _ => InstrumentStatus::Halted,
    }
}

/// A SPOT instrument's rules, limits and status. OKX has no minimum notional on spot (its
/// minimum is `minSz`, in base). The largest notional is the smaller of `maxMktAmt` and
/// `maxLmtAmt`: the interface has one notional limit for every order type, and the bot's
/// orders are market orders. Empty or zero fields are no rule.
pub fn instrument(i: &InstrumentInfo) -> Instrument {
    let rules = InstrumentRules {
        lot_step: positive(i.lot_sz),
        min_size: positive(i.min_sz),
        min_notional: None,
        tick_size: positive(i.tick_sz),
    };
    let limits = OrderLimits {
        max_quantity: positive(i.max_lmt_sz),
        max_market_quantity: positive(i.max_mkt_sz),
        max_notional: [positive(i.max_mkt_amt), positive(i.max_lmt_amt)]
            .into_iter()
            .flatten()
            .min(),
        buy_band: None,
        sell_band: None,
    };
    Instrument {
        symbol: i.inst_id.clone(),
        base: i.base_ccy.clone(),
        quote: i.quote_ccy.clone(),
        rules,
        limits,
        status: status(&i.state),
        // Every OKX spot instrument takes `ordType=post_only`.
        post_only: true,
    }
}

/// What cannot be read from an order answer.
fn bad(field: &str, value: &str, allowed: &str) -> String {
    format!("okx order answer: {field} \"{value}\" is not one of {allowed}")
}

fn side(s: &str) -> Result<Side, String> {
    match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        other => Err(bad("side", other, "buy, sell")),
    }
}

/// OKX's fee (negative: a charge) as the amount paid (positive; a rebate is negative).
fn paid(fee: Option<Decimal>) -> Decimal {
    -fee.unwrap_or_default()
}

/// An order of `/trade/order` or `/trade/orders-pending` as an [`Order`].
///
/// - A market order's size is in quote when `tgtCcy` is `quote_ccy`, or when it is left out
///   on a buy (OKX's default); else in base.
/// - `canceled` is [`OrderStatus::Expired`] for an order that cannot rest (market, IOC, FOK:
///   what the book did not fill), [`OrderStatus::Canceled`] otherwise.
/// - The quote filled is `accFillSz × avgPx`; the fee is the order's `fee` in `feeCcy`.
pub fn order(d: &OrderDetail) -> Result<Order, String> {
    let pair = pair_of(&d.inst_id).ok_or_else(|| bad("instId", &d.inst_id, "BASE-QUOTE"))?;
    let side = side(&d.side)?;
    let price = d.px.unwrap_or_default();
    let (kind, time_in_force, post_only) = match d.ord_type.as_str() {
        "market" => (OrderKind::Market, TimeInForce::Gtc, false),
        "limit" => (OrderKind::Limit { price }, TimeInForce::Gtc, false),
        "post_only" => (OrderKind::Limit { price }, TimeInForce::Gtc, true),
        "ioc" => (OrderKind::Limit { price }, TimeInForce::Ioc, false),
        "fok" => (OrderKind::Limit { price }, TimeInForce::Fok, false),
        other => return Err(bad("ordType", other, "market, limit, post_only, ioc, fok")),
    };
    let sz = d.sz.unwrap_or_default();
    let in_quote = kind == OrderKind::Market
        && (d.tgt_ccy == "quote_ccy" || (d.tgt_ccy.is_empty() && side == Side::Buy));
    let size = if in_quote {
        OrderSize::Quote(sz)
    } else {
        OrderSize::Base(sz)
    };
    let cannot_rest = kind == OrderKind::Market || time_in_force != TimeInForce::Gtc;
    let status = match d.state.as_str() {
        "live" => OrderStatus::Open,
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" | "mmp_canceled" if cannot_rest => OrderStatus::Expired,
        "canceled" | "mmp_canceled" => OrderStatus::Canceled,
        other => {
            return Err(bad(
                "state",
                other,
                "live, partially_filled, filled, canceled, mmp_canceled",
            ));
        }
    };
    let filled_quantity = d.acc_fill_sz.unwrap_or_default();
    let average_price = positive(d.avg_px).filter(|_| filled_quantity > Decimal::ZERO);
    let fee = paid(d.fee);
    let fees = if fee.is_zero() || d.fee_ccy.is_empty() {
        vec![]
    } else {
        vec![FeePaid {
            asset: d.fee_ccy.clone(),
            amount: fee,
        }]
    };
    let created_ms = d.c_time.unwrap_or(0);
    Ok(Order {
        client_id: d.cl_ord_id.clone(),
        venue_id: d.ord_id.clone(),
        base: pair.base,
        quote: pair.quote,
        side,
        kind,
        size,
        time_in_force,
        post_only,
        filled_quantity,
        filled_quote: average_price.map_or(Decimal::ZERO, |p| p * filled_quantity),
        fees,
        average_price,
        status,
        created_ms,
        updated_ms: d.u_time.unwrap_or(created_ms),
    })
}

/// One fill of `/trade/fills` as a [`Fill`]; the fee, negative at OKX, is the amount paid.
pub fn fill(t: &TradeFill) -> Result<Fill, String> {
    let pair = pair_of(&t.inst_id).ok_or_else(|| bad("instId", &t.inst_id, "BASE-QUOTE"))?;
    Ok(Fill {
        fill_id: t.trade_id.clone(),
        client_id: t.cl_ord_id.clone(),
        venue_order_id: t.ord_id.clone(),
        base: pair.base,
        quote: pair.quote,
        side: side(&t.side)?,
        quantity: t.fill_sz,
        price: t.fill_px,
        fee: paid(t.fee),
        fee_asset: t.fee_ccy.clone(),
        time_ms: t.ts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn detail(state: &str, ord_type: &str, side: &str, tgt: &str) -> OrderDetail {
        serde_json::from_str(&format!(
            r#"{{"instId":"BTC-USDT","ordId":"7","clOrdId":"sf1","side":"{side}","ordType":"{ord_type}",
               "tgtCcy":"{tgt}","px":"100","sz":"2","accFillSz":"0.5","avgPx":"100","fee":"-0.001",
               "feeCcy":"BTC","state":"{state}","cTime":"10","uTime":"20"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn states_map_onto_the_interface() {
        let table = [
            ("live", "limit", OrderStatus::Open),
            ("partially_filled", "limit", OrderStatus::PartiallyFilled),
            ("filled", "market", OrderStatus::Filled),
            ("canceled", "limit", OrderStatus::Canceled),
            ("canceled", "post_only", OrderStatus::Canceled),
            ("mmp_canceled", "limit", OrderStatus::Canceled),
            // What an order that cannot rest did not fill expired.
            ("canceled", "market", OrderStatus::Expired),
            ("canceled", "ioc", OrderStatus::Expired),
            ("canceled", "fok", OrderStatus::Expired),
        ];
        for (state, t, want) in table {
            let o = order(&detail(state, t, "buy", "")).unwrap();
            assert_eq!(o.status, want, "{state} {t}");
        }
        let e = order(&detail("paused", "limit", "buy", "")).unwrap_err();
        assert!(e.contains("state \"paused\""), "{e}");
        let e = order(&detail("live", "twap", "buy", "")).unwrap_err();
        assert!(e.contains("ordType \"twap\""), "{e}");
    }

    #[test]
    fn market_sizes_follow_tgt_ccy_and_okxs_default() {
        let unit = |side, tgt| order(&detail("filled", "market", side, tgt)).unwrap().size;
        assert_eq!(unit("buy", "quote_ccy"), OrderSize::Quote(dec!(2)));
        assert_eq!(unit("buy", "base_ccy"), OrderSize::Base(dec!(2)));
        // Left out: OKX reads a market buy's sz in quote, a sell's in base.
        assert_eq!(unit("buy", ""), OrderSize::Quote(dec!(2)));
        assert_eq!(unit("sell", ""), OrderSize::Base(dec!(2)));
        assert_eq!(
            order(&detail("live", "limit", "buy", "")).unwrap().size,
            OrderSize::Base(dec!(2))
        );
    }

    #[test]
    fn fees_are_paid_amounts_and_fills_add_up() {
        let o = order(&detail("partially_filled", "post_only", "buy", "")).unwrap();
        assert_eq!(
            (o.kind, o.post_only),
            (OrderKind::Limit { price: dec!(100) }, true)
        );
        assert_eq!(
            o.fees,
            vec![FeePaid {
                asset: "BTC".into(),
                amount: dec!(0.001)
            }]
        );
        assert_eq!((o.filled_quantity, o.filled_quote), (dec!(0.5), dec!(50)));
        assert_eq!((o.client_id.as_str(), o.venue_id.as_str()), ("sf1", "7"));
        assert_eq!((o.created_ms, o.updated_ms), (10, 20));
    }

    #[test]
    fn instrument_states_and_ids() {
        assert_eq!(status("live"), InstrumentStatus::Trading);
        for s in ["suspend", "preopen", "test", "rebase"] {
            assert_eq!(status(s), InstrumentStatus::Halted, "{s}");
        }
        assert_eq!(inst_id("btc", "usdt"), "BTC-USDT");
        assert_eq!(pair_of("ETH-USDT"), Some(Pair::new("ETH", "USDT")));
        assert_eq!(pair_of("BTC-USD-SWAP"), None);
        assert_eq!(pair_of("BTCUSDT"), None);
    }
}
