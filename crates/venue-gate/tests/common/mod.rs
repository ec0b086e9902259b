//! A mock Gate v4 on loopback for the connector's tests: an axum server on 127.0.0.1:0 that
//! checks every signed request's `SIGN` against the test secret, records what it saw, and
//! answers from a queue of scripted replies; and a [`GateExchange`] on a test clock pointed at
//! it. (The same skeleton as venue-okx's mock, with Gate's headers and signature: a shared test
//! crate for the three mocks would be the way to write it once.)
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use smartfolio_gate::client::{ClientConfig, Credentials, GateClient};
use smartfolio_gate::{GateExchange, sign};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "test-api-key";
pub const SECRET: &str = "test-secret";
/// The test clock's start (ms).
pub const T: i64 = 1_700_000_020_000;

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    /// `KEY`, when sent.
    pub key: Option<String>,
    pub timestamp: Option<String>,
    /// Whether `SIGN` matched the prehash of what arrived.
    pub signature_ok: bool,
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
    let query = uri.query().unwrap_or("").to_string();
    let signature_ok = match (h("timestamp"), h("sign")) {
        (Some(ts), Some(sig)) => {
            sig == sign::sign(
                SECRET,
                &sign::prehash(method.as_str(), uri.path(), &query, &body, &ts),
            )
        }
        _ => false,
    };
    script.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query,
        body,
        key: h("key"),
        timestamp: h("timestamp"),
        signature_ok,
    });
    let reply = script.replies.lock().unwrap().pop_front();
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

pub struct Mock {
    script: Arc<Script>,
    /// `http://127.0.0.1:<port>/`.
    pub url: String,
    pub clock: Arc<AtomicI64>,
    pub exchange: GateExchange,
    /// What the client waited for its budgets, through the test clock.
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl Mock {
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::start_with(replies, Duration::from_secs(5)).await
    }

    pub async fn start_with(replies: Vec<Reply>, timeout: Duration) -> Self {
        let script = Arc::new(Script::default());
        script.replies.lock().unwrap().extend(replies);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let clock = Arc::new(AtomicI64::new(T));
        let c = clock.clone();
        let url = format!("http://{addr}/");
        let waits = Arc::new(Mutex::new(Vec::new()));
        let (w, sc) = (waits.clone(), clock.clone());
        // The client's budget waits move the test clock, and are recorded: nothing sleeps.
        let sleep: smartfolio_exchange::history::Sleep = Arc::new(move |d: Duration| {
            w.lock().unwrap().push(d);
            sc.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
            Box::pin(async {})
        });
        let client = GateClient::new(
            ClientConfig {
                base_url: url.clone(),
                timeout,
                ..ClientConfig::default()
            },
            Some(Credentials::new(KEY, SECRET)),
            Arc::new(move || c.load(Ordering::SeqCst)),
        )
        .unwrap()
        .with_sleep(sleep);
        Self {
            script,
            url,
            clock,
            exchange: GateExchange::new(client),
            waits,
        }
    }

    /// What the client waited for its budgets so far.
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
