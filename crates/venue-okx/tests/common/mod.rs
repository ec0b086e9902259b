//! A mock OKX on loopback for the connector's tests: an axum server on 127.0.0.1:0 that checks
//! every signed request's `OK-ACCESS-SIGN` against the test secret, records what it saw, and
//! answers from a queue of scripted replies (then from an endpoint's standing reply, when one is
//! set); and an [`OkxExchange`] on a test clock pointed at it, whose waits for an endpoint's
//! budget move that clock and are recorded. [`Mock::limit`] makes the mock refuse, as OKX does
//! with `50011`, a request beyond an endpoint's count in the 2 s before it (per `instId`).
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use smartfolio_exchange::history::Sleep;
use smartfolio_okx::client::{ClientConfig, Credentials, OkxClient};
use smartfolio_okx::{OkxExchange, sign};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "test-api-key";
pub const SECRET: &str = "test-secret";
pub const PASSPHRASE: &str = "test-passphrase";
pub const T: i64 = 1_700_000_020_000;

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    /// `OK-ACCESS-KEY`, when sent.
    pub key: Option<String>,
    pub passphrase: Option<String>,
    pub timestamp: Option<String>,
    /// Whether `OK-ACCESS-SIGN` matched the prehash of what arrived.
    pub signature_ok: bool,
    pub demo: Option<String>,
}

/// A scripted answer; `hang` never answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub hang: bool,
}

pub fn ok(body: &str) -> Reply {
    Reply {
        status: 200,
        body: body.to_string(),
        hang: false,
    }
}

pub fn status(status: u16, body: &str) -> Reply {
    Reply { status, ..ok(body) }
}

pub fn hang() -> Reply {
    Reply {
        hang: true,
        ..ok("")
    }
}

#[derive(Default)]
struct Script {
    seen: Mutex<Vec<Seen>>,
    replies: Mutex<VecDeque<Reply>>,
    /// `"METHOD path"` → the reply to every request once the queue is empty.
    standing: Mutex<HashMap<String, Reply>>,
    /// `"METHOD path"` → how many requests OKX takes in 2 s (per `instId`).
    limits: Mutex<HashMap<String, usize>>,
    /// `"METHOD path instId"` → when each request it took came (the test clock).
    taken: Mutex<HashMap<String, Vec<i64>>>,
    /// Requests refused for a rate limit.
    refused: AtomicUsize,
    clock: Arc<AtomicI64>,
}

impl Script {
    /// Whether the request to `endpoint` on `inst` is beyond its limit now (counted if not).
    fn over_limit(&self, endpoint: &str, inst: &str) -> bool {
        let Some(limit) = self.limits.lock().unwrap().get(endpoint).copied() else {
            return false;
        };
        let now = self.clock.load(Ordering::SeqCst);
        let mut taken = self.taken.lock().unwrap();
        let times = taken.entry(format!("{endpoint} {inst}")).or_default();
        times.retain(|t| *t > now - 2_000);
        if times.len() >= limit {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return true;
        }
        times.push(now);
        false
    }
}

/// The `instId` of a request, from its query or its JSON body.
fn inst_of(query: &str, body: &str) -> String {
    let from_query = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("instId="))
        .map(str::to_string);
    from_query
        .or_else(|| {
            serde_json::from_str::<serde_json::Value>(body)
                .ok()?
                .get("instId")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

async fn handle(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body = String::from_utf8_lossy(&body).to_string();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let signature_ok = match (h("ok-access-timestamp"), h("ok-access-sign")) {
        (Some(ts), Some(sig)) => {
            sig == sign::sign(
                SECRET,
                &sign::prehash(&ts, method.as_str(), path_and_query, &body),
            )
        }
        _ => false,
    };
    let endpoint = format!("{method} {}", uri.path());
    let inst = inst_of(uri.query().unwrap_or(""), &body);
    script.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        body,
        key: h("ok-access-key"),
        passphrase: h("ok-access-passphrase"),
        timestamp: h("ok-access-timestamp"),
        signature_ok,
        demo: h("x-simulated-trading"),
    });
    if script.over_limit(&endpoint, &inst) {
        return rate_limited();
    }
    let reply = script.replies.lock().unwrap().pop_front();
    let reply = reply.or_else(|| script.standing.lock().unwrap().get(&endpoint).cloned());
    let Some(reply) = reply else {
        return (StatusCode::IM_A_TEAPOT, "unscripted request").into_response();
    };
    if reply.hang {
        std::future::pending::<()>().await;
    }
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

/// OKX's answer to a request beyond a limit.
fn rate_limited() -> Response {
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#,
    )
        .into_response();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

pub struct Mock {
    script: Arc<Script>,
    pub clock: Arc<AtomicI64>,
    pub exchange: OkxExchange,
    /// Every wait of the client for an endpoint's budget.
    waits: Arc<Mutex<Vec<Duration>>>,
    config: ClientConfig,
}

/// An exchange on `config` whose clock is `clock`, and whose waits for an endpoint's budget move
/// that clock and are recorded in `waits`.
fn exchange_on(
    config: ClientConfig,
    clock: &Arc<AtomicI64>,
    waits: &Arc<Mutex<Vec<Duration>>>,
) -> OkxExchange {
    let c = clock.clone();
    let client = OkxClient::new(
        config,
        Some(Credentials::new(KEY, SECRET, PASSPHRASE)),
        Arc::new(move || c.load(Ordering::SeqCst)),
    )
    .unwrap();
    let sleep: Sleep = {
        let (clock, waits) = (clock.clone(), waits.clone());
        Arc::new(move |d: Duration| {
            clock.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
            waits.lock().unwrap().push(d);
            Box::pin(std::future::ready(()))
        })
    };
    OkxExchange::new(client.with_sleep(sleep))
}

impl Mock {
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::start_with(replies, Duration::from_secs(5), false).await
    }

    pub async fn start_with(replies: Vec<Reply>, timeout: Duration, demo: bool) -> Self {
        let clock = Arc::new(AtomicI64::new(T));
        let script = Arc::new(Script {
            clock: clock.clone(),
            ..Script::default()
        });
        script.replies.lock().unwrap().extend(replies);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let config = ClientConfig {
            base_url: format!("http://{addr}/"),
            demo,
            timeout,
            ..ClientConfig::default()
        };
        let waits = Arc::new(Mutex::new(Vec::new()));
        let exchange = exchange_on(config.clone(), &clock, &waits);
        Self {
            script,
            clock,
            exchange,
            waits,
            config,
        }
    }

    /// Another client of the same account on the mock and its clock, with budgets of its own.
    pub fn second_exchange(&self) -> OkxExchange {
        exchange_on(self.config.clone(), &self.clock, &self.waits)
    }

    /// Answer every request to `endpoint` (`"GET /api/v5/account/balance"`) with `reply` once
    /// the queue is empty.
    pub fn always(&self, endpoint: &str, reply: Reply) {
        self.script
            .standing
            .lock()
            .unwrap()
            .insert(endpoint.to_string(), reply);
    }

    /// Refuse with `50011` a request to `endpoint` beyond `per_2s` in the 2 s before it, per
    /// `instId`, as OKX does.
    pub fn limit(&self, endpoint: &str, per_2s: usize) {
        self.script
            .limits
            .lock()
            .unwrap()
            .insert(endpoint.to_string(), per_2s);
    }

    /// Requests refused for a rate limit so far.
    pub fn refused(&self) -> usize {
        self.script.refused.load(Ordering::SeqCst)
    }

    /// The client's waits for an endpoint's budget so far.
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }

    pub fn push(&self, r: Reply) {
        self.script.replies.lock().unwrap().push_back(r);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }

    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}
