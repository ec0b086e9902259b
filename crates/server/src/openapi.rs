//! The OpenAPI 3.1 document. Its operations come from the handlers themselves
//! (`#[utoipa::path]` on each: path, parameters, request body type, success response type,
//! security) as registered once in [`crate::api::api_router`], which also builds the router;
//! its schemas come from the request and response types (`ToSchema`), the request types
//! carrying the limits the server enforces. [`finish`] then adds what follows from each
//! operation's shape (its error answers) and the rules that span fields, stated next to the
//! code that enforces them: the control preview's body (one object per action, built from the
//! controls' own bodies), targets from `targets`, from `assets` with a method or from a
//! template or a profile (not both), a trigger unless a template or a profile gives it, funding with quote and/or coins, and a
//! modify that changes something.

use crate::error::ErrorBody;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

const DESCRIPTION: &str = "Smart-portfolio rebalancing bots: the REST API of the dashboard.\n\n\
- **Auth**: reads and previews are open; every mutating operation needs \
`Authorization: Bearer <token>` (printed once when the server first starts, stored hashed). \
A 401 carries `WWW-Authenticate: Bearer`.\n\
- **Numbers**: every decimal (amounts, investments, percents) is a JSON *string* of 1 to 15 \
digits, optionally `.` and 1 to 12 digits: `\"123.45\"`. No sign, no exponent, no JSON number. \
Integers (ids, milliseconds, bar counts) are JSON integers. Answers carry decimals as strings too.\n\
- **Bots** are addressed by id (all digits) or by name; a name is never all digits, so the two \
cannot collide.\n\
- **Errors** are `{\"error\": {field, value, allowed, message}}`: the field (a path such as \
`assets[1]`), the value as given and what is allowed. 400: not JSON; 413: body too large; \
415: not `application/json`; 422: a value the schema refuses (type, grammar, range, unknown or \
missing field); 409: a valid request the current state refuses (the bot's status, a taken \
name, the bot's holdings, the account's funds, the venue's minimum at current prices, an asset \
the venue does not list or the server has no history of); 404: no \
such bot; 503: no price yet for an asset.";

#[derive(OpenApi)]
#[openapi(
    info(title = "smartfolio", description = DESCRIPTION),
    components(schemas(ErrorBody, crate::preview::NoFields)),
    modifiers(&Bearer),
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The document's base (info, error schema, security scheme): the router adds the operations.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document served at `/api/openapi.json` (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_router, doc) = crate::api::api_router().split_for_parts();
        let mut v = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
        finish(&mut v);
        v
    })
}

/// Whether a concrete path matches a route pattern (`{x}` matches one non-empty segment).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let a: Vec<&str> = pattern.split('/').collect();
    let b: Vec<&str> = path.split('/').collect();
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| (x.starts_with('{') && !y.is_empty()) || x == y)
}

/// The methods the document lists for a concrete path (upper case).
pub fn methods_of(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(paths) = document()["paths"].as_object() {
        for (pattern, ops) in paths {
            if path_matches(pattern, path)
                && let Some(ops) = ops.as_object()
            {
                out.extend(ops.keys().map(|m| m.to_ascii_uppercase()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn error(description: &str) -> Value {
    json!({"description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
}

/// Each operation's error answers, from its shape: a body can be malformed, too large, not
/// JSON or refused; a query can be refused; a `{bot}` can be unknown; a secured operation
/// needs the token; a POST can meet a state that refuses it; the JSON API needs the runtime
/// and prices.
fn add_errors(path: &str, method: &str, op: &mut Map<String, Value>) {
    let has_body = op.contains_key("requestBody");
    let has_query = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let secured = op.get("security").is_some_and(|s| {
        s.as_array()
            .is_some_and(|a| a.iter().any(|x| x.get("bearer").is_some()))
    });
    let json_api =
        path.starts_with("/api/") && path != "/api/openapi.json" && path != "/api/events";
    let mut add = Vec::new();
    if has_body {
        add.push(("400", error("not JSON")));
        add.push(("413", error("the body is larger than the limit")));
        add.push(("415", error("the body is not `application/json`")));
        add.push((
            "422",
            error("a value the schema refuses: the field, the value as given and what is allowed"),
        ));
    } else if has_query {
        add.push(("422", error("a query parameter the schema refuses")));
    }
    if path.contains("{bot}") {
        add.push(("404", error("no bot has this id or name")));
    }
    if secured {
        let mut e = error("missing or wrong bearer token");
        e["headers"] = json!({"WWW-Authenticate": {
            "description": "the scheme to answer with: `Bearer realm=\"smartfolio\"`",
            "required": true,
            "schema": {"type": "string", "pattern": "^Bearer "}}});
        add.push(("401", e));
    }
    if method == "post" {
        add.push(("409", error("the current state refuses it (the bot's status, a taken name, holdings, funds, minimums, an asset not listed)")));
    }
    if method == "post" && secured && path.starts_with("/api/bots") {
        add.push((
            "504",
            error("`smartfolio serve` only: the process trading the account took the command (`value`: its id) and is still running it after the wait; its effect shows in the bot's page when it ends"),
        ));
    }
    if json_api {
        add.push((
            "503",
            error("the runtime is not available, or an asset has no price yet (`smartfolio serve`: a preview, or a command no process trading the account took within the wait)"),
        ));
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(r) = responses {
        for (code, e) in add {
            r.entry(code.to_string()).or_insert(e);
        }
    }
}

/// `{"type": T}` required as present and non-null.
fn present(field: &str, ty: &str) -> Value {
    json!({"required": [field], "properties": {field: {"type": ty}}})
}

/// A bot is funded, and an investment made, with quote (`quote`, > 0) and/or coins (at least
/// one), at least one of them: the command protocol's rule (`smartfolio_node::command`).
fn funding_rule(schema: &mut Value, quote: &str) {
    let rule = json!({"anyOf": [
        present(quote, "string"),
        {"required": ["coins"], "properties": {"coins": {"type": "array", "minItems": 1}}},
    ]});
    match schema["allOf"].as_array_mut() {
        Some(all) => all.push(rule),
        None => schema["allOf"] = json!([rule]),
    }
}

fn non_manual_methods(doc: &Value) -> Vec<Value> {
    doc["components"]["schemas"]["TargetMethod"]["enum"]
        .as_array()
        .map(|a| a.iter().filter(|m| *m != "manual").cloned().collect())
        .unwrap_or_default()
}

/// Targets come from `targets` (method absent, null or `manual`) or from `assets` with another
/// method ([`crate::preview::resolve_targets`]); assets are distinct ([`crate::preview`]'s
/// `assets_of`).
fn targets_rule(schema: &mut Value, methods: &[Value]) {
    schema["anyOf"] = json!([
        {"required": ["targets"], "properties": {"targets": {"type": "string"},
            "method": {"enum": ["manual", null]}}},
        {"required": ["method", "assets"], "properties": {"method": {"enum": methods},
            "assets": {"type": "array"}}},
    ]);
    distinct_assets(schema);
}

/// A create naming a template may leave out the targets (method absent, null or `manual`) and
/// the trigger, which the template gives ([`crate::preview::create_spec`]).
fn template_rule(schema: &mut Value) {
    if let Some(any) = schema["anyOf"].as_array_mut() {
        any.push(
            json!({"required": ["template"], "properties": {"template": {"type": "string"},
            "method": {"enum": ["manual", null]}}}),
        );
    }
    let rule = json!({"anyOf": [present("trigger", "string"), present("template", "string")]});
    match schema["allOf"].as_array_mut() {
        Some(all) => all.push(rule),
        None => schema["allOf"] = json!([rule]),
    }
}

/// A create may take its targets (method absent, null or `manual`) and trigger from a profile
/// instead, never with a template ([`crate::preview::create_spec`]); after [`template_rule`].
fn profile_rule(schema: &mut Value) {
    if let Some(any) = schema["anyOf"].as_array_mut() {
        any.push(
            json!({"required": ["profile"], "properties": {"profile": {"type": "object"},
            "method": {"enum": ["manual", null]}}}),
        );
    }
    if let Some(all) = schema["allOf"].as_array_mut() {
        for rule in all.iter_mut() {
            let names_template = rule["anyOf"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["required"] == json!(["template"])));
            if names_template && let Some(any) = rule["anyOf"].as_array_mut() {
                any.push(present("profile", "object"));
            }
        }
        all.push(json!({"not": {"required": ["template", "profile"],
            "properties": {"template": {"type": "string"}, "profile": {"type": "object"}}}}));
    }
}

fn distinct_assets(schema: &mut Value) {
    let Some(assets) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("assets"))
    else {
        return;
    };
    let is_array =
        |t: &Value| t == "array" || t.as_array().is_some_and(|a| a.contains(&json!("array")));
    if is_array(&assets["type"]) {
        assets["uniqueItems"] = json!(true);
    }
}

/// The control preview's body: per action, the body of that control's own route plus
/// `action` ([`crate::api::Decode`] for `ControlRequest` decodes it so).
fn control_request(schemas: &Map<String, Value>) -> Value {
    let variants = [
        ("invest", "InvestRequest"),
        ("withdraw", "WithdrawRequest"),
        ("modify", "ModifyRequest"),
        ("rebalance", "RebalanceRequest"),
        ("pause", "NoFields"),
        ("resume", "NoFields"),
        ("stop", "StopRequest"),
    ];
    let one_of: Vec<Value> = variants
        .iter()
        .map(|(action, body)| {
            let mut v = schemas.get(*body).cloned().unwrap_or_else(|| json!({}));
            v["type"] = json!("object");
            v["properties"]["action"] = json!({"type": "string", "enum": [action]});
            let mut required = vec![json!("action")];
            if let Some(r) = v["required"].as_array() {
                required.extend(r.iter().cloned());
            }
            v["required"] = Value::Array(required);
            v["title"] = json!(format!("{action}"));
            v["description"] = json!(format!(
                "`{action}`: the body of `POST /api/bots/{{bot}}/{action}`, plus `action`"
            ));
            v
        })
        .collect();
    json!({
        "description": "A control and its parameters: `action` and the body that control's own route takes.",
        "oneOf": one_of,
    })
}

/// Everything the handlers' annotations cannot say by themselves (see the module doc).
pub fn finish(doc: &mut Value) {
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, ops) in paths.iter_mut() {
            if let Some(ops) = ops.as_object_mut() {
                for (method, op) in ops.iter_mut() {
                    if let Some(op) = op.as_object_mut() {
                        add_errors(path, method, op);
                    }
                }
            }
        }
    }
    let methods = non_manual_methods(doc);
    let schemas = &mut doc["components"]["schemas"];
    targets_rule(&mut schemas["CreateRequest"], &methods);
    template_rule(&mut schemas["CreateRequest"]);
    profile_rule(&mut schemas["CreateRequest"]);
    targets_rule(&mut schemas["BacktestRequest"], &methods);
    distinct_assets(&mut schemas["AllocationRequest"]);
    funding_rule(&mut schemas["CreateRequest"], "investment");
    funding_rule(&mut schemas["InvestRequest"], "amount");
    schemas["ModifyRequest"]["anyOf"] = json!([
        present("targets", "string"),
        present("trigger", "string"),
        present("cooldown_ms", "integer"),
    ]);
    if let Some(all) = schemas.as_object() {
        let control = control_request(all);
        schemas["ControlRequest"] = control;
    }
}
