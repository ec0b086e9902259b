//! A bot's history by page, as `smartfolio bot history` asks for it through the command
//! protocol (`Request::History`): one page of its rebalances, orders or fills, newest first,
//! from the store's paged queries (`Store::rebalance_page` ...), with the three lists' totals
//! in the same time range, its flows (deposits and withdrawals: few) and its last snapshot.
//! Nothing here reads a whole list of rebalances, orders, fills or snapshots.

use serde::{Deserialize, Serialize};
use smartfolio_bot::{BotResult, BotSummary, RebalanceView, Runtime};
use smartfolio_core::ValidationError;
use smartfolio_store::{
    BotId, Cursor, CursorId, FillRecord, FlowRecord, OrderRecord, Page, PageQuery, Snapshot,
};

/// The largest page.
pub const HISTORY_LIMIT: u32 = 500;
/// The page size when none is given.
pub const HISTORY_DEFAULT: u32 = 20;

/// Which of a bot's lists a page walks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryList {
    #[default]
    Rebalances,
    Orders,
    Fills,
}

fn default_limit() -> u32 {
    HISTORY_DEFAULT
}

/// The page asked for: the list, at most `limit` items strictly older than `before` (the
/// `next` of the page before, `TIME:ID`), of `from_ms <= time < to_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    pub list: HistoryList,
    #[serde(default = "default_limit")]
    pub limit: u32,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub from_ms: Option<i64>,
    #[serde(default)]
    pub to_ms: Option<i64>,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        Self {
            list: HistoryList::default(),
            limit: HISTORY_DEFAULT,
            before: None,
            from_ms: None,
            to_ms: None,
        }
    }
}

impl HistoryQuery {
    /// The limit in range, a cursor that parses, a range that is not empty: each refusal names
    /// the field, the value and what is allowed.
    pub fn check(&self) -> Result<(), ValidationError> {
        self.page().map(drop)
    }

    fn page(&self) -> Result<PageQuery, ValidationError> {
        if !(1..=HISTORY_LIMIT).contains(&self.limit) {
            return Err(ValidationError::new(
                "limit",
                self.limit.to_string(),
                format!("a number of items from 1 to {HISTORY_LIMIT}"),
            ));
        }
        if let (Some(f), Some(t)) = (self.from_ms, self.to_ms)
            && t <= f
        {
            return Err(ValidationError::new(
                "to",
                t.to_string(),
                "a time after --from",
            ));
        }
        let before = match &self.before {
            None => None,
            Some(text) => Some(cursor(text, self.list).ok_or_else(|| {
                ValidationError::new(
                    "before",
                    text,
                    "the `next` a page printed: TIME:ID (TIME in ms, ID the item's id)",
                )
            })?),
        };
        Ok(PageQuery {
            limit: self.limit,
            before,
            from_ms: self.from_ms,
            to_ms: self.to_ms,
        })
    }
}

fn cursor(text: &str, list: HistoryList) -> Option<Cursor> {
    let id = match list {
        HistoryList::Rebalances => CursorId::Integer,
        HistoryList::Orders | HistoryList::Fills => CursorId::Text,
    };
    Cursor::parse(text.trim(), id)
}

/// The items of a page, of whichever list it walks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HistoryItems {
    Rebalances(Vec<RebalanceView>),
    Orders(Vec<OrderRecord>),
    Fills(Vec<FillRecord>),
}

impl HistoryItems {
    pub fn len(&self) -> usize {
        match self {
            Self::Rebalances(v) => v.len(),
            Self::Orders(v) => v.len(),
            Self::Fills(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many items each list holds in the page's time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HistoryTotals {
    pub rebalances: u64,
    pub orders: u64,
    pub fills: u64,
}

/// One page of a bot's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPage {
    pub bot: BotSummary,
    pub list: HistoryList,
    /// Newest first.
    pub items: HistoryItems,
    /// The list's items in the time range, all pages together.
    pub total: u64,
    /// `before` of the next (older) page; none on the last.
    pub next: Option<String>,
    pub totals: HistoryTotals,
    /// The bot's deposits and withdrawals, oldest first.
    pub flows: Vec<FlowRecord>,
    /// Its last value snapshot (in the range, when `to` is given).
    pub last_snapshot: Option<Snapshot>,
}

fn next_text(c: Option<Cursor>) -> Option<String> {
    c.map(|c| c.to_string())
}

/// The page `q` asks for of bot `id`.
pub async fn page(rt: &Runtime, id: BotId, q: &HistoryQuery) -> BotResult<HistoryPage> {
    let page = q.page()?;
    let bot = rt.summary_of(id)?;
    let store = rt.store();
    let count = PageQuery {
        limit: 0,
        before: None,
        ..page.clone()
    };
    let (items, total, next) = match q.list {
        HistoryList::Rebalances => {
            let p = store.rebalance_page(id, &page).await?;
            let Page { items, total, next } = p;
            let items = items.into_iter().map(RebalanceView::from).collect();
            (HistoryItems::Rebalances(items), total, next)
        }
        HistoryList::Orders => {
            let p = store.order_page(id, &page).await?;
            (HistoryItems::Orders(p.items), p.total, p.next)
        }
        HistoryList::Fills => {
            let p = store.fill_page(id, &page).await?;
            (HistoryItems::Fills(p.items), p.total, p.next)
        }
    };
    let totals = HistoryTotals {
        rebalances: store.rebalance_page(id, &count).await?.total,
        orders: store.order_page(id, &count).await?.total,
        fills: store.fill_page(id, &count).await?.total,
    };
    let last_snapshot = store
        .snapshot_at_or_before(id, q.to_ms.map_or(i64::MAX, |t| t - 1))
        .await?;
    Ok(HistoryPage {
        bot,
        list: q.list,
        items,
        total,
        next: next_text(next),
        totals,
        flows: store.flows(id).await?,
        last_snapshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_names_what_it_refuses() {
        assert!(HistoryQuery::default().check().is_ok());
        let bad = [
            (
                HistoryQuery {
                    limit: 0,
                    ..Default::default()
                },
                "limit",
                "0",
            ),
            (
                HistoryQuery {
                    limit: 501,
                    ..Default::default()
                },
                "limit",
                "501",
            ),
            (
                HistoryQuery {
                    before: Some("12".into()),
                    ..Default::default()
                },
                "before",
                "12",
            ),
            (
                HistoryQuery {
                    before: Some("12:abc".into()),
                    ..Default::default()
                },
                "before",
                "12:abc",
            ),
            (
                HistoryQuery {
                    from_ms: Some(5),
                    to_ms: Some(5),
                    ..Default::default()
                },
                "to",
                "5",
            ),
        ];
        for (q, field, value) in bad {
            let e = q.check().unwrap_err();
            assert_eq!((e.field.as_str(), e.value.as_str()), (field, value), "{e}");
        }
        // An order's id is text.
        let q = HistoryQuery {
            list: HistoryList::Orders,
            before: Some("12:sf-1-2".into()),
            ..Default::default()
        };
        assert_eq!(
            q.page().unwrap().before,
            Some(Cursor {
                time_ms: 12,
                id: "sf-1-2".into()
            })
        );
    }
}
