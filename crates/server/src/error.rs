//! The API's error body: `{"error": {"field", "value", "allowed", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use smartfolio_bot::BotError;
use smartfolio_core::ValidationError;
use smartfolio_store::StoreError;
use utoipa::ToSchema;

/// The challenge every 401 carries.
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"smartfolio\"";

/// An error answer: status and a body naming the field, the value as given and what is
/// allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    /// The field (a path such as `assets[1]` in a body), `body`, `authorization`, `path`, ...
    pub field: Option<String>,
    /// The value as the client gave it.
    pub value: Option<String>,
    /// What is allowed instead.
    pub allowed: Option<String>,
    pub message: String,
}

/// Every error's body: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ApiError,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status: status.as_u16(),
            field: None,
            value: None,
            allowed: None,
            message: message.into(),
        }
    }

    /// 422: a value that parses but is not allowed.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Self::from(ValidationError::new(field, value, allowed))
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message).with_field("authorization")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
            message: e.to_string(),
            field: Some(e.field),
            value: Some(e.value),
            allowed: Some(e.allowed),
        }
    }
}

/// A request the schema allows but the current state refuses (a bot's status, its holdings,
/// the account's funds, the venue's minimums at current prices) is a conflict, 409; a request
/// the schema refuses is 422.
impl From<BotError> for ApiError {
    fn from(e: BotError) -> Self {
        let message = e.to_string();
        let (status, field, value, allowed) = match e {
            BotError::Invalid(v) => return v.into(),
            BotError::UnknownBot(b) => (
                StatusCode::NOT_FOUND,
                Some("bot".to_string()),
                Some(b),
                Some("the id or name of an existing bot (GET /api/bots)".to_string()),
            ),
            BotError::WrongState { status, .. } => (
                StatusCode::CONFLICT,
                Some("status".into()),
                Some(status),
                None,
            ),
            BotError::BelowMinimum {
                value,
                minimum,
                quote,
                ..
            } => (
                StatusCode::CONFLICT,
                Some("investment".into()),
                Some(value.to_string()),
                Some(format!("at least {minimum} {quote}")),
            ),
            BotError::OverWithdrawal(r) => (
                StatusCode::CONFLICT,
                Some("amount".into()),
                Some(r.amount.to_string()),
                Some(format!("at most {} {}", r.largest, r.quote)),
            ),
            BotError::InsufficientFunds {
                asset,
                available,
                needed,
            } => (
                StatusCode::CONFLICT,
                Some("investment".into()),
                Some(format!("{needed} {asset}")),
                Some(format!(
                    "at most {available} {asset} (unallocated on the account)"
                )),
            ),
            BotError::UnknownInstrument { asset, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("targets".into()),
                Some(asset),
                Some("assets the venue lists (GET /api/status)".into()),
            ),
            BotError::NoPrice(a) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("targets".into()),
                Some(a),
                None,
            ),
            BotError::Store(StoreError::NewerVersion { .. } | StoreError::Corrupt { .. }) => {
                (StatusCode::INTERNAL_SERVER_ERROR, None, None, None)
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None, None, None),
        };
        Self {
            status: status.as_u16(),
            field,
            value,
            allowed,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(ErrorBody { error: self })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §11.6.1: a 401 says which scheme to answer it with (RFC 6750 for bearer).
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        res
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}
