//! The API's error body: `{"error": {"field", "value", "allowed", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use smartfolio_bot::BotError;
use smartfolio_core::ValidationError;
use smartfolio_node::command::{ErrorClass, Named, named};
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
        let named = named(&e);
        Self {
            status: status_of(ErrorClass::of(&e)).as_u16(),
            field: named.field,
            value: named.value,
            allowed: named.allowed,
            message: e.to_string(),
        }
    }
}

/// The status of a command's refusal or failure, by its kind (what the venue lists is its
/// state, not the request's shape: a conflict).
pub fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::UnknownBot => StatusCode::NOT_FOUND,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::Shortfall => StatusCode::BAD_GATEWAY,
        ErrorClass::NoPrice => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A queued command's failure (`smartfolio serve`), with the status the same failure gets
/// when the command runs in this process.
impl From<&smartfolio_node::Outcome> for ApiError {
    fn from(o: &smartfolio_node::Outcome) -> Self {
        let status = match o.class {
            Some(c) => status_of(c),
            // Not a bot's error: bad input (a command the worker could not read) or a failure.
            None if o.exit == 2 => StatusCode::UNPROCESSABLE_ENTITY,
            None => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status: status.as_u16(),
            field: o.named.field.clone(),
            value: o.named.value.clone(),
            allowed: o.named.allowed.clone(),
            message: o
                .error
                .clone()
                .unwrap_or_else(|| "the command failed".into()),
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
