//! What every crash test checks once the kills are over, whatever the venue: the daemon's store
//! (read directly, not through the runtime) against the venue's account (its orders, fills and
//! balances as the venue keeps them: the paper account in the same store, or a simulator's
//! `--data-dir`).
//! - no client id sent twice: the venue's orders are unique by client id, every one of them is
//!   a stored order of one bot, and no order was refused as a duplicate;
//! - every rebalance completed or was closed (none `open`, no order without a final status);
//! - no lost fill and nothing applied twice: each bot's stored fills are exactly the venue's
//!   fills of its client ids, each once, and its ledger entries once;
//! - each bot's ledger equals, exactly, its flows plus the venue's fills of its client ids
//!   (fees included), never negative;
//! - the account is whole: its balances are its starting balances plus the effect of each of
//!   its fills, and they exceed the sum of the ledgers by exactly what was never the bots'
//!   (the starting balances less the bots' net flows).

use rust_decimal::Decimal;
use smartfolio_exchange::paper::PaperAccount;
use smartfolio_store::{SqliteStore, Store, fill_ledger_entries};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// What the kills left, counted.
#[derive(Debug)]
pub struct Stats {
    pub bots: usize,
    pub rebalances: usize,
    /// Rebalances a kill interrupted, closed by a recovery.
    pub interrupted: usize,
    /// Of which deploys.
    pub interrupted_deploys: usize,
    pub orders: usize,
    pub fills: usize,
}

impl Stats {
    /// Print what the kills left (`what`: the test and how it ran), and fail unless the kills
    /// exercised recovery (a kill inside a rebalance) and the bots traded.
    pub fn report(&self, what: &str, summary: &serde_json::Value) {
        eprintln!(
            "{what}; {} bots, {} rebalances ({} interrupted by a kill, {} of them deploys), \
             {} venue orders, {} fills; last run: {summary}",
            self.bots,
            self.rebalances,
            self.interrupted,
            self.interrupted_deploys,
            self.orders,
            self.fills
        );
        assert!(self.bots >= 3);
        assert!(
            self.interrupted > 0,
            "no kill landed inside a rebalance: the test did not exercise recovery"
        );
        assert!(
            self.rebalances > self.bots,
            "the bots hardly traded: the test did not exercise rebalances"
        );
    }
}

/// Zero amounts dropped, the others normalized (so `1.50` equals `1.5`).
fn canonical(m: BTreeMap<String, Decimal>) -> BTreeMap<String, Decimal> {
    m.into_iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(a, v)| (a, v.normalize()))
        .collect()
}

/// Check the daemon's data directory `data` against the venue's `account`, which started with
/// `start` and has been used by the daemon's bots only. `fill_id` is the id the venue gives a
/// fill of the account on the wire (what the daemon stores).
pub async fn check(
    data: &Path,
    account: &PaperAccount,
    start: &[(&str, Decimal)],
    fill_id: fn(&str) -> String,
) -> Stats {
    let store = SqliteStore::open(data).await.unwrap();

    // No client id sent twice; every venue order is one of ours.
    let mut venue_ids = HashSet::new();
    for o in &account.orders {
        assert!(
            venue_ids.insert(o.client_id.clone()),
            "client id {} twice at the venue",
            o.client_id
        );
    }
    let bots = store.list_bots().await.unwrap();
    let mut owner: HashMap<String, i64> = HashMap::new();
    let mut rebalances = 0;
    let mut interrupted = 0;
    let mut interrupted_deploys = 0;
    for b in &bots {
        for o in store.orders(b.id).await.unwrap() {
            assert!(
                !o.error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("duplicate_client_id"),
                "{o:?}"
            );
            assert!(o.status.is_final(), "order not final: {o:?}");
            assert!(owner.insert(o.client_id.clone(), b.id).is_none());
        }
        let rbs = store.rebalances(b.id).await.unwrap();
        for r in &rbs {
            assert_ne!(r.status, "open", "bot {}: {r:?}", b.name);
        }
        rebalances += rbs.len();
        interrupted += rbs.iter().filter(|r| r.status == "interrupted").count();
        interrupted_deploys += rbs
            .iter()
            .filter(|r| r.status == "interrupted" && r.kind == "deploy")
            .count();
        assert_eq!(
            b.status, "running",
            "bot {} is {}: every bot deploys and keeps running; its state: {}",
            b.name, b.status, b.state
        );
    }
    for o in &account.orders {
        assert!(
            owner.contains_key(&o.client_id),
            "venue order {} is no bot's",
            o.client_id
        );
    }
    assert!(store.open_rebalances().await.unwrap().is_empty());
    assert!(store.unfinished_orders().await.unwrap().is_empty());

    // Each ledger = its flows + the venue's fills of its client ids, exactly.
    let mut expected: BTreeMap<i64, BTreeMap<String, Decimal>> = BTreeMap::new();
    let mut net_flows: BTreeMap<String, Decimal> = BTreeMap::new();
    for b in &bots {
        let e = expected.entry(b.id).or_default();
        for f in store.flows(b.id).await.unwrap() {
            let sign = if f.kind == "deposit" {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            *e.entry(f.asset.clone()).or_default() += sign * f.amount;
            *net_flows.entry(f.asset.clone()).or_default() += sign * f.amount;
        }
    }
    let mut venue_fills_of: HashMap<i64, HashSet<String>> = HashMap::new();
    for f in &account.fills {
        let bot = owner[&f.client_id];
        assert!(
            venue_fills_of
                .entry(bot)
                .or_default()
                .insert(fill_id(&f.fill_id)),
            "venue fill {} twice at the venue",
            f.fill_id
        );
        let e = expected.entry(bot).or_default();
        for (asset, amount, _) in fill_ledger_entries(f) {
            *e.entry(asset).or_default() += amount;
        }
    }
    let mut ledgers: BTreeMap<String, Decimal> = BTreeMap::new();
    for b in &bots {
        let got = store.balances(b.id).await.unwrap();
        for (a, v) in &got {
            assert!(*v >= Decimal::ZERO, "bot {} holds {v} {a}", b.name);
            *ledgers.entry(a.clone()).or_default() += *v;
        }
        // Every venue fill recorded once: no fill lost, none applied twice.
        let stored: Vec<String> = store
            .fills(b.id)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.fill_id)
            .collect();
        let set: HashSet<String> = stored.iter().cloned().collect();
        assert_eq!(
            set.len(),
            stored.len(),
            "bot {}: a fill stored twice",
            b.name
        );
        assert_eq!(
            set,
            venue_fills_of.remove(&b.id).unwrap_or_default(),
            "bot {}: stored fills vs venue fills",
            b.name
        );
        let got = canonical(got.into_iter().collect());
        let want = canonical(expected.remove(&b.id).unwrap_or_default());
        assert_eq!(got, want, "bot {}: ledger vs flows + venue fills", b.name);
    }

    // The account survived the kills whole: its balances are the starting ones plus the effect
    // of each of its fills, exactly, and none is locked (no order is left open).
    let mut from_fills: BTreeMap<String, Decimal> =
        start.iter().map(|(a, v)| (a.to_string(), *v)).collect();
    for f in &account.fills {
        for (asset, amount, _) in fill_ledger_entries(f) {
            *from_fills.entry(asset).or_default() += amount;
        }
    }
    let held: BTreeMap<String, Decimal> = canonical(
        account
            .balances
            .iter()
            .map(|b| (b.asset.clone(), b.total()))
            .collect(),
    );
    assert_eq!(held, canonical(from_fills), "account vs start + fills");
    assert!(account.balances.iter().all(|b| b.locked.is_zero()));
    // The account less what was never the bots' (start − net flows) = Σ ledgers, per asset
    // (worked from the account down, so no sum needs more digits than a Decimal has); so the
    // ledgers never exceed the account either.
    let mut bots_part: BTreeMap<String, Decimal> = held.clone();
    for (a, v) in start {
        *bots_part.entry(a.to_string()).or_default() -= *v;
    }
    for (a, v) in &net_flows {
        *bots_part.entry(a.clone()).or_default() += *v;
    }
    // Exact but for the last of a Decimal's 28 digits: an account of a billion keeps 19
    // decimals, a bot's ledger more.
    let assets: std::collections::BTreeSet<&String> =
        bots_part.keys().chain(ledgers.keys()).collect();
    for a in assets {
        let (got, want) = (
            bots_part.get(a).copied().unwrap_or_default(),
            ledgers.get(a).copied().unwrap_or_default(),
        );
        assert!(
            (got - want).abs() <= Decimal::new(1, 18),
            "{a}: the account {held:?} less (start − net flows {net_flows:?}) is {got}, \
             Σ ledgers {want}"
        );
    }
    for (asset, sum) in &ledgers {
        let has = held.get(asset).copied().unwrap_or_default();
        assert!(*sum <= has, "{asset}: ledgers {sum} > account {has}");
    }

    // Ledger entries of a fill are written once.
    use sqlx::ConnectOptions;
    let mut c = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data.join("smartfolio.db"))
        .read_only(true)
        .connect()
        .await
        .unwrap();
    let dups: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT bot_id, ref, asset, kind, COUNT(*) FROM ledger WHERE kind IN ('trade', 'fee') \
         GROUP BY bot_id, ref, asset, kind HAVING COUNT(*) > 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert!(dups.is_empty(), "ledger entries applied twice: {dups:?}");
    Stats {
        bots: bots.len(),
        rebalances,
        interrupted,
        interrupted_deploys,
        orders: account.orders.len(),
        fills: account.fills.len(),
    }
}
