use rust_decimal_macros::dec;
use smartfolio_exchange::paper::{PaperChange, PaperPersistence};
use smartfolio_exchange::{
    Balance, FeePaid, Fill, Order, OrderKind, OrderSize, OrderStatus, Side, TimeInForce,
};
use smartfolio_store::conformance::{self, new_bot};
use smartfolio_store::*;
use std::path::Path;

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
    conformance::duplicate_bot_names_conflict(&store).await;
}

#[tokio::test]
async fn rebalance_orders_fills_and_ledger_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    conformance::rebalance_orders_fills_and_ledger_round_trip(&store).await;
}

#[tokio::test]
async fn applying_the_same_fill_twice_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    conformance::applying_the_same_fill_twice_is_a_no_op(&store).await;
}

#[tokio::test]
async fn a_failing_statement_rolls_back_the_whole_rebalance() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    conformance::a_failing_statement_rolls_back_the_whole_rebalance(&store).await;
}

#[tokio::test]
async fn flows_close_ledger_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    conformance::flows_close_ledger_and_snapshots(&store).await;
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
        size: OrderSize::Base(dec!(2)),
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        filled_quantity: dec!(0),
        filled_quote: dec!(0),
        fees: vec![],
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
    o2.filled_quote = dec!(199);
    o2.fees = vec![FeePaid {
        asset: "BTC".into(),
        amount: dec!(0.002),
    }];
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

/// Two handles on one database (as the daemon and a `smartfolio bot` process hold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_queue_claims_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open(dir.path()).await.unwrap();
    let b = SqliteStore::open(dir.path()).await.unwrap();
    conformance::command_queue(&a, &b).await;
}

/// Paper orders stored before schema 3 (no size unit, time in force, quote filled or fees) load
/// as base-sized GTC orders whose quote filled and fees are derived from their fills; the v2
/// fields of newer orders round-trip.
#[tokio::test]
async fn paper_orders_from_schema_2_and_v2_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.close().await;
    let db = dir.path().join(DB_FILE);
    // What schema 2 wrote: the migration leaves the new columns at their defaults (NULL for the
    // quote filled and the fees).
    raw_exec(
        &db,
        "INSERT INTO paper_accounts (account, next_seq) VALUES ('main', 4); \
         INSERT INTO paper_orders (account, client_id, venue_id, base, quote, side, kind, \
         limit_price, quantity, filled_quantity, average_price, status, created_ms, updated_ms) \
         VALUES ('main', 'old', 'P1', 'BTC', 'USDT', 'buy', 'limit', '100', '2', '2', '100', \
         'filled', 5, 7); \
         INSERT INTO paper_fills (account, fill_id, seq, client_id, venue_order_id, base, quote, \
         side, quantity, price, fee, fee_asset, time_ms) VALUES \
         ('main', 'T2', 1, 'old', 'P1', 'BTC', 'USDT', 'buy', '1.5', '100', '0.0015', 'BTC', 6), \
         ('main', 'T3', 2, 'old', 'P1', 'BTC', 'USDT', 'buy', '0.5', '100', '0.25', 'BNB', 7);",
    )
    .await;
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let acc = store.load_paper("main").await.unwrap().unwrap();
    let old = &acc.orders[0];
    assert_eq!(old.size, OrderSize::Base(dec!(2)));
    assert_eq!(old.time_in_force, TimeInForce::Gtc);
    assert!(!old.post_only);
    assert_eq!(old.filled_quote, dec!(200));
    assert_eq!(
        old.fees,
        vec![
            FeePaid {
                asset: "BNB".into(),
                amount: dec!(0.25)
            },
            FeePaid {
                asset: "BTC".into(),
                amount: dec!(0.0015)
            },
        ]
    );

    let new = Order {
        client_id: "new".into(),
        venue_id: "P4".into(),
        base: "BTC".into(),
        quote: "USDT".into(),
        side: Side::Buy,
        kind: OrderKind::Market,
        size: OrderSize::Quote(dec!(150)),
        time_in_force: TimeInForce::Ioc,
        post_only: false,
        filled_quantity: dec!(1),
        filled_quote: dec!(100),
        fees: vec![FeePaid {
            asset: "BNB".into(),
            amount: dec!(0.1),
        }],
        average_price: Some(dec!(100)),
        status: OrderStatus::Expired,
        created_ms: 8,
        updated_ms: 8,
    };
    let resting = Order {
        client_id: "po".into(),
        venue_id: "P5".into(),
        kind: OrderKind::Limit { price: dec!(90) },
        size: OrderSize::Base(dec!(1)),
        time_in_force: TimeInForce::Gtc,
        post_only: true,
        filled_quantity: dec!(0),
        filled_quote: dec!(0),
        fees: vec![],
        average_price: None,
        status: OrderStatus::Open,
        ..new.clone()
    };
    store
        .apply_paper(
            "main",
            &PaperChange {
                orders: vec![new.clone(), resting.clone()],
                next_seq: 6,
                ..PaperChange::default()
            },
        )
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let acc = store.load_paper("main").await.unwrap().unwrap();
    assert_eq!(acc.orders[1..], [new, resting]);
}
