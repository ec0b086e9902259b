//! A server over a paper exchange and a SQLite store in a temporary directory, with 300 hourly
//! synthetic ticks of history and one running bot (`sample`, BTC 50 / ETH 30 / SOL 20).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use rust_decimal::Decimal;
use serde_json::Value;
use smartfolio_bot::{BotConfig, ManualClock, Runtime};
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::PriceTick;
use smartfolio_exchange::feed::{SyntheticConfig, SyntheticMarket};
use smartfolio_exchange::paper::{PaperConfig, PaperExchange};
use smartfolio_server::{AppState, Core, RuntimeHandle, TokenCheck};
use smartfolio_store::SqliteStore;
use std::sync::Arc;
use tower::ServiceExt as _;

pub const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub struct TestApp {
    pub app: Router,
    pub handle: RuntimeHandle,
    pub rt: tokio::runtime::Runtime,
    pub market: SyntheticMarket,
    pub sample_id: i64,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub headers: axum::http::HeaderMap,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error body's field.
    pub fn field(&self) -> Option<String> {
        self.json()["error"]["field"].as_str().map(str::to_string)
    }
}

fn rules() -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(Decimal::new(1, 8)),
        min_size: None,
        min_notional: Some(Decimal::from(5)),
        tick_size: None,
    }
}

impl TestApp {
    pub fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut market = SyntheticMarket::new({
            let mut c = SyntheticConfig::new(&["BTC", "ETH", "SOL"], 7);
            c.step_ms = 3_600_000;
            c
        })
        .expect("market");
        let (handle, sample_id) = rt.block_on(async {
            let store = Arc::new(SqliteStore::open(dir.path()).await.expect("store"));
            let cfg = PaperConfig::new("main", "USDT")
                .with_instrument("BTC", rules())
                .with_instrument("ETH", rules())
                .with_instrument("SOL", rules());
            let ex = Arc::new(
                PaperExchange::open(cfg, store.clone())
                    .await
                    .expect("paper"),
            );
            ex.deposit("USDT", Decimal::from(100_000))
                .await
                .expect("deposit");
            let clock = Arc::new(ManualClock::new(0));
            let mut rt = Runtime::new(store.clone(), ex.clone(), clock.clone(), "main");
            rt.recover().await.expect("recover");
            let mut core = Core::new(rt, ex, clock);
            for _ in 0..300 {
                let t = market.step();
                core.observe(&t).await.expect("observe");
            }
            let sample = BotConfig::new(
                "sample",
                "BTC=50,ETH=30,SOL=20",
                "threshold:5",
                Decimal::from(10_000),
            )
            .expect("config");
            let id = core.rt.create(sample).await.expect("create");
            core.rt.deploy(id).await.expect("deploy");
            let (handle, _task) = smartfolio_server::spawn(core, None);
            (handle, id)
        });
        let app = smartfolio_server::router(AppState {
            handle: handle.clone(),
            token: Arc::new(TokenCheck::for_token(TOKEN)),
            mode: Arc::from("test"),
            node: Arc::default(),
            closing: tokio::sync::watch::channel(false).1,
            queue: None,
        });
        TestApp {
            app,
            handle,
            rt,
            market,
            sample_id,
            _dir: dir,
        }
    }

    /// A request; `body` is sent as JSON (content type set) when given.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        token: Option<&str>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(bytes) => b
                .header("content-type", "application/json")
                .body(Body::from(bytes.to_vec())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        self.rt.block_on(async {
            let res = self.app.clone().oneshot(req).await.expect("infallible");
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let content_type = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
                .await
                .expect("body");
            Answer {
                status,
                content_type,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                headers,
            }
        })
    }

    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, None)
    }

    pub fn post(&self, path: &str, body: &str) -> Answer {
        self.send("POST", path, Some(body.as_bytes()), Some(TOKEN))
    }

    /// Drive every bot with `tick` (as the market would).
    pub fn tick(&self, tick: PriceTick) {
        self.rt
            .block_on(
                self.handle
                    .call(move |c| Box::pin(async move { c.tick(&tick).await })),
            )
            .expect("actor")
            .expect("tick");
    }

    /// The next synthetic tick.
    pub fn step(&mut self) -> PriceTick {
        self.market.step()
    }

    /// `GET /api/bots` as JSON.
    pub fn bots(&self) -> Value {
        let a = self.get("/api/bots");
        assert_eq!(a.status, 200, "{}", a.text);
        a.json()
    }

    /// Everything observable about the bots (to check that a failed request changed nothing).
    pub fn fingerprint(&self) -> String {
        let mut s = self.get("/api/bots").text;
        for b in self.bots()["bots"].as_array().expect("bots") {
            let id = b["id"].as_i64().expect("id");
            s.push_str(&self.get(&format!("/api/bots/{id}/history")).text);
        }
        s
    }
}
