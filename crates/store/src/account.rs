//! An account's bots as loading them reads them ([`crate::Store::account_bots`]): a few
//! statements for the whole venue account (its bots; their last rebalance numbers, ledger
//! balances and flows), not three per bot. The statements are the same on both backends but
//! for their placeholders; each backend sums the ledger its own way (exact NUMERIC in
//! PostgreSQL, canonical text summed as decimals in SQLite), as its `balances` does.

use crate::{BotId, BotRecord, FlowRecord};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One bot of a venue account, as the runtime loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBot {
    pub record: BotRecord,
    /// The highest sequence number of its rebalances (none yet: None).
    pub last_seq: Option<i64>,
    /// Its ledger's balance per asset, as [`crate::Store::balances`] answers it.
    pub balances: Vec<(String, Decimal)>,
    /// Its deposits' value less its withdrawals' (every flow not a deposit), as its flows say.
    pub net_invested: Decimal,
}

/// The account's four statements (its bots with `cols`, their last rebalance numbers, ledger
/// entries as `(bot_id, asset, amount)`, flows) with the venue and the account as
/// `placeholders` (the backend's spelling of parameters 1 and 2). `sum`: the ledger's amounts
/// summed per bot and asset in SQL (exact NUMERIC), else each entry (text, summed by the
/// caller).
pub(crate) fn statements(cols: &str, placeholders: [&str; 2], sum: bool) -> [String; 4] {
    let ids = "SELECT id FROM bots WHERE venue = $1 AND account = $2";
    let ledger = if sum {
        format!(
            "SELECT bot_id, asset, SUM(amount) FROM ledger WHERE bot_id IN ({ids}) \
             GROUP BY bot_id, asset"
        )
    } else {
        format!("SELECT bot_id, asset, amount FROM ledger WHERE bot_id IN ({ids})")
    };
    [
        format!("SELECT {cols} FROM bots WHERE venue = $1 AND account = $2 ORDER BY id"),
        format!("SELECT bot_id, MAX(seq) FROM rebalances WHERE bot_id IN ({ids}) GROUP BY bot_id"),
        ledger,
        format!("SELECT * FROM flows WHERE bot_id IN ({ids}) ORDER BY id"),
    ]
    .map(|s| {
        s.replace("$1", placeholders[0])
            .replace("$2", placeholders[1])
    })
}

/// Ledger rows `(bot, asset, amount)` grouped per bot, each bot's then made its balances by
/// `balances` (the backend's sum or clean-up).
pub(crate) fn per_bot<A, T>(
    rows: Vec<(BotId, String, A)>,
    balances: impl Fn(Vec<(String, A)>) -> crate::StoreResult<T>,
) -> crate::StoreResult<BTreeMap<BotId, T>> {
    let mut by_bot: BTreeMap<BotId, Vec<(String, A)>> = BTreeMap::new();
    for (b, a, v) in rows {
        by_bot.entry(b).or_default().push((a, v));
    }
    by_bot
        .into_iter()
        .map(|(b, r)| Ok((b, balances(r)?)))
        .collect()
}

/// The bots with what the other statements read of them.
pub(crate) fn assemble(
    bots: Vec<BotRecord>,
    seqs: Vec<(BotId, i64)>,
    mut balances: BTreeMap<BotId, Vec<(String, Decimal)>>,
    flows: Vec<FlowRecord>,
) -> Vec<StoredBot> {
    let seqs: BTreeMap<BotId, i64> = seqs.into_iter().collect();
    let mut invested: BTreeMap<BotId, Decimal> = BTreeMap::new();
    for f in flows {
        let v = if f.kind == "deposit" {
            f.value
        } else {
            -f.value
        };
        *invested.entry(f.bot_id).or_default() += v;
    }
    bots.into_iter()
        .map(|record| StoredBot {
            last_seq: seqs.get(&record.id).copied(),
            balances: balances.remove(&record.id).unwrap_or_default(),
            net_invested: invested.get(&record.id).copied().unwrap_or_default(),
            record,
        })
        .collect()
}
