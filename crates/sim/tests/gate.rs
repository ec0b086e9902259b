//! The simulator speaking Gate v4 on 127.0.0.1:0, driven by a small signed HTTP client written
//! here from Gate's signing rule (not the simulator's code): signatures and timestamps are
//! checked and refused in Gate's labels, a market buy's quote amount moves the balances exactly
//! by its fill, limit orders rest, are listed, found by `text` and canceled, a reused `text`
//! takes a second order, the faults answer in Gate's words, and candlesticks are served by
//! `from`/`to` as Gate serves them.

mod common;

use common::{KEY, SECRET, T0, priced_sim};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use smartfolio_sim::{Faults, GATE_TEXT_LOOKUP_MS, RateLimitFault, RunningSim, Simulator, Wire};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

struct Rig {
    sim: Simulator,
    server: RunningSim,
    clock: Arc<AtomicI64>,
    http: reqwest::Client,
}

/// A key, a secret, and how far the signer's clock is from the rig's (ms).
type Creds<'a> = (&'a str, &'a str, i64);

/// A Gate answer: HTTP status, JSON body, and `Retry-After` if any.
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

impl Reply {
    fn label(&self) -> &str {
        self.body["label"].as_str().unwrap_or("")
    }
}

fn d(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string: {v}"))
        .parse()
        .unwrap()
}

/// Gate's `SIGN`: hex HMAC-SHA512 over `METHOD\n/api/v4path\nquery\nhex(SHA512(body))\nts`.
fn sign(secret: &str, method: &str, path: &str, query: &str, body: &str, ts: &str) -> String {
    let hashed = hex::encode(Sha512::digest(body.as_bytes()));
    let payload = format!("{method}\n{path}\n{query}\n{hashed}\n{ts}");
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Rig {
    async fn start(faults: Faults) -> Self {
        let (sim, clock) = priced_sim(faults).await;
        let server = sim
            .serve_wire(([127, 0, 0, 1], 0).into(), Wire::Gate)
            .await
            .unwrap();
        Self {
            sim,
            server,
            clock,
            http: reqwest::Client::new(),
        }
    }

    fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    /// A request signed with `key`/`secret` at the rig's time shifted by `skew_ms` (`None`:
    /// unsigned).
    async fn raw(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        creds: Option<Creds<'_>>,
    ) -> Reply {
        let mut url = format!("{}/api/v4{path}", self.server.base_url());
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some((key, secret, skew_ms)) = creds {
            let ts = ((self.clock.load(Ordering::SeqCst) + skew_ms) / 1_000).to_string();
            let sig = sign(secret, method, &format!("/api/v4{path}"), query, body, &ts);
            req = req
                .header("KEY", key)
                .header("Timestamp", ts)
                .header("SIGN", sig);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            retry_after,
        }
    }

    async fn get(&self, path: &str, query: &str) -> Reply {
        self.raw("GET", path, query, "", Some((KEY, SECRET, 0)))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.raw("POST", path, "", &body.to_string(), Some((KEY, SECRET, 0)))
            .await
    }

    async fn delete(&self, path: &str, query: &str) -> Reply {
        self.raw("DELETE", path, query, "", Some((KEY, SECRET, 0)))
            .await
    }

    /// The account's available and locked amounts of `asset` as `/spot/accounts` reports them.
    async fn balance(&self, asset: &str) -> (Decimal, Decimal) {
        let r = self
            .get("/spot/accounts", &format!("currency={asset}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        match r.body.as_array().unwrap().first() {
            Some(a) => (d(&a["available"]), d(&a["locked"])),
            None => (Decimal::ZERO, Decimal::ZERO),
        }
    }
}

fn limit_buy(text: &str, amount: &str, price: &str) -> Value {
    json!({"text": text, "currency_pair": "BTC_USDT", "type": "limit", "account": "spot",
           "side": "buy", "amount": amount, "price": price, "time_in_force": "gtc"})
}

#[test]
fn the_empty_body_hash_is_gates() {
    // venue-facts.md: the hash signed for a request without a body.
    assert_eq!(
        hex::encode(Sha512::digest(b"")),
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
    );
}

#[tokio::test]
async fn signed_requests_are_checked_and_each_refusal_is_gates_label() {
    let rig = Rig::start(Faults::default()).await;
    // Public routes need no key.
    let t = rig.raw("GET", "/spot/time", "", "", None).await;
    assert_eq!((t.status, t.body["server_time"].as_i64()), (200, Some(T0)));
    let pairs = rig.raw("GET", "/spot/currency_pairs", "", "", None).await;
    let btc = &pairs.body[0];
    assert_eq!(btc["id"], "BTC_USDT");
    assert_eq!(btc["amount_precision"], 5);
    assert_eq!(btc["precision"], 2);
    assert_eq!(btc["min_quote_amount"], "5");
    assert_eq!(btc["trade_status"], "tradable");

    let cases: [(Option<Creds>, u16, &str); 5] = [
        (None, 401, "MISSING_REQUIRED_HEADER"),
        (Some(("not-the-key", SECRET, 0)), 401, "INVALID_KEY"),
        (Some((KEY, "not-the-secret", 0)), 401, "INVALID_SIGNATURE"),
        (Some((KEY, SECRET, -61_000)), 401, "REQUEST_EXPIRED"),
        (Some((KEY, SECRET, 61_000)), 401, "REQUEST_EXPIRED"),
    ];
    for (creds, status, label) in cases {
        let r = rig.raw("GET", "/spot/accounts", "", "", creds).await;
        assert_eq!((r.status, r.label()), (status, label), "{}", r.body);
    }
    // Within the window, the right key and secret read the account.
    let r = rig
        .raw(
            "GET",
            "/spot/accounts",
            "",
            "",
            Some((KEY, SECRET, -59_000)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A signature over another query or another body is refused.
    let ts = (T0 / 1_000).to_string();
    let sig = sign(
        SECRET,
        "GET",
        "/api/v4/spot/accounts",
        "currency=BTC",
        "",
        &ts,
    );
    let r = rig
        .http
        .get(format!(
            "{}/api/v4/spot/accounts?currency=USDT",
            rig.server.base_url()
        ))
        .header("KEY", KEY)
        .header("Timestamp", &ts)
        .header("SIGN", sig)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["label"],
        "INVALID_SIGNATURE"
    );
    let body = limit_buy("t-signed", "0.001", "30000").to_string();
    let sig = sign(SECRET, "POST", "/api/v4/spot/orders", "", "{}", &ts);
    let r = rig
        .http
        .post(format!("{}/api/v4/spot/orders", rig.server.base_url()))
        .header("KEY", KEY)
        .header("Timestamp", &ts)
        .header("SIGN", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(rig.sim.client_ids().await.0, 0, "nothing was placed");
}

#[tokio::test]
async fn a_market_buy_by_quote_moves_the_balances_exactly_by_its_fill() {
    let rig = Rig::start(Faults::default()).await;
    let r = rig
        .post(
            "/spot/orders",
            json!({"text": "t-mkt1", "currency_pair": "BTC_USDT", "type": "market",
                   "side": "buy", "amount": "1000", "time_in_force": "ioc"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body;
    assert_eq!(
        (o["status"].as_str(), o["finish_as"].as_str()),
        (Some("closed"), Some("filled"))
    );
    // Gate's rule: a market buy's amount (and what is left of it) is quote.
    assert_eq!(o["amount"], "1000");
    let spent = d(&o["filled_total"]);
    let bought = d(&o["filled_amount"]);
    assert_eq!(d(&o["left"]), dec!(1000) - spent);
    assert!(spent <= dec!(1000) && spent > dec!(999), "{spent}");
    assert!(o["create_time_ms"].is_i64() && o["text"] == "t-mkt1");
    let trades = rig
        .get(
            "/spot/my_trades",
            &format!(
                "currency_pair=BTC_USDT&order_id={}",
                o["id"].as_str().unwrap()
            ),
        )
        .await;
    let trades = trades.body.as_array().unwrap().clone();
    assert!(!trades.is_empty());
    let qty: Decimal = trades.iter().map(|t| d(&t["amount"])).sum();
    let cost: Decimal = trades
        .iter()
        .map(|t| d(&t["amount"]) * d(&t["price"]))
        .sum();
    let fee: Decimal = trades.iter().map(|t| d(&t["fee"])).sum();
    assert!(
        trades
            .iter()
            .all(|t| t["fee_currency"] == "BTC" && t["role"] == "taker")
    );
    assert_eq!((qty, cost), (bought, spent));
    assert_eq!(
        rig.balance("USDT").await,
        (dec!(10000) - spent, Decimal::ZERO)
    );
    assert_eq!(
        rig.balance("BTC").await,
        (dec!(0.1) + bought - fee, Decimal::ZERO)
    );
    // A market sell's amount is base.
    let r = rig
        .post(
            "/spot/orders",
            json!({"currency_pair": "BTC_USDT", "type": "market", "side": "sell",
                   "amount": "0.01", "time_in_force": "ioc"}),
        )
        .await;
    assert_eq!(
        (r.status, d(&r.body["filled_amount"])),
        (201, dec!(0.01)),
        "{}",
        r.body
    );
    assert_eq!(r.body["text"], "apiv4", "no text sent: Gate shows apiv4");
    // Beyond the balance: BALANCE_NOT_ENOUGH, nothing placed.
    let r = rig
        .post(
            "/spot/orders",
            json!({"currency_pair": "BTC_USDT", "type": "market", "side": "buy",
                   "amount": "1000000", "time_in_force": "ioc"}),
        )
        .await;
    assert_eq!((r.status, r.label()), (400, "BALANCE_NOT_ENOUGH"));
    assert_eq!(rig.sim.client_ids().await.0, 2);
}

#[tokio::test]
async fn limit_orders_rest_are_listed_found_by_text_and_canceled() {
    let rig = Rig::start(Faults::default()).await;
    let r = rig
        .post("/spot/orders", limit_buy("t-lim1", "0.01", "30000"))
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (201, Some("open")),
        "{}",
        r.body
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(rig.balance("USDT").await, (dec!(9700), dec!(300)));
    let open = rig.get("/spot/open_orders", "").await.body;
    assert_eq!(open[0]["currency_pair"], "BTC_USDT");
    assert_eq!(open[0]["total"], 1);
    assert_eq!(open[0]["orders"][0]["id"], id.as_str());
    let listed = rig
        .get("/spot/orders", "currency_pair=BTC_USDT&status=open")
        .await
        .body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let by_text = rig
        .get("/spot/orders/t-lim1", "currency_pair=BTC_USDT")
        .await;
    assert_eq!(by_text.body["id"], id.as_str());
    // A text that is not Gate's pattern is refused.
    let r = rig
        .post("/spot/orders", limit_buy("lim2", "0.01", "30000"))
        .await;
    assert_eq!((r.status, r.label()), (400, "INVALID_PARAM_VALUE"));
    let long = format!("t-{}", "x".repeat(29));
    let r = rig
        .post("/spot/orders", limit_buy(&long, "0.01", "30000"))
        .await;
    assert_eq!((r.status, r.label()), (400, "INVALID_PARAM_VALUE"));
    // A post-only (poc) order that would take is refused.
    let mut poc = limit_buy("t-poc", "0.01", "41000");
    poc["time_in_force"] = json!("poc");
    let r = rig.post("/spot/orders", poc).await;
    assert_eq!((r.status, r.label()), (400, "POC_FILL_IMMEDIATELY"));

    let c = rig
        .delete("/spot/orders/t-lim1", "currency_pair=BTC_USDT")
        .await;
    assert_eq!(
        (c.status, c.body["status"].as_str()),
        (200, Some("cancelled")),
        "{}",
        c.body
    );
    assert_eq!(rig.balance("USDT").await, (dec!(10000), Decimal::ZERO));
    let again = rig
        .delete(&format!("/spot/orders/{id}"), "currency_pair=BTC_USDT")
        .await;
    assert_eq!((again.status, again.label()), (400, "ORDER_CANCELLED"));
    let finished = rig
        .get("/spot/orders", "currency_pair=BTC_USDT&status=finished")
        .await
        .body;
    assert_eq!(finished[0]["finish_as"], "cancelled");
    // The text finds a finished order for an hour, the id for ever.
    rig.advance(GATE_TEXT_LOOKUP_MS - 1_000);
    let r = rig
        .get("/spot/orders/t-lim1", "currency_pair=BTC_USDT")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    rig.advance(2_000);
    let r = rig
        .get("/spot/orders/t-lim1", "currency_pair=BTC_USDT")
        .await;
    assert_eq!((r.status, r.label()), (404, "CLIENT_ID_NOT_FOUND"));
    let r = rig
        .get(&format!("/spot/orders/{id}"), "currency_pair=BTC_USDT")
        .await;
    assert_eq!(r.body["status"], "cancelled");
    let r = rig.get("/spot/orders/999", "currency_pair=BTC_USDT").await;
    assert_eq!((r.status, r.label()), (404, "ORDER_NOT_FOUND"));
}

#[tokio::test]
async fn a_reused_text_takes_a_second_order_which_the_text_then_names() {
    let rig = Rig::start(Faults::default()).await;
    let first = rig
        .post("/spot/orders", limit_buy("t-again", "0.01", "30000"))
        .await;
    let second = rig
        .post("/spot/orders", limit_buy("t-again", "0.02", "30000"))
        .await;
    assert_eq!((first.status, second.status), (201, 201), "{}", second.body);
    assert_ne!(first.body["id"], second.body["id"]);
    assert_eq!(second.body["text"], "t-again");
    let named = rig
        .get("/spot/orders/t-again", "currency_pair=BTC_USDT")
        .await;
    assert_eq!(named.body["id"], second.body["id"]);
    assert_eq!(named.body["amount"], "0.02");
    // Both rest, and the venue reports the text as sent twice.
    assert_eq!(rig.balance("USDT").await.1, dec!(900));
    assert_eq!(rig.sim.client_ids().await, (2, vec!["t-again".to_string()]));
}

#[tokio::test]
async fn faults_answer_in_gates_words() {
    let rig = Rig::start(Faults {
        rate_limited: Some(RateLimitFault {
            status: 429,
            times: 1,
            retry_after_s: 3,
        }),
        server_errors: 1,
        ..Faults::default()
    })
    .await;
    // The 5xx comes first, then the rate limit; neither places anything.
    let r = rig
        .post("/spot/orders", limit_buy("t-f1", "0.01", "30000"))
        .await;
    assert_eq!((r.status, r.label()), (500, "SERVER_ERROR"));
    let r = rig
        .post("/spot/orders", limit_buy("t-f1", "0.01", "30000"))
        .await;
    assert_eq!((r.status, r.label()), (429, "TOO_MANY_REQUESTS"));
    assert_eq!(r.retry_after.as_deref(), Some("3"));
    assert_eq!(rig.sim.client_ids().await.0, 0);

    // An order taken, then answered 504: found by its text with its fill; a lookup right
    // after placement is not found for a while.
    rig.sim
        .set_faults(Faults {
            unknown_after_order: 1,
            not_found_after_order: 1,
            ..Faults::default()
        })
        .unwrap();
    let r = rig
        .post(
            "/spot/orders",
            json!({"text": "t-unk", "currency_pair": "BTC_USDT", "type": "market",
                   "side": "buy", "amount": "100"}),
        )
        .await;
    assert_eq!((r.status, r.label()), (504, "SERVER_ERROR"));
    let r = rig
        .get("/spot/orders/t-unk", "currency_pair=BTC_USDT")
        .await;
    assert_eq!((r.status, r.label()), (404, "CLIENT_ID_NOT_FOUND"));
    let r = rig
        .get("/spot/orders/t-unk", "currency_pair=BTC_USDT")
        .await;
    assert_eq!(
        (r.status, r.body["finish_as"].as_str()),
        (200, Some("filled")),
        "{}",
        r.body
    );

    // A halt: untradable, and orders refused.
    rig.sim
        .set_faults(Faults {
            halted: vec!["ETH".into()],
            rejects: 1,
            clock_skew_ms: 90_000,
            ..Faults::default()
        })
        .unwrap();
    let eth = rig
        .raw("GET", "/spot/currency_pairs/ETH_USDT", "", "", None)
        .await;
    assert_eq!(eth.body["trade_status"], "untradable");
    // The server's clock is 90 s ahead: a request on the client's clock is expired, and one
    // on the server's time (read from /spot/time) goes through.
    let r = rig.get("/spot/accounts", "").await;
    assert_eq!(r.label(), "REQUEST_EXPIRED");
    let server = rig.raw("GET", "/spot/time", "", "", None).await.body["server_time"]
        .as_i64()
        .unwrap();
    let skew = server - rig.clock.load(Ordering::SeqCst);
    assert_eq!(skew, 90_000);
    let mut eth_order = limit_buy("t-eth", "0.1", "1900");
    eth_order["currency_pair"] = json!("ETH_USDT");
    let r = rig
        .raw(
            "POST",
            "/spot/orders",
            "",
            &eth_order.to_string(),
            Some((KEY, SECRET, skew)),
        )
        .await;
    assert_eq!(
        (r.status, r.label()),
        (400, "TRADE_RESTRICTED"),
        "{}",
        r.body
    );
    // The injected reject takes the next order the pair accepts.
    let btc = limit_buy("t-rej", "0.01", "30000").to_string();
    let r = rig
        .raw("POST", "/spot/orders", "", &btc, Some((KEY, SECRET, skew)))
        .await;
    assert_eq!((r.status, r.label()), (400, "ORDER_BOOK_NOT_FOUND"));
    let r = rig
        .raw("POST", "/spot/orders", "", &btc, Some((KEY, SECRET, skew)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn candlesticks_by_from_and_to_are_every_candle_between_and_never_with_limit() {
    let rig = Rig::start(Faults::default()).await;
    // 150 minutes of prices: more than the 100 candles answered without `from`.
    for i in 1..=150 {
        rig.advance(60_000);
        let btc = Decimal::from(40_000 + i);
        rig.sim
            .set_prices(&[("BTC", btc), ("ETH", dec!(2000))])
            .await
            .unwrap();
    }
    let s = |minute: i64| ((T0 + minute * 60_000) / 1_000).to_string();
    let rig = &rig;
    let ask =
        |query: String| async move { rig.raw("GET", "/spot/candlesticks", &query, "", None).await };
    let pair = "currency_pair=BTC_USDT&interval=1m";
    let r = ask(format!("{pair}&from={}&to={}", s(1), s(140))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body.as_array().unwrap();
    // Both ends included.
    assert_eq!(rows.len(), 140);
    assert_eq!(rows[0][0], s(1));
    assert_eq!(rows[139][0], s(140));
    assert_eq!(rows[139][2], "40140");
    // Without `to`: up to now; `limit` with `from` alone caps the count.
    let r = ask(format!("{pair}&from={}", s(1))).await;
    assert_eq!(r.body.as_array().unwrap().len(), 150);
    let r = ask(format!("{pair}&from={}&limit=10", s(1))).await;
    assert_eq!(r.body.as_array().unwrap().len(), 10);
    // Without `from`: the last 100.
    let r = ask(pair.to_string()).await;
    assert_eq!(r.body.as_array().unwrap().len(), 100);
    let r = ask(format!("{pair}&from={}&to={}&limit=10", s(1), s(140))).await;
    assert_eq!(
        (r.status, r.label()),
        (400, "INVALID_PARAM_VALUE"),
        "{}",
        r.body
    );
}
