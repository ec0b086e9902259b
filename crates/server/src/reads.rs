//! What the API's readers get without queueing behind the driver's loop: from what the loop
//! last published, a bot's summary (`GET /api/bots/{bot}`), every bot's summary with the totals
//! (`GET /api/bots`, the bot counts of `/metrics`), the market's state (`GET /api/status`), a
//! copy of the price history for the allocation and backtest previews, and the resolution of
//! `{bot}`; the venue's balances (read by the reader, shared by the readers of
//! one publication for at most [`BALANCES_FRESH`]); and the store's read handle
//! (`Store::reader`: on SQLite a pool of read-only connections beside the writer's one) for the
//! pages.
//!
//! The loop publishes (on [`Core`](crate::Core)'s `refresh_reads`) after every step that may
//! change a bot — a tick, a job, a batch of queued commands, recorded order answers — and before
//! the step's live events go out and before a job answers, so a client told of a change (an
//! event, a command's reply) reads it. What it publishes is computed on the loop between steps,
//! from the runtime's memory and the writer's store, so it is one consistent state, never half
//! of a step. It recomputes only the summaries asked for since its last publication
//! ([`Reads::view`] notes the bot), so an idle dashboard costs the ticks nothing and a busy one
//! one summary per bot per step (and one list, one market state); what is not published yet is
//! computed by a job on the loop, once.
//!
//! The store's answers (a page of history, `/history`) are read off the loop through the read
//! handle, and shared ([`Reads::shared`]): the readers asking for the same before the loop
//! publishes again get one read's answer, encoded once. The loop is the store's one writer and
//! publishes after every step that writes, so such an answer is at least as new as the last
//! publication, as the summaries are; 50 dashboards polling one bot cost one read per step.

use crate::actor::Core;
use crate::api::{BotList, PriceView, StatusView};
use crate::error::ApiError;
use crate::preview::PreviewPrices;
use axum::body::Bytes;
use rust_decimal::Decimal;
use smartfolio_bot::{BotError, BotView, Runtime};
use smartfolio_exchange::{Balance, Exchange, ExchangeError};
use smartfolio_store::{BotId, Store};
use smartfolio_templates::CardCache;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long the readers of one publication share the venue's balances: a live venue is asked
/// at most about once a second however many dashboards read `/api/status`, and never for a
/// state older than the loop's last publication.
pub const BALANCES_FRESH: Duration = Duration::from_secs(1);

/// The most distinct answers one publication shares; readers of further ones read alone.
pub const SHARED_ANSWERS: usize = 64;
/// An answer longer than this (bytes) is not kept for later readers of the publication (those
/// already waiting for it get it): at most [`SHARED_ANSWERS`] of them are held.
pub const SHARED_ANSWER_BYTES: usize = 256 * 1024;

/// The readers' side, shared by the loop (which publishes) and the handlers (which read).
pub struct Reads {
    /// The store's read handle (the writer's own store when the backend needs no other).
    pub store: Arc<dyn Store>,
    /// The venue the bots trade on (its balances for `/api/status`).
    venue: Arc<dyn Exchange>,
    published: RwLock<Arc<Published>>,
    /// What was read since the last publication.
    wanted: Mutex<Wanted>,
    /// Grows at every publication (the balances read before it are not shared after it).
    generation: AtomicU64,
    /// The last balances read, of which generation and when (one read at a time).
    balances: tokio::sync::Mutex<Option<LastBalances>>,
    /// Where the template gallery's history is (the node's data directory) and its cards'
    /// cache, as the loop last published them.
    gallery: RwLock<(Option<PathBuf>, Arc<CardCache>)>,
    /// The store's answers read since the last publication ([`Reads::shared`]).
    answers: Answers,
}

/// Answers shared by the readers of one publication (a generation), by what they answer.
#[derive(Default)]
pub(crate) struct Answers {
    current: Mutex<(u64, HashMap<String, Shared>)>,
}

/// One answer as its readers share it: empty until its read ends well.
type Shared = Arc<tokio::sync::OnceCell<Bytes>>;

impl Answers {
    /// The answer `key` names for `generation`, read by `read` once: readers asking for it
    /// while it is read wait for that read, those asking later get its bytes until a newer
    /// generation is asked for. A failed read is not kept (the next reader reads again).
    /// Beyond [`SHARED_ANSWERS`] distinct keys in a generation, or for an older generation
    /// than the newest asked for, `read` runs alone; an answer over [`SHARED_ANSWER_BYTES`]
    /// goes only to those who waited for it.
    pub(crate) async fn get<F, Fut>(
        &self,
        generation: u64,
        key: String,
        read: F,
    ) -> Result<Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        let cell = {
            let mut c = self.current.lock().unwrap_or_else(|p| p.into_inner());
            let (newest, cells) = &mut *c;
            if generation > *newest {
                cells.clear();
                *newest = generation;
            }
            match cells.get(&key) {
                _ if generation < *newest => None,
                Some(cell) => Some(cell.clone()),
                None if cells.len() < SHARED_ANSWERS => {
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    cells.insert(key.clone(), cell.clone());
                    Some(cell)
                }
                None => None,
            }
        };
        let Some(cell) = cell else {
            return read().await;
        };
        let answer = cell.get_or_try_init(read).await?.clone();
        if answer.len() > SHARED_ANSWER_BYTES {
            let mut c = self.current.lock().unwrap_or_else(|p| p.into_inner());
            if c.1.get(&key).is_some_and(|kept| Arc::ptr_eq(kept, &cell)) {
                c.1.remove(&key);
            }
        }
        Ok(answer)
    }
}

/// Balances read: the publication's generation, when, what.
type LastBalances = (u64, Instant, Arc<Vec<Balance>>);

/// What readers asked for since the last publication.
#[derive(Default)]
struct Wanted {
    views: BTreeSet<BotId>,
    board: bool,
    market: bool,
    prices: bool,
}

impl Wanted {
    fn is_empty(&self) -> bool {
        self.views.is_empty() && !self.board && !self.market && !self.prices
    }
}

/// One publication of the loop.
#[derive(Default, Clone)]
struct Published {
    /// Every bot's id, and its name.
    ids: BTreeSet<BotId>,
    names: HashMap<String, BotId>,
    /// The summaries computed at this publication.
    views: HashMap<BotId, Arc<BotView>>,
    board: Option<Arc<Board>>,
    market: Option<Arc<StatusView>>,
    prices: Option<Arc<PreviewPrices>>,
}

impl Published {
    fn is_bare(&self) -> bool {
        self.views.is_empty()
            && self.board.is_none()
            && self.market.is_none()
            && self.prices.is_none()
    }
}

/// Every bot as `GET /api/bots` lists it, and the bots by status word (`/metrics`).
pub struct Board {
    pub list: BotList,
    pub by_state: Vec<(&'static str, u64)>,
}

impl Board {
    /// The board of the state the loop holds now.
    pub fn of(c: &Core) -> Self {
        let bots = c.rt.list();
        let live = || bots.iter().filter(|b| b.status != "stopped");
        let total_value: Decimal = live().filter_map(|b| b.value).sum();
        let total_pnl: Decimal = live().filter_map(|b| b.pnl).sum();
        Board {
            list: BotList {
                total_value,
                total_pnl,
                by_venue: crate::api::VenueTotal::of(&bots),
                quote: c.defaults.quote.clone(),
                market_time_ms: c.last_tick.as_ref().map(|t| t.time_ms),
                bots,
            },
            by_state: c.bots_by_state(),
        }
    }
}

/// What `GET /api/status` shows of the loop's state: all but the venue's balances and what the
/// server knows of itself (its mode, venue, market and trading: the handler fills them in).
pub fn market_state(c: &Core) -> StatusView {
    StatusView {
        mode: String::new(),
        venue: String::new(),
        market: String::new(),
        trading: String::new(),
        account: c.defaults.account.clone(),
        quote: c.defaults.quote.clone(),
        fee_rate: c.defaults.fee_rate,
        market_time_ms: c.last_tick.as_ref().map(|t| t.time_ms),
        ticks: c.ticks,
        assets: c.history.assets.clone(),
        prices: c
            .last_tick
            .as_ref()
            .map(|t| {
                t.prices
                    .iter()
                    .map(|(a, p)| PriceView {
                        asset: a.clone(),
                        price: *p,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        history_bars: c.history.len(),
        bar_ms: c.history.bar_ms(),
        balances: Vec::new(),
        methods: crate::preview::TargetMethod::ALL
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// `v` encoded as `axum::Json` encodes it.
pub fn json_bytes<T: serde::Serialize>(v: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("encoding the answer: {e}")))
}

/// A JSON answer of encoded bytes (as `axum::Json` answers).
pub fn json_answer(body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

impl Reads {
    /// Over `store`'s read handle, with the bots of `rt` published (no summary yet).
    pub fn new(rt: &Runtime) -> Self {
        let store = rt.store().reader().unwrap_or_else(|| rt.store().clone());
        let r = Self {
            store,
            venue: rt.exchange().clone(),
            published: RwLock::default(),
            wanted: Mutex::default(),
            generation: AtomicU64::new(0),
            balances: tokio::sync::Mutex::new(None),
            gallery: RwLock::default(),
            answers: Answers::default(),
        };
        r.publish(Self::directory(rt, None), Published::default());
        r
    }

    fn current(&self) -> Arc<Published> {
        read(&self.published).clone()
    }

    /// A bot by id (digits) or name among the published bots, as `Runtime::resolve` decides.
    pub fn resolve(&self, key: &str) -> Result<BotId, ApiError> {
        let p = self.current();
        smartfolio_bot::resolve_key(key, |id| p.ids.contains(&id), |n| p.names.get(n).copied())
            .map_err(ApiError::from)
    }

    /// The published summary of a bot, if any; either way the bot's summary is asked for at the
    /// next publication.
    pub fn view(&self, id: BotId) -> Option<Arc<BotView>> {
        self.want(|w| {
            w.views.insert(id);
        });
        self.current().views.get(&id).cloned()
    }

    /// The published board, if any; either way it is asked for at the next publication.
    pub fn board(&self) -> Option<Arc<Board>> {
        self.want(|w| w.board = true);
        self.current().board.clone()
    }

    /// The published market state, if any; either way it is asked for at the next publication.
    pub fn market(&self) -> Option<Arc<StatusView>> {
        self.want(|w| w.market = true);
        self.current().market.clone()
    }

    /// The published copy of the previews' prices, if any; either way it is asked for at the
    /// next publication.
    pub fn prices(&self) -> Option<Arc<PreviewPrices>> {
        self.want(|w| w.prices = true);
        self.current().prices.clone()
    }

    fn want(&self, f: impl FnOnce(&mut Wanted)) {
        f(&mut self.wanted.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The venue's balances: those another reader got since the last publication, when at most
    /// [`BALANCES_FRESH`] old, else read now (one read at a time: the others wait for it).
    pub async fn balances(&self) -> Result<Arc<Vec<Balance>>, ExchangeError> {
        let mut last = self.balances.lock().await;
        let generation = self.generation.load(Ordering::Acquire);
        if let Some((g, at, b)) = last.as_ref()
            && *g == generation
            && at.elapsed() < BALANCES_FRESH
        {
            return Ok(b.clone());
        }
        let b = Arc::new(self.venue.balances().await?);
        *last = Some((generation, Instant::now(), b.clone()));
        Ok(b)
    }

    /// The answer `key` names (a route, the bot and its normalised query), read by `read` once
    /// per publication of the loop and shared by its readers ([`Answers::get`]).
    pub async fn shared<F, Fut>(&self, key: String, read: F) -> Result<Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        // Loaded before reading: what is read is at least as new as this publication.
        let generation = self.generation.load(Ordering::Acquire);
        self.answers.get(generation, key, read).await
    }

    /// Add what a job computed on the loop to the current publication (the state it was
    /// computed from is the current one: only the loop changes it).
    fn amend(&self, f: impl FnOnce(&mut Published)) {
        let mut w = self.published.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Published::clone(&w);
        f(&mut next);
        *w = Arc::new(next);
    }

    /// A bot's summary computed on the loop (see [`Reads::amend`]).
    pub(crate) fn put(&self, id: BotId, view: Arc<BotView>) {
        self.amend(|p| {
            p.views.insert(id, view);
        });
    }

    /// The board computed on the loop.
    pub(crate) fn put_board(&self, board: Arc<Board>) {
        self.amend(|p| p.board = Some(board));
    }

    /// The previews' prices copied on the loop.
    pub(crate) fn put_prices(&self, prices: Arc<PreviewPrices>) {
        self.amend(|p| p.prices = Some(prices));
    }

    /// The market state computed on the loop.
    pub(crate) fn put_market(&self, market: Arc<StatusView>) {
        self.amend(|p| p.market = Some(market));
    }

    /// The bots' ids and names, from `rt`; `None` when `last` already holds them (a bot's name
    /// never changes, so the same ids are the same list).
    fn directory(
        rt: &Runtime,
        last: Option<&Published>,
    ) -> Option<(BTreeSet<BotId>, HashMap<String, BotId>)> {
        let bots = &rt.engine.bots;
        if last.is_some_and(|p| {
            p.ids.len() == bots.len() && bots.iter().all(|b| p.ids.contains(&b.id))
        }) {
            return None;
        }
        Some((
            bots.iter().map(|b| b.id).collect(),
            bots.iter().map(|b| (b.config.name.clone(), b.id)).collect(),
        ))
    }

    fn publish(&self, dir: Option<(BTreeSet<BotId>, HashMap<String, BotId>)>, next: Published) {
        let mut w = self.published.write().unwrap_or_else(|p| p.into_inner());
        let (ids, names) = dir.unwrap_or_else(|| (w.ids.clone(), w.names.clone()));
        *w = Arc::new(Published { ids, names, ..next });
    }

    /// Publish the bots of `c` (their ids and names) and where the gallery reads now, before
    /// the loop starts (its first step publishes them too, but a request may come before).
    pub(crate) fn publish_bots(&self, c: &Core) {
        self.publish_gallery(c);
        let last = self.current();
        if let Some(dir) = Self::directory(&c.rt, Some(&last)) {
            self.publish(Some(dir), Published::clone(&last));
        }
    }

    /// The gallery's data directory and cards' cache (`GET /api/templates`).
    pub fn gallery(&self) -> (Option<PathBuf>, Arc<CardCache>) {
        read(&self.gallery).clone()
    }

    fn publish_gallery(&self, c: &Core) {
        let g = read(&self.gallery);
        if g.0 == c.defaults.data_dir && Arc::ptr_eq(&g.1, &c.cards) {
            return;
        }
        drop(g);
        *self.gallery.write().unwrap_or_else(|p| p.into_inner()) =
            (c.defaults.data_dir.clone(), c.cards.clone());
    }

    /// Publish the state the loop holds now: the bots, and what was asked for since the last
    /// publication (summaries, the board, the market state), recomputed; what was not asked
    /// for is dropped (a reader then computes it once through the loop). Runs on the loop,
    /// between steps.
    pub(crate) async fn refresh(&self, c: &Core) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.publish_gallery(c);
        let wanted = std::mem::take(&mut *self.wanted.lock().unwrap_or_else(|p| p.into_inner()));
        let last = self.current();
        let dir = Self::directory(&c.rt, Some(&last));
        if wanted.is_empty() && last.is_bare() && dir.is_none() {
            return;
        }
        let mut next = Published::default();
        for id in wanted.views {
            match c.rt.show(id).await {
                Ok(v) => {
                    next.views.insert(id, Arc::new(v));
                }
                // Not published: the reader computes it through the loop and gets the error.
                Err(BotError::UnknownBot(_)) => {}
                Err(e) => tracing::warn!(bot = id, "summary for the readers: {e}"),
            }
        }
        if wanted.board {
            next.board = Some(Arc::new(Board::of(c)));
        }
        if wanted.prices {
            next.prices = Some(Arc::new(PreviewPrices::of(c)));
        }
        if wanted.market {
            next.market = Some(Arc::new(market_state(c)));
        }
        self.publish(dir, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A read that counts itself and answers `body`.
    fn counted(
        reads: &AtomicUsize,
        body: &'static str,
    ) -> impl Future<Output = Result<Bytes, ApiError>> {
        reads.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Bytes::from_static(body.as_bytes())))
    }

    #[tokio::test]
    async fn readers_of_one_generation_share_one_read() {
        let answers = Answers::default();
        let reads = AtomicUsize::new(0);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        // The first reader's read waits until the second has asked: the second waits for it.
        let r = &reads;
        let first = answers.get(1, "page".into(), move || async move {
            r.fetch_add(1, Ordering::SeqCst);
            wait.await.unwrap();
            Ok(Bytes::from_static(b"one"))
        });
        let second = answers.get(1, "page".into(), || counted(&reads, "two"));
        let (a, b, ()) = tokio::join!(first, second, async { release.send(()).unwrap() });
        assert_eq!(
            (a.unwrap(), b.unwrap()),
            (Bytes::from("one"), Bytes::from("one"))
        );
        // A later reader of the generation gets it too; another key is read.
        let c = answers.get(1, "page".into(), || counted(&reads, "three"));
        assert_eq!(c.await.unwrap(), Bytes::from("one"));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        let d = answers.get(1, "other".into(), || counted(&reads, "four"));
        assert_eq!(d.await.unwrap(), Bytes::from("four"));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_new_generation_reads_again_and_an_old_one_reads_alone() {
        let answers = Answers::default();
        let reads = AtomicUsize::new(0);
        let r = &reads;
        let get = |g, body| answers.get(g, "page".into(), move || counted(r, body));
        assert_eq!(get(1, "one").await.unwrap(), Bytes::from("one"));
        assert_eq!(get(2, "two").await.unwrap(), Bytes::from("two"));
        // A reader that loaded generation 1 before the loop published 2: its own read, not
        // kept, and the newer answer stays.
        assert_eq!(get(1, "old").await.unwrap(), Bytes::from("old"));
        assert_eq!(get(2, "three").await.unwrap(), Bytes::from("two"));
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_kept() {
        let answers = Answers::default();
        let failed = answers.get(1, "page".into(), || async {
            Err(ApiError::unavailable("the store is away"))
        });
        assert_eq!(failed.await.unwrap_err().status, 503);
        let reads = AtomicUsize::new(0);
        let again = answers.get(1, "page".into(), || counted(&reads, "read"));
        assert_eq!(again.await.unwrap(), Bytes::from("read"));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn answers_beyond_the_bounds_are_not_kept() {
        let answers = Answers::default();
        let reads = AtomicUsize::new(0);
        for k in 0..SHARED_ANSWERS {
            answers
                .get(1, format!("page {k}"), || counted(&reads, "kept"))
                .await
                .unwrap();
        }
        // One key more than the bound: read by each reader.
        for _ in 0..2 {
            answers
                .get(1, "one more".into(), || counted(&reads, "alone"))
                .await
                .unwrap();
        }
        assert_eq!(reads.load(Ordering::SeqCst), SHARED_ANSWERS + 2);
        // A long answer goes to its reader only.
        let fresh = Answers::default();
        let long: &'static str = "x".repeat(SHARED_ANSWER_BYTES + 1).leak();
        for _ in 0..2 {
            let b = fresh.get(1, "long".into(), || counted(&reads, long));
            assert_eq!(b.await.unwrap().len(), SHARED_ANSWER_BYTES + 1);
        }
        assert_eq!(reads.load(Ordering::SeqCst), SHARED_ANSWERS + 4);
    }
}
