//! Bot profiles over HTTP (issue 14, "copy successful profiles"): the same TOML file as
//! `smartfolio bot export` and `bot create --from` (`smartfolio_node::profile`).
//!
//! - `GET /api/bots/{bot}/profile`: the node's `Request::Export` answered as the file itself
//!   (`application/toml`, an attachment named after the bot).
//! - `POST /api/preview/profile`: an uploaded profile checked and shown (what a create takes
//!   from it); the dashboard fills its create form from it. Changes nothing.
//! - A create (`POST /api/bots`, `POST /api/preview/create`) may carry a `profile`: what the
//!   body does not give comes from it, as `bot create --from` does ([`read`]).
//!
//! A profile's errors are the node's, as the command line prints them: the field is
//! `FILE:LINE: KEY`, with the value and what is allowed. A profile the node refuses is 422; one
//! naming an asset the venue does not list is 409 (what the venue lists is its state, as on
//! every route).

use crate::actor::Core;
use crate::api::{AppState, BotParam, call};
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smartfolio_node::profile::Profile;
use smartfolio_node::{Reply, Request as NodeRequest};
use utoipa::ToSchema;

/// The file name errors give when the upload names none.
pub const DEFAULT_FILE: &str = "profile.toml";
/// The longest file name, in characters.
pub const FILE_MAX: usize = 255;

/// A profile as uploaded: the file's text, and its name (errors name it).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpload {
    /// The TOML text `smartfolio bot export` writes: `version = 1`, `assets`, `targets` (or
    /// `method = "equal"`), `trigger`, optionally `cooldown_ms`, `[risk]` and `[execution]`.
    /// An unknown key, a version other than 1 or a bad value is 422; an asset the venue does
    /// not list is 409 (the field is `FILE:LINE: KEY`).
    #[schema(
        format = "profile",
        example = "version = 1\nassets = [\"BTC\", \"ETH\"]\ntargets = { BTC = \"60\", ETH = \"40\" }\ntrigger = \"threshold:5\"\n"
    )]
    pub toml: String,
    /// The file's name, as errors name it (default `profile.toml`): 1 to 255 characters, no
    /// control characters.
    #[serde(default)]
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,255}$", example = "core.toml")]
    pub file: Option<String>,
}

/// A checked profile: what a bot created from it takes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProfileView {
    /// The file's name as errors would name it.
    pub file: String,
    pub version: i64,
    /// The basket, in the profile's order.
    pub assets: Vec<String>,
    /// Percent form, in the profile's order (`method = "equal"` resolved).
    pub targets: String,
    pub trigger: String,
    /// None: the node's default for new bots.
    pub cooldown_ms: Option<i64>,
    #[schema(value_type = Option<String>)]
    pub stop_loss_pct: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub take_profit_pct: Option<Decimal>,
    /// None: the node's default.
    #[schema(value_type = Option<String>)]
    pub price_margin: Option<Decimal>,
}

/// The file name an upload gives (checked; `field` names it in the error), or
/// [`DEFAULT_FILE`].
fn file_of(up: &ProfileUpload, field: &str) -> Result<String, ApiError> {
    match &up.file {
        None => Ok(DEFAULT_FILE.to_string()),
        Some(f)
            if (1..=FILE_MAX).contains(&f.chars().count()) && !f.chars().any(char::is_control) =>
        {
            Ok(f.clone())
        }
        Some(f) => Err(ApiError::invalid(
            field,
            f.clone(),
            format!("a file name of 1 to {FILE_MAX} characters without control characters"),
        )),
    }
}

/// The assets the server's venue lists, the quote first, as `NodeConfig::listed_assets` gives
/// them: the paper venue's instruments; `None` for a real venue, whose listing only it knows
/// (the deploy names an asset it does not list).
fn listed(core: &Core) -> Option<Vec<String>> {
    let cfg = core.paper.as_ref()?.config();
    let mut out = vec![cfg.quote.clone()];
    for i in &cfg.instruments {
        if !out.contains(&i.base) {
            out.push(i.base.clone());
        }
    }
    Some(out)
}

/// Read an uploaded profile as `bot create --from` does: checked by the node (422), then its
/// assets against the venue's list (409). `file_field` names the upload's `file` in errors.
pub fn read(
    core: &Core,
    up: &ProfileUpload,
    file_field: &str,
) -> Result<(String, Profile), ApiError> {
    let file = file_of(up, file_field)?;
    let profile = smartfolio_node::profile::parse(&file, &up.toml, None)?;
    if let Err(e) = smartfolio_node::profile::parse(&file, &up.toml, listed(core).as_deref()) {
        let mut e = ApiError::from(e);
        e.status = 409;
        return Err(e);
    }
    Ok((file, profile))
}

fn view(file: String, p: Profile) -> ProfileView {
    let assets = p
        .targets
        .split(',')
        .filter_map(|pair| pair.split_once('=').map(|(a, _)| a.trim().to_string()))
        .collect();
    ProfileView {
        file,
        version: smartfolio_node::profile::VERSION,
        assets,
        targets: p.targets,
        trigger: p.trigger,
        cooldown_ms: p.cooldown_ms,
        stop_loss_pct: p.stop_loss_pct,
        take_profit_pct: p.take_profit_pct,
        price_margin: p.price_margin,
    }
}

/// A bot's settings as a profile: the file `smartfolio bot export` prints (no keys, balances,
/// investments or history); `bot create --from` and `POST /api/bots` with `profile` read it.
#[utoipa::path(get, path = "/api/bots/{bot}/profile", tag = "bots", operation_id = "export_profile",
    params(BotParam),
    responses((status = 200, description = "the profile, as an attachment named after the bot",
        content_type = "application/toml", body = String,
        headers(("Content-Disposition" = String, description = "`attachment; filename=\"NAME.toml\"`")))))]
pub async fn export(
    State(s): State<AppState>,
    Path(bot): Path<String>,
) -> Result<Response, ApiError> {
    let (name, reply) = call(&s, move |c| {
        Box::pin(async move {
            let id = c.rt.resolve(&bot)?;
            let name = c.rt.summary_of(id)?.name;
            let req = NodeRequest::Export { bot };
            let reply = smartfolio_node::command::run(&mut c.rt, &req, &c.defaults, true).await?;
            Ok((name, reply))
        })
    })
    .await?;
    let Reply::Profile { profile } = reply else {
        return Err(ApiError::internal(format!(
            "the export answered an unexpected reply: {reply:?}"
        )));
    };
    // A bot's name is ASCII letters, digits, `-`, `_` and `.`: safe in the header as it is.
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}.toml\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"profile.toml\""));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/toml; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        profile,
    )
        .into_response())
}

/// Check an uploaded profile and show what a bot created from it takes (changes nothing).
#[utoipa::path(post, path = "/api/preview/profile", tag = "previews", operation_id = "preview_profile",
    request_body = ProfileUpload,
    responses((status = 200, description = "the profile's settings", body = ProfileView)))]
pub async fn preview(
    State(s): State<AppState>,
    crate::api::ApiJson(up): crate::api::ApiJson<ProfileUpload>,
) -> Result<axum::Json<ProfileView>, ApiError> {
    let (file, p) = call(&s, move |c| Box::pin(async move { read(c, &up, "file") })).await?;
    Ok(axum::Json(view(file, p)))
}
