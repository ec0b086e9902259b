//! `run --http` on a live venue and market: [`Server::start`] over the node's host and driver,
//! as `smartfolio run --http` starts it, against the in-process Binance simulator on 127.0.0.1.
//! Through the HTTP API: the status names the venue and the mode and shows the venue's own
//! balances; a bot created through the API deploys with real orders at the simulator (its
//! ledger is the account, each client id once); a threshold drift is rebalanced by the driver's
//! own ticks of the live market (seen on the live events); a stop sells everything. The dry run
//! (the paper venue at the simulator's public prices) fills on paper: nothing reaches the venue.
//! The demo refuses a live venue or market, naming what it found and what is allowed.

mod served;

use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::{Value, json};
use served::Served;
use smartfolio_core::InstrumentRules;
use smartfolio_exchange::paper::PaperConfig;
use smartfolio_node::venue::{VenueConfig, VenueKind};
use smartfolio_node::{ApiKeys, CreateSpec, MarketConfig, NodeConfig};
use smartfolio_server::{DemoSetup, ServeOptions, Server};
use smartfolio_sim::{Faults, RunningSim, SimConfig, Simulator};
use std::collections::BTreeMap;
use std::str::FromStr;

const KEY: &str = "http-key-41c9";
const SECRET: &str = "http-secret-8e2d7a";

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn rules(lot: &str) -> InstrumentRules {
    InstrumentRules {
        lot_step: Some(dec(lot)),
        min_size: Some(dec(lot)),
        min_notional: Some(dec("5")),
        tick_size: Some(dec("0.01")),
    }
}

async fn simulator() -> (Simulator, RunningSim) {
    let sim = Simulator::new(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.to_string().into(),
        paper: PaperConfig::new("sim", "USDT")
            .with_instrument("BTC", rules("0.00001"))
            .with_instrument("ETH", rules("0.0001")),
        balances: vec![("USDT".into(), dec("10000"))],
        market: None,
        history_ms: 0,
        faults: Faults::default(),
        persistence: None,
    })
    .await
    .unwrap();
    sim.set_prices(&[("BTC", dec("40000")), ("ETH", dec("2000"))])
        .await
        .unwrap();
    let server = sim.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    (sim, server)
}

/// A node on `dir` with a live market of BTC and ETH read every 20 ms from the simulator, on
/// `kind`. (The dry run prices a command from the paper exchange, which knows only the assets
/// the market has read.)
fn node_config(dir: &std::path::Path, sim: &RunningSim, kind: VenueKind) -> NodeConfig {
    let keys = (kind == VenueKind::Binance).then(|| ApiKeys {
        api_key: SecretString::from(KEY.to_string()),
        api_secret: SecretString::from(SECRET.to_string()),
        passphrase: None,
    });
    NodeConfig {
        accounts: vec![],
        execution: Default::default(),
        data_dir: dir.to_path_buf(),
        store: None,
        quote: "USDT".into(),
        account: "main".into(),
        paper: PaperConfig::new("main", "USDT")
            .with_instrument("BTC", rules("0.00001"))
            .with_instrument("ETH", rules("0.0001")),
        balances: vec![("USDT".into(), dec("5000"))],
        market: MarketConfig::live(&["BTC", "ETH"], 20),
        cooldown_ms: 0,
        snapshot_interval_ms: 3_600_000,
        venue: VenueConfig {
            kind,
            base_url: Some(sim.base_url()),
            keys,
            allow_withdrawal_keys: false,
            timeouts: Default::default(),
            demo: false,
            prices: None,
        },
    }
}

fn options(demo: Option<DemoSetup>) -> ServeOptions {
    ServeOptions {
        demo,
        ..served::options()
    }
}

async fn serve(cfg: NodeConfig) -> Served {
    Served::run(Server::start(cfg, options(None)).await.unwrap())
}

/// The live events (`GET /api/events`), read as they come.
struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    async fn open(s: &Served) -> Events {
        let res = s
            .http
            .get(format!("{}/api/events", s.url))
            .send()
            .await
            .unwrap();
        let mut ev = Events {
            res,
            buf: String::new(),
        };
        // Subscribed once the stream says hello: every later event reaches it.
        ev.next_of("hello").await;
        ev
    }

    /// Read to the end of the stream (the server stopped): the event names that came.
    async fn rest(mut self) -> String {
        while let Some(chunk) = self.res.chunk().await.unwrap() {
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
        self.buf
    }

    /// The data of the next event named `kind` (others are skipped).
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut name = "";
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if name == kind {
                    return serde_json::from_str(&data).unwrap_or(Value::Null);
                }
            }
            let chunk = self.res.chunk().await.unwrap().expect("the stream ended");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn holdings(bot: &Value) -> BTreeMap<String, Decimal> {
    bot["holdings"]
        .as_array()
        .expect("holdings")
        .iter()
        .map(|h| {
            (
                h["asset"].as_str().unwrap().to_string(),
                dec(h["quantity"].as_str().unwrap()),
            )
        })
        .collect()
}

/// The bot's coins are the account's, and the account's cash is what the bot did not take.
async fn assert_ledger_is_account(s: &Served, sim: &Simulator, net_invested: Decimal) {
    let bot = s.get("/api/bots/live").await;
    let ledger = holdings(&bot);
    let acct = sim.totals().await;
    for asset in ["BTC", "ETH"] {
        assert_eq!(
            acct.get(asset).copied().unwrap_or_default(),
            ledger.get(asset).copied().unwrap_or_default(),
            "{asset}: account {acct:?}, ledger {ledger:?}"
        );
    }
    assert_eq!(
        acct["USDT"],
        dec("10000") - net_invested + ledger.get("USDT").copied().unwrap_or_default(),
        "USDT: account {acct:?}, ledger {ledger:?}"
    );
}

/// Every client id reached the venue once; how many orders did.
async fn assert_client_ids_unique(sim: &Simulator) -> usize {
    let (n, twice) = sim.client_ids().await;
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    n
}

/// `GET /api/status` names the venue, the market and the mode, and shows the venue's balance
/// of USDT.
async fn assert_status(s: &Served, want: [&str; 3], usdt: &str) {
    let status = s.get("/api/status").await;
    assert_eq!(
        [&status["venue"], &status["market"], &status["trading"]],
        want.map(|w| json!(w)).each_ref(),
        "{status}"
    );
    assert!(
        status["balances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["asset"] == "USDT" && dec(b["free"].as_str().unwrap()) == dec(usdt)),
        "{status}"
    );
    assert!(status["market_time_ms"].is_i64(), "priced before serving");
}

fn create_body() -> Value {
    json!({"name": "live", "targets": "BTC=50,ETH=50", "trigger": "threshold:5",
           "investment": "1000", "cooldown_ms": 0})
}

#[tokio::test]
async fn run_http_serves_bots_trading_on_binance_through_the_connector() {
    let (sim, server) = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(node_config(dir.path(), &server, VenueKind::Binance)).await;

    // The venue and the mode, and the venue's own balances.
    assert_status(&s, ["binance", "live", "live"], "10000").await;

    // A bot created through the API deploys with real orders at the venue.
    let (code, created) = s.post("/api/bots", create_body()).await;
    assert_eq!(code, 201, "{created}");
    assert!(created["deploy"].is_object(), "{created}");
    assert_eq!(assert_client_ids_unique(&sim).await, 2, "one buy per asset");
    assert_ledger_is_account(&s, &sim, dec("1000")).await;
    let bots = s.get("/api/bots").await;
    assert_eq!(bots["bots"][0]["venue"], "binance", "{bots}");

    // BTC +30% at the venue: the driver's next reads of the live market see the drift and
    // rebalance; the live events say when it has closed.
    let mut events = Events::open(&s).await;
    sim.set_prices(&[("BTC", dec("52000"))]).await.unwrap();
    loop {
        let r = events.next_of("rebalance").await;
        if r["status"] != "open" {
            assert_eq!(r["status"], "completed", "{r}");
            break;
        }
    }
    assert_eq!(assert_client_ids_unique(&sim).await, 4, "a sell and a buy");
    assert_ledger_is_account(&s, &sim, dec("1000")).await;

    // Stop selling everything: the account holds no coin, the bot's cash is released.
    let (code, stopped) = s
        .post("/api/bots/live/stop", json!({"mode": "sell_all"}))
        .await;
    assert_eq!(code, 200, "{stopped}");
    // What stays is dust below one lot step, which no order can sell.
    let acct = sim.totals().await;
    assert!(
        acct.get("BTC").is_none_or(|q| *q < dec("0.00001"))
            && acct.get("ETH").is_none_or(|q| *q < dec("0.0001")),
        "{acct:?}"
    );
    let bot = s.get("/api/bots/live").await;
    assert_eq!(bot["summary"]["status"], "stopped", "{bot}");
    assert_client_ids_unique(&sim).await;
    // The dashboard's event stream is still open: stopping the server ends it (a stop is
    // never held by an open dashboard), after the stop's own events.
    let end = s.stop().await;
    assert_eq!(end.bots, 1);
    let rest = events.rest().await;
    assert!(rest.contains("\"status\":\"stopped\""), "{rest}");
    server.shutdown().await;
}

#[tokio::test]
async fn run_http_dry_run_fills_on_paper_at_the_venues_public_prices() {
    let (sim, server) = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let s = serve(node_config(dir.path(), &server, VenueKind::Paper)).await;
    // The balances are the paper account's.
    assert_status(&s, ["paper", "live", "dry_run"], "5000").await;
    let (code, created) = s.post("/api/bots", create_body()).await;
    assert_eq!(code, 201, "{created}");
    let bot = s.get("/api/bots/live").await;
    let h = holdings(&bot);
    // Bought on paper at the simulator's prices: half the 1000 in BTC at 40000 (less fees and
    // slippage), where the paper account's own market would be far off.
    let btc = h.get("BTC").copied().unwrap_or_default() * dec("40000");
    assert!(btc > dec("490") && btc <= dec("500"), "{bot}");
    assert!(
        sim.paper().account().await.orders.is_empty(),
        "no order reached the venue"
    );
    assert_eq!(sim.totals().await["USDT"], dec("10000"));
    s.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_demo_refuses_a_live_venue_or_market_and_says_what_it_runs() {
    let (_sim, server) = simulator().await;
    for kind in [VenueKind::Binance, VenueKind::Paper] {
        let dir = tempfile::tempdir().unwrap();
        let demo = DemoSetup {
            warmup_ticks: 1,
            sample: CreateSpec::default(),
        };
        let e = Server::start(node_config(dir.path(), &server, kind), options(Some(demo)))
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains(&format!("venue.kind = {kind}"))
                && e.contains("market.kind = live")
                && e.contains("allowed: venue.kind = paper")
                && e.contains("run --http"),
            "{e}"
        );
        // Nothing was opened: the data directory is not taken.
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
    server.shutdown().await;
}
