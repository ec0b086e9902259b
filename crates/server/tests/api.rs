//! Every route: happy paths, auth, validation errors; the OpenAPI document against the router;
//! live events and metrics after a tick-driven rebalance.

mod common;

use common::{TOKEN, TestApp};
use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy::ToZero;
use serde_json::{Value, json};
use smartfolio_exchange::PriceTick;
use smartfolio_server::api::BODY_LIMIT;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).expect("decimal"),
        Value::Number(n) => Decimal::from_str(&n.to_string()).expect("decimal"),
        other => panic!("not a decimal: {other}"),
    }
}

const CREATE: &str = r#"{"name":"api-bot","targets":"BTC=40,ETH=40,SOL=20","trigger":"threshold:3","investment":"2000"}"#;

/// Every operation the server has, as the document must list it.
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/assets/app.js"),
    ("GET", "/assets/app.css"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/api/events"),
    ("GET", "/api/status"),
    ("GET", "/api/templates"),
    ("GET", "/api/bots"),
    ("POST", "/api/bots"),
    ("GET", "/api/bots/{bot}"),
    ("GET", "/api/bots/{bot}/history"),
    ("GET", "/api/bots/{bot}/profile"),
    ("GET", "/api/bots/{bot}/rebalances"),
    ("GET", "/api/bots/{bot}/orders"),
    ("GET", "/api/bots/{bot}/fills"),
    ("GET", "/api/bots/{bot}/export"),
    ("GET", "/api/bots/{bot}/rebalances.csv"),
    ("GET", "/api/bots/{bot}/orders.csv"),
    ("GET", "/api/bots/{bot}/fills.csv"),
    ("POST", "/api/bots/{bot}/invest"),
    ("POST", "/api/bots/{bot}/withdraw"),
    ("POST", "/api/bots/{bot}/modify"),
    ("POST", "/api/bots/{bot}/rebalance"),
    ("POST", "/api/bots/{bot}/pause"),
    ("POST", "/api/bots/{bot}/resume"),
    ("POST", "/api/bots/{bot}/stop"),
    ("POST", "/api/bots/{bot}/preview"),
    ("POST", "/api/preview/create"),
    ("POST", "/api/preview/allocation"),
    ("POST", "/api/preview/backtest"),
    ("POST", "/api/preview/profile"),
];

/// The document's operations: (METHOD, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            out.push((method.to_ascii_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

/// The component a `$ref` names.
fn component<'a>(doc: &'a Value, r: &Value) -> &'a Value {
    let name = r.as_str().expect("ref").rsplit('/').next().expect("name");
    let c = &doc["components"]["schemas"][name];
    assert!(c.is_object(), "{name} is not in components");
    c
}

#[test]
fn openapi_document_and_router_agree() {
    let t = TestApp::new();
    let a = t.get("/api/openapi.json");
    assert_eq!(a.status, 200);
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected, "the document lists every operation");
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        assert!(
            ids.insert(op["operationId"].as_str().expect("operationId").to_string()),
            "{method} {path}: operation ids are unique"
        );
        // Every answer is documented with its schema; every error is the error body.
        let responses = op["responses"].as_object().expect("responses");
        let ok: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
        assert_eq!(ok.len(), 1, "{method} {path}: one success answer");
        for (code, r) in responses {
            let content = r["content"].as_object().expect("content");
            assert!(!content.is_empty(), "{method} {path} {code}");
            for (_, media) in content {
                assert!(
                    media["schema"].is_object(),
                    "{method} {path} {code}: schema"
                );
            }
            if code.starts_with('4') || code.starts_with('5') {
                let schema = &r["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {code}"
                );
            }
        }
        if let Some(body) = op.get("requestBody") {
            component(&doc, &body["content"]["application/json"]["schema"]["$ref"]);
            for code in ["400", "413", "415", "422"] {
                assert!(responses.contains_key(code), "{method} {path}: {code}");
            }
        }
        let secured = op["security"].is_array();
        if path.contains("{bot}") {
            assert!(responses.contains_key("404"), "{method} {path}: 404");
        }
        assert_eq!(
            responses.contains_key("401"),
            secured,
            "{method} {path}: 401"
        );
        if secured {
            assert!(responses["401"]["headers"]["WWW-Authenticate"]["required"] == true);
        }

        // Each documented operation is answered by a handler (not the 404 fallback nor a 405).
        if path == "/api/events" {
            continue; // a stream: checked in `events_stream_starts_with_hello`
        }
        let concrete = path.replace("{bot}", &t.sample_id.to_string());
        let a = if method == "POST" {
            t.send(&method, &concrete, Some(b"{}"), None)
        } else {
            t.send(&method, &concrete, None, None)
        };
        assert_ne!(a.status, 405, "{method} {path}: {}", a.text);
        if a.status == 404 {
            assert_ne!(
                a.field().as_deref(),
                Some("path"),
                "{method} {path} fell through"
            );
        }
        // Secured operations refuse without the token; the others do not ask for one.
        if secured {
            assert_eq!(a.status, 401, "{method} {path} without token: {}", a.text);
        } else {
            assert!(
                a.status != 401 && a.status < 500,
                "{method} {path}: {}",
                a.text
            );
        }
        // The answer's status is one the document lists for it.
        assert!(
            responses.contains_key(&a.status.to_string()),
            "{method} {path}: {} is not documented",
            a.status
        );
    }
    // Undocumented paths and methods fall through with a JSON error; a 405 says what is allowed.
    let a = t.get("/api/nothing-here");
    assert_eq!((a.status, a.field().as_deref()), (404, Some("path")));
    let a = t.send("DELETE", "/api/bots", None, Some(TOKEN));
    assert_eq!(a.status, 405);
    assert_eq!(a.json()["error"]["allowed"], "GET, POST");
    assert_eq!(a.header("allow"), Some("GET, POST"));
}

/// The request schemas carry the limits the server enforces, from the same constants.
#[test]
fn request_schemas_state_the_server_limits() {
    use smartfolio_server::preview::dec;
    let doc = smartfolio_server::openapi::document();
    let schemas = &doc["components"]["schemas"];
    let create = &schemas["CreateRequest"]["properties"];
    assert_eq!(
        create["name"]["pattern"],
        smartfolio_bot::config::NAME_PATTERN
    );
    assert_eq!(create["investment"]["pattern"], dec::POSITIVE);
    let pattern_of = |v: &Value| -> Value {
        // An optional field: the pattern sits on the string alternative.
        v.get("pattern").cloned().unwrap_or_else(|| {
            v["oneOf"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|x| x.get("pattern").cloned())
                .unwrap_or(Value::Null)
        })
    };
    assert_eq!(pattern_of(&create["stop_loss_pct"]), dec::PERCENT_BELOW_100);
    assert_eq!(pattern_of(&create["take_profit_pct"]), dec::POSITIVE);
    assert_eq!(
        pattern_of(&schemas["BacktestRequest"]["properties"]["investment"]),
        dec::CAPITAL
    );
    for body in ["InvestRequest", "WithdrawRequest"] {
        assert_eq!(
            schemas[body]["properties"]["amount"]["pattern"],
            dec::POSITIVE
        );
    }
    let s = serde_json::to_string(doc).unwrap();
    assert!(s.contains("\"maximum\":31622400000"), "cooldown range");
    assert!(s.contains("\"uniqueItems\":true"), "distinct assets");
    assert_eq!(
        schemas["AllocationRequest"]["properties"]["assets"]["minItems"],
        2
    );
    for body in ["CreateRequest", "BacktestRequest", "ModifyRequest"] {
        assert!(
            schemas[body]["anyOf"].is_array(),
            "{body}: the cross-field rule"
        );
    }
    // The control preview's body: one object per action, each the body of that control's route.
    let variants = schemas["ControlRequest"]["oneOf"]
        .as_array()
        .expect("oneOf");
    let actions: Vec<&str> = variants
        .iter()
        .map(|v| v["properties"]["action"]["enum"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "invest",
            "withdraw",
            "modify",
            "rebalance",
            "pause",
            "resume",
            "stop"
        ]
    );
    for v in variants {
        let action = v["properties"]["action"]["enum"][0].as_str().unwrap();
        let own = match action {
            "invest" => "InvestRequest",
            "withdraw" => "WithdrawRequest",
            "modify" => "ModifyRequest",
            "rebalance" => "RebalanceRequest",
            "stop" => "StopRequest",
            _ => "NoFields",
        };
        let mut keys: BTreeSet<&String> = v["properties"].as_object().unwrap().keys().collect();
        keys.remove(&"action".to_string());
        let own_keys: BTreeSet<&String> = schemas[own]["properties"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, own_keys, "{action}");
        assert_eq!(v["additionalProperties"], false, "{action}");
    }
}

#[test]
fn reads_list_show_history_status_and_pages() {
    let t = TestApp::new();
    let list = t.bots();
    let bots = list["bots"].as_array().unwrap();
    assert_eq!(bots.len(), 1);
    assert_eq!(bots[0]["name"], "sample");
    assert_eq!(bots[0]["status"], "running");
    assert_eq!(dec(&list["total_value"]), dec(&bots[0]["value"]));
    // Each bot's venue and account, and the totals by venue account.
    assert_eq!(bots[0]["venue"], "paper");
    let account = bots[0]["account"].as_str().unwrap().to_string();
    assert!(!account.is_empty(), "{list}");
    let by_venue = list["by_venue"].as_array().unwrap();
    assert_eq!(by_venue.len(), 1, "{list}");
    assert_eq!(by_venue[0]["venue"], "paper");
    assert_eq!(by_venue[0]["account"], account.as_str());
    assert_eq!(by_venue[0]["bots"], 1);
    assert_eq!(dec(&by_venue[0]["value"]), dec(&list["total_value"]));
    assert_eq!(dec(&by_venue[0]["pnl"]), dec(&list["total_pnl"]));

    let by_id = t.get(&format!("/api/bots/{}", t.sample_id)).json();
    let by_name = t.get("/api/bots/sample").json();
    assert_eq!(by_id, by_name);
    let holdings = by_id["holdings"].as_array().unwrap();
    let btc = holdings.iter().find(|h| h["asset"] == "BTC").unwrap();
    assert_eq!(dec(&btc["target_pct"]), Decimal::from(50));
    assert!((dec(&btc["weight_pct"]) - Decimal::from(50)).abs() < Decimal::ONE);
    assert!(by_id["pnl"]["rebalancing_gain"].is_string());

    let h = t.get("/api/bots/sample/history").json();
    let rebs = h["rebalances"].as_array().unwrap();
    assert_eq!(rebs.len(), 1);
    assert_eq!(rebs[0]["kind"], "deploy");
    assert_eq!(h["orders"].as_array().unwrap().len(), 3);
    assert_eq!(h["fills"].as_array().unwrap().len(), 3);

    let short = t.get("/api/bots/sample/history?last=2").json();
    assert_eq!(short["orders"].as_array().unwrap().len(), 2);
    assert_eq!(short["fills"].as_array().unwrap().len(), 2);
    assert_eq!(short["orders"][1], h["orders"][2], "the last ones are kept");
    for bad in ["last=0", "points=x", "foo=1"] {
        let a = t.get(&format!("/api/bots/sample/history?{bad}"));
        assert_eq!(a.status, 422, "{bad}: {}", a.text);
        assert_eq!(a.field().as_deref(), Some(bad.split('=').next().unwrap()));
    }

    let st = t.get("/api/status").json();
    assert_eq!(st["quote"], "USDT");
    // The node's venue, market and what its orders do; each bot's venue.
    assert_eq!(
        (&st["venue"], &st["market"], &st["trading"]),
        (&json!("paper"), &json!("synthetic"), &json!("paper"))
    );
    assert_eq!(t.get("/api/bots").json()["bots"][0]["venue"], "paper");
    assert_eq!(st["assets"], json!(["BTC", "ETH", "SOL"]));
    assert_eq!(st["history_bars"], 300);
    assert_eq!(st["bar_ms"], 3_600_000);

    let page = t.get("/");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("/assets/app.js") && !page.text.contains("http://"));
    let js = t.get("/assets/app.js");
    assert!(js.content_type.starts_with("text/javascript"));
    assert!(js.text.contains("EventSource(\"/api/events\")"));
    assert!(
        t.get("/assets/app.css")
            .content_type
            .starts_with("text/css")
    );

    let m = t.get("/metrics");
    assert!(m.content_type.starts_with("text/plain"));
    assert!(m.text.contains("smartfolio_bots{state=\"running\"} 1"));
    assert!(m.text.contains("smartfolio_bots{state=\"stopped\"} 0"));
    assert!(
        m.text
            .contains("# TYPE smartfolio_tick_to_decision_seconds histogram")
    );

    // Flows too come by page: `last` keeps the last ones, oldest first.
    for amount in ["100", "200"] {
        let a = t.post(
            "/api/bots/sample/invest",
            &format!(r#"{{"amount":"{amount}"}}"#),
        );
        assert_eq!(a.status, 200, "{}", a.text);
    }
    let flows = t.get("/api/bots/sample/history").json()["flows"].clone();
    let flows = flows.as_array().unwrap();
    assert_eq!(flows.len(), 3, "the deposit and two investments");
    assert_eq!(
        t.get("/api/bots/sample/history?last=2").json()["flows"],
        json!([flows[1], flows[2]])
    );
    assert_eq!(dec(&flows[2]["value"]), Decimal::from(200));
}

#[test]
fn mutating_routes_need_the_token_and_change_nothing_without_it() {
    let t = TestApp::new();
    let before = t.fingerprint();
    let id = t.sample_id;
    let cases: Vec<(String, &str)> = vec![
        ("/api/bots".into(), CREATE),
        (format!("/api/bots/{id}/invest"), r#"{"amount":"100"}"#),
        (format!("/api/bots/{id}/withdraw"), r#"{"amount":"100"}"#),
        (
            format!("/api/bots/{id}/modify"),
            r#"{"targets":"BTC=50,ETH=50"}"#,
        ),
        (format!("/api/bots/{id}/pause"), "{}"),
        (format!("/api/bots/{id}/resume"), "{}"),
        (format!("/api/bots/{id}/stop"), r#"{"mode":"sell_all"}"#),
    ];
    for (path, body) in &cases {
        for token in [None, Some("wrong"), Some("")] {
            let a = t.send("POST", path, Some(body.as_bytes()), token);
            assert_eq!(a.status, 401, "{path} with {token:?}: {}", a.text);
            assert_eq!(a.field().as_deref(), Some("authorization"));
            assert_eq!(
                a.header("www-authenticate"),
                Some("Bearer realm=\"smartfolio\""),
                "a 401 names the scheme to answer it with"
            );
        }
        // Not a bearer scheme.
        let a = t.rt.block_on(async {
            use tower::ServiceExt as _;
            let req = axum::http::Request::post(path.as_str())
                .header("authorization", format!("Basic {TOKEN}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            t.app.clone().oneshot(req).await.unwrap().status().as_u16()
        });
        assert_eq!(a, 401);
        // Auth is checked before the body: a bad body without token is still 401.
        let a = t.send("POST", path, Some(b"{not json"), None);
        assert_eq!(a.status, 401);
    }
    assert_eq!(t.fingerprint(), before, "nothing changed");
    // Reads and previews are open.
    assert_eq!(t.get("/api/bots").status, 200);
    let a = t.send(
        "POST",
        &format!("/api/bots/{id}/preview"),
        Some(br#"{"action":"pause"}"#),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.text);
}

#[test]
fn create_validates_every_field_and_changes_nothing_on_error() {
    let t = TestApp::new();
    let before = t.fingerprint();
    let big = format!(
        r#"{{"name":"x","targets":"{}","trigger":"threshold:5","investment":"1000"}}"#,
        "A".repeat(BODY_LIMIT)
    );
    let cases: Vec<(&str, u16, Option<&str>)> = vec![
        ("{not json", 400, Some("body")),
        ("", 400, Some("body")),
        ("[1,2]", 422, None),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":true}"#,
            422,
            Some("investment"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","investment":"1000"}"#,
            422,
            Some("trigger"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000","extra":1}"#,
            422,
            Some("extra"),
        ),
        (
            r#"{"name":"x","targets":"BTC=60,ETH=30","trigger":"threshold:5","investment":"1000"}"#,
            422,
            Some("targets"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000","account":"kraken-1"}"#,
            422,
            Some("account"),
        ),
        (
            r#"{"name":"x","targets":"FOO=100","trigger":"threshold:5","investment":"1000"}"#,
            422,
            Some("targets"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"sometimes","investment":"1000"}"#,
            422,
            Some("trigger"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1"}"#,
            409,
            Some("investment"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"-5"}"#,
            422,
            Some("investment"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1e30"}"#,
            422,
            Some("investment"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"999999999"}"#,
            409,
            Some("investment"),
        ),
        (
            r#"{"name":"bad name!","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000"}"#,
            422,
            Some("name"),
        ),
        (
            r#"{"name":"sample","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000"}"#,
            409,
            Some("name"),
        ),
        (
            r#"{"name":"x","method":"equal","trigger":"threshold:5","investment":"1000"}"#,
            422,
            Some("assets"),
        ),
        (
            r#"{"name":"x","method":"market-cap","assets":["BTC","ETH"],"trigger":"threshold:5","investment":"1000"}"#,
            422,
            Some("method"),
        ),
        (
            r#"{"name":"x","method":"nonsense","assets":["BTC"],"trigger":"threshold:5","investment":"1000"}"#,
            422,
            Some("method"),
        ),
        (
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000","cooldown_ms":-1}"#,
            422,
            Some("cooldown_ms"),
        ),
        (big.as_str(), 413, Some("body")),
    ];
    for (body, status, field) in &cases {
        for path in ["/api/bots", "/api/preview/create"] {
            let a = t.post(path, body);
            assert_eq!(
                a.status,
                *status,
                "{path} {}: {}",
                &body[..body.len().min(120)],
                a.text
            );
            let err = &a.json()["error"];
            assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
            if let Some(f) = field {
                assert_eq!(err["field"].as_str(), Some(*f), "{body}: {}", a.text);
            }
        }
    }
    // Not JSON at all.
    let a = t.send("POST", "/api/bots", None, Some(TOKEN));
    assert_eq!(a.status, 415, "{}", a.text);
    assert_eq!(t.fingerprint(), before, "nothing changed");
}

#[test]
fn create_preview_then_create_with_manual_equal_and_method_targets() {
    let t = TestApp::new();
    let pv = t.post("/api/preview/create", CREATE);
    assert_eq!(pv.status, 200, "{}", pv.text);
    let pv = pv.json();
    let legs = pv["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 3);
    assert!(legs.iter().all(|l| l["side"] == "buy"));
    let notional: Decimal = legs.iter().map(|l| dec(&l["notional"])).sum();
    assert!(notional <= Decimal::from(2000) && notional > Decimal::from(1990));
    assert_eq!(
        t.bots()["bots"].as_array().unwrap().len(),
        1,
        "a preview creates nothing"
    );

    let a = t.post("/api/bots", CREATE);
    assert_eq!(a.status, 201, "{}", a.text);
    let v = a.json();
    assert_eq!(v["bot"]["summary"]["status"], "running");
    assert_eq!(v["deploy"]["kind"], "deploy");
    assert_eq!(dec(&v["bot"]["pnl"]["net_invested"]), Decimal::from(2000));

    let a = t.post(
        "/api/bots",
        r#"{"name":"eq","method":"equal","assets":["btc","eth"],"trigger":"every:1d","investment":"1000"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["bot"]["summary"]["targets"], "BTC=50,ETH=50");

    let a = t.post(
        "/api/bots",
        r#"{"name":"iv","method":"inverse-vol","assets":["BTC","ETH","SOL"],"window":200,"trigger":"threshold:5","investment":"1500","stop_loss_pct":"20","take_profit_pct":"50"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let v = a.json();
    assert_eq!(v["bot"]["config"]["stop_loss_pct"], "20");
    let holdings = v["bot"]["holdings"].as_array().unwrap();
    let target = |s: &str| dec(&holdings.iter().find(|h| h["asset"] == s).unwrap()["target_pct"]);
    // Inverse volatility: BTC (σ 0.6) > ETH (0.75) > SOL (1.0).
    assert!(target("BTC") > target("ETH") && target("ETH") > target("SOL"));
    assert_eq!(
        target("BTC") + target("ETH") + target("SOL"),
        Decimal::from(100)
    );
    assert_eq!(t.bots()["bots"].as_array().unwrap().len(), 4);
}

#[test]
fn controls_preview_then_act() {
    let t = TestApp::new();
    let id = t.sample_id;
    let p = |action: &str, body: &str| t.post(&format!("/api/bots/{id}/{action}"), body);
    let show = || t.get(&format!("/api/bots/{id}")).json();

    // Invest: the preview buys with the new cash, the action adds to net invested.
    let cash = show()["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["asset"] == "USDT")
        .map_or(Decimal::ZERO, |h| dec(&h["quantity"]));
    let pv = p("preview", r#"{"action":"invest","amount":"1000"}"#);
    assert_eq!(pv.status, 200, "{}", pv.text);
    let pv = pv.json();
    assert!(
        pv["summary"]
            .as_str()
            .unwrap()
            .starts_with("invest 1000 USDT")
    );
    let net_bought: Decimal = pv["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            if l["side"] == "buy" {
                dec(&l["notional"])
            } else {
                -dec(&l["notional"])
            }
        })
        .sum();
    assert!(
        net_bought > Decimal::from(990) && net_bought <= Decimal::from(1000) + cash,
        "{net_bought}: {pv}"
    );
    assert_eq!(
        dec(&show()["pnl"]["net_invested"]),
        Decimal::from(10_000),
        "preview changes nothing"
    );
    let a = p("invest", r#"{"amount":"1000"}"#);
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(dec(&show()["pnl"]["net_invested"]), Decimal::from(11_000));
    assert_eq!(
        p("invest", r#"{"amount":"0"}"#).field().as_deref(),
        Some("amount")
    );
    assert_eq!(p("invest", r#"{"amount":"lots"}"#).status, 422);

    // Withdraw.
    let pv = p("preview", r#"{"action":"withdraw","amount":"500"}"#).json();
    assert!(
        pv["legs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["side"] == "sell")
    );
    let a = p("withdraw", r#"{"amount":"500","mode":"overweights"}"#);
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        dec(&a.json()["withdrawal"]["withdrawn"]),
        Decimal::from(500)
    );
    assert_eq!(dec(&show()["pnl"]["net_invested"]), Decimal::from(10_500));
    let a = p("withdraw", r#"{"amount":"1000000"}"#);
    assert_eq!((a.status, a.field().as_deref()), (409, Some("amount")));
    assert_eq!(
        p("withdraw", r#"{"amount":"5","mode":"all"}"#)
            .field()
            .as_deref(),
        Some("mode")
    );

    // Modify: the preview shows what the next rebalance would trade; nothing trades now.
    let pv = p(
        "preview",
        r#"{"action":"modify","targets":"BTC=20,ETH=40,SOL=40"}"#,
    )
    .json();
    let legs = pv["legs"].as_array().unwrap();
    assert!(
        legs.iter()
            .any(|l| l["asset"] == "BTC" && l["side"] == "sell")
    );
    let orders_before = t.get(&format!("/api/bots/{id}/history")).json()["orders"]
        .as_array()
        .unwrap()
        .len();
    let a = p(
        "modify",
        r#"{"targets":"BTC=20,ETH=40,SOL=40","trigger":"threshold:2"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["summary"]["targets"], "BTC=20,ETH=40,SOL=40");
    assert_eq!(a.json()["summary"]["trigger"], "threshold:2");
    let orders_after = t.get(&format!("/api/bots/{id}/history")).json()["orders"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(orders_before, orders_after);
    assert_eq!(p("modify", "{}").status, 422);
    assert_eq!(
        p("modify", r#"{"targets":"BTC=20,DOGE=80"}"#)
            .field()
            .as_deref(),
        Some("targets")
    );
    assert_eq!(
        p("modify", r#"{"trigger":"never"}"#).field().as_deref(),
        Some("trigger")
    );

    // Pause and resume.
    assert_eq!(p("preview", r#"{"action":"resume"}"#).status, 409);
    assert_eq!(p("pause", "").status, 200);
    assert_eq!(show()["summary"]["status"], "paused");
    assert_eq!(p("pause", "").status, 409);
    let pv = p("preview", r#"{"action":"resume"}"#);
    assert_eq!(pv.status, 200, "{}", pv.text);
    assert_eq!(p("resume", "").status, 200);
    assert_eq!(show()["summary"]["status"], "running");

    // Stop: sell-all preview sells every coin; keep-coins trades nothing.
    let pv = p("preview", r#"{"action":"stop","mode":"sell_all"}"#).json();
    let sells: BTreeSet<String> = pv["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["asset"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sells,
        ["BTC", "ETH", "SOL"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let pv = p("preview", r#"{"action":"stop","mode":"keep_coins"}"#).json();
    assert!(pv["legs"].as_array().unwrap().is_empty());
    assert_eq!(
        p("stop", r#"{"mode":"both"}"#).field().as_deref(),
        Some("mode")
    );
    assert_eq!(p("stop", "{}").status, 422);
    let a = p("stop", r#"{"mode":"keep_coins"}"#);
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["report"]["mode"], "keep_coins");
    assert_eq!(show()["summary"]["status"], "stopped");
    let a = p("stop", r#"{"mode":"sell_all"}"#);
    assert_eq!((a.status, a.field().as_deref()), (409, Some("status")));
    assert_eq!(p("invest", r#"{"amount":"100"}"#).status, 409);
    assert_eq!(
        p("preview", r#"{"action":"invest","amount":"100"}"#).status,
        409
    );
}

/// One number grammar (decimal strings, no exponent, no JSON numbers) and type errors that
/// name the field, the value as given and what is allowed, in every body, the control
/// preview's included.
#[test]
fn bodies_have_one_number_grammar_and_errors_name_field_value_allowed() {
    let t = TestApp::new();
    let id = t.sample_id;
    let before = t.fingerprint();
    let preview = format!("/api/bots/{id}/preview");
    let invest = format!("/api/bots/{id}/invest");
    let create = |inv: &str| {
        format!(
            r#"{{"name":"g","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":{inv}}}"#
        )
    };
    let no_exponent = |a: &common::Answer, field: &str, value: &str| {
        assert_eq!(a.status, 422, "{}", a.text);
        let e = &a.json()["error"];
        assert_eq!(e["field"], field, "{}", a.text);
        assert_eq!(e["value"], value, "{}", a.text);
        assert!(
            e["allowed"].as_str().unwrap().contains("no exponent"),
            "{}",
            a.text
        );
    };
    for amount in ["1e-30", "5e2", "1E3", "+5", " 5", ".5", "5.", "0x10", "NaN"] {
        let body = json!({"amount": amount}).to_string();
        no_exponent(&t.post(&invest, &body), "amount", amount);
        for action in ["invest", "withdraw"] {
            let body = json!({"action": action, "amount": amount}).to_string();
            no_exponent(&t.post(&preview, &body), "amount", amount);
        }
        let body = create(&json!(amount).to_string());
        no_exponent(&t.post("/api/preview/create", &body), "investment", amount);
        let body = json!({"targets": "BTC=50,ETH=50", "trigger": "threshold:5",
            "investment": amount})
        .to_string();
        no_exponent(
            &t.post("/api/preview/backtest", &body),
            "investment",
            amount,
        );
    }
    // A JSON number is not the grammar either (it would be a binary float to most clients).
    for number in ["500", "12.5", "5e2"] {
        let body = format!(r#"{{"amount":{number}}}"#);
        let a = t.post(&invest, &body);
        assert_eq!(a.status, 422, "{}", a.text);
        assert_eq!(a.field().as_deref(), Some("amount"));
        assert!(a.json()["error"]["value"].is_string(), "{}", a.text);
    }
    // The grammar's own decimals are accepted.
    let a = t.post(&preview, r#"{"action":"invest","amount":"500.25"}"#);
    assert_eq!(a.status, 200, "{}", a.text);

    // Type errors, unknown, missing and nested fields: field, value as given, allowed.
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "/api/preview/create",
            r#"{"name":5,"targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000"}"#,
            "name",
            "5",
            "JSON string",
        ),
        (
            "/api/preview/create",
            &create("true"),
            "investment",
            "true",
            "no exponent",
        ),
        (
            "/api/preview/create",
            r#"{"name":"x","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000","extra":[1]}"#,
            "extra",
            "[1]",
            "only the fields",
        ),
        (
            "/api/preview/create",
            r#"{"name":"x","targets":"BTC=50,ETH=50","investment":"1000"}"#,
            "trigger",
            "",
            "required",
        ),
        (
            "/api/preview/allocation",
            r#"{"assets":["BTC",7],"method":"equal"}"#,
            "assets[1]",
            "7",
            "JSON string",
        ),
        (
            "/api/preview/allocation",
            r#"{"assets":["BTC"],"method":"equal","window":-3}"#,
            "window",
            "-3",
            "integer",
        ),
        (
            "/api/preview/allocation",
            "[1,2]",
            "body",
            "[1,2]",
            "JSON object",
        ),
        (
            &preview,
            r#"{"action":"fly"}"#,
            "action",
            "fly",
            "invest, withdraw",
        ),
        (
            &preview,
            r#"{"action":7}"#,
            "action",
            "7",
            "invest, withdraw",
        ),
        (
            &preview,
            r#"{"amount":"5"}"#,
            "action",
            "",
            "invest, withdraw",
        ),
        (
            &preview,
            r#"{"action":"pause","amount":"5"}"#,
            "amount",
            "5",
            "no fields",
        ),
        (&preview, r#"{"action":"invest"}"#, "amount", "", "required"),
        (
            &preview,
            r#"{"action":"modify","cooldown_ms":"soon"}"#,
            "cooldown_ms",
            "soon",
            "integer",
        ),
    ];
    for (path, body, field, value, allowed) in cases {
        let a = t.post(path, body);
        assert_eq!(a.status, 422, "{path} {body}: {}", a.text);
        let e = &a.json()["error"];
        assert_eq!(e["field"], *field, "{path} {body}: {}", a.text);
        assert_eq!(e["value"], *value, "{path} {body}: {}", a.text);
        assert!(
            e["allowed"].as_str().is_some_and(|x| x.contains(allowed)),
            "{path} {body}: {}",
            a.text
        );
    }
    assert_eq!(t.fingerprint(), before, "nothing changed");
}

/// Integers are JSON Schema's: a number with no fractional part, `5` or `5.0`, in range.
#[test]
fn integers_are_json_schema_integers() {
    let t = TestApp::new();
    let alloc = |w: &str| {
        t.post(
            "/api/preview/allocation",
            &format!(r#"{{"assets":["BTC","ETH"],"method":"equal","window":{w}}}"#),
        )
    };
    assert_eq!(alloc("50").status, 200);
    assert_eq!(alloc("50.0").status, 200);
    for bad in ["50.5", "2", "100001", "-3", "1e300", "\"50\""] {
        let a = alloc(bad);
        assert_eq!(
            (a.status, a.field().as_deref()),
            (422, Some("window")),
            "{bad}: {}",
            a.text
        );
    }
    let id = t.sample_id;
    let a = t.get(&format!("/api/bots/{id}/history?last=2.0"));
    assert_eq!(a.status, 200, "{}", a.text);
    for bad in ["2.5", "%2B2", "%202", "0", "10001", "1000001", "x"] {
        let a = t.get(&format!("/api/bots/{id}/history?last={bad}"));
        assert_eq!(
            (a.status, a.field().as_deref()),
            (422, Some("last")),
            "{bad}: {}",
            a.text
        );
    }
    let a = t.post(
        &format!("/api/bots/{id}/preview"),
        r#"{"action":"modify","cooldown_ms":60000.0}"#,
    );
    assert_eq!(a.status, 200, "{}", a.text);
}

#[test]
fn a_name_never_takes_over_an_id() {
    let t = TestApp::new();
    let id = t.sample_id;
    let before = t.fingerprint();
    // A bot named like the sample's id would answer to `/api/bots/{id}/...`: refused, as are
    // the other all-digit names and the path-like `.` and `..`.
    for name in [id.to_string(), "007".into(), ".".into(), "..".into()] {
        let body = json!({"name": name, "targets": "BTC=50,ETH=50", "trigger": "threshold:5",
            "investment": "1000"})
        .to_string();
        for path in ["/api/bots", "/api/preview/create"] {
            let a = t.post(path, &body);
            assert_eq!(a.status, 422, "{path} {name}: {}", a.text);
            let e = &a.json()["error"];
            assert_eq!(e["field"], "name", "{}", a.text);
            assert_eq!(e["value"], name.as_str());
            assert!(
                e["allowed"].as_str().unwrap().contains("not all digits"),
                "{}",
                a.text
            );
        }
    }
    assert_eq!(t.fingerprint(), before, "nothing was created");
    // A name with digits and letters is fine; the id still reaches the sample bot.
    let a = t.post(
        "/api/bots",
        r#"{"name":"1a","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let a = t.post(&format!("/api/bots/{id}/pause"), "");
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["summary"]["name"], "sample");
    assert_eq!(t.get("/api/bots/1a").json()["summary"]["status"], "running");
}

#[test]
fn unknown_bots_are_404_on_every_bot_route() {
    let t = TestApp::new();
    let before = t.fingerprint();
    let doc = smartfolio_server::openapi::document();
    for (method, pattern, op) in operations(doc)
        .into_iter()
        .filter(|(_, p, _)| p.contains("{bot}"))
    {
        for key in ["999", "nobody"] {
            let path = pattern.replace("{bot}", key);
            let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| r.rsplit('/').next().unwrap().to_string());
            let body: Option<&[u8]> = match schema.as_deref() {
                Some("InvestRequest") => Some(br#"{"amount":"1"}"#),
                Some("WithdrawRequest") => Some(br#"{"amount":"1"}"#),
                Some("ModifyRequest") => Some(br#"{"trigger":"threshold:4"}"#),
                Some("StopRequest") => Some(br#"{"mode":"sell_all"}"#),
                Some("ControlRequest") => Some(br#"{"action":"pause"}"#),
                _ if method == "POST" => Some(b"{}"),
                _ => None,
            };
            let a = t.send(&method, &path, body, Some(TOKEN));
            assert_eq!(a.status, 404, "{method} {path}: {}", a.text);
            assert_eq!(a.field().as_deref(), Some("bot"));
            assert_eq!(a.json()["error"]["value"], key);
        }
    }
    assert_eq!(t.fingerprint(), before);
}

#[test]
fn allocation_and_backtest_previews() {
    let t = TestApp::new();
    let a = t.post(
        "/api/preview/allocation",
        r#"{"assets":["BTC","ETH","SOL"],"method":"inverse-vol","window":250}"#,
    );
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    let w: Vec<f64> = v["weights_pct"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!((w.iter().sum::<f64>() - 100.0).abs() < 1e-9);
    assert!(w[0] > w[1] && w[1] > w[2], "{w:?}");
    assert_eq!(v["n_returns"], 249);
    // max-sharpe may rightly refuse (no asset beats the risk-free rate over this window): that
    // is the history's state, a 409 naming the method and why, never a 422 or a 5xx.
    let a = t.post(
        "/api/preview/allocation",
        r#"{"assets":["BTC","ETH","SOL"],"method":"max-sharpe"}"#,
    );
    assert!(a.status == 200 || a.status == 409, "{}", a.text);
    if a.status == 409 {
        assert_eq!(a.field().as_deref(), Some("method"));
        assert_eq!(a.json()["error"]["value"], "max-sharpe");
    }
    for m in ["min-variance", "risk-parity", "hrp", "equal"] {
        let a = t.post(
            "/api/preview/allocation",
            &format!(r#"{{"assets":["BTC","ETH","SOL"],"method":"{m}"}}"#),
        );
        assert_eq!(a.status, 200, "{m}: {}", a.text);
    }
    // An asset the server has no history of is its state, not the body's shape: 409, named.
    let a = t.post(
        "/api/preview/allocation",
        r#"{"assets":["BTC","DOGE"],"method":"hrp"}"#,
    );
    assert_eq!(a.status, 409, "{}", a.text);
    assert_eq!(a.field().as_deref(), Some("assets"));
    assert_eq!(a.json()["error"]["value"], "DOGE");
    let bad = [
        (r#"{"assets":[],"method":"hrp"}"#, "assets"),
        (
            r#"{"assets":["BTC","ETH"],"method":"sqrt-market-cap"}"#,
            "method",
        ),
        (
            r#"{"assets":["BTC","ETH"],"method":"hrp","window":1}"#,
            "window",
        ),
        (r#"{"assets":"BTC","method":"hrp"}"#, "assets"),
    ];
    for (body, field) in bad {
        let a = t.post("/api/preview/allocation", body);
        assert_eq!(a.status, 422, "{body}: {}", a.text);
        assert_eq!(a.field().as_deref(), Some(field), "{body}: {}", a.text);
    }

    let run = |trigger: &str| {
        let a = t.post(
            "/api/preview/backtest",
            &format!(
                r#"{{"targets":"BTC=50,ETH=30,SOL=20","trigger":"{trigger}","investment":"10000"}}"#
            ),
        );
        assert_eq!(a.status, 200, "{}", a.text);
        a.json()
    };
    let tight = run("threshold:1");
    let loose = run("threshold:50");
    assert_eq!(tight["bars"], 300);
    let n = tight["times_ms"].as_array().unwrap().len();
    assert_eq!(tight["equity"].as_array().unwrap().len(), n);
    assert_eq!(tight["hold"].as_array().unwrap().len(), n);
    assert_eq!(
        tight["equity"][0], tight["hold"][0],
        "same initial allocation"
    );
    assert!(tight["rebalances"].as_u64().unwrap() > loose["rebalances"].as_u64().unwrap());
    assert_eq!(loose["rebalances"], 1, "only the initial allocation");
    assert_eq!(loose["final_value"], loose["hold_final_value"]);
    let a = t.post(
        "/api/preview/backtest",
        r#"{"targets":"BTC=50,ETH=50","trigger":"threshold:5","bars":1}"#,
    );
    assert_eq!(a.field().as_deref(), Some("bars"));
    let a = t.post(
        "/api/preview/backtest",
        r#"{"targets":"BTC=50,ETH=50","trigger":"x"}"#,
    );
    assert_eq!(a.field().as_deref(), Some("trigger"));
}

#[test]
fn tick_driven_rebalance_reaches_events_history_and_metrics() {
    let mut t = TestApp::new();
    let mut rx = t.handle.subscribe();
    // BTC doubles: 50% → about 67%, far past the 5 pp threshold.
    let base = t.step();
    let moved = PriceTick {
        time_ms: base.time_ms + 3_600_000,
        prices: base
            .prices
            .iter()
            .map(|(a, p)| (a.clone(), if a == "BTC" { *p * Decimal::TWO } else { *p }))
            .collect(),
    };
    t.tick(base);
    t.tick(moved);
    let mut kinds = Vec::new();
    while let Ok(e) = rx.try_recv() {
        kinds.push((e.kind, e.data));
    }
    let reb = kinds
        .iter()
        .find(|(k, d)| *k == "rebalance" && d["kind"] == "rebalance" && d["status"] != "open")
        .unwrap_or_else(|| panic!("no rebalance event in {kinds:?}"));
    assert_eq!(reb.1["kind"], "rebalance");
    assert_eq!(reb.1["bot"], t.sample_id);
    assert!(kinds.iter().any(|(k, _)| *k == "tick"));

    let h = t.get("/api/bots/sample/history").json();
    let last = h["rebalances"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "rebalance");
    let legs = last["summary"]["legs"].as_array().unwrap();
    assert!(
        legs.iter()
            .any(|l| l["asset"] == "BTC" && l["side"] == "sell")
    );

    let m = t.get("/metrics").text;
    let value = |name: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{m}"))
    };
    assert_eq!(
        value("smartfolio_rebalances_total{kind=\"rebalance\"}"),
        1.0
    );
    // The counts follow the runtime's events: the deploy (made before the driver started) and
    // this rebalance, every order and fill the bot has.
    assert_eq!(value("smartfolio_rebalances_total{kind=\"deploy\"}"), 1.0);
    assert_eq!(
        value("smartfolio_rebalances_finished_total{kind=\"rebalance\",status=\"completed\"}"),
        1.0
    );
    let deploy_legs = h["rebalances"][0]["summary"]["legs"]
        .as_array()
        .unwrap()
        .len();
    let orders = h["orders"].as_array().unwrap().len();
    assert_eq!(orders, deploy_legs + legs.len());
    assert_eq!(sum(&m, "smartfolio_orders_total{"), orders as f64);
    assert_eq!(
        value("smartfolio_orders_total{outcome=\"filled\"}"),
        orders as f64
    );
    assert_eq!(
        value("smartfolio_fills_total"),
        h["fills"].as_array().unwrap().len() as f64
    );
    assert_eq!(value("smartfolio_venue_errors_total"), 0.0);
    assert_eq!(value("smartfolio_ticks_total"), 2.0);
    assert_eq!(value("smartfolio_tick_to_decision_seconds_count"), 2.0);
}

/// The sum of the samples whose line starts with `prefix`.
fn sum(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The server-sent events of one chunk of the stream, as (event, data) (comments skipped).
fn sse_events(chunk: &str) -> Vec<(String, Value)> {
    chunk
        .split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).expect("data is JSON"));
                }
            }
            Some((name?, data?))
        })
        .collect()
}

/// Create (with its deploy), pause and stop through the API: the stream carries the bot's
/// events in the order they happened, and the metrics count them.
#[test]
fn audit_events_reach_the_stream_in_order_and_the_metrics() {
    use tokio_stream::StreamExt as _;
    use tower::ServiceExt as _;
    let t = TestApp::new();
    // The stream subscribes when it answers; every event after that is kept for it.
    let mut stream = t.rt.block_on(async {
        let req = axum::http::Request::get("/api/events")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = t.app.clone().oneshot(req).await.unwrap();
        res.into_body().into_data_stream()
    });
    let a = t.post("/api/bots", CREATE);
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.json()["bot"]["summary"]["id"].as_i64().unwrap();
    let a = t.post(&format!("/api/bots/{id}/pause"), "");
    assert_eq!(a.status, 200, "{}", a.text);
    let a = t.post(&format!("/api/bots/{id}/stop"), r#"{"mode":"sell_all"}"#);
    assert_eq!(a.status, 200, "{}", a.text);

    // Each answer came after its events were sent: read up to the stop.
    let mut seen: Vec<(String, Value)> = Vec::new();
    while !seen
        .iter()
        .any(|(n, d)| n == "state" && d["status"] == "stopped")
    {
        let chunk =
            t.rt.block_on(stream.next())
                .expect("the stream goes on")
                .expect("a chunk");
        seen.extend(
            sse_events(&String::from_utf8_lossy(&chunk))
                .into_iter()
                .filter(|(_, d)| d["bot"] == id),
        );
    }
    let line = |(n, d): &(String, Value)| -> String {
        match n.as_str() {
            "state" => format!("state {} <- {}", d["status"], d["previous"]),
            "rebalance" => format!("rebalance {} {}", d["kind"], d["status"]),
            "order" => format!("order {} {}", d["side"], d["outcome"]),
            "fill" => format!("fill {}", d["side"]),
            other => other.to_string(),
        }
    };
    let got: Vec<String> = seen.iter().map(line).collect();
    // Each of the three assets traded once on each side: its fill, then the order's outcome.
    let legs = |side: &str| {
        (0..3)
            .flat_map(|_| {
                [
                    format!("fill \"{side}\""),
                    format!("order \"{side}\" \"filled\""),
                ]
            })
            .collect::<Vec<_>>()
    };
    let want: Vec<String> = [
        vec![
            r#"state "created" <- null"#.into(),
            r#"state "deploying" <- "created""#.into(),
            r#"rebalance "deploy" "open""#.into(),
        ],
        legs("buy"),
        vec![
            r#"rebalance "deploy" "completed""#.into(),
            r#"state "running" <- "deploying""#.into(),
            r#"state "paused" <- "running""#.into(),
            r#"state "stopping" <- "paused""#.into(),
            r#"rebalance "stop" "open""#.into(),
        ],
        legs("sell"),
        vec![
            r#"rebalance "stop" "completed""#.into(),
            r#"state "stopped" <- "stopping""#.into(),
        ],
    ]
    .concat();
    assert_eq!(got, want);
    let stopped = &seen.last().unwrap().1;
    assert_eq!(stopped["reason"], "stopped by command");
    let order = seen.iter().find(|(n, _)| n == "order").unwrap();
    let fill = seen.iter().find(|(n, _)| n == "fill").unwrap();
    assert_eq!(order.1["client_id"], fill.1["client_id"]);
    assert_eq!(order.1["filled_quantity"], fill.1["quantity"]);

    // The metrics count the same events (the sample bot's deploy too).
    let m = t.get("/metrics").text;
    let value = |name: &str| sum(&m, &format!("{name} "));
    assert_eq!(value("smartfolio_rebalances_total{kind=\"deploy\"}"), 2.0);
    assert_eq!(value("smartfolio_rebalances_total{kind=\"stop\"}"), 1.0);
    assert_eq!(
        value("smartfolio_rebalances_finished_total{kind=\"stop\",status=\"completed\"}"),
        1.0
    );
    assert_eq!(value("smartfolio_state_changes_total{to=\"created\"}"), 2.0);
    assert_eq!(value("smartfolio_state_changes_total{to=\"paused\"}"), 1.0);
    assert_eq!(value("smartfolio_state_changes_total{to=\"stopped\"}"), 1.0);
    assert_eq!(value("smartfolio_bots{state=\"stopped\"}"), 1.0);
    assert_eq!(value("smartfolio_bots{state=\"running\"}"), 1.0);
    let mut orders = 0;
    let mut fills = 0;
    for bot in [t.sample_id, id] {
        let h = t.get(&format!("/api/bots/{bot}/history")).json();
        orders += h["orders"].as_array().unwrap().len();
        fills += h["fills"].as_array().unwrap().len();
    }
    assert_eq!(orders, 9, "three buys each, three sells");
    assert_eq!(
        value("smartfolio_orders_total{outcome=\"filled\"}"),
        orders as f64
    );
    assert_eq!(sum(&m, "smartfolio_orders_total{"), orders as f64);
    assert_eq!(value("smartfolio_fills_total"), fills as f64);
    assert_eq!(value("smartfolio_venue_errors_total"), 0.0);
}

#[test]
fn events_stream_starts_with_hello() {
    use tokio_stream::StreamExt as _;
    use tower::ServiceExt as _;
    let t = TestApp::new();
    let chunk = t.rt.block_on(async {
        let req = axum::http::Request::get("/api/events")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = t.app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "text/event-stream"
        );
        let mut stream = res.into_body().into_data_stream();
        stream.next().await.unwrap().unwrap()
    });
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: hello"), "{text}");
}

#[test]
fn history_snapshots_thin_to_n_time_spans_keeping_the_last_of_each() {
    let mut t = TestApp::new();
    for _ in 0..9 {
        let tick = t.step();
        t.tick(tick);
    }
    let h = t.get("/api/bots/sample/history").json();
    let all = h["snapshots"].as_array().unwrap();
    assert_eq!(all.len(), 9, "one snapshot per hourly tick");
    let thin = t.get("/api/bots/sample/history?points=3").json();
    let kept = thin["snapshots"].as_array().unwrap();
    // Hours 0..=8 in three equal spans (8 h / 3 + 1 ms each): the last hour of each.
    assert_eq!(kept, &vec![all[2].clone(), all[5].clone(), all[8].clone()]);
}

/// Issue 9, case 1: a withdrawal answers 200 only when the whole amount left the bot. More than
/// the sells can raise is refused before trading (409, `allowed` names the largest amount); a
/// venue that under-delivers once trading started gets 502, never a success.
#[test]
fn a_withdrawal_is_delivered_in_full_or_is_not_a_success() {
    let t = TestApp::new();
    let id = t.sample_id;
    let p = |action: &str, body: &str| t.post(&format!("/api/bots/{id}/{action}"), body);
    let show = || t.get(&format!("/api/bots/{id}")).json();
    let orders = || {
        t.get(&format!("/api/bots/{id}/history")).json()["orders"]
            .as_array()
            .unwrap()
            .len()
    };
    // Its value (to the cent the API's number grammar takes): fees and the margin come on top.
    let value = dec(&show()["pnl"]["value"]).round_dp_with_strategy(2, ToZero);
    let before = orders();
    let a = p(
        "withdraw",
        &json!({ "amount": value.to_string() }).to_string(),
    );
    assert_eq!(
        (a.status, a.field().as_deref()),
        (409, Some("amount")),
        "{}",
        a.text
    );
    let allowed = a.json()["error"]["allowed"].as_str().unwrap().to_string();
    let largest = Decimal::from_str(
        allowed
            .strip_prefix("at most ")
            .and_then(|x| x.strip_suffix(" USDT"))
            .unwrap_or_else(|| panic!("{allowed}")),
    )
    .unwrap();
    assert!(
        largest < value && largest > value * Decimal::new(99, 2),
        "{allowed}"
    );
    assert_eq!(orders(), before, "refused before trading");

    // The venue rejects the first sell: what the others raise leaves the bot, and it is a 502.
    let invested = dec(&show()["pnl"]["net_invested"]);
    t.rt.block_on(t.handle.call(|c| {
        Box::pin(async move {
            c.paper
                .as_ref()
                .unwrap()
                .set_fault(smartfolio_exchange::paper::Fault::RejectNext);
        })
    }))
    .unwrap();
    let a = p("withdraw", r#"{"amount":"1000"}"#);
    assert_eq!(
        (a.status, a.field().as_deref()),
        (502, Some("amount")),
        "{}",
        a.text
    );
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("withdrew only")
    );
    let after = dec(&show()["pnl"]["net_invested"]);
    assert!(
        after < invested && after > invested - Decimal::from(1000),
        "{after}"
    );
}

/// `template` in a create body: the node resolves it (what the body does not give comes from
/// the template); an unknown template, or one whose weights need history the server lacks, is
/// a conflict naming the known templates or the assets; without a template the trigger is
/// required. The document states both rules.
#[test]
fn a_create_may_name_a_template() {
    let t = TestApp::new();
    // This server has the built-in templates and no history: `cushioned` has fixed weights
    // (with USDC, which this venue does not list, so the targets are given); without history
    // there is no recommendation and the trigger is the default.
    let body = r#"{"name":"from-t","template":"cushioned","targets":"BTC=50,ETH=30,SOL=20","investment":"1000"}"#;
    let pv = t.post("/api/preview/create", body);
    assert_eq!(pv.status, 200, "{}", pv.text);
    let a = t.post("/api/bots", body);
    assert_eq!(a.status, 201, "{}", a.text);
    let c = &a.json()["bot"]["config"];
    assert_eq!(c["targets"], "BTC=50,ETH=30,SOL=20");
    assert_eq!(c["trigger"], "threshold:3");
    // A trigger given wins over the template's.
    let a = t.post(
        "/api/bots",
        r#"{"name":"from-t2","template":"cushioned","targets":"BTC=50,ETH=50","trigger":"every:1d","investment":"1000"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["bot"]["config"]["trigger"], "every:1d");

    let a = t.post(
        "/api/bots",
        r#"{"name":"x","template":"nope","investment":"1000"}"#,
    );
    assert_eq!(a.status, 409, "{}", a.text);
    let e = &a.json()["error"];
    assert_eq!(
        (&e["field"], &e["value"]),
        (&json!("template"), &json!("nope"))
    );
    assert!(e["allowed"].as_str().unwrap().contains("majors"), "{e}");
    let a = t.post(
        "/api/bots",
        r#"{"name":"x","template":"majors","investment":"1000"}"#,
    );
    assert_eq!(a.status, 409, "{}", a.text);
    assert!(
        a.json()["error"]["allowed"]
            .as_str()
            .unwrap()
            .contains("history"),
        "{}",
        a.text
    );
    // Its USDC is not listed here: a conflict between the template and this server.
    let a = t.post(
        "/api/bots",
        r#"{"name":"x","template":"cushioned","investment":"1000"}"#,
    );
    assert_eq!(a.status, 409, "{}", a.text);
    assert_eq!(a.field().as_deref(), Some("targets"));
    assert_eq!(a.json()["error"]["value"], "USDC");
    let a = t.post(
        "/api/bots",
        r#"{"name":"x","targets":"BTC=50,ETH=50","investment":"1000"}"#,
    );
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.field().as_deref(), Some("trigger"));
    assert_eq!(t.bots()["bots"].as_array().unwrap().len(), 3);

    let doc = smartfolio_server::openapi::document();
    let create = &doc["components"]["schemas"]["CreateRequest"];
    assert!(create["properties"]["template"].is_object());
    assert!(
        create["anyOf"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["required"] == json!(["template"])),
        "targets from a template"
    );
    assert!(
        create["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["anyOf"]
                == json!([
                    {"required": ["trigger"], "properties": {"trigger": {"type": "string"}}},
                    {"required": ["template"], "properties": {"template": {"type": "string"}}},
                    {"required": ["profile"], "properties": {"profile": {"type": "object"}}},
                ])),
        "a trigger unless a template or a profile gives it"
    );
}

/// Two rebalances (the deploy, then one after BTC doubles) and their orders and fills.
fn app_with_two_rebalances() -> TestApp {
    let mut t = TestApp::new();
    let base = t.step();
    let moved = PriceTick {
        time_ms: base.time_ms + 3_600_000,
        prices: base
            .prices
            .iter()
            .map(|(a, p)| (a.clone(), if a == "BTC" { *p * Decimal::TWO } else { *p }))
            .collect(),
    };
    t.tick(base);
    t.tick(moved);
    t
}

/// Every page of `what` by `limit` from the newest, following `next`: the items and each
/// page's total.
fn walk(t: &TestApp, what: &str, limit: usize, filter: &str) -> (Vec<Value>, Vec<u64>) {
    let mut items = Vec::new();
    let mut totals = Vec::new();
    let mut before = String::new();
    loop {
        let a = t.get(&format!(
            "/api/bots/sample/{what}?limit={limit}{filter}{before}"
        ));
        assert_eq!(a.status, 200, "{what}: {}", a.text);
        let p = a.json();
        let page = p["items"].as_array().unwrap();
        assert!(page.len() <= limit);
        items.extend(page.iter().cloned());
        totals.push(p["total"].as_u64().unwrap());
        match p["next"].as_str() {
            Some(next) => before = format!("&before={}", next.replace(':', "%3A")),
            None => break,
        }
    }
    (items, totals)
}

#[test]
fn rebalances_orders_and_fills_by_page_newest_first_with_total_and_cursor() {
    let t = app_with_two_rebalances();
    let h = t.get("/api/bots/sample/history").json();
    let rebs = h["rebalances"].as_array().unwrap();
    assert_eq!(rebs.len(), 2);
    let newest_first = |key: &str, time: &str, id: &str| -> Vec<Value> {
        let mut v = h[key].as_array().unwrap().clone();
        v.sort_by(|a, b| {
            let k = |x: &Value| (x[time].as_i64().unwrap(), x[id].to_string());
            k(b).cmp(&k(a))
        });
        v
    };
    for limit in [1, 2, 50] {
        let (items, totals) = walk(&t, "rebalances", limit, "");
        assert_eq!(items, newest_first("rebalances", "started_ms", "id"));
        assert!(totals.iter().all(|&n| n == 2), "{totals:?}");
        let (items, totals) = walk(&t, "orders", limit, "");
        let orders = newest_first("orders", "created_ms", "client_id");
        assert_eq!(items, orders, "orders by {limit}");
        assert!(totals.iter().all(|&n| n == orders.len() as u64));
        let (items, totals) = walk(&t, "fills", limit, "");
        let fills = newest_first("fills", "time_ms", "fill_id");
        assert_eq!(items, fills, "fills by {limit}");
        assert!(totals.iter().all(|&n| n == fills.len() as u64));
    }
    // The page of 50 (the default) holds them all, with no next page.
    let all = t.get("/api/bots/sample/orders").json();
    assert_eq!(all["next"], Value::Null);
    assert_eq!(
        all["items"].as_array().unwrap().len() as u64,
        all["total"].as_u64().unwrap()
    );

    // from (inclusive) and to (exclusive) select by start time; the total is the range's.
    let second = rebs[1]["started_ms"].as_i64().unwrap();
    let from = t
        .get(&format!("/api/bots/sample/rebalances?from={second}"))
        .json();
    assert_eq!(from["total"], 1);
    assert_eq!(from["items"][0]["kind"], "rebalance");
    let to = t
        .get(&format!("/api/bots/sample/rebalances?to={second}"))
        .json();
    assert_eq!(to["total"], 1);
    assert_eq!(to["items"][0]["kind"], "deploy");
    let (fills, _) = walk(&t, "fills", 1, &format!("&from={second}"));
    assert!(!fills.is_empty());
    assert!(
        fills
            .iter()
            .all(|f| f["time_ms"].as_i64().unwrap() >= second)
    );
    // A range after everything is an empty page.
    let later = t
        .get(&format!("/api/bots/sample/orders?from={}", second + 1))
        .json();
    assert_eq!(later, json!({"items": [], "total": 0, "next": null}));

    // The summary counts the rebalances; history?last=1 is the newest of each, oldest first.
    assert_eq!(t.get("/api/bots/sample").json()["rebalances"], 2);
    let last = t.get("/api/bots/sample/history?last=1").json();
    assert_eq!(last["rebalances"], json!([rebs[1]]));
    assert_eq!(
        last["orders"],
        json!([newest_first("orders", "created_ms", "client_id")[0]])
    );
}

#[test]
fn page_parameters_are_refused_naming_the_parameter_value_and_range() {
    let t = TestApp::new();
    let before = t.fingerprint();
    let cases: &[(&str, &str, &str, &str)] = &[
        ("rebalances", "limit", "0", "an integer from 1 to 500"),
        ("orders", "limit", "501", "an integer from 1 to 500"),
        ("fills", "limit", "ten", "an integer from 1 to 500"),
        ("fills", "limit", "-1", "an integer from 1 to 500"),
        (
            "orders",
            "from",
            "-5",
            "an integer from 0 to 253402300799999",
        ),
        (
            "rebalances",
            "to",
            "1e3",
            "an integer from 0 to 253402300799999",
        ),
        ("rebalances", "before", "12", "TIME:ID"),
        ("rebalances", "before", "12:abc", "the rebalance's id"),
        ("orders", "before", "x:abc", "TIME:ID"),
        ("fills", "before", "12:", "TIME:ID"),
        (
            "orders",
            "page",
            "2",
            "the query parameters limit, before, from, to",
        ),
        ("fills", "to", "3", "at or after `from` (5)"),
    ];
    for (what, key, value, allowed) in cases {
        // `to` is checked against a `from` of 5.
        let from = if *key == "to" && *value == "3" {
            "from=5&"
        } else {
            ""
        };
        let a = t.get(&format!("/api/bots/sample/{what}?{from}{key}={value}"));
        assert_eq!(a.status, 422, "{what}?{key}={value}: {}", a.text);
        let e = &a.json()["error"];
        assert_eq!(e["field"], *key, "{what}?{key}={value}");
        assert_eq!(e["value"], *value);
        let text = e["allowed"].as_str().unwrap();
        assert!(text.contains(allowed), "{what}?{key}={value}: {text}");
    }
    // What the document allows is accepted: a text id after the time, a limit of 5.0.
    for ok in [
        "orders?before=12%3Asf-1-2",
        "fills?before=12%3Aa%3Ab",
        "rebalances?before=12%3A7&limit=5.0",
        "fills?from=5&to=5",
    ] {
        let a = t.get(&format!("/api/bots/sample/{ok}"));
        assert_eq!(a.status, 200, "{ok}: {}", a.text);
    }
    assert_eq!(t.fingerprint(), before);
}

/// `GET /api/bots/{bot}/export`: the ledger as the CLI's files, a download; each format's
/// quantities add up to the bot's holdings per asset (nothing was withdrawn or released);
/// bad parameters are named.
#[test]
fn the_ledger_exports_as_generic_koinly_and_cointracker_csv() {
    let t = app_with_two_rebalances();
    let show = t.get("/api/bots/sample").json();
    let mut held: BTreeMap<String, Decimal> = BTreeMap::new();
    for h in show["holdings"].as_array().unwrap() {
        let q = dec(&h["quantity"]);
        if !q.is_zero() {
            held.insert(h["asset"].as_str().unwrap().to_string(), q);
        }
    }
    let fills = t.get("/api/bots/sample/fills?limit=500").json()["total"]
        .as_u64()
        .unwrap();
    assert!(fills >= 3, "the deploy and a rebalance filled orders");
    // (format, header, received, received currency, sent, sent currency, fee, fee currency).
    let layouts: [(&str, &str, [usize; 6]); 2] = [
        (
            "koinly",
            "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash",
            [3, 4, 1, 2, 5, 6],
        ),
        (
            "cointracker",
            "Date,Received Quantity,Received Currency,Sent Quantity,Sent Currency,Fee Amount,Fee Currency,Tag",
            [1, 2, 3, 4, 5, 6],
        ),
    ];
    for (format, header, [rq, rc, sq, sc, fq, fc]) in layouts {
        let a = t.get(&format!("/api/bots/sample/export?format={format}"));
        assert_eq!(a.status, 200, "{format}: {}", a.text);
        assert!(a.content_type.starts_with("text/csv"), "{}", a.content_type);
        let disposition = a.header("content-disposition").unwrap();
        assert!(
            disposition.starts_with("attachment") && disposition.contains(format),
            "{disposition}"
        );
        let mut lines = a.text.lines();
        assert_eq!(lines.next(), Some(header));
        let mut sum: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut rows = 0;
        let mut trades = 0;
        for l in lines {
            // No field here holds a comma (descriptions use semicolons).
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), header.split(',').count(), "{l}");
            rows += 1;
            for (q, cur, sign) in [(rq, rc, 1), (sq, sc, -1), (fq, fc, -1)] {
                if !c[q].is_empty() {
                    *sum.entry(c[cur].to_string()).or_default() +=
                        c[q].parse::<Decimal>().unwrap() * Decimal::from(sign);
                }
            }
            if !c[rq].is_empty() && !c[sq].is_empty() {
                trades += 1;
            }
        }
        sum.retain(|_, q| !q.is_zero());
        assert_eq!(sum, held, "{format}: the rows add up to the holdings");
        assert_eq!(trades as u64, fills, "{format}: one row per fill");
        assert!(rows > trades, "{format}: and the deposit");
    }
    let generic = t.get("/api/bots/sample/export?format=generic");
    assert_eq!(generic.status, 200);
    assert!(generic.text.starts_with("ledger_id,time,time_ms,bot,"));
    // A range without movements is the header alone.
    let empty = t.get("/api/bots/sample/export?format=koinly&from=0&to=1");
    assert_eq!(empty.status, 200);
    assert_eq!(empty.text.lines().count(), 1);

    let before = t.fingerprint();
    for (query, field, value, allowed) in [
        (
            "format=turbotax",
            "format",
            "turbotax",
            "generic, koinly, cointracker",
        ),
        ("", "format", "", "generic, koinly, cointracker"),
        ("format=koinly&from=-1", "from", "-1", "an integer from 0"),
        // A range that ends before it starts names both ends.
        (
            "format=koinly&from=2000&to=1000",
            "to",
            "1000",
            "at or after `from` (2000)",
        ),
        (
            "format=koinly&page=2",
            "page",
            "2",
            "the query parameters format, from, to",
        ),
    ] {
        let a = t.get(&format!("/api/bots/sample/export?{query}"));
        assert_eq!(a.status, 422, "{query}: {}", a.text);
        let e = &a.json()["error"];
        assert_eq!(
            (e["field"].as_str(), e["value"].as_str()),
            (Some(field), Some(value))
        );
        assert!(
            e["allowed"].as_str().unwrap().contains(allowed),
            "{query}: {e}"
        );
    }
    let a = t.get("/api/bots/nobody/export?format=koinly");
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(t.fingerprint(), before);
}

mod template_fixture {
    include!("../../node/tests/fixtures/templates.rs");

    pub fn write(dir: &std::path::Path) {
        write_templates_and_history(dir)
    }
}

/// `GET /api/templates`: one card per template (the built-in ones and the data directory's),
/// from the history a create from a template reads (`<data-dir>/history`): the weights today,
/// the trigger chosen by walk-forward with its out-of-sample record against buy-and-hold and
/// equal weight, a sparkline, and the assets without history. "Use" gets what the card shows,
/// and the cards follow the history when it changes.
#[test]
fn the_gallery_shows_every_template_card() {
    let t = TestApp::new();
    let home = tempfile::tempdir().unwrap();
    template_fixture::write(home.path());
    let dir = home.path().to_path_buf();
    t.rt.block_on(t.handle.call(move |c| {
        Box::pin(async move {
            c.defaults.data_dir = Some(dir);
        })
    }))
    .unwrap();

    let a = t.get("/api/templates");
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    let history = home.path().join("history").display().to_string();
    assert_eq!(v["history_dir"], json!(history));
    let cards = v["templates"].as_array().unwrap();
    let card = |name: &str| {
        cards
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no card {name}: {v}"))
            .clone()
    };
    for name in ["majors", "cushioned", "pair", "trio", "vol"] {
        card(name);
    }

    // Fixed weights and every asset's history: a recommendation, out of sample.
    let pair = card("pair");
    assert_eq!(pair["sector"], "Test");
    assert_eq!(pair["assets"], json!(["BTC", "ETH"]));
    assert_eq!(pair["targets"], "BTC=70,ETH=30");
    assert_eq!(pair["missing"], json!([]));
    assert_eq!(pair["history"]["bars"], 300);
    let r = &pair["recommendation"];
    assert!(r.is_object(), "{pair}");
    assert!(pair["recommendation_error"].is_null());
    // (threshold:1..10 and every:1d,7d) × cooldowns 0 and 3d.
    assert_eq!(r["grid_size"], 24);
    assert!(r["folds"].as_u64().unwrap() >= 1, "{r}");
    // The test windows follow the first training window.
    let start = pair["history"]["from_ms"].as_i64().unwrap();
    assert!(
        r["out_of_sample_from_ms"].as_i64().unwrap() >= start + r["train_ms"].as_i64().unwrap()
    );
    for run in ["strategy", "buy_and_hold", "equal_weight"] {
        assert!(r[run]["total_return"].is_number(), "{run}: {r}");
        assert!(
            r[run]["max_drawdown"].as_f64().unwrap() >= 0.0,
            "{run}: {r}"
        );
    }
    let spark = r["sparkline"].as_array().unwrap();
    // Every k-th bar of the test windows (about 60), the last one added when k skips it.
    assert!((2..=61).contains(&spark.len()), "{}", spark.len());
    // The equity ends where the strategy's return says.
    let last = spark.last().unwrap().as_f64().unwrap();
    let ret = r["strategy"]["total_return"].as_f64().unwrap();
    assert!((last / 10_000.0 - 1.0 - ret).abs() < 1e-9, "{last} {ret}");

    // Equal weight needs no history; SOL's missing history is named, and there is no
    // recommendation.
    let trio = card("trio");
    assert_eq!(trio["targets"], "BTC=33.34,ETH=33.33,SOL=33.33");
    assert!(
        trio["missing"][0].as_str().unwrap().starts_with("SOL"),
        "{trio}"
    );
    assert!(trio["recommendation"].is_null());
    assert!(
        trio["recommendation_error"]
            .as_str()
            .unwrap()
            .contains("SOL"),
        "{trio}"
    );
    // A method that needs history has no weights without it, and says why.
    let vol = card("vol");
    assert!(
        vol["targets"].is_null() && vol["weights"].is_null(),
        "{vol}"
    );
    assert!(
        vol["weights_error"].as_str().unwrap().contains("SOL"),
        "{vol}"
    );

    // "Use": a create naming the template gets the card's targets and trigger.
    let a = t.post(
        "/api/bots",
        r#"{"name":"from-card","template":"pair","investment":"1000"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let c = &a.json()["bot"]["config"];
    assert_eq!(c["targets"], pair["targets"]);
    assert_eq!(c["trigger"], r["trigger"]);

    // The same history gives the same cards; new history gives new ones.
    assert_eq!(t.get("/api/templates").json(), v);
    std::fs::copy(
        home.path().join("history/ETH.csv"),
        home.path().join("history/SOL.csv"),
    )
    .unwrap();
    let trio = t.get("/api/templates").json()["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "trio")
        .unwrap()
        .clone();
    assert_eq!(trio["missing"], json!([]));
    assert!(trio["recommendation"].is_object(), "{trio}");

    let doc = smartfolio_server::openapi::document();
    let op = &doc["paths"]["/api/templates"]["get"];
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TemplateList"
    );
    assert!(
        doc["components"]["schemas"]["TemplateCard"]["properties"]["recommendation"].is_object()
    );
}

/// The CSV lines of a download (header first), each split into its fields.
fn csv_rows(a: &common::Answer) -> Vec<Vec<String>> {
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.content_type, "text/csv; charset=utf-8");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(a.text.as_bytes());
    r.records()
        .map(|x| x.expect("CSV").iter().map(str::to_string).collect())
        .collect()
}

/// `/rebalances.csv`, `/orders.csv`, `/fills.csv`: the same items as the pages of the same
/// range, newest first, a header row first, amounts as the API gives them.
#[test]
fn csv_downloads_hold_the_pages_of_the_range() {
    let t = app_with_two_rebalances();
    for (what, id_col, id_key, time_key) in [
        ("rebalances", 3, "id", "started_ms"),
        ("orders", 2, "client_id", "created_ms"),
        ("fills", 2, "fill_id", "time_ms"),
    ] {
        let (items, _) = walk(&t, what, 500, "");
        let a = t.get(&format!("/api/bots/sample/{what}.csv"));
        assert_eq!(
            a.header("content-disposition"),
            Some(format!("attachment; filename=\"bot-{}-{what}.csv\"", t.sample_id).as_str())
        );
        let rows = csv_rows(&a);
        assert_eq!(rows.len(), items.len() + 1, "{what}: {}", a.text);
        assert_eq!(rows[0][1], time_key);
        for (row, item) in rows[1..].iter().zip(&items) {
            let id = match &item[id_key] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(row[id_col], id, "{what}");
            assert_eq!(row[1], item[time_key].to_string(), "{what}");
            assert!(row[0].ends_with('Z') && row[0].contains('T'), "{}", row[0]);
        }
        // The range: from the second rebalance's start on, as the page of the same range.
        let second = t.get("/api/bots/sample/rebalances?limit=1").json()["items"][0]["started_ms"]
            .as_i64()
            .unwrap();
        let (ranged, _) = walk(&t, what, 500, &format!("&from={second}"));
        let rows = csv_rows(&t.get(&format!("/api/bots/sample/{what}.csv?from={second}")));
        assert_eq!(rows.len(), ranged.len() + 1, "{what} from {second}");
        let rows = csv_rows(&t.get(&format!("/api/bots/sample/{what}.csv?to={second}")));
        assert_eq!(
            rows.len(),
            items.len() - ranged.len() + 1,
            "{what} to {second}"
        );
    }
    // A fill's quantity, price and fee are the API's decimal strings.
    let fill = &t.get("/api/bots/sample/fills?limit=1").json()["items"][0];
    let row = &csv_rows(&t.get("/api/bots/sample/fills.csv"))[1];
    assert_eq!(row[7], fill["quantity"].as_str().unwrap());
    assert_eq!(row[8], fill["price"].as_str().unwrap());
    assert_eq!(row[10], fill["fee"].as_str().unwrap());
    assert_eq!(
        Decimal::from_str(&row[9]).unwrap(),
        dec(&fill["quantity"]) * dec(&fill["price"])
    );
}

/// A download longer than one read (`download::CHUNK` rows) streams every row once, in order.
#[test]
fn a_long_csv_download_streams_every_row_once() {
    let t = TestApp::new();
    let n = smartfolio_server::download::CHUNK as usize + 37;
    let id = t.sample_id;
    t.rt.block_on(t.handle.call(move |c| {
        Box::pin(async move {
            let times: Vec<i64> = (0..n as i64).map(|k| 10_000_000 + k * 1000).collect();
            let store = c.rt.store().clone();
            smartfolio_store::conformance::write_history(&*store, id, "long", 1000, &times).await;
        })
    }))
    .unwrap();
    // The range holds the written orders only (the sample's deploy is in 2024).
    let to = 10_000_000 + n as i64 * 1000;
    let rows = csv_rows(&t.get(&format!(
        "/api/bots/sample/orders.csv?from=10000000&to={to}"
    )));
    assert_eq!(rows.len(), n + 1);
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    let expected: Vec<String> = (0..n).rev().map(|k| format!("longo{k:05}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn csv_queries_are_refused_naming_the_parameter_value_and_what_is_allowed() {
    let t = TestApp::new();
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "rebalances",
            "from=abc",
            "from",
            "an integer from 0 to 253402300799999",
        ),
        (
            "orders",
            "to=-1",
            "to",
            "an integer from 0 to 253402300799999",
        ),
        (
            "fills",
            "from=2000&to=1000",
            "to",
            "at or after `from` (2000)",
        ),
        ("fills", "limit=5", "limit", "the query parameters from, to"),
    ];
    for (what, query, field, allowed) in cases {
        let a = t.get(&format!("/api/bots/sample/{what}.csv?{query}"));
        assert_eq!(a.status, 422, "{what}.csv?{query}: {}", a.text);
        assert!(
            a.content_type.starts_with("application/json"),
            "{}",
            a.content_type
        );
        let e = &a.json()["error"];
        assert_eq!(e["field"], *field, "{query}");
        let given = query.rsplit('&').next().unwrap().split('=').nth(1).unwrap();
        assert_eq!(e["value"], given, "{query}");
        assert!(
            e["allowed"].as_str().unwrap().contains(allowed),
            "{query}: {e}"
        );
    }
    let a = t.get("/api/bots/nobody/fills.csv");
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(a.field().as_deref(), Some("bot"));
}

/// Summaries, pages and downloads answer while the driver's loop is held by a job: they read
/// what the loop published and the store's read handle, never queueing behind it. A command's
/// answer comes after its change is published: the next read shows it.
#[test]
fn reads_answer_while_the_loop_is_busy_and_follow_each_change() {
    let t = TestApp::new();
    // Asked for once: computed on the loop and published.
    let first = t.get("/api/bots/sample");
    assert_eq!(first.status, 200, "{}", first.text);
    const ALLOCATION: &str = r#"{"assets":["BTC","ETH"],"method":"inverse-vol","window":100}"#;
    const BACKTEST: &str = r#"{"targets":"BTC=50,ETH=50","trigger":"threshold:5"}"#;
    let allocation = t.post("/api/preview/allocation", ALLOCATION);
    assert_eq!(allocation.status, 200, "{}", allocation.text);
    let backtest = t.post("/api/preview/backtest", BACKTEST);
    assert_eq!(backtest.status, 200, "{}", backtest.text);
    let list = t.get("/api/bots");
    assert_eq!(list.status, 200, "{}", list.text);
    let st = t.get("/api/status");
    assert_eq!(st.status, 200, "{}", st.text);
    assert_eq!(t.get("/metrics").status, 200);

    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let h = t.handle.clone();
    let held = t.rt.spawn(async move {
        h.call(move |_c| {
            Box::pin(async move {
                let _ = entered_tx.send(());
                let _ = release_rx.await;
            })
        })
        .await
    });
    t.rt.block_on(entered_rx)
        .expect("the loop runs the holding job");
    // A read that queued behind the held loop would never answer: the guard turns that hang
    // into a failure.
    let guarded_request = |path: &str, req: axum::http::Request<axum::body::Body>| {
        let app = t.app.clone();
        t.rt.block_on(async move {
            use tower::ServiceExt as _;
            let res = tokio::time::timeout(std::time::Duration::from_secs(60), app.oneshot(req))
                .await
                .unwrap_or_else(|_| panic!("{path} queued behind the loop"))
                .unwrap();
            let status = res.status().as_u16();
            let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    };
    let guarded = |path: &str| {
        let req = axum::http::Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        guarded_request(path, req)
    };
    let guarded_post = |path: &str, body: &'static str| {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        guarded_request(path, req)
    };
    let (status, body) = guarded("/api/bots/sample");
    assert_eq!((status, body.as_str()), (200, first.text.as_str()));
    let (status, body) = guarded(&format!("/api/bots/{}/rebalances?limit=1", t.sample_id));
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["total"], 1);
    let (status, body) = guarded("/api/bots/sample/fills.csv");
    assert_eq!((status, body.lines().count()), (200, 4), "{body}");
    let (status, _) = guarded("/api/bots/nobody");
    assert_eq!(status, 404);
    // The list, the status (the venue's balances read off the loop), the metrics, the bounded
    // history and the template gallery answer too.
    let (code, body) = guarded("/api/bots");
    assert_eq!((code, body.as_str()), (200, list.text.as_str()));
    let (code, body) = guarded("/api/status");
    assert_eq!((code, body.as_str()), (200, st.text.as_str()));
    let (code, body) = guarded("/metrics");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("state=\"running\"} 1"), "{body}");
    let (code, body) = guarded("/api/bots/sample/history?last=1&points=2");
    assert_eq!(code, 200, "{body}");
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["bot"], list.json()["bots"][0]);
    assert_eq!(h["orders"].as_array().unwrap().len(), 1);
    assert_eq!(guarded("/api/templates").0, 200);
    // The allocation and backtest previews compute off the loop, from the prices it published.
    let (code, body) = guarded_post("/api/preview/allocation", ALLOCATION);
    assert_eq!((code, body.as_str()), (200, allocation.text.as_str()));
    let (code, body) = guarded_post("/api/preview/backtest", BACKTEST);
    assert_eq!((code, body.as_str()), (200, backtest.text.as_str()));
    release_tx.send(()).unwrap();
    t.rt.block_on(held).unwrap().unwrap();

    // A command's change is in the next read.
    let before = dec(&t.get("/api/bots/sample").json()["pnl"]["net_invested"]);
    let a = t.post("/api/bots/sample/invest", r#"{"amount":"500"}"#);
    assert_eq!(a.status, 200, "{}", a.text);
    let after = dec(&t.get("/api/bots/sample").json()["pnl"]["net_invested"]);
    assert_eq!(after, before + Decimal::from(500));
    // A bot created through the API is found by name at once, summary and pages.
    let a = t.post("/api/bots", CREATE);
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(
        t.get("/api/bots/api-bot").json()["summary"]["name"],
        "api-bot"
    );
    assert_eq!(t.get("/api/bots/api-bot/orders").status, 200);
}
