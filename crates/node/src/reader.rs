//! A reader of the store: the bots as the store has them, for `smartfolio serve`, which serves
//! the dashboard and the API beside the processes that trade (PostgreSQL's workers, or the
//! `run` daemon of a SQLite data directory) and never trades itself.
//!
//! - **No venue**: the runtime is given [`NoVenue`], which refuses every call and counts the
//!   calls made (none, in every path a reader takes: the tests assert it). The bots are loaded
//!   with [`Runtime::load_stored`]: no instruments, no prices.
//! - **No market**: a bot's value and P&L are those of its latest stored value snapshot (the
//!   summary's `valued_at_ms` says when); holdings show their quantities without a price.
//! - **No lease**: neither the data directory's lock nor a venue account's lease is taken; the
//!   reader writes nothing but the commands it queues ([`crate::client::enqueue_and_wait`]),
//!   which the process holding the account executes.
//! - **Fresh**: [`Reader::reload`] loads the bots again from the store (the caller does so
//!   after each command it queued has answered, and periodically).
//!
//! [`Runtime::load_stored`]: smartfolio_bot::Runtime::load_stored

use crate::error::{NodeError, NodeResult};
use crate::host::{Bots, NodeConfig};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_bot::{ManualClock, Runtime};
use smartfolio_exchange::{
    Balance, Exchange, ExchangeError, Fill, Instrument, Order, OrderAck, OrderLookup, OrderRequest,
    Ticker,
};
use smartfolio_store::{AccountKey, Backend, open_store};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The venue of a reader: every call is refused (a reader never asks a venue anything) and
/// counted.
pub struct NoVenue {
    name: String,
    calls: AtomicU64,
}

impl NoVenue {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            calls: AtomicU64::new(0),
        }
    }

    /// How many calls were made (and refused).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn refuse<T>(&self, what: &str) -> Result<T, ExchangeError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(venue = %self.name, "a reader of the store was asked for {what}: refused");
        Err(ExchangeError::Rejected {
            code: "no_venue".into(),
            message: format!(
                "{what}: `smartfolio serve` reads the store and never calls the venue ({}); the \
                 worker holding the account does",
                self.name
            ),
        })
    }
}

#[async_trait]
impl Exchange for NoVenue {
    fn name(&self) -> &str {
        &self.name
    }
    async fn server_time_ms(&self) -> Result<i64, ExchangeError> {
        self.refuse("the venue's time")
    }
    async fn instruments(&self) -> Result<Vec<Instrument>, ExchangeError> {
        self.refuse("the venue's instruments")
    }
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        self.refuse("the account's balances")
    }
    async fn tickers(&self, _: &[String], _: &str) -> Result<Vec<Ticker>, ExchangeError> {
        self.refuse("prices")
    }
    async fn touch(&self, _: &str, _: &str) -> Result<Option<(Decimal, Decimal)>, ExchangeError> {
        self.refuse("the best bid and ask")
    }
    async fn place_order(&self, _: &OrderRequest) -> Result<OrderAck, ExchangeError> {
        self.refuse("an order")
    }
    async fn cancel_order(&self, _: &str, _: &str, _: &str) -> Result<Order, ExchangeError> {
        self.refuse("a cancel")
    }
    async fn order(&self, _: &str, _: &str, _: &str) -> Result<OrderLookup, ExchangeError> {
        self.refuse("an order's lookup")
    }
    async fn open_orders(&self) -> Result<Vec<Order>, ExchangeError> {
        self.refuse("the open orders")
    }
    async fn fills(&self, _: &str, _: &str, _: &str) -> Result<Vec<Fill>, ExchangeError> {
        self.refuse("an order's fills")
    }
    async fn fills_since(&self, _: &str, _: &str, _: i64) -> Result<Vec<Fill>, ExchangeError> {
        self.refuse("the fills")
    }
}

/// The store a reader reads and queues commands into, and its venue that refuses every call.
pub struct Reader {
    pub store: Arc<dyn Backend>,
    pub venue: Arc<NoVenue>,
    /// The configured venue account: where the commands of a new bot (and the list) go.
    pub account: AccountKey,
    /// Every configured account's `(venue, account)`, the default first: whose bots are read.
    pub accounts: Vec<(String, String)>,
}

impl Reader {
    /// Open `cfg`'s store (an error names where: the database file, or the URL with its
    /// password masked) and load its bots of every configured account (`cfg`'s venue and
    /// account, and `[accounts]`) as stored. Takes no
    /// lock and no lease.
    pub async fn open(cfg: &NodeConfig) -> NodeResult<(Reader, Bots)> {
        let store = open_store(cfg.store.as_deref(), &cfg.data_dir).await?;
        let venue = Arc::new(NoVenue::new(cfg.venue.kind.name()));
        let clock = Arc::new(ManualClock::new(0));
        let rt = Runtime::new(store.clone(), venue.clone(), clock.clone(), &cfg.account);
        let reader = Reader {
            store,
            venue,
            account: cfg.defaults().account_key(),
            accounts: cfg
                .account_venues()
                .into_iter()
                .map(|(account, venue)| (venue, account))
                .collect(),
        };
        let mut bots = Bots {
            rt,
            ex: None,
            clock,
            watch: None,
        };
        reader.reload(&mut bots.rt, &bots.clock).await?;
        Ok((reader, bots))
    }

    /// Load the bots again as the store has them now; the clock (a bot's "today") at the
    /// latest stored time.
    pub async fn reload(&self, rt: &mut Runtime, clock: &ManualClock) -> NodeResult<()> {
        if let Some(t) = self.store.latest_time_ms().await? {
            clock.set(t);
        }
        rt.load_stored_of(&self.accounts)
            .await
            .map_err(NodeError::bot("reading the bots from the store"))
    }
}
