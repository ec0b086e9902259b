//! Realized gains of coins brought in with and without a cost basis, through the store (SQLite)
//! and the record's reader, against hand-computed figures for every lot method; and a stop that
//! keeps the coins releases the remaining lots with their basis.

use super::*;
use smartfolio_core::gains::{Flag, Method};
use smartfolio_exchange::{Fill, OrderKind, Side};
use smartfolio_store::{
    BotUpdate, FlowItem, NewBot, NewOrder, NewRebalance, OrderState, OrderUpdate, SqliteStore,
};

const DAY: i64 = 86_400_000;
const T0: i64 = 1_717_200_000_000; // 2024-06-01 00:00 UTC

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn item(asset: &str, amount: &str, value: &str, basis: Option<&str>) -> FlowItem {
    FlowItem {
        asset: asset.into(),
        amount: d(amount),
        value: d(value),
        basis: basis.map(d),
    }
}

/// One market order of `bot` and its one fill, fee in USDT.
async fn trade(
    store: &dyn Store,
    bot: i64,
    seq: i64,
    side: Side,
    qty: &str,
    price: &str,
    fee: &str,
) {
    let client_id = format!("c{bot}-{seq}");
    let time_ms = T0 + seq * DAY;
    store
        .begin_rebalance(&NewRebalance {
            bot_id: bot,
            seq,
            kind: "rebalance".into(),
            reason: "test".into(),
            time_ms,
            plan: "{}".into(),
            orders: vec![NewOrder {
                client_id: client_id.clone(),
                leg: 0,
                base: "BTC".into(),
                quote: "USDT".into(),
                side,
                quantity: d(qty),
                kind: OrderKind::Market,
                quote_amount: None,
            }],
            bot: None,
        })
        .await
        .unwrap();
    let fill = Fill {
        fill_id: format!("F{bot}-{seq}"),
        client_id: client_id.clone(),
        venue_order_id: format!("V{bot}-{seq}"),
        base: "BTC".into(),
        quote: "USDT".into(),
        side,
        quantity: d(qty),
        price: d(price),
        fee: d(fee),
        fee_asset: "USDT".into(),
        time_ms,
    };
    let update = OrderUpdate {
        client_id,
        status: OrderState::Filled,
        venue_order_id: Some(fill.venue_order_id.clone()),
        filled_quantity: d(qty),
        error: None,
        time_ms,
    };
    store.apply_fills(&update, &[fill]).await.unwrap();
}

/// A bot funded with 5000 USDT and 0.1 BTC (with the unit basis `basis`, else at the market's
/// 60000); it buys 0.05 BTC at 70000 (fee 3.5 USDT) on day 1, sells 0.08 at 60000 (fee 4.8
/// USDT) on day 2, and stops keeping its coins on day 3.
async fn bot(store: &dyn Store, name: &str, basis: Option<&str>) {
    let id = store
        .create_bot(&NewBot {
            name: name.into(),
            venue: "paper".into(),
            account: "main".into(),
            quote: "USDT".into(),
            status: "running".into(),
            config: "{}".into(),
            state: "{}".into(),
            time_ms: T0,
            deposit: vec![
                item("USDT", "5000", "5000", None),
                item("BTC", "0.1", "6000", basis),
            ],
        })
        .await
        .unwrap();
    trade(store, id, 1, Side::Buy, "0.05", "70000", "3.5").await;
    trade(store, id, 2, Side::Sell, "0.08", "60000", "4.8").await;
    store
        .close_ledger(&BotUpdate {
            id,
            status: "stopped".into(),
            state: "{}".into(),
            config: None,
            time_ms: T0 + 3 * DAY,
        })
        .await
        .unwrap();
}

async fn report(store: &dyn Store, name: &str, method: Method) -> BotGains {
    let opts = Options::new(method, 365).unwrap();
    let mut r = gains_report(Some(store), &Which::Bot(name.into()), opts, 2024)
        .await
        .unwrap();
    assert_eq!(r.bots.len(), 1);
    r.bots.remove(0)
}

#[tokio::test]
async fn coins_brought_in_with_and_without_a_basis_by_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    bot(&store, "given", Some("50000")).await;
    bot(&store, "market", None).await;

    // Lots of BTC: the coins, 0.1 at 50000 (given) = 5000; the buy, 0.05 for 3500 + 3.5 fee =
    // 3503.5. The sell of 0.08 brings 4800 − 4.8 = 4795.2; the stop releases 0.07.
    // (method, cost of the 0.08 sold, lots consumed as (quantity, cost, basis)).
    let cases = [
        (
            Method::Fifo,
            "4000",
            vec![("0.08", "4000", BasisSource::Given)],
            vec![
                ("0.02", "1000", BasisSource::Given),
                ("0.05", "3503.5", BasisSource::Trade),
            ],
        ),
        (
            Method::Lifo,
            "5003.5",
            vec![
                ("0.05", "3503.5", BasisSource::Trade),
                ("0.03", "1500", BasisSource::Given),
            ],
            vec![("0.07", "3500", BasisSource::Given)],
        ),
        (
            Method::Hifo,
            "5003.5",
            vec![
                ("0.05", "3503.5", BasisSource::Trade),
                ("0.03", "1500", BasisSource::Given),
            ],
            vec![("0.07", "3500", BasisSource::Given)],
        ),
    ];
    for (method, cost, sold, released) in cases {
        let b = report(&store, "given", method).await;
        assert_eq!(b.disposals.len(), 1, "{method:?}");
        let x = &b.disposals[0];
        assert_eq!((x.asset.as_str(), x.quantity), ("BTC", d("0.08")));
        assert_eq!(x.proceeds, d("4795.2"), "{method:?}");
        assert_eq!(x.cost, d(cost), "{method:?}");
        assert_eq!(x.gain, d("4795.2") - d(cost), "{method:?}");
        assert!(x.flags.is_empty(), "{method:?}: {:?}", x.flags);
        let lots: Vec<_> = x
            .lots
            .iter()
            .map(|l| (l.quantity, l.cost, l.basis))
            .collect();
        let want: Vec<_> = sold.iter().map(|(q, c, s)| (d(q), d(c), *s)).collect();
        assert_eq!(lots, want, "{method:?}");
        // The stop released the rest of BTC's lots with their basis (not a disposal), and the
        // quote.
        let btc: Vec<_> = b
            .transfers_out
            .iter()
            .filter(|t| t.asset == "BTC")
            .collect();
        assert_eq!(btc.len(), 1);
        assert_eq!(btc[0].kind, TransferKind::Release);
        assert_eq!(btc[0].quantity, d("0.07"));
        let lots: Vec<_> = btc[0]
            .lots
            .iter()
            .map(|l| (l.quantity, l.cost, l.basis))
            .collect();
        let want: Vec<_> = released.iter().map(|(q, c, s)| (d(q), d(c), *s)).collect();
        assert_eq!(lots, want, "{method:?}: released");
        assert_eq!(btc[0].cost + x.cost, d("8503.5"));
    }
    // Average: 8503.5 / 0.15 = 56690 a unit; 0.08 cost 4535.2, 0.07 released at 3968.3.
    let b = report(&store, "given", Method::Average).await;
    assert_eq!(b.disposals[0].cost, d("4535.2"));
    assert_eq!(b.disposals[0].gain, d("260"));
    let btc = b.transfers_out.iter().find(|t| t.asset == "BTC").unwrap();
    assert_eq!((btc.quantity, btc.cost), (d("0.07"), d("3968.3")));

    // Without a basis, the coins' lot is the market's at the transfer (6000 / 0.1 = 60000),
    // flagged: FIFO sells 0.08 of it at a cost of 4800.
    let b = report(&store, "market", Method::Fifo).await;
    let x = &b.disposals[0];
    assert_eq!((x.cost, x.gain), (d("4800"), d("-4.8")));
    assert_eq!(x.lots[0].basis, BasisSource::Market);
    assert_eq!(x.flags, [Flag::BasisFromMarket]);
    let btc = b.transfers_out.iter().find(|t| t.asset == "BTC").unwrap();
    assert_eq!(btc.cost, d("1200") + d("3503.5"));
}
