//! Gate's payloads onto the exchange interface's types, as pure functions.

use crate::client_id::client_id_of;
use crate::model::{CurrencyPair, Order as GateOrder, Trade};
use rust_decimal::Decimal;
use smartfolio_exchange::{
    FeePaid, Fill, Instrument, InstrumentRules, InstrumentStatus, Order, OrderKind, OrderLimits,
    OrderSize, OrderStatus, Pair, Side, TimeInForce,
};

/// The asset Gate's `gt_fee` is paid in.
pub const GT: &str = "GT";
/// The asset Gate's `point_fee` is paid in (not tradable: valued at 0 without a price).
pub const POINT: &str = "POINT";

fn positive(d: Option<Decimal>) -> Option<Decimal> {
    d.filter(|d| *d > Decimal::ZERO)
}

/// `BTC_USDT` for a pair.
pub fn pair_id(base: &str, quote: &str) -> String {
    let p = Pair::new(base, quote);
    format!("{}_{}", p.base, p.quote)
}

/// The pair of a `currency_pair` (`BTC_USDT`), if it has that shape.
pub fn pair_of(id: &str) -> Option<Pair> {
    let (base, quote) = id.split_once('_')?;
    (!base.is_empty() && !quote.is_empty() && !quote.contains('_')).then(|| Pair::new(base, quote))
}

/// A pair's `trade_status` as the interface sees it:
/// - `tradable` trades;
/// - `sellable` takes sells only: [`InstrumentStatus::SellOnly`] (the bot may sell out of it);
/// - `buyable` takes buys only: the interface has no buy-only status, and a bot that could buy
///   but not sell must not add to a position it cannot leave, so it is
///   [`InstrumentStatus::Halted`] (the bot waits);
/// - `untradable`, and any status Gate adds later, are [`InstrumentStatus::Halted`].
pub fn status(trade_status: &str) -> InstrumentStatus {
    match trade_status {
        "tradable" => InstrumentStatus::Trading,
        "sellable" => InstrumentStatus::SellOnly,
        _ => InstrumentStatus::Halted,
    }
}

/// One unit of the `places`-th decimal (`4` → `0.0001`).
pub fn step(places: Option<u32>) -> Option<Decimal> {
    places.filter(|p| *p <= 28).map(|p| Decimal::new(1, p))
}

/// A pair's rules, limits and status: the lot step and tick from `amount_precision` and
/// `precision` (decimal places), the minimums from `min_base_amount` and `min_quote_amount`,
/// the maximums from `max_base_amount`, `market_order_max_stock` and `max_quote_amount` (all
/// optional). Every Gate spot pair takes post-only (`poc`) orders.
pub fn instrument(p: &CurrencyPair) -> Instrument {
    let pair = pair_of(&p.id);
    let base = if p.base.is_empty() {
        pair.as_ref().map(|x| x.base.clone()).unwrap_or_default()
    } else {
        p.base.to_ascii_uppercase()
    };
    let quote = if p.quote.is_empty() {
        pair.map(|x| x.quote).unwrap_or_default()
    } else {
        p.quote.to_ascii_uppercase()
    };
    Instrument {
        symbol: p.id.clone(),
        base,
        quote,
        rules: InstrumentRules {
            lot_step: step(p.amount_precision),
            min_size: positive(p.min_base_amount),
            min_notional: positive(p.min_quote_amount),
            tick_size: step(p.precision),
        },
        limits: OrderLimits {
            max_quantity: positive(p.max_base_amount),
            max_market_quantity: positive(p.market_order_max_stock),
            max_notional: positive(p.max_quote_amount),
            buy_band: None,
            sell_band: None,
        },
        status: status(&p.trade_status),
        post_only: true,
    }
}

/// What cannot be read from an answer.
fn bad(field: &str, value: &str, allowed: &str) -> String {
    format!("gate answer: {field} \"{value}\" is not one of {allowed}")
}

fn side(s: &str) -> Result<Side, String> {
    match s {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        other => Err(bad("side", other, "buy, sell")),
    }
}

/// The fees of an order or a fill, one entry per asset, sorted: `fee` in `fee_currency`,
/// `gt_fee` in GT and `point_fee` in POINT, each when above zero.
pub fn fees(
    fee: Option<Decimal>,
    fee_currency: &str,
    gt_fee: Option<Decimal>,
    point_fee: Option<Decimal>,
) -> Vec<FeePaid> {
    let mut out: Vec<FeePaid> = Vec::new();
    let parts = [
        (
            positive(fee).filter(|_| !fee_currency.is_empty()),
            fee_currency,
        ),
        (positive(gt_fee), GT),
        (positive(point_fee), POINT),
    ];
    for (amount, asset) in parts {
        let Some(amount) = amount else { continue };
        let asset = asset.to_ascii_uppercase();
        match out.binary_search_by(|f| f.asset.cmp(&asset)) {
            Ok(i) => out[i].amount += amount,
            Err(i) => out.insert(i, FeePaid { asset, amount }),
        }
    }
    out
}

/// An order of Gate as an [`Order`].
///
/// - A market buy's `amount` and `left` are in quote, every other order's in base.
/// - The base filled is `filled_amount` when Gate sends it; else, on a market buy,
///   `filled_total / avg_deal_price`; else `amount − left`.
/// - `open` is open (partially filled once something filled); an ended order (`closed` or
///   `cancelled`) is filled when `finish_as` says so or nothing is left; else canceled
///   (`cancelled`, `stp`), or expired for what its time in force or the book ended (`ioc`,
///   `fok`, `poc`, `small`, `depth_not_enough`, …, and any cancel of an order that cannot
///   rest: market, IOC, FOK).
/// - Fees: `fee` in `fee_currency`, plus `gt_fee` in GT and `point_fee` in POINT.
pub fn order(o: &GateOrder) -> Result<Order, String> {
    let pair = pair_of(&o.currency_pair)
        .ok_or_else(|| bad("currency_pair", &o.currency_pair, "BASE_QUOTE"))?;
    let side = side(&o.side)?;
    let price = o.price.unwrap_or_default();
    let (kind, time_in_force, post_only) = match (o.order_type.as_str(), o.time_in_force.as_str()) {
        ("market", _) => (OrderKind::Market, TimeInForce::Ioc, false),
        ("limit", "gtc" | "") => (OrderKind::Limit { price }, TimeInForce::Gtc, false),
        ("limit", "ioc") => (OrderKind::Limit { price }, TimeInForce::Ioc, false),
        ("limit", "fok") => (OrderKind::Limit { price }, TimeInForce::Fok, false),
        ("limit", "poc") => (OrderKind::Limit { price }, TimeInForce::Gtc, true),
        ("limit", other) => return Err(bad("time_in_force", other, "gtc, ioc, fok, poc")),
        (other, _) => return Err(bad("type", other, "market, limit")),
    };
    let amount = o.amount.unwrap_or_default();
    let in_quote = kind == OrderKind::Market && side == Side::Buy;
    let size = if in_quote {
        OrderSize::Quote(amount)
    } else {
        OrderSize::Base(amount)
    };
    let left = o.left.unwrap_or(amount);
    let filled_quote = o.filled_total.unwrap_or_default();
    let avg = positive(o.avg_deal_price);
    let filled_quantity = match (o.filled_amount, in_quote, avg) {
        (Some(f), _, _) => f,
        (None, true, Some(p)) => filled_quote / p,
        (None, true, None) => Decimal::ZERO,
        (None, false, _) => (amount - left).max(Decimal::ZERO),
    };
    let average_price = if filled_quantity > Decimal::ZERO {
        avg.or_else(|| positive(Some(filled_quote / filled_quantity)))
    } else {
        None
    };
    let cannot_rest = kind == OrderKind::Market || time_in_force != TimeInForce::Gtc;
    let nothing_left = left <= Decimal::ZERO && filled_quantity > Decimal::ZERO;
    let status = match (o.status.as_str(), o.finish_as.as_str()) {
        ("open", _) if filled_quantity > Decimal::ZERO => OrderStatus::PartiallyFilled,
        ("open", _) => OrderStatus::Open,
        ("closed" | "cancelled", "filled") => OrderStatus::Filled,
        ("closed" | "cancelled", _) if nothing_left => OrderStatus::Filled,
        ("closed" | "cancelled", "cancelled" | "stp" | "liquidate_cancelled" | "")
            if !cannot_rest =>
        {
            OrderStatus::Canceled
        }
        ("closed" | "cancelled", _) => OrderStatus::Expired,
        (other, _) => return Err(bad("status", other, "open, closed, cancelled")),
    };
    let created_ms = o.create_time_ms.unwrap_or(0);
    Ok(Order {
        client_id: client_id_of(&o.text).to_string(),
        venue_id: o.id.clone(),
        base: pair.base,
        quote: pair.quote,
        side,
        kind,
        size,
        time_in_force,
        post_only,
        filled_quantity,
        filled_quote,
        fees: fees(o.fee, &o.fee_currency, o.gt_fee, o.point_fee),
        average_price,
        status,
        created_ms,
        updated_ms: o.update_time_ms.unwrap_or(created_ms),
    })
}

/// One fill of `my_trades` as a [`Fill`]. A [`Fill`] carries one fee: the first above zero of
/// `gt_fee` (GT), `point_fee` (POINT) and `fee` (`fee_currency`) — Gate charges a fill in GT or
/// POINT *instead of* the traded asset when the account pays fees with them. A fill charged in
/// two assets at once is refused, naming the fields, rather than losing one.
pub fn fill(t: &Trade) -> Result<Fill, String> {
    let pair = pair_of(&t.currency_pair)
        .ok_or_else(|| bad("currency_pair", &t.currency_pair, "BASE_QUOTE"))?;
    let paid = fees(t.fee, &t.fee_currency, t.gt_fee, t.point_fee);
    if paid.len() > 1 {
        return Err(format!(
            "gate fill {}: fee {:?} {}, gt_fee {:?} and point_fee {:?}: a fill is charged in one asset",
            t.id, t.fee, t.fee_currency, t.gt_fee, t.point_fee
        ));
    }
    let (fee, fee_asset) = paid
        .into_iter()
        .next()
        .map_or((Decimal::ZERO, t.fee_currency.clone()), |f| {
            (f.amount, f.asset)
        });
    let time_ms = t
        .create_time_ms
        .or(t.create_time.map(|s| s.saturating_mul(1_000)))
        .ok_or_else(|| format!("gate fill {}: no create_time_ms or create_time", t.id))?;
    Ok(Fill {
        fill_id: t.id.clone(),
        client_id: client_id_of(&t.text).to_string(),
        venue_order_id: t.order_id.clone(),
        base: pair.base,
        quote: pair.quote,
        side: side(&t.side)?,
        quantity: t.amount,
        price: t.price,
        fee,
        fee_asset,
        time_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn gate_order(
        status: &str,
        finish_as: &str,
        t: &str,
        side: &str,
        tif: &str,
        left: &str,
    ) -> GateOrder {
        serde_json::from_str(&format!(
            r#"{{"id":"7","text":"t-sf1","currency_pair":"BTC_USDT","status":"{status}","type":"{t}",
               "side":"{side}","amount":"2","price":"100","time_in_force":"{tif}","left":"{left}",
               "filled_total":"100","avg_deal_price":"100","fee":"0.001","fee_currency":"BTC",
               "point_fee":"0","gt_fee":"0.02","finish_as":"{finish_as}",
               "create_time_ms":1700000020100,"update_time_ms":"1700000020200.5"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn statuses_map_onto_the_interface() {
        let table = [
            ("open", "open", "limit", "gtc", "2", OrderStatus::Open),
            (
                "open",
                "open",
                "limit",
                "gtc",
                "1",
                OrderStatus::PartiallyFilled,
            ),
            ("closed", "filled", "limit", "gtc", "0", OrderStatus::Filled),
            (
                "cancelled",
                "cancelled",
                "limit",
                "gtc",
                "1",
                OrderStatus::Canceled,
            ),
            (
                "cancelled",
                "stp",
                "limit",
                "poc",
                "2",
                OrderStatus::Canceled,
            ),
            // What an order that cannot rest did not fill expired.
            (
                "cancelled",
                "cancelled",
                "limit",
                "ioc",
                "1",
                OrderStatus::Expired,
            ),
            ("closed", "ioc", "market", "ioc", "1", OrderStatus::Expired),
            (
                "closed",
                "depth_not_enough",
                "limit",
                "fok",
                "2",
                OrderStatus::Expired,
            ),
            ("closed", "poc", "limit", "poc", "2", OrderStatus::Expired),
            // Nothing left: filled, whatever finish_as says.
            ("closed", "ioc", "market", "ioc", "0", OrderStatus::Filled),
        ];
        for (status, finish, t, tif, left, want) in table {
            let o = order(&gate_order(status, finish, t, "sell", tif, left)).unwrap();
            assert_eq!(o.status, want, "{status} {finish} {t} {tif} {left}");
        }
        let e = order(&gate_order("paused", "", "limit", "buy", "gtc", "2")).unwrap_err();
        assert!(e.contains("status \"paused\""), "{e}");
        let e = order(&gate_order("open", "", "stop", "buy", "gtc", "2")).unwrap_err();
        assert!(e.contains("type \"stop\""), "{e}");
    }

    #[test]
    fn a_market_buy_is_sized_in_quote_and_its_base_comes_from_the_total() {
        let o = order(&gate_order("closed", "filled", "market", "buy", "ioc", "0")).unwrap();
        assert_eq!(o.size, OrderSize::Quote(dec!(2)));
        // No filled_amount: filled_total / avg_deal_price.
        assert_eq!((o.filled_quantity, o.filled_quote), (dec!(1), dec!(100)));
        assert_eq!(o.average_price, Some(dec!(100)));
        let s = order(&gate_order(
            "closed", "filled", "market", "sell", "ioc", "0.5",
        ))
        .unwrap();
        assert_eq!(s.size, OrderSize::Base(dec!(2)));
        assert_eq!(s.filled_quantity, dec!(1.5));
    }

    #[test]
    fn fees_in_gt_and_point_are_fees_in_those_assets() {
        let o = order(&gate_order("open", "open", "limit", "buy", "poc", "1")).unwrap();
        assert!(o.post_only);
        assert_eq!(
            o.fees,
            vec![
                FeePaid {
                    asset: "BTC".into(),
                    amount: dec!(0.001)
                },
                FeePaid {
                    asset: "GT".into(),
                    amount: dec!(0.02)
                },
            ]
        );
        assert_eq!((o.client_id.as_str(), o.venue_id.as_str()), ("sf1", "7"));
        assert_eq!(
            (o.created_ms, o.updated_ms),
            (1_700_000_020_100, 1_700_000_020_200)
        );
        let f = fees(Some(dec!(0)), "USDT", None, Some(dec!(0.3)));
        assert_eq!(
            f,
            vec![FeePaid {
                asset: POINT.into(),
                amount: dec!(0.3)
            }]
        );
    }

    #[test]
    fn pair_statuses_and_ids() {
        assert_eq!(status("tradable"), InstrumentStatus::Trading);
        assert_eq!(status("sellable"), InstrumentStatus::SellOnly);
        for s in ["buyable", "untradable", "delisting"] {
            assert_eq!(status(s), InstrumentStatus::Halted, "{s}");
        }
        assert_eq!(pair_id("btc", "usdt"), "BTC_USDT");
        assert_eq!(pair_of("ETH_USDT"), Some(Pair::new("ETH", "USDT")));
        assert_eq!(pair_of("BTC-USDT"), None);
        assert_eq!(pair_of("A_B_C"), None);
        assert_eq!(step(Some(4)), Some(dec!(0.0001)));
        assert_eq!(step(Some(0)), Some(dec!(1)));
    }
}
