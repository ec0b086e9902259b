use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{PaperChange, PaperPersistence};
use smartfolio_exchange::{Balance, Fill, Order, OrderKind, OrderStatus, Side};
use smartfolio_store::*;
use std::path::Path;

fn new_bot(name: &str) -> NewBot {
    NewBot {
        name: name.into(),
        venue: "paper".into(),
        account: "main".into(),
        quote: "USDT".into(),
        status: "created".into(),
        config: "{}".into(),
        state: "{\"n\":0}".into(),
        time_ms: 1000,
        deposit: vec![],
    }
}

fn order(client_id: &str, leg: i64, side: Side) -> NewOrder {
    NewOrder {
        client_id: client_id.into(),
        leg,
        base: "BTC".into(),
        quote: "USDT".into(),
        side,
        quantity: dec!(0.5),
        kind: OrderKind::Market,
    }
}

fn fill(id: &str, client_id: &str, side: Side, qty: Decimal, price: Decimal, fee: Decimal) -> Fill {
    Fill {
        fill_id: id.into(),
        client_id: client_id.into(),
        venue_order_id: "V1".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side,
        quantity: qty,
        price,
        fee,
        fee_asset: if side == Side::Buy {
            "BTC".into()
        } else {
            "USDT".into()
        },
        time_ms: 2000,
    }
}

fn filled(client_id: &str, qty: Decimal) -> OrderUpdate {
    OrderUpdate {
        client_id: client_id.into(),
        status: OrderState::Filled,
        venue_order_id: Some("V1".into()),
        filled_quantity: qty,
        error: None,
        time_ms: 2000,
    }
}

async fn funded_bot(store: &SqliteStore) -> BotId {
    let id = store.create_bot(&new_bot("alpha")).await.unwrap();
    store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Deposit,
            items: vec![FlowItem {
                asset: "USDT".into(),
                amount: dec!(1000),
                value: dec!(1000),
            }],
            time_ms: 1000,
            bot: None,
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn migrations_create_a_fresh_database_and_reopen_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = SqliteStore::open(&data).await.unwrap();
    assert!(data.join(DB_FILE).exists());
    let id = store.create_bot(&new_bot("alpha")).await.unwrap();
    store.close().await;
    let store = SqliteStore::open(&data).await.unwrap();
    let bot = store.bot(id).await.unwrap().unwrap();
    assert_eq!(bot.name, "alpha");
    assert_eq!(bot.state, "{\"n\":0}");
    assert_eq!(store.bot_by_name("alpha").await.unwrap().unwrap().id, id);
    assert!(store.bot(id + 1).await.unwrap().is_none());
}

#[tokio::test]
async fn duplicate_bot_names_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.create_bot(&new_bot("alpha")).await.unwrap();
    let e = store.create_bot(&new_bot("alpha")).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(e.to_string().contains("alpha"));
    assert_eq!(store.list_bots().await.unwrap().len(), 1);
}

#[tokio::test]
async fn rebalance_orders_fills_and_ledger_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let id = funded_bot(&store).await;
    let rb = store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq: 1,
            kind: "deploy".into(),
            reason: "deploy".into(),
            time_ms: 1500,
            plan: "{}".into(),
            orders: vec![order("c1", 0, Side::Buy)],
            bot: Some(BotUpdate {
                id,
                status: "deploying".into(),
                state: "{\"n\":1}".into(),
                config: None,
                time_ms: 1500,
            }),
        })
        .await
        .unwrap();
    let o = store.order("c1").await.unwrap().unwrap();
    assert_eq!(o.status, OrderState::Pending);
    assert_eq!(o.rebalance_id, rb);
    assert_eq!(o.quantity, dec!(0.5));
    assert_eq!(store.unfinished_orders().await.unwrap().len(), 1);
    assert_eq!(store.bot(id).await.unwrap().unwrap().status, "deploying");

    // Buy 0.5 BTC at 1000 with a 0.001 BTC fee.
    let f = fill("F1", "c1", Side::Buy, dec!(0.5), dec!(1000), dec!(0.001));
    let applied = store
        .apply_fills(&filled("c1", dec!(0.5)), std::slice::from_ref(&f))
        .await
        .unwrap();
    assert_eq!(applied.new_fills.len(), 1);
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("BTC".into(), dec!(0.499)), ("USDT".into(), dec!(500))]
    );
    assert_eq!(
        store.order("c1").await.unwrap().unwrap().status,
        OrderState::Filled
    );
    assert!(store.unfinished_orders().await.unwrap().is_empty());
    let fills = store.fills(id).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].fee, dec!(0.001));
    assert_eq!(fills[0].venue, "paper");

    store
        .finish_rebalance(rb, "completed", "{\"ok\":true}", 2100, None)
        .await
        .unwrap();
    let rbs = store.rebalances(id).await.unwrap();
    assert_eq!(rbs[0].status, "completed");
    assert_eq!(rbs[0].finished_ms, Some(2100));
    assert!(store.open_rebalances().await.unwrap().is_empty());
}

#[tokio::test]
async fn applying_the_same_fill_twice_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let id = funded_bot(&store).await;
    store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq: 1,
            kind: "rebalance".into(),
            reason: "r".into(),
            time_ms: 1500,
            plan: "{}".into(),
            orders: vec![order("c1", 0, Side::Buy)],
            bot: None,
        })
        .await
        .unwrap();
    let f1 = fill("F1", "c1", Side::Buy, dec!(0.2), dec!(1000), Decimal::ZERO);
    let f2 = fill("F2", "c1", Side::Buy, dec!(0.3), dec!(1000), Decimal::ZERO);
    let mut partial = filled("c1", dec!(0.2));
    partial.status = OrderState::PartiallyFilled;
    store
        .apply_fills(&partial, std::slice::from_ref(&f1))
        .await
        .unwrap();
    // The venue reports both fills on the next look-up: only F2 is new.
    let again = store
        .apply_fills(&filled("c1", dec!(0.5)), &[f1.clone(), f2.clone()])
        .await
        .unwrap();
    assert_eq!(again.new_fills, vec![f2.clone()]);
    let third = store
        .apply_fills(&filled("c1", dec!(0.5)), &[f1, f2])
        .await
        .unwrap();
    assert!(third.new_fills.is_empty());
    assert!(third.ledger.is_empty());
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("BTC".into(), dec!(0.5)), ("USDT".into(), dec!(500))]
    );
    assert_eq!(store.fills(id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_failing_statement_rolls_back_the_whole_rebalance() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let id = funded_bot(&store).await;
    // The second order reuses a client id: its insert fails after the rebalance row and the
    // first order were written.
    let e = store
        .begin_rebalance(&NewRebalance {
            bot_id: id,
            seq: 1,
            kind: "rebalance".into(),
            reason: "r".into(),
            time_ms: 1500,
            plan: "{}".into(),
            orders: vec![order("dup", 0, Side::Sell), order("dup", 1, Side::Buy)],
            bot: Some(BotUpdate {
                id,
                status: "running".into(),
                state: "{\"n\":9}".into(),
                config: None,
                time_ms: 1500,
            }),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    assert!(store.rebalances(id).await.unwrap().is_empty());
    assert!(store.orders(id).await.unwrap().is_empty());
    let bot = store.bot(id).await.unwrap().unwrap();
    assert_eq!(bot.state, "{\"n\":0}");
    assert_eq!(bot.status, "created");

    // A withdrawal that would leave a negative balance is refused as a whole.
    let e = store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Withdraw,
            items: vec![FlowItem {
                asset: "USDT".into(),
                amount: dec!(1000.01),
                value: dec!(1000.01),
            }],
            time_ms: 3000,
            bot: None,
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("-0.01"), "{e}");
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("USDT".into(), dec!(1000))]
    );
    assert_eq!(store.flows(id).await.unwrap().len(), 1);

    // Fills of an unknown order change nothing.
    let f = fill("F9", "nope", Side::Buy, dec!(1), dec!(1), Decimal::ZERO);
    assert!(matches!(
        store.apply_fills(&filled("nope", dec!(1)), &[f]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.fills(id).await.unwrap().is_empty());

    // A rebalance sequence number is used once.
    let rb = NewRebalance {
        bot_id: id,
        seq: 7,
        kind: "rebalance".into(),
        reason: "r".into(),
        time_ms: 1500,
        plan: "{}".into(),
        orders: vec![],
        bot: None,
    };
    store.begin_rebalance(&rb).await.unwrap();
    assert!(matches!(
        store.begin_rebalance(&rb).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn flows_close_ledger_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let id = funded_bot(&store).await;
    store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Withdraw,
            items: vec![FlowItem {
                asset: "USDT".into(),
                amount: dec!(250),
                value: dec!(250),
            }],
            time_ms: 3000,
            bot: None,
        })
        .await
        .unwrap();
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("USDT".into(), dec!(750))]
    );
    let flows = store.flows(id).await.unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[1].kind, "withdraw");
    store
        .insert_snapshots(&[
            Snapshot {
                bot_id: id,
                time_ms: 10,
                value: dec!(750),
                net_invested: dec!(750),
                hold_value: dec!(750),
            },
            Snapshot {
                bot_id: id,
                time_ms: 20,
                value: dec!(760.5),
                net_invested: dec!(750),
                hold_value: dec!(755),
            },
        ])
        .await
        .unwrap();
    let snaps = store.snapshots(id).await.unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[1].value, dec!(760.5));
    let released = store
        .close_ledger(&BotUpdate {
            id,
            status: "stopped".into(),
            state: "{}".into(),
            config: None,
            time_ms: 4000,
        })
        .await
        .unwrap();
    assert_eq!(released, vec![("USDT".into(), dec!(750))]);
    assert!(store.balances(id).await.unwrap().is_empty());
    assert!(store.all_balances().await.unwrap().is_empty());
    assert_eq!(store.bot(id).await.unwrap().unwrap().status, "stopped");
}

async fn raw_exec(path: &Path, sql: &'static str) {
    use sqlx::{ConnectOptions, Connection};
    let mut c = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_database_from_a_newer_smartfolio_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.create_bot(&new_bot("alpha")).await.unwrap();
    store.close().await;
    let db = dir.path().join(DB_FILE);
    raw_exec(
        &db,
        "UPDATE app_meta SET value = '7' WHERE key = 'schema_version'",
    )
    .await;
    raw_exec(
        &db,
        "UPDATE app_meta SET value = '9.9.9' WHERE key = 'app_version'",
    )
    .await;
    // Make sure the WAL is folded into the main file before we fingerprint it.
    raw_exec(&db, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    let before = std::fs::read(&db).unwrap();
    let e = SqliteStore::open(dir.path()).await.err().expect("refused");
    let text = e.to_string();
    assert!(
        matches!(e, StoreError::NewerVersion { db_schema: 7, .. }),
        "{text}"
    );
    assert!(text.contains("schema 7"), "{text}");
    assert!(text.contains("9.9.9"), "{text}");
    assert!(
        text.contains(&format!("schema {SCHEMA_VERSION} at most")),
        "{text}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[tokio::test]
async fn a_corrupt_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(DB_FILE);
    std::fs::write(&db, b"this is not a database, just some text that is long enough ....... ................................................................................................").unwrap();
    let e = SqliteStore::open(dir.path()).await.err().expect("refused");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("smartfolio.db"), "{e}");
    assert!(
        e.to_string().contains("not a readable smartfolio database"),
        "{e}"
    );
}

#[tokio::test]
async fn paper_accounts_persist() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert!(store.load_paper("main").await.unwrap().is_none());
    let o = Order {
        client_id: "c1".into(),
        venue_id: "P1".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side: Side::Buy,
        kind: OrderKind::Limit { price: dec!(99.5) },
        quantity: dec!(2),
        filled_quantity: dec!(0),
        average_price: None,
        status: OrderStatus::Open,
        created_ms: 5,
        updated_ms: 5,
    };
    let ch = PaperChange {
        orders: vec![o.clone()],
        fills: vec![],
        balances: vec![Balance {
            asset: "USDT".into(),
            free: dec!(801),
            locked: dec!(199),
        }],
        next_seq: 2,
    };
    store.apply_paper("main", &ch).await.unwrap();
    let mut o2 = o.clone();
    o2.status = OrderStatus::Filled;
    o2.filled_quantity = dec!(2);
    o2.average_price = Some(dec!(99.5));
    let f = Fill {
        fill_id: "PF2".into(),
        client_id: "c1".into(),
        venue_order_id: "P1".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side: Side::Buy,
        quantity: dec!(2),
        price: dec!(99.5),
        fee: dec!(0.002),
        fee_asset: "BTC".into(),
        time_ms: 6,
    };
    let ch2 = PaperChange {
        orders: vec![o2.clone()],
        fills: vec![f.clone()],
        balances: vec![
            Balance {
                asset: "USDT".into(),
                free: dec!(801),
                locked: dec!(0),
            },
            Balance {
                asset: "BTC".into(),
                free: dec!(1.998),
                locked: dec!(0),
            },
        ],
        next_seq: 3,
    };
    store.apply_paper("main", &ch2).await.unwrap();
    store.close().await;
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let acc = store.load_paper("main").await.unwrap().unwrap();
    assert_eq!(acc.next_seq, 3);
    assert_eq!(acc.orders, vec![o2]);
    assert_eq!(acc.fills, vec![f]);
    assert_eq!(acc.balances.len(), 2);
    assert!(store.load_paper("other").await.unwrap().is_none());
}
