//! Profiles over HTTP (`GET /api/bots/{bot}/profile`, `POST /api/preview/profile`, a create
//! with `profile`) and the allocation preview's rationale: happy paths, and bad input with the
//! documented statuses (422 for what the node refuses in a profile, 409 for an asset the venue
//! does not list), every error naming the file, the line, the key and the value.

mod common;

use common::TestApp;
use serde_json::{Value, json};

/// A bot with every setting a profile carries.
const CREATE: &str = r#"{"name":"original","targets":"BTC=45.5,ETH=34.5,SOL=20","trigger":"daily@08:00+threshold:2","investment":"3000","stop_loss_pct":"25","take_profit_pct":"80","cooldown_ms":7200000}"#;

fn settings(t: &TestApp, bot: &str) -> Value {
    let a = t.get(&format!("/api/bots/{bot}"));
    assert_eq!(a.status, 200, "{}", a.text);
    let c = a.json()["config"].clone();
    json!({"targets": c["targets"], "trigger": c["trigger"], "cooldown_ms": c["cooldown_ms"],
           "stop_loss_pct": c["stop_loss_pct"], "take_profit_pct": c["take_profit_pct"],
           "price_margin": c["price_margin"]})
}

fn export(t: &TestApp, bot: &str) -> String {
    let a = t.get(&format!("/api/bots/{bot}/profile"));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.content_type, "application/toml; charset=utf-8");
    assert_eq!(
        a.header("content-disposition"),
        Some(format!("attachment; filename=\"{bot}.toml\"").as_str())
    );
    a.text
}

#[test]
fn an_exported_profile_creates_a_bot_with_the_same_settings() {
    let t = TestApp::new();
    let a = t.post("/api/bots", CREATE);
    assert_eq!(a.status, 201, "{}", a.text);
    let text = export(&t, "original");
    // The file `smartfolio bot export` prints: the node's export of the bot's config.
    let cfg: smartfolio_bot::BotConfig =
        serde_json::from_value(a.json()["bot"]["config"].clone()).expect("config");
    assert_eq!(text, smartfolio_node::profile::export(&cfg).unwrap());
    assert!(!text.contains("3000"), "no investment in a profile: {text}");

    // Checked and shown: what a create takes from it.
    let body = json!({"toml": text, "file": "original.toml"}).to_string();
    let a = t.post("/api/preview/profile", &body);
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    assert_eq!(v["file"], "original.toml");
    assert_eq!(v["version"], 1);
    assert_eq!(v["assets"], json!(["BTC", "ETH", "SOL"]));
    assert_eq!(v["targets"], "BTC=45.5,ETH=34.5,SOL=20");
    assert_eq!(v["trigger"], "daily@08:00+threshold:2");
    assert_eq!(v["cooldown_ms"], 7_200_000);
    assert_eq!(v["stop_loss_pct"], "25");
    assert_eq!(v["take_profit_pct"], "80");

    // A create from it with only a name and an amount: previewed, then made.
    let create = json!({"name": "copy", "investment": "1000",
        "profile": {"toml": text, "file": "original.toml"}})
    .to_string();
    let pv = t.post("/api/preview/create", &create);
    assert_eq!(pv.status, 200, "{}", pv.text);
    assert_eq!(pv.json()["legs"].as_array().unwrap().len(), 3);
    let a = t.post("/api/bots", &create);
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(settings(&t, "copy"), settings(&t, "original"));
    assert_eq!(export(&t, "copy"), text, "the copy exports the same file");

    // What the body gives wins over the profile, as `bot create --from` flags do.
    let a = t.post(
        "/api/bots",
        &json!({"name": "copy2", "investment": "1000", "trigger": "every:1d",
            "targets": "BTC=50,ETH=50", "profile": {"toml": text}})
        .to_string(),
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let s = settings(&t, "copy2");
    assert_eq!(
        (&s["targets"], &s["trigger"], &s["cooldown_ms"]),
        (
            &json!("BTC=50,ETH=50"),
            &json!("every:1d"),
            &json!(7_200_000)
        )
    );
    let a = t.get("/api/bots/nobody/profile");
    assert_eq!(a.status, 404, "{}", a.text);
}

/// Each bad profile: (the text, the status, the field, the value).
fn bad_profiles() -> Vec<(String, u16, &'static str, &'static str)> {
    let good =
        "version = 1\nassets = [\"BTC\", \"ETH\"]\nmethod = \"equal\"\ntrigger = \"threshold:5\"\n";
    vec![
        (
            format!("{good}colour = \"red\"\n"),
            422,
            "core.toml:5: colour",
            "colour",
        ),
        (
            good.replace("version = 1", "version = 2"),
            422,
            "core.toml:1: version",
            "2",
        ),
        (
            good.replace("\"ETH\"]", "\"ETH\", \"DOGE\"]"),
            409,
            "core.toml:2: assets",
            "DOGE",
        ),
        (
            good.replace("threshold:5", "sometimes"),
            422,
            "core.toml:4: trigger",
            "sometimes",
        ),
    ]
}

#[test]
fn bad_profiles_are_refused_naming_file_line_key_and_value() {
    let t = TestApp::new();
    let before = t.fingerprint();
    for (text, status, field, value) in bad_profiles() {
        let upload = json!({"toml": text, "file": "core.toml"});
        for (path, body) in [
            ("/api/preview/profile", upload.clone()),
            (
                "/api/preview/create",
                json!({"name": "p", "investment": "1000", "profile": upload}),
            ),
            (
                "/api/bots",
                json!({"name": "p", "investment": "1000", "profile": upload}),
            ),
        ] {
            let a = t.post(path, &body.to_string());
            assert_eq!(a.status, status, "{path} {text}: {}", a.text);
            let e = &a.json()["error"];
            assert_eq!(
                (e["field"].as_str(), e["value"].as_str()),
                (Some(field), Some(value)),
                "{path}: {e}"
            );
            assert!(!e["allowed"].as_str().unwrap_or("").is_empty(), "{e}");
        }
    }
    // Without a file name, errors name `profile.toml`.
    let a = t.post(
        "/api/preview/profile",
        &json!({"toml": "version = 3\n"}).to_string(),
    );
    assert_eq!(a.status, 422, "{}", a.text);
    assert_eq!(a.field().as_deref(), Some("profile.toml:1: version"));
    // The upload's own shape.
    for (path, body, field) in [
        (
            "/api/preview/profile",
            json!({"toml": "version = 1", "file": "a\nb"}),
            "file",
        ),
        ("/api/preview/profile", json!({"toml": 5}), "toml"),
        ("/api/preview/profile", json!({"file": "x.toml"}), "toml"),
        (
            "/api/preview/profile",
            json!({"toml": "", "extra": 1}),
            "extra",
        ),
        (
            "/api/bots",
            json!({"name": "p", "investment": "1000", "profile": {"toml": "version = 1", "file": ""}}),
            "profile.file",
        ),
        (
            "/api/bots",
            json!({"name": "p", "investment": "1000", "template": "majors",
                "profile": {"toml": "version = 1"}}),
            "profile",
        ),
        (
            "/api/bots",
            json!({"name": "p", "investment": "1000", "profile": "version = 1"}),
            "profile",
        ),
    ] {
        let a = t.post(path, &body.to_string());
        assert_eq!(a.status, 422, "{body}: {}", a.text);
        assert_eq!(a.field().as_deref(), Some(field), "{body}: {}", a.text);
    }
    assert_eq!(t.fingerprint(), before, "nothing changed");

    // The document says so: a profile in a create, never with a template.
    let doc = smartfolio_server::openapi::document();
    let create = &doc["components"]["schemas"]["CreateRequest"];
    assert!(
        create["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["not"]["required"] == json!(["template", "profile"])),
        "{create}"
    );
    let upload = &doc["components"]["schemas"]["ProfileUpload"];
    assert_eq!(upload["properties"]["toml"]["format"], "profile");
    assert_eq!(upload["required"], json!(["toml"]));
    let export_op = &doc["paths"]["/api/bots/{bot}/profile"]["get"];
    assert!(export_op["responses"]["200"]["content"]["application/toml"].is_object());
}

fn allocation(t: &TestApp, method: &str) -> Value {
    let a = t.post(
        "/api/preview/allocation",
        &format!(r#"{{"assets":["BTC","ETH","SOL"],"method":"{method}","window":200}}"#),
    );
    assert_eq!(a.status, 200, "{method}: {}", a.text);
    a.json()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// What `smartfolio allocate` prints beside the weights: volatilities, returns, risk
/// contributions, the portfolio's volatility and the window.
#[test]
fn the_allocation_preview_carries_the_methods_rationale() {
    let t = TestApp::new();
    let rp = allocation(&t, "risk-parity");
    let rc = floats(&rp["risk_contributions"]);
    assert_eq!(rc.len(), 3);
    assert!((rc.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{rc:?}");
    // Risk parity: each asset carries the same share of the risk.
    for r in &rc {
        assert!((r - 1.0 / 3.0).abs() < 1e-3, "{rc:?}");
    }
    assert_eq!(rp["covariance"], "sample");
    assert_eq!(rp["n_returns"], 199);
    assert_eq!(rp["periods_per_year"], 8760.0, "hourly bars");
    assert_eq!(
        rp["to_ms"].as_i64().unwrap() - rp["from_ms"].as_i64().unwrap(),
        199 * 3_600_000
    );
    assert_eq!(floats(&rp["returns"]).len(), 3);
    // Inverse volatility: weight × volatility is the same for every asset.
    let iv = allocation(&t, "inverse-vol");
    let (w, vol) = (floats(&iv["weights_pct"]), floats(&iv["volatilities"]));
    let k: Vec<f64> = w.iter().zip(&vol).map(|(w, v)| w * v).collect();
    assert!(
        k.iter()
            .all(|x| (x - k[0]).abs() < 1e-9 * k[0].abs().max(1.0)),
        "{k:?}"
    );
    // The portfolio's volatility is √(w'Σw): below the largest asset's, above zero.
    let pv = iv["portfolio_volatility"].as_f64().unwrap();
    assert!(
        pv > 0.0 && pv < vol.iter().cloned().fold(0.0, f64::max),
        "{pv}"
    );
}
