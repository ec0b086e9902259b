//! The command protocol's table (`crates/node/tests/protocol/table.rs`) through the HTTP API:
//! every row gets the outcome the table says, which the CLI's run of the same table
//! (`crates/cli/tests/bot_cli.rs`) also checks. And "rebalance now" with its preview.

mod common;

use common::TestApp;

include!("../../node/tests/protocol/table.rs");

#[test]
fn the_command_table_has_the_same_outcomes_through_the_api() {
    let app = TestApp::new();
    for c in CASES {
        let a = app.post(c.path, c.body);
        match c.refused {
            None => assert!(
                (200..300).contains(&a.status),
                "{}: refused ({}): {}",
                c.what,
                a.status,
                a.text
            ),
            Some(field) => {
                assert!(
                    (400..500).contains(&a.status),
                    "{}: not refused ({}): {}",
                    c.what,
                    a.status,
                    a.text
                );
                assert_eq!(a.field().as_deref(), Some(field), "{}: {}", c.what, a.text);
                if let Some(value) = c.value {
                    assert_eq!(a.json()["error"]["value"], value, "{}: {}", c.what, a.text);
                }
            }
        }
    }
    // The coin-funded bot holds what it was given (and what the rebalance made of it).
    let v = app.get("/api/bots/coins-only").json();
    assert_eq!(v["summary"]["status"], "running", "{v}");
    assert!(
        v["holdings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["asset"] == "ETH" && h["quantity"] != "0"),
        "the coins were rebalanced into the targets: {v}"
    );
}

#[test]
fn rebalance_now_ignores_the_trigger_not_the_cooldown() {
    let app = TestApp::new();
    // Drift the sample far from its targets by a modify (traded at the next rebalance only),
    // with a trigger that never fires on its own, and the cooldown the deploy started.
    let m = app.post(
        "/api/bots/sample/modify",
        r#"{"targets":"BTC=20,ETH=20,SOL=60","trigger":"threshold:99","cooldown_ms":86400000}"#,
    );
    assert_eq!(m.status, 200, "{}", m.text);
    let refused = app.post("/api/bots/sample/rebalance", "{}");
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.field().as_deref(), Some("status"));
    let pv = app.post(
        "/api/bots/sample/preview",
        r#"{"action":"rebalance","force":true}"#,
    );
    assert_eq!(pv.status, 200, "{}", pv.text);
    let pv = pv.json();
    assert_eq!(pv["action"], "rebalance");
    assert!(!pv["legs"].as_array().unwrap().is_empty(), "{pv}");
    let before = app.get("/api/bots/sample/history").json()["rebalances"]
        .as_array()
        .unwrap()
        .len();
    let r = app.post("/api/bots/sample/rebalance", r#"{"force":true}"#);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(r["rebalance"]["kind"], "rebalance", "{r}");
    let after = app.get("/api/bots/sample/history").json()["rebalances"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 1);
    // On target now: what is left to trade is the fees' crumbs (under 1% of the value).
    let pv = app
        .post(
            "/api/bots/sample/preview",
            r#"{"action":"rebalance","force":true}"#,
        )
        .json();
    let value: f64 = pv["value_before"].as_str().unwrap().parse().unwrap();
    let left: f64 = pv["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["notional"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(left < value / 100.0, "{pv}");
    // Rebalancing again until nothing can trade: the answer says why, and no row is written.
    let mut rows = after;
    let mut note = None;
    for _ in 0..5 {
        let r = app.post("/api/bots/sample/rebalance", r#"{"force":true}"#);
        assert_eq!(r.status, 200, "{}", r.text);
        let r = r.json();
        let now = app.get("/api/bots/sample/history").json()["rebalances"]
            .as_array()
            .unwrap()
            .len();
        if r["rebalance"].is_null() {
            assert_eq!(
                now, rows,
                "a rebalance that trades nothing writes no row: {r}"
            );
            note = r["note"].as_str().map(str::to_string);
            break;
        }
        assert!(r["note"].is_null(), "{r}");
        rows = now;
    }
    let note = note.expect("the bot reaches its targets within a few rebalances");
    assert!(
        note.contains("nothing to trade") || note.contains("too small"),
        "{note}"
    );
    let unknown = app.post("/api/bots/sample/rebalance", r#"{"force":"yes"}"#);
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert_eq!(unknown.field().as_deref(), Some("force"));
}

#[test]
fn rebalance_is_in_the_openapi_document() {
    let app = TestApp::new();
    let doc = app.get("/api/openapi.json").json();
    // Funding with quote and/or coins is the document's rule too: `{}` is not a valid invest.
    for (schema, quote) in [("CreateRequest", "investment"), ("InvestRequest", "amount")] {
        let all = doc["components"]["schemas"][schema]["allOf"].to_string();
        assert!(
            all.contains(&format!(r#""required":["{quote}"]"#))
                && all.contains(r#""required":["coins"]"#)
                && all.contains(r#""minItems":1"#),
            "{schema}: {all}"
        );
    }
    assert!(doc["paths"]["/api/bots/{bot}/rebalance"]["post"].is_object());
    let control = &doc["components"]["schemas"]["ControlRequest"]["oneOf"];
    assert!(
        control
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["properties"]["action"]["enum"][0] == "rebalance"),
        "{control}"
    );
}
