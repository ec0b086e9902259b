//! A mock Binance on loopback for the connector's tests: an axum server on 127.0.0.1:0 that
//! records every request (method, path, query, body, key header, client port) and answers from a
//! script, and a client on a test clock pointed at it.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use smartfolio_binance::client::{BinanceClient, ClientConfig, Credentials};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "test-api-key";
pub const SECRET: &str = "test-secret";
/// 40 s into a minute.
pub const T: i64 = 1_700_000_020_000;

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
    pub api_key: Option<String>,
    pub content_type: Option<String>,
    pub peer_port: u16,
}

/// A scripted answer; `hang` never answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub hang: bool,
}

pub fn ok(body: &str) -> Reply {
    Reply {
        status: 200,
        headers: vec![],
        body: body.to_string(),
        hang: false,
    }
}

pub fn status(status: u16, body: &str) -> Reply {
    Reply { status, ..ok(body) }
}

pub fn with_header(mut r: Reply, name: &'static str, value: &str) -> Reply {
    r.headers.push((name, value.to_string()));
    r
}

pub fn hang() -> Reply {
    Reply {
        hang: true,
        ..ok("")
    }
}

#[derive(Default)]
pub struct Script {
    pub seen: Mutex<Vec<Seen>>,
    pub replies: Mutex<VecDeque<Reply>>,
}

async fn handle(
    State(script): State<Arc<Script>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
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
    script.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        body: String::from_utf8_lossy(&body).to_string(),
        api_key: h("x-mbx-apikey"),
        content_type: h("content-type"),
        peer_port: peer.port(),
    });
    let reply = script.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return (StatusCode::IM_A_TEAPOT, "unscripted request").into_response();
    };
    if reply.hang {
        std::future::pending::<()>().await;
    }
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

pub struct Mock {
    pub script: Arc<Script>,
    pub clock: Arc<AtomicI64>,
    pub addr: SocketAddr,
    pub timeout: Duration,
    pub client: BinanceClient,
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
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        let clock = Arc::new(AtomicI64::new(T));
        let client = new_client(addr, timeout, clock.clone());
        Self {
            script,
            clock,
            addr,
            timeout,
            client,
        }
    }

    /// Another client on the same server and clock (its own clock offset and budgets).
    pub fn new_client(&self) -> BinanceClient {
        new_client(self.addr, self.timeout, self.clock.clone())
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

fn new_client(addr: SocketAddr, timeout: Duration, clock: Arc<AtomicI64>) -> BinanceClient {
    BinanceClient::new(
        ClientConfig {
            base_url: format!("http://{addr}/"),
            timeout,
            ..ClientConfig::default()
        },
        Some(Credentials::new(KEY, SECRET)),
        Arc::new(move || clock.load(Ordering::SeqCst)),
    )
    .unwrap()
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Check a signed query or body: `payload&signature=<hmac(payload)>`; returns the payload.
pub fn verify_signature(sent: &str) -> String {
    let (payload, sig) = sent.rsplit_once("&signature=").expect("a signature");
    assert_eq!(
        sig,
        smartfolio_binance::sign::sign(SECRET, payload),
        "{sent}"
    );
    payload.to_string()
}
