//! Every store test, on every backend: each test below is a function of a fresh [`Db`], run as
//! `sqlite::<name>` and, with the `postgres` feature, `postgres::<name>` (which needs
//! `SMARTFOLIO_TEST_POSTGRES` and fails without it). Backend-specific tests follow.

mod common;

use common::Db;
use rust_decimal_macros::dec;
use smartfolio_exchange::paper::PaperChange;
use smartfolio_exchange::{
    Balance, FeePaid, Fill, Order, OrderKind, OrderSize, OrderStatus, Side, TimeInForce,
};
use smartfolio_store::conformance::{self, new_bot};
use smartfolio_store::*;

/// `mod sqlite` and `mod postgres`, one `#[tokio::test]` per listed test in each.
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::Db::sqlite().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::Db::postgres().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_each_backend!(
    migrations_create_a_fresh_database_and_reopen_it,
    duplicate_bot_names_conflict,
    rebalance_orders_fills_and_ledger_round_trip,
    applying_the_same_fill_twice_is_a_no_op,
    a_failing_statement_rolls_back_the_whole_rebalance,
    flows_close_ledger_and_snapshots,
    coins_brought_in_keep_their_basis,
    the_command_queue_claims_atomically,
    commands_are_claimed_by_their_accounts_owner,
    account_bots_read_what_the_per_bot_reads_say,
    a_database_from_a_newer_smartfolio_is_refused_untouched,
    paper_accounts_persist,
    paper_order_v2_fields_round_trip,
    money_is_exact_at_28_significant_digits,
    pages_of_rebalances_orders_and_fills,
    snapshot_series_and_neighbours,
    leases_are_taken_renewed_expired_and_released,
    two_workers_race_for_one_account,
    fenced_writes_refuse_a_stale_epoch,
);

async fn leases_are_taken_renewed_expired_and_released(db: &Db) {
    conformance::leases_are_taken_renewed_expired_and_released(&*db.open().await).await;
}

/// Two handles on one database, as two workers' processes hold.
async fn two_workers_race_for_one_account(db: &Db) {
    let a = db.open().await;
    let b = db.open().await;
    conformance::two_workers_race_for_one_account(&*a, &*b).await;
}

async fn fenced_writes_refuse_a_stale_epoch(db: &Db) {
    conformance::fenced_writes_refuse_a_stale_epoch(&*db.open().await).await;
}

async fn pages_of_rebalances_orders_and_fills(db: &Db) {
    conformance::pages_of_rebalances_orders_and_fills(&*db.open().await).await;
}

async fn snapshot_series_and_neighbours(db: &Db) {
    conformance::snapshot_series_and_neighbours(&*db.open().await).await;
}

async fn migrations_create_a_fresh_database_and_reopen_it(db: &Db) {
    let store = db.open().await;
    if let Some(file) = db.file() {
        assert!(file.exists(), "{}", file.display());
    }
    let id = store.create_bot(&new_bot("alpha")).await.unwrap();
    store.close().await;
    let store = db.open().await;
    let bot = store.bot(id).await.unwrap().unwrap();
    assert_eq!(bot.name, "alpha");
    assert_eq!(bot.state, "{\"n\":0}");
    assert_eq!(store.bot_by_name("alpha").await.unwrap().unwrap().id, id);
    assert!(store.bot(id + 1).await.unwrap().is_none());
    store.close().await;
}

async fn duplicate_bot_names_conflict(db: &Db) {
    conformance::duplicate_bot_names_conflict(&*db.open().await).await;
}

async fn rebalance_orders_fills_and_ledger_round_trip(db: &Db) {
    conformance::rebalance_orders_fills_and_ledger_round_trip(&*db.open().await).await;
}

async fn applying_the_same_fill_twice_is_a_no_op(db: &Db) {
    conformance::applying_the_same_fill_twice_is_a_no_op(&*db.open().await).await;
}

async fn a_failing_statement_rolls_back_the_whole_rebalance(db: &Db) {
    conformance::a_failing_statement_rolls_back_the_whole_rebalance(&*db.open().await).await;
}

async fn flows_close_ledger_and_snapshots(db: &Db) {
    conformance::flows_close_ledger_and_snapshots(&*db.open().await).await;
}

async fn coins_brought_in_keep_their_basis(db: &Db) {
    conformance::coins_brought_in_keep_their_basis(&*db.open().await).await;
}

/// Two handles on one database (as the daemon and a `smartfolio bot` process hold).
async fn the_command_queue_claims_atomically(db: &Db) {
    let a = db.open().await;
    let b = db.open().await;
    conformance::command_queue(&*a, &*b).await;
}

/// Two handles on one database (as two workers holding different accounts hold).
async fn commands_are_claimed_by_their_accounts_owner(db: &Db) {
    let a = db.open().await;
    let b = db.open().await;
    conformance::commands_are_claimed_by_their_accounts_owner(&*a, &*b).await;
}

async fn account_bots_read_what_the_per_bot_reads_say(db: &Db) {
    conformance::account_bots_read_what_the_per_bot_reads_say(&*db.open().await).await;
}

async fn a_database_from_a_newer_smartfolio_is_refused_untouched(db: &Db) {
    let store = db.open().await;
    store.create_bot(&new_bot("alpha")).await.unwrap();
    store.close().await;
    db.exec(
        "UPDATE app_meta SET value = '99' WHERE key = 'schema_version'; \
         UPDATE app_meta SET value = '9.9.9' WHERE key = 'app_version'",
    )
    .await;
    let before = db.fingerprint().await;
    let e = db.try_open().await.err().expect("refused");
    let text = e.to_string();
    assert!(
        matches!(e, StoreError::NewerVersion { db_schema: 99, .. }),
        "{text}"
    );
    assert!(text.contains("schema 99"), "{text}");
    assert!(text.contains("9.9.9"), "{text}");
    assert!(
        text.contains(&format!("schema {} at most", db.known_schema())),
        "{text}"
    );
    assert_eq!(db.fingerprint().await, before, "the database was changed");
}

async fn paper_accounts_persist(db: &Db) {
    let store = db.open().await;
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
    let store = db.open().await;
    let acc = store.load_paper("main").await.unwrap().unwrap();
    assert_eq!(acc.next_seq, 3);
    assert_eq!(acc.orders, vec![o2]);
    assert_eq!(acc.fills, vec![f]);
    assert_eq!(acc.balances.len(), 2);
    assert!(store.load_paper("other").await.unwrap().is_none());
    store.close().await;
}

fn v2_orders() -> [Order; 2] {
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
    [new, resting]
}

/// Store the v2 orders in the paper account `main`, reopen the store and load its orders.
async fn store_v2_orders_and_reload(db: &Db) -> Vec<Order> {
    let store = db.open().await;
    store
        .apply_paper(
            "main",
            &PaperChange {
                orders: v2_orders().to_vec(),
                next_seq: 6,
                ..PaperChange::default()
            },
        )
        .await
        .unwrap();
    store.close().await;
    let store = db.open().await;
    let acc = store.load_paper("main").await.unwrap().unwrap();
    store.close().await;
    acc.orders
}

/// The fields of the exchange interface v2 (size in quote, time in force, post-only, quote
/// filled, fees) round-trip.
async fn paper_order_v2_fields_round_trip(db: &Db) {
    assert_eq!(store_v2_orders_and_reload(db).await, v2_orders());
}

/// Amounts with 28 significant digits (rust_decimal's precision) and tiny fees come back
/// exactly, and ledger sums are exact: a float would lose the last digits.
async fn money_is_exact_at_28_significant_digits(db: &Db) {
    let store = db.open().await;
    let id = store.create_bot(&new_bot("exact")).await.unwrap();
    let big = dec!(1234567890123456.789012345678);
    let tiny = dec!(0.000000000000000000000000001);
    store
        .record_flow(&NewFlow {
            bot_id: id,
            kind: FlowKind::Deposit,
            items: vec![
                FlowItem {
                    asset: "USDT".into(),
                    amount: big,
                    value: big,
                    basis: None,
                },
                FlowItem {
                    asset: "USDT".into(),
                    amount: tiny,
                    value: tiny,
                    basis: None,
                },
            ],
            time_ms: 1,
            bot: None,
        })
        .await
        .unwrap();
    assert_eq!(
        store.balances(id).await.unwrap(),
        vec![("USDT".into(), dec!(1234567890123456.789012345678) + tiny)]
    );
    let flows = store.flows(id).await.unwrap();
    assert_eq!((flows[0].amount, flows[1].amount), (big, tiny));
    // Canonical: no trailing zeros, whichever way the backend stores it.
    store
        .insert_snapshots(&[Snapshot {
            bot_id: id,
            time_ms: 5,
            value: dec!(10.500),
            net_invested: dec!(10.0),
            hold_value: dec!(0.10),
        }])
        .await
        .unwrap();
    let s = &store.snapshots(id).await.unwrap()[0];
    assert_eq!(
        (
            s.value.to_string(),
            s.net_invested.to_string(),
            s.hold_value.to_string()
        ),
        ("10.5".into(), "10".into(), "0.1".into())
    );
    store.close().await;
}

// ----------------------------------------------------------------------------------- SQLite only

#[tokio::test]
async fn sqlite_a_corrupt_file_is_a_clear_error() {
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

/// The read-only handle (`Store::reader`) reads beside the writer: while another connection
/// holds a write transaction open, a page through the reader answers at once with what was
/// committed before it (never half of the open transaction), sees the transaction whole once it
/// commits, and cannot write.
#[tokio::test]
async fn sqlite_the_reader_reads_beside_an_open_write_and_cannot_write() {
    use sqlx::{ConnectOptions, Connection};
    let db = Db::sqlite().await;
    let store = db.open().await;
    let id = conformance::funded_bot(&*store).await;
    conformance::write_history(&*store, id, "a", 1, &[1000, 2000]).await;
    let reader = store.reader().expect("SQLite gives a read-only handle");
    let all = PageQuery {
        limit: 50,
        ..PageQuery::default()
    };
    assert_eq!(reader.rebalance_page(id, &all).await.unwrap().total, 2);

    // A writer of its own holds a transaction open with two more rebalances in it.
    let mut w = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db.file().unwrap())
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut w)
        .await
        .unwrap();
    for t in [3000, 4000] {
        sqlx::query(
            "INSERT INTO rebalances (bot_id, seq, kind, reason, status, started_ms, plan) \
             VALUES (?, ?, 'rebalance', 'threshold', 'completed', ?, '{}')",
        )
        .bind(id)
        .bind(t)
        .bind(t)
        .execute(&mut w)
        .await
        .unwrap();
    }
    let during = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        reader.rebalance_page(id, &all),
    )
    .await
    .expect("the reader does not wait for the open write")
    .unwrap();
    assert_eq!(during.total, 2);
    assert_eq!(during.items.len(), 2);
    sqlx::raw_sql("COMMIT").execute(&mut w).await.unwrap();
    w.close().await.unwrap();
    let after = reader.rebalance_page(id, &all).await.unwrap();
    assert_eq!((after.total, after.items.len()), (4, 4));
    assert_eq!(after.items[0].started_ms, 4000);

    let e = reader.create_bot(&new_bot("through-the-reader")).await;
    assert!(e.is_err(), "a write through the reader: {e:?}");
    assert!(
        store
            .bot_by_name("through-the-reader")
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;
    db.finish().await;
}

/// Paper orders stored before schema 3 (no size unit, time in force, quote filled or fees) load
/// as base-sized GTC orders whose quote filled and fees are derived from their fills; the v2
/// fields of newer orders round-trip beside them. (PostgreSQL started at the v2 columns.)
#[tokio::test]
async fn sqlite_paper_orders_from_schema_2() {
    let db = Db::sqlite().await;
    db.open().await.close().await;
    // What schema 2 wrote: the migration leaves the new columns at their defaults (NULL for the
    // quote filled and the fees).
    db.exec(
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
    let store = db.open().await;
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
    store.close().await;
    assert_eq!(store_v2_orders_and_reload(&db).await[1..], v2_orders());
}

// ---------------------------------------------------------------------------- store selection

#[tokio::test]
async fn open_store_defaults_to_sqlite_and_refuses_what_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    assert_eq!(
        store.location(),
        dir.path().join(DB_FILE).display().to_string()
    );
    store.close().await;
    let store = open_store(Some("  "), dir.path()).await.unwrap();
    store.close().await;
    let e = open_store(Some("mysql://root:hunter2@db/sf"), dir.path())
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(matches!(e, StoreError::Location { .. }), "{text}");
    assert!(text.contains("mysql://root:***@db/sf"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("postgres://"), "{text}");
}

/// Built without PostgreSQL, a postgres URL is refused with the way to get it.
#[cfg(not(feature = "postgres"))]
#[tokio::test]
async fn a_postgres_url_without_the_feature_says_how_to_build_it() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_store(Some("postgres://sf:hunter2@127.0.0.1/sf"), dir.path())
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(text.contains("postgres://sf:***@127.0.0.1/sf"), "{text}");
    assert!(text.contains("--features postgres"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!dir.path().join(DB_FILE).exists());
}

// ------------------------------------------------------------------------------- PostgreSQL only

#[cfg(feature = "postgres")]
mod postgres_only {
    use super::common::postgres_url;
    use smartfolio_store::*;

    /// The test URL with its password replaced.
    fn with_password(url: &str, password: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let at = rest.rfind('@').unwrap_or_else(|| {
            panic!("SMARTFOLIO_TEST_POSTGRES must carry user:password (the server must check it)")
        });
        let user = rest[..at].split(':').next().unwrap();
        format!("{scheme}://{user}:{password}@{}", &rest[at + 1..])
    }

    #[tokio::test]
    async fn a_wrong_password_is_a_clear_error_with_the_password_masked() {
        let url = with_password(&postgres_url(), "not-the-password-42");
        let dir = tempfile::tempdir().unwrap();
        let e = open_store(Some(&url), dir.path())
            .await
            .err()
            .expect("refused");
        let text = e.to_string();
        assert!(matches!(e, StoreError::Connect { .. }), "{text}");
        assert!(text.contains(&mask_url(&url)), "{text}");
        assert!(text.contains(":***@"), "{text}");
        assert!(!text.contains("not-the-password-42"), "{text}");
        assert!(text.contains("password authentication failed"), "{text}");
        assert!(text.contains("check the user and password"), "{text}");
        assert!(
            !text.contains(" at line "),
            "the server's source line: {text}"
        );
        assert!(
            !dir.path().join(DB_FILE).exists(),
            "no SQLite file on the side"
        );
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_is_a_clear_error() {
        // Port 1 on loopback: nothing listens there.
        let url = "postgres://sf:secret-pw@127.0.0.1:1/sf";
        let e = PgStore::open(url).await.err().expect("refused");
        let text = e.to_string();
        assert!(matches!(e, StoreError::Connect { .. }), "{text}");
        assert!(
            text.contains("cannot open the PostgreSQL store postgres://sf:***@127.0.0.1:1/sf"),
            "{text}"
        );
        assert!(!text.contains("secret-pw"), "{text}");
    }

    #[tokio::test]
    async fn open_store_selects_postgres_by_its_url() {
        let url = postgres_url();
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(Some(&url), dir.path()).await.unwrap();
        assert_eq!(store.location(), mask_url(&url));
        assert!(store.list_bots().await.is_ok());
        store.close().await;
        assert!(!dir.path().join(DB_FILE).exists(), "SQLite was not opened");
    }

    /// 24 workers on 4 handles (4 pools of connections, as 4 processes) take one account at
    /// the same instant: exactly one gets it; once it has expired, they race again and exactly
    /// one takes it over, at epoch 2.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_workers_take_one_account_exactly_once() {
        use std::sync::Arc;
        let db = super::Db::postgres().await;
        let mut handles = Vec::new();
        for _ in 0..4 {
            handles.push(db.open().await);
        }
        for (round, now, epoch) in [(0, 1_000, 1), (1, 61_000, 2)] {
            let start = Arc::new(tokio::sync::Barrier::new(24));
            let tasks: Vec<_> = (0..24)
                .map(|i| {
                    let store = handles[i % 4].clone();
                    let start = start.clone();
                    tokio::spawn(async move {
                        start.wait().await;
                        store
                            .acquire_lease("binance", "main", &format!("w{i}"), now, 60_000)
                            .await
                    })
                })
                .collect();
            let mut won = Vec::new();
            for t in tasks {
                if let Some(lease) = t.await.unwrap().unwrap() {
                    won.push(lease);
                }
            }
            assert_eq!(won.len(), 1, "round {round}: {won:?}");
            assert_eq!(won[0].epoch, epoch);
            let rows = handles[0].leases().await.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].holder.as_deref(), Some(won[0].holder.as_str()));
            assert_eq!((rows[0].epoch, rows[0].expires_ms), (epoch, now + 60_000));
        }
        for h in handles {
            h.close().await;
        }
        db.finish().await;
    }
}
