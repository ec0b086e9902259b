//! Serializable answers of the commands (the CLI prints them as tables or JSON).

use crate::config::{BotConfig, StopReport};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smartfolio_store::BotId;

/// One line of `bot list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: BotId,
    pub name: String,
    pub status: String,
    /// Why it is suspended or stopped, or why a running bot cannot trade (its plan's legs are
    /// all below the venue's minimums: it records no rebalance until one can trade).
    pub reason: Option<String>,
    /// The venue it trades on (`paper`, `binance`, `okx`, `gate`).
    pub venue: String,
    /// The venue account it trades on (the owner's `account`, or one of its `[accounts]`).
    pub account: String,
    pub quote: String,
    pub targets: String,
    pub trigger: String,
    /// Value at the last known prices (None when an asset has no price yet).
    pub value: Option<Decimal>,
    pub net_invested: Decimal,
    pub pnl: Option<Decimal>,
    /// None when `value` and `pnl` are at the market's last prices. A reader without a market
    /// (`smartfolio serve`) values a bot at its latest stored value snapshot instead: this is
    /// that snapshot's time (ms), and `pnl` is its value less its net investment then.
    pub valued_at_ms: Option<i64>,
}

/// One asset of a bot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldingView {
    pub asset: String,
    pub quantity: Decimal,
    pub price: Option<Decimal>,
    pub value: Option<Decimal>,
    /// Percent of the bot's value.
    pub weight_pct: Option<Decimal>,
    pub target_pct: Decimal,
    pub deviation_pp: Option<Decimal>,
}

/// P&L (SPEC §6).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PnlView {
    pub value: Decimal,
    pub net_invested: Decimal,
    /// `value − net invested`.
    pub total: Decimal,
    pub total_pct: Option<Decimal>,
    /// Since 00:00 UTC of the clock's day, net of flows; None without a snapshot to start from.
    pub today: Option<Decimal>,
    /// Value of the initial basket held without rebalancing (scaled by later flows).
    pub hold_value: Decimal,
    /// `value − hold value`.
    pub rebalancing_gain: Decimal,
}

/// `bot show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotView {
    pub summary: BotSummary,
    pub config: BotConfig,
    pub holdings: Vec<HoldingView>,
    pub pnl: Option<PnlView>,
    pub last_rebalance_ms: Option<i64>,
    pub rebalances: usize,
    pub consecutive_failures: u32,
    pub stop_report: Option<StopReport>,
}

/// One leg of a rebalance as executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LegReport {
    pub asset: String,
    pub side: String,
    pub planned_quantity: Decimal,
    pub filled_quantity: Decimal,
    /// filled | partial | skipped | rejected | failed | unknown
    pub outcome: String,
    pub detail: String,
    pub client_id: Option<String>,
    /// Fees in quote (a fee in the base is valued at the fill price, in a third asset at its price).
    pub fees: Decimal,
    /// How a limit or maker leg was worked (its orders, re-prices, prices); None for a market
    /// leg (one order, `client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<LegExecution>,
}

/// How a leg was worked by the limit or maker style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LegExecution {
    /// market | limit | maker
    pub style: String,
    /// Every order sent for the leg, in order (limit attempts, then a market fallback).
    pub orders: Vec<LegOrder>,
    /// How many times the leg was re-priced (limit orders after a slice's first).
    pub reprices: u32,
    /// How many slices the leg was worked in (`max_slice`, `max_volume_share`; 1: whole).
    #[serde(default = "one_slice")]
    pub slices: u32,
    /// How its slices were sized under `max_volume_share`: the cap the venue's 24-hour volume
    /// gave, or why it did not apply (the volume could not be read, or the venue reports
    /// none). None without `max_volume_share`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slicing: Option<String>,
    /// The fees its fills paid, by the asset they were paid in (the quote value is the leg's
    /// `fees`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub fees: std::collections::BTreeMap<String, Decimal>,
    /// The plan's price (the mid at the decision).
    pub plan_price: Decimal,
    /// The average fill price, once something filled.
    pub average_price: Option<Decimal>,
    /// Average price against the plan's, in basis points, positive when worse (a buy above
    /// the plan, a sell below).
    pub slippage_bps: Option<Decimal>,
    /// The share of the filled quantity that rested on the book (maker), 0 to 1.
    pub maker_share: Decimal,
}

fn one_slice() -> u32 {
    1
}

/// One order of a worked leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LegOrder {
    pub client_id: String,
    /// `limit <price>` (post-only for maker) or `market`.
    pub kind: String,
    pub quantity: Decimal,
    pub filled_quantity: Decimal,
    pub outcome: String,
}

/// What a rebalance did (stored as its summary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebalanceSummary {
    pub kind: String,
    pub reason: String,
    pub time_ms: i64,
    /// completed | partial | aborted | open | interrupted (closed on reconciliation after a
    /// restart; its legs are what the stored orders did).
    pub status: String,
    pub value_before: Decimal,
    pub value_after: Option<Decimal>,
    pub fees: Decimal,
    pub weights_before: Vec<(String, Decimal)>,
    pub weights_after: Vec<(String, Decimal)>,
    /// Every leg considered: the orders sent, then those not sent, with the reason.
    pub legs: Vec<LegReport>,
    /// `legs.len()` = `legs_filled + legs_skipped`.
    pub legs_planned: usize,
    /// Legs with a fill (outcome `filled` or `partial`).
    pub legs_filled: usize,
    /// Legs without a fill (skipped, rejected, failed or unknown).
    pub legs_skipped: usize,
    /// What else a reader needs (how an interrupted rebalance was closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RebalanceSummary {
    /// Set the three counts from `legs`.
    pub fn count_legs(&mut self) {
        self.legs_planned = self.legs.len();
        self.legs_filled = self
            .legs
            .iter()
            .filter(|l| l.outcome == "filled" || l.outcome == "partial")
            .count();
        self.legs_skipped = self.legs_planned - self.legs_filled;
    }
}

/// One rebalance in `bot history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebalanceView {
    pub id: i64,
    pub seq: i64,
    pub kind: String,
    pub reason: String,
    pub status: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub summary: Option<RebalanceSummary>,
}

impl From<smartfolio_store::RebalanceRecord> for RebalanceView {
    /// The stored rebalance, its summary read from its JSON (none when it does not read).
    fn from(r: smartfolio_store::RebalanceRecord) -> Self {
        RebalanceView {
            id: r.id,
            seq: r.seq,
            kind: r.kind,
            reason: r.reason,
            status: r.status,
            started_ms: r.started_ms,
            finished_ms: r.finished_ms,
            summary: r.summary.and_then(|s| serde_json::from_str(&s).ok()),
        }
    }
}

/// A withdrawal's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WithdrawView {
    pub requested: Decimal,
    pub withdrawn: Decimal,
    pub rebalance: Option<RebalanceSummary>,
}

/// What "rebalance now" did: the rebalance it recorded, or why it recorded none (nothing to
/// trade, or no order the venue would accept: nothing is written then).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RebalanceNowView {
    pub rebalance: Option<RebalanceSummary>,
    /// Why nothing traded, when `rebalance` is none.
    pub note: Option<String>,
}

/// Per asset: the account's balance and the sum of the bots' ledgers on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolationLine {
    pub asset: String,
    pub account: Decimal,
    pub ledgers: Decimal,
    pub ok: bool,
}

/// `Σ ledgers ≤ account` per asset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IsolationReport {
    pub ok: bool,
    pub lines: Vec<IsolationLine>,
}

/// What a tick led to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickReport {
    pub time_ms: i64,
    pub bots: usize,
    pub deployed: usize,
    pub rebalanced: usize,
    pub suspended: usize,
    pub resumed: usize,
    pub stopped: usize,
    pub snapshots: usize,
}

/// One leg of a previewed action: what the executing path would send, at the last prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewLeg {
    pub asset: String,
    pub side: String,
    pub quantity: Decimal,
    /// The mark the leg is valued at.
    pub price: Decimal,
    /// `quantity × price`.
    pub notional: Decimal,
    /// Fee estimate in quote: `fee_rate × notional` (zero for a skipped leg).
    pub fee: Decimal,
    pub reason: String,
}

/// What an action would do, computed by the same functions that execute it, with nothing
/// stored and no order sent ([`crate::Runtime::preview_create`] and the other previews).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanPreview {
    /// create | invest | withdraw | modify | pause | resume | stop
    pub action: String,
    /// One sentence for a confirmation dialog.
    pub summary: String,
    /// Value before, at the last prices (None when an asset has no price yet).
    pub value_before: Option<Decimal>,
    /// Value after the legs and their fees (a withdrawal also subtracts the amount).
    pub value_after: Option<Decimal>,
    /// Sum of the legs' fee estimates.
    pub fees: Decimal,
    /// The orders, in plan order.
    pub legs: Vec<PreviewLeg>,
    /// Legs the plan considered and will not send (minimums, lot rounding, ...).
    pub skipped: Vec<PreviewLeg>,
    pub notes: Vec<String>,
}

impl PlanPreview {
    /// `sell 0.1 BTC, buy 2 ETH`, or `no trade`.
    pub fn legs_text(&self) -> String {
        if self.legs.is_empty() {
            return "no trade".into();
        }
        self.legs
            .iter()
            .map(|l| format!("{} {} {}", l.side, l.quantity.normalize(), l.asset))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
