//! The OpenAPI 3.1 document, built from [`ROUTES`](crate::api::ROUTES) and hand-written schemas
//! of the request bodies.

use crate::api::ROUTES;
use serde_json::{Map, Value, json};

fn decimal(desc: &str) -> Value {
    json!({"oneOf": [{"type": "string"}, {"type": "number"}], "description": desc})
}

fn schemas() -> Value {
    json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["message"], "properties": {
                "field": {"type": ["string", "null"]},
                "value": {"type": ["string", "null"]},
                "allowed": {"type": ["string", "null"]},
                "message": {"type": "string"}
            }}}
        },
        "CreateRequest": {
            "type": "object",
            "required": ["name", "trigger", "investment"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "description": "1..=64 ASCII letters, digits, -, _ or ."},
                "targets": {"type": "string", "description": "percent form BTC=50,ETH=30,SOL=20 (method manual)"},
                "assets": {"type": "array", "items": {"type": "string"}, "description": "the basket for method equal or an allocation method"},
                "method": {"type": "string", "enum": ["manual", "equal", "inverse-vol", "min-variance", "max-sharpe", "risk-parity", "hrp"]},
                "window": {"type": "integer", "minimum": 3, "description": "bars of history an allocation method uses"},
                "trigger": {"type": "string", "description": "trigger text form, e.g. threshold:5"},
                "investment": decimal("quote invested"),
                "stop_loss_pct": decimal("percent loss that sells to quote and stops"),
                "take_profit_pct": decimal("percent gain that sells to quote and stops"),
                "cooldown_ms": {"type": "integer", "minimum": 0}
            }
        },
        "InvestRequest": {"type": "object", "required": ["amount"], "additionalProperties": false,
            "properties": {"amount": decimal("quote to invest, > 0")}},
        "WithdrawRequest": {"type": "object", "required": ["amount"], "additionalProperties": false,
            "properties": {"amount": decimal("quote to withdraw, > 0"),
                "mode": {"type": "string", "enum": ["pro_rata", "overweights"]}}},
        "ModifyRequest": {"type": "object", "additionalProperties": false, "properties": {
            "targets": {"type": "string"}, "trigger": {"type": "string"},
            "cooldown_ms": {"type": "integer", "minimum": 0}}},
        "StopRequest": {"type": "object", "required": ["mode"], "additionalProperties": false,
            "properties": {"mode": {"type": "string", "enum": ["sell_all", "keep_coins"]}}},
        "ControlRequest": {"type": "object", "required": ["action"], "properties": {
            "action": {"type": "string", "enum": ["invest", "withdraw", "modify", "pause", "resume", "stop"]},
            "amount": decimal("invest, withdraw"),
            "mode": {"type": "string", "description": "withdraw: pro_rata|overweights; stop: sell_all|keep_coins"},
            "targets": {"type": "string"}, "trigger": {"type": "string"},
            "cooldown_ms": {"type": "integer"}}},
        "AllocationRequest": {"type": "object", "required": ["assets", "method"], "additionalProperties": false,
            "properties": {"assets": {"type": "array", "items": {"type": "string"}},
                "method": {"type": "string", "enum": ["equal", "inverse-vol", "min-variance", "max-sharpe", "risk-parity", "hrp"]},
                "window": {"type": "integer", "minimum": 3}}},
        "BacktestRequest": {"type": "object", "required": ["trigger"], "additionalProperties": false,
            "properties": {"targets": {"type": "string"}, "assets": {"type": "array", "items": {"type": "string"}},
                "method": {"type": "string"}, "window": {"type": "integer"},
                "trigger": {"type": "string"}, "investment": decimal("starting capital"),
                "bars": {"type": "integer", "minimum": 2}}}
    })
}

fn error_response(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document served at `/api/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let mut op = Map::new();
        op.insert("summary".into(), json!(r.summary));
        op.insert(
            "operationId".into(),
            json!(format!(
                "{}{}",
                r.method.to_ascii_lowercase(),
                r.path.replace(['/', '.', '-'], "_").replace(['{', '}'], "")
            )),
        );
        if r.path.contains("{bot}") {
            let mut params = vec![json!({"name": "bot", "in": "path", "required": true,
                "description": "the bot's id or name", "schema": {"type": "string"}})];
            if r.path.ends_with("/history") {
                params.push(json!({"name": "last", "in": "query", "required": false,
                    "description": "keep the last N rebalances, orders, fills and flows",
                    "schema": {"type": "integer", "minimum": 1}}));
                params.push(json!({"name": "points", "in": "query", "required": false,
                    "description": "thin the value snapshots to about N evenly spaced ones",
                    "schema": {"type": "integer", "minimum": 1}}));
            }
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(body) = r.body {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}}),
            );
        }
        if r.auth {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        let mut responses = Map::new();
        responses.insert(
            r.ok.to_string(),
            json!({"description": "success", "content": {r.content: {}}}),
        );
        if r.body.is_some() {
            responses.insert("400".into(), error_response("malformed JSON"));
            responses.insert("413".into(), error_response("body larger than 64 KiB"));
            responses.insert(
                "422".into(),
                error_response("invalid field (named with its value and what is allowed)"),
            );
        }
        if r.auth {
            responses.insert(
                "401".into(),
                error_response("missing or invalid bearer token"),
            );
            responses.insert(
                "409".into(),
                error_response("the bot's state does not allow it"),
            );
        }
        if r.path.contains("{bot}") {
            responses.insert("404".into(), error_response("unknown bot"));
        }
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(r.method.to_ascii_lowercase(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "smartfolio",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Smart-portfolio rebalancing bots: the REST API of the dashboard. Reads are open; \
                every mutating route needs `Authorization: Bearer <token>` (printed once when the server \
                first starts, stored hashed). Errors are `{\"error\": {field, value, allowed, message}}`."
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}
