//! What the API's readers get without queueing behind the driver's loop: a bot's summary
//! (`GET /api/bots/{bot}`) and the resolution of `{bot}` from what the loop last published, and
//! the store's read handle (`Store::reader`: on SQLite a pool of read-only connections beside
//! the writer's one) for the pages.
//!
//! The loop publishes (on [`Core`](crate::Core)'s `refresh_reads`) after every step that may
//! change a bot — a tick, a job, a batch of queued commands, recorded order answers — and before
//! the step's live events go out and before a job answers, so a client told of a change (an
//! event, a command's reply) reads it. What it publishes is computed on the loop between steps,
//! from the runtime's memory and the writer's store, so it is one consistent state, never half
//! of a step. It recomputes only the summaries asked for since its last publication
//! ([`Reads::view`] notes the bot), so an idle dashboard costs the ticks nothing and a busy one
//! one summary per bot per step; a summary not published yet is computed by a job on the loop.

use crate::error::ApiError;
use smartfolio_bot::{BotError, BotView, Runtime};
use smartfolio_store::{BotId, Store};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

/// The readers' side, shared by the loop (which publishes) and the handlers (which read).
pub struct Reads {
    /// The store's read handle (the writer's own store when the backend needs no other).
    pub store: Arc<dyn Store>,
    published: RwLock<Arc<Published>>,
    /// The bots whose summaries were read since the last publication.
    wanted: Mutex<BTreeSet<BotId>>,
}

/// One publication of the loop.
#[derive(Default)]
struct Published {
    /// Every bot's id, and its name.
    ids: BTreeSet<BotId>,
    names: HashMap<String, BotId>,
    /// The summaries computed at this publication.
    views: HashMap<BotId, Arc<BotView>>,
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
            published: RwLock::default(),
            wanted: Mutex::default(),
        };
        r.publish(Self::directory(rt, None), HashMap::new());
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
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        self.current().views.get(&id).cloned()
    }

    /// Add a summary computed on the loop to the current publication (the state it was
    /// computed from is the current one: only the loop changes it).
    pub(crate) fn put(&self, id: BotId, view: Arc<BotView>) {
        let mut w = self.published.write().unwrap_or_else(|p| p.into_inner());
        let mut views = w.views.clone();
        views.insert(id, view);
        *w = Arc::new(Published {
            ids: w.ids.clone(),
            names: w.names.clone(),
            views,
        });
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

    fn publish(
        &self,
        dir: Option<(BTreeSet<BotId>, HashMap<String, BotId>)>,
        views: HashMap<BotId, Arc<BotView>>,
    ) {
        let mut w = self.published.write().unwrap_or_else(|p| p.into_inner());
        let (ids, names) = dir.unwrap_or_else(|| (w.ids.clone(), w.names.clone()));
        *w = Arc::new(Published { ids, names, views });
    }

    /// Publish the bots of `rt` (their ids and names) now, before the loop starts (its first
    /// step publishes them too, but a request may come before it runs).
    pub(crate) fn publish_bots(&self, rt: &Runtime) {
        let last = self.current();
        if let Some(dir) = Self::directory(rt, Some(&last)) {
            self.publish(Some(dir), last.views.clone());
        }
    }

    /// Publish the state the loop holds now: the bots, and the summaries asked for since the
    /// last publication, recomputed. Runs on the loop, between steps.
    pub(crate) async fn refresh(&self, rt: &Runtime) {
        let wanted = std::mem::take(&mut *self.wanted.lock().unwrap_or_else(|p| p.into_inner()));
        let last = self.current();
        let dir = Self::directory(rt, Some(&last));
        if wanted.is_empty() && last.views.is_empty() && dir.is_none() {
            return;
        }
        let mut views = HashMap::with_capacity(wanted.len());
        for id in wanted {
            match rt.show(id).await {
                Ok(v) => {
                    views.insert(id, Arc::new(v));
                }
                // Not published: the reader computes it through the loop and gets the error.
                Err(BotError::UnknownBot(_)) => {}
                Err(e) => tracing::warn!(bot = id, "summary for the readers: {e}"),
            }
        }
        self.publish(dir, views);
    }
}
