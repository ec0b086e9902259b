//! The market feed that drives a node: its settings, opening it positioned in time, and "the
//! prices of now" for a command run without a daemon.
//!
//! Feeds are opened unpaced: the driver paces them (one [`Pacer`], see [`crate::driver`]). A
//! live market ([`MarketKind::Live`]) is the venue's public prices read every `poll`
//! ([`LiveFeed`]); its ticks are wall time, and the host opens it (it needs the venue).
//!
//! ## Market time across restarts
//! A restarted feed resumes after the latest time any stored change carries (see
//! [`crate::Host::resume_ms`]), so market time never runs backwards: the synthetic market is
//! re-generated from its seed and fast-forwarded (the same seed gives the same prices), a
//! replay starts after that time.
//!
//! [`Pacer`]: smartfolio_exchange::feed::Pacer
//! [`LiveFeed`]: smartfolio_exchange::feed::LiveFeed

use crate::error::{NodeError, NodeResult};
use smartfolio_exchange::feed::{
    LiveFeed, ReplayFeed, ReplayOptions, SyntheticConfig, SyntheticMarket, WallClock, Watch,
};
use smartfolio_exchange::{Exchange, PriceFeed, PriceTick};
use std::path::PathBuf;
use std::sync::Arc;

/// Which market feed drives the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketKind {
    Synthetic,
    Replay,
    /// The venue's public last prices, read every `poll_ms` (wall time).
    Live,
}

impl MarketKind {
    pub fn name(self) -> &'static str {
        match self {
            MarketKind::Synthetic => "synthetic",
            MarketKind::Replay => "replay",
            MarketKind::Live => "live",
        }
    }
}

/// How often a live market reads prices by default.
pub const DEFAULT_POLL_MS: i64 = 2_000;

/// The market feed's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketConfig {
    pub kind: MarketKind,
    pub seed: u64,
    pub assets: Vec<String>,
    pub step_ms: i64,
    pub start_ms: i64,
    pub correlation: f64,
    /// Market ms per wall ms; `None`: as fast as possible.
    pub speed: Option<f64>,
    pub replay_path: Option<PathBuf>,
    pub interval: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Live: how often prices are read, ms.
    pub poll_ms: i64,
}

impl MarketConfig {
    /// A live market reading `assets` (besides every bot's) every `poll_ms`.
    pub fn live(assets: &[&str], poll_ms: i64) -> Self {
        Self {
            kind: MarketKind::Live,
            seed: 0,
            assets: assets.iter().map(|a| a.to_string()).collect(),
            step_ms: 60_000,
            start_ms: 0,
            correlation: 0.0,
            speed: None,
            replay_path: None,
            interval: None,
            from_ms: None,
            to_ms: None,
            poll_ms,
        }
    }
}

/// How the driver plays a market's ticks, and whether a tick waits for the rebalances under
/// way: said by the market, never inferred from its speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// A replay (or a synthetic market) played as fast as possible: its next tick is stepped
    /// once the rebalances under way have ended, so it trades as it would have.
    Unpaced,
    /// Market ms per wall ms: a tick is due on the wall clock, whatever is under way.
    Paced(f64),
    /// A live feed: a tick is due when it is read, whatever is under way (a stop or a trigger
    /// of one bot never waits for another bot's rebalance).
    Live,
}

impl Pacing {
    /// Market ms per wall ms, when the driver paces the ticks itself.
    pub fn speed(self) -> Option<f64> {
        match self {
            Pacing::Paced(s) => Some(s),
            Pacing::Unpaced | Pacing::Live => None,
        }
    }

    /// Whether the next tick waits until no rebalance is under way: an unpaced replay's only.
    pub fn holds_ticks_while_executing(self) -> bool {
        self == Pacing::Unpaced
    }

    fn of_speed(speed: Option<f64>) -> Self {
        speed.map_or(Pacing::Unpaced, Pacing::Paced)
    }
}

/// A market feed (unpaced) positioned in time, and how the driver plays it.
pub struct Market {
    feed: Box<dyn PriceFeed>,
    pub pacing: Pacing,
}

fn synthetic(m: &MarketConfig, quote: &str) -> NodeResult<SyntheticMarket> {
    let mut sc = SyntheticConfig::new(m.assets.as_slice(), m.seed);
    sc.quote = quote.to_string();
    sc.step_ms = m.step_ms;
    sc.start_ms = m.start_ms;
    sc.correlation = m.correlation;
    SyntheticMarket::new(sc).map_err(|e| NodeError::Input(format!("market: {e}")))
}

fn replay(m: &MarketConfig, quote: &str, start_ms: Option<i64>) -> NodeResult<ReplayFeed> {
    let path = m.replay_path.clone().ok_or_else(|| {
        NodeError::Input(
            "market.path is missing; allowed: a folder of <SYM>.csv / <SYM>USDT-<interval>.csv \
             files or one wide CSV (set market.path or $SMARTFOLIO_REPLAY_PATH)"
                .into(),
        )
    })?;
    let load = smartfolio_data::LoadOptions {
        assets: m.assets.clone(),
        interval: m.interval.clone(),
        from_ms: m.from_ms,
        to_ms: m.to_ms,
    };
    ReplayFeed::load(
        &path,
        &load,
        quote,
        ReplayOptions {
            speed: None,
            start_ms,
        },
    )
    .map_err(|e| NodeError::Input(format!("market replay {}: {e}", path.display())))
}

/// The tick at `at` (the last one at or before it), else the feed's first tick: the prices of
/// "now" for a command run in-process.
pub fn current_tick(
    m: &MarketConfig,
    quote: &str,
    at: Option<i64>,
) -> NodeResult<Option<PriceTick>> {
    match m.kind {
        MarketKind::Synthetic => {
            let mut s = synthetic(m, quote)?;
            let mut cur = s.step();
            if let Some(at) = at {
                // Ticks are start + k·step: jump there by stepping.
                while cur.time_ms + m.step_ms <= at {
                    cur = s.step();
                }
            }
            Ok(Some(cur))
        }
        MarketKind::Replay => {
            let mut r = replay(m, quote, None)?;
            let mut cur = r.next_now();
            if let Some(at) = at {
                while let Some(next) = r.next_now() {
                    if next.time_ms > at {
                        break;
                    }
                    cur = Some(next);
                }
            }
            Ok(cur)
        }
        MarketKind::Live => Err(live_needs_venue()),
    }
}

fn live_needs_venue() -> NodeError {
    NodeError::Input(
        "market.kind = live reads the venue's prices: it is opened by the host, with the venue"
            .into(),
    )
}

impl Market {
    /// The feed, positioned at its first tick after `after`.
    pub fn open(m: &MarketConfig, quote: &str, after: Option<i64>) -> NodeResult<Market> {
        let feed: Box<dyn PriceFeed> = match m.kind {
            MarketKind::Synthetic => {
                let mut s = synthetic(m, quote)?;
                if let Some(after) = after {
                    // Skip every tick at or before `after`; the next `step` is the one after.
                    let mut t = m.start_ms;
                    if t <= after {
                        s.step();
                        while t + m.step_ms <= after {
                            s.step();
                            t += m.step_ms;
                        }
                    }
                }
                Box::new(s)
            }
            MarketKind::Replay => Box::new(replay(m, quote, after.map(|a| a.saturating_add(1)))?),
            MarketKind::Live => return Err(live_needs_venue()),
        };
        Ok(Market {
            feed,
            pacing: Pacing::of_speed(m.speed),
        })
    }

    /// The venue's live prices: `watch`'s assets read from `prices` every `poll_ms`, ticks
    /// timed by `clock`. Live: the feed waits for its reads itself, and its ticks are due when
    /// read, never held while a rebalance is under way.
    pub fn live(
        m: &MarketConfig,
        quote: &str,
        prices: Arc<dyn Exchange>,
        watch: Watch,
        clock: WallClock,
    ) -> Market {
        let poll = std::time::Duration::from_millis(u64::try_from(m.poll_ms.max(1)).unwrap_or(1));
        Self::from_live_feed(Box::new(LiveFeed::new(prices, quote, watch, poll, clock)))
    }

    /// A market over any feed (tests, benches), played at `speed` (None: an unpaced replay).
    pub fn from_feed(feed: Box<dyn PriceFeed>, speed: Option<f64>) -> Market {
        Market {
            feed,
            pacing: Pacing::of_speed(speed),
        }
    }

    /// A market over a feed that paces itself as a live one does: its ticks are due when it
    /// gives them, and never wait for a rebalance.
    pub fn from_live_feed(feed: Box<dyn PriceFeed>) -> Market {
        Market {
            feed,
            pacing: Pacing::Live,
        }
    }

    pub async fn next(&mut self) -> Option<PriceTick> {
        self.feed.next_tick().await
    }
}
