//! The API's error body: `{"error": {"field", "value", "allowed", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use smartfolio_bot::BotError;
use smartfolio_core::ValidationError;
use smartfolio_node::command::{Named, named};
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
        let named = Named::from(&e);
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
            message: e.to_string(),
            field: named.field,
            value: named.value,
            allowed: named.allowed,
        }
    }
}

/// What the error names is the command protocol's (`smartfolio_node::command::named`, as the
/// CLI prints it); the status is the API's: a request the schema allows but the current state
/// refuses (a bot's status, its holdings, the account's funds, the venue's minimums at current
/// prices, an asset the venue does not list) is a conflict, 409; a request the schema refuses is 422; a withdrawal the venue
/// under-delivered once its sells started is 502 (never a success).
impl From<BotError> for ApiError {
    fn from(e: BotError) -> Self {
        let status = match &e {
            BotError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            BotError::UnknownBot(_) => StatusCode::NOT_FOUND,
            // What the venue lists is its state, not the request's shape.
            BotError::UnknownInstrument { .. }
            | BotError::WrongState { .. }
            | BotError::BelowMinimum { .. }
            | BotError::OverWithdrawal(_)
            | BotError::InsufficientFunds { .. } => StatusCode::CONFLICT,
            BotError::WithdrawShortfall(_) => StatusCode::BAD_GATEWAY,
            BotError::NoPrice(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let named = named(&e);
        Self {
            status: status.as_u16(),
            field: named.field,
            value: named.value,
            allowed: named.allowed,
            message: e.to_string(),
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
