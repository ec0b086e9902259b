//! A mock OKX on loopback for the connector's tests: an axum server on 127.0.0.1:0 that checks
//! every signed request's `OK-ACCESS-SIGN` against the test secret, records what it saw, and
//! answers from a queue of scripted replies; and an [`OkxExchange`] on a test clock pointed at it.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use smartfolio_okx::client::{ClientConfig, Credentials, OkxClient};
use smartfolio_okx::{OkxExchange, sign};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
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
    pub clock: Arc<AtomicI64>,
    pub exchange: OkxExchange,
}

impl Mock {
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::start_with(replies, Duration::from_secs(5), false).await
    }

    pub async fn start_with(replies: Vec<Reply>, timeout: Duration, demo: bool) -> Self {
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
        let client = OkxClient::new(
            ClientConfig {
                base_url: format!("http://{addr}/"),
                demo,
                timeout,
                ..ClientConfig::default()
            },
            Some(Credentials::new(KEY, SECRET, PASSPHRASE)),
            Arc::new(move || c.load(Ordering::SeqCst)),
        )
        .unwrap();
        Self {
            script,
            clock,
            exchange: OkxExchange::new(client),
        }
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
