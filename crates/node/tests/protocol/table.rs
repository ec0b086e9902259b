// One table of commands for the node's command protocol, run in order through the CLI
// (`crates/cli/tests/bot_cli.rs`, the real binary) and through the HTTP API
// (`crates/server/tests/protocol.rs`), each starting from a running bot `sample`
// (BTC=50,ETH=30,SOL=20, 10000 USDT) on an account with 100000 USDT. Both must give every
// row the same outcome: accepted, or refused naming the same field and value. Included by both
// tests.

/// One command, as the CLI and the API spell it.
pub struct Case {
    pub what: &'static str,
    /// The arguments after `smartfolio bot`.
    pub cli: &'static [&'static str],
    /// The API route (POST) and its JSON body.
    pub path: &'static str,
    pub body: &'static str,
    /// None: accepted. Some(field): refused, naming `field`.
    pub refused: Option<&'static str>,
    /// When refused, the value as given that the error names (None: not compared, e.g. a
    /// status that carries the market time).
    pub value: Option<&'static str>,
}

pub const CASES: &[Case] = &[
    Case {
        what: "create with quote",
        cli: &["create", "--name", "t-ok", "--targets", "BTC=50,ETH=50", "--trigger", "threshold:5", "--invest", "1000"],
        path: "/api/bots",
        body: r#"{"name":"t-ok","targets":"BTC=50,ETH=50","trigger":"threshold:5","investment":"1000"}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "a cooldown over 366 days",
        cli: &["create", "--name", "t-cool", "--targets", "BTC=50,ETH=50", "--invest", "1000", "--cooldown", "367d"],
        path: "/api/bots",
        body: r#"{"name":"t-cool","targets":"BTC=50,ETH=50","trigger":"threshold:3","investment":"1000","cooldown_ms":31708800000}"#,
        refused: Some("cooldown_ms"),
        value: Some("31708800000"),
    },
    Case {
        what: "a bot funded with nothing",
        cli: &["create", "--name", "t-empty", "--targets", "BTC=50,ETH=50"],
        path: "/api/bots",
        body: r#"{"name":"t-empty","targets":"BTC=50,ETH=50","trigger":"threshold:3"}"#,
        refused: Some("investment"),
        value: Some(""),
    },
    Case {
        what: "a stop-loss of 150%",
        cli: &["create", "--name", "t-sl", "--targets", "BTC=50,ETH=50", "--invest", "1000", "--stop-loss", "150"],
        path: "/api/bots",
        body: r#"{"name":"t-sl","targets":"BTC=50,ETH=50","trigger":"threshold:3","investment":"1000","stop_loss_pct":"150"}"#,
        refused: Some("stop_loss_pct"),
        value: Some("150"),
    },
    Case {
        what: "a taken name",
        cli: &["create", "--name", "sample", "--targets", "BTC=50,ETH=50", "--invest", "1000"],
        path: "/api/bots",
        body: r#"{"name":"sample","targets":"BTC=50,ETH=50","trigger":"threshold:3","investment":"1000"}"#,
        refused: Some("name"),
        value: Some("sample"),
    },
    Case {
        what: "an investment of nothing",
        cli: &["invest", "sample", "--amount", "0"],
        path: "/api/bots/sample/invest",
        body: r#"{"amount":"0"}"#,
        refused: Some("amount"),
        value: Some("0"),
    },
    Case {
        what: "invest quote",
        cli: &["invest", "sample", "--amount", "100"],
        path: "/api/bots/sample/invest",
        body: r#"{"amount":"100"}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "a modify that changes nothing",
        cli: &["modify", "sample"],
        path: "/api/bots/sample/modify",
        body: r#"{}"#,
        refused: Some("targets"),
        value: Some(""),
    },
    Case {
        what: "modify to a cooldown over 366 days",
        cli: &["modify", "sample", "--cooldown", "367d"],
        path: "/api/bots/sample/modify",
        body: r#"{"cooldown_ms":31708800000}"#,
        refused: Some("cooldown_ms"),
        value: Some("31708800000"),
    },
    Case {
        what: "modify the cooldown",
        cli: &["modify", "sample", "--cooldown", "1d"],
        path: "/api/bots/sample/modify",
        body: r#"{"cooldown_ms":86400000}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "rebalance now inside the cooldown",
        cli: &["rebalance", "sample"],
        path: "/api/bots/sample/rebalance",
        body: r#"{}"#,
        refused: Some("status"),
        value: None,
    },
    Case {
        what: "preview rebalance now inside the cooldown",
        cli: &["rebalance", "sample", "--preview"],
        path: "/api/bots/sample/preview",
        body: r#"{"action":"rebalance"}"#,
        refused: Some("status"),
        value: None,
    },
    Case {
        what: "preview rebalance now, forced",
        cli: &["rebalance", "sample", "--force", "--preview"],
        path: "/api/bots/sample/preview",
        body: r#"{"action":"rebalance","force":true}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "preview a bot funded with nothing",
        cli: &["create", "--name", "t-empty", "--targets", "BTC=50,ETH=50", "--preview"],
        path: "/api/preview/create",
        body: r#"{"name":"t-empty","targets":"BTC=50,ETH=50","trigger":"threshold:3"}"#,
        refused: Some("investment"),
        value: Some(""),
    },
    Case {
        what: "rebalance now, forced through the cooldown",
        cli: &["rebalance", "sample", "--force"],
        path: "/api/bots/sample/rebalance",
        body: r#"{"force":true}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "rebalance an unknown bot",
        cli: &["rebalance", "nobody"],
        path: "/api/bots/nobody/rebalance",
        body: r#"{}"#,
        refused: Some("bot"),
        value: Some("nobody"),
    },
    Case {
        what: "a donor bot",
        cli: &["create", "--name", "donor", "--targets", "BTC=50,ETH=50", "--invest", "4000"],
        path: "/api/bots",
        body: r#"{"name":"donor","targets":"BTC=50,ETH=50","trigger":"threshold:3","investment":"4000"}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "stop keeping the coins (they become unallocated)",
        cli: &["stop", "donor", "--keep-coins"],
        path: "/api/bots/donor/stop",
        body: r#"{"mode":"keep_coins"}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "create a bot funded only with coins",
        cli: &["create", "--name", "coins-only", "--targets", "BTC=50,ETH=50", "--coins", "BTC=0.002"],
        path: "/api/bots",
        body: r#"{"name":"coins-only","targets":"BTC=50,ETH=50","trigger":"threshold:3","coins":[{"asset":"BTC","quantity":"0.002"}]}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "invest only coins",
        cli: &["invest", "sample", "--coins", "ETH=0.01"],
        path: "/api/bots/sample/invest",
        body: r#"{"coins":[{"asset":"ETH","quantity":"0.01"}]}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "create with coins and their cost basis",
        cli: &["create", "--name", "coins-basis", "--targets", "BTC=50,ETH=50", "--coins", "BTC=0.002@50000"],
        path: "/api/bots",
        body: r#"{"name":"coins-basis","targets":"BTC=50,ETH=50","trigger":"threshold:3","coins":[{"asset":"BTC","quantity":"0.002","basis":"50000"}]}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "invest coins with a cost basis",
        cli: &["invest", "sample", "--coins", "ETH=0.01@3000.5"],
        path: "/api/bots/sample/invest",
        body: r#"{"coins":[{"asset":"ETH","quantity":"0.01","basis":"3000.5"}]}"#,
        refused: None,
        value: None,
    },
    Case {
        what: "rebalance a stopped bot",
        cli: &["rebalance", "donor", "--force"],
        path: "/api/bots/donor/rebalance",
        body: r#"{"force":true}"#,
        refused: Some("status"),
        value: Some("stopped"),
    },
];
