//! Price feeds: where the bot (and the paper exchange) get their prices.
//!
//! The trait is async because live public tickers come from a venue ([`LiveFeed`]); the replay
//! and the synthetic market implement it too. A feed's tick carries its own time: in replay and in the
//! synthetic market that is *market* time, which drives the bot's clock.
//!
//! - [`ReplayFeed`]: the bars of a [`smartfolio_data::PriceTable`] (files in the
//!   `../shared/data` layouts), one tick per bar, at a chosen speed.
//! - [`SyntheticMarket`]: seeded, correlated geometric random walks with crypto-like volatility.
//! - [`LiveFeed`]: a venue's public last prices (its tickers), one read per tick every `poll`;
//!   a failed read is a tick without prices (they go stale), a price ≤ 0 is rejected.
//!
//! - [`Pacer`]: when a tick of market time is due on the wall clock; the feeds' own pacing and
//!   the node's driver loop both use it.
//!
//! Pacing uses `tokio::time`, so tests run paced feeds instantly with tokio's paused clock.

mod live;
mod pace;
mod replay;
mod synthetic;

pub use live::{LiveFeed, WallClock, Watch, system_wall_clock};
pub use pace::Pacer;

pub use replay::{ReplayFeed, ReplayOptions};
pub use synthetic::{SyntheticConfig, SyntheticMarket};

/// A feed that cannot be built: the message names the field or value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FeedError(pub String);

impl From<smartfolio_data::DataError> for FeedError {
    fn from(e: smartfolio_data::DataError) -> Self {
        FeedError(e.to_string())
    }
}

use async_trait::async_trait;
use rust_decimal::Decimal;

/// One moment of a market: the last price of each asset, in quote.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTick {
    /// Market time, UTC epoch ms.
    pub time_ms: i64,
    /// `(asset, price)` for every asset the feed covers, in the feed's asset order.
    pub prices: Vec<(String, Decimal)>,
}

impl PriceTick {
    pub fn price(&self, asset: &str) -> Option<Decimal> {
        self.prices
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(asset))
            .map(|(_, p)| *p)
    }
}

/// A source of price ticks.
#[async_trait]
pub trait PriceFeed: Send {
    /// The assets priced, in order.
    fn assets(&self) -> &[String];
    /// The currency prices are in.
    fn quote(&self) -> &str;
    /// The next tick, or `None` when the feed has ended. Paced feeds wait as needed.
    async fn next_tick(&mut self) -> Option<PriceTick>;
}
