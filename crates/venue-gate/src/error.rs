//! Gate's error labels and HTTP statuses, classified, and mapped onto the exchange interface's
//! [`ExchangeError`].
//!
//! Gate answers an error with a 4xx/5xx status and `{"label":"…","message":"…"}`. The labels
//! are Gate's "label list" (<https://www.gate.com/docs/developers/apiv4/en/#label-list>, read
//! through ccxt's copy of it: `gate.js` `exceptions.exact`, which cites that page) and
//! venue-facts.md / live-trading-failure-modes.md §Gate (`REQUEST_EXPIRED`,
//! `TOO_MANY_REQUESTS`, `CLIENT_ID_NOT_FOUND` from gateapi-go#41, `AMOUNT_TOO_LITTLE`).
//!
//! | Gate answer | class |
//! |---|---|
//! | HTTP 429, `TOO_MANY_REQUESTS`, `TOO_FAST` | rate limited |
//! | `SERVER_ERROR`, `TOO_BUSY`, `INTERNAL`, HTTP 5xx, a timeout or a lost connection after sending | outcome unknown when the request changes something (an order), transient for a read |
//! | a connection that never opened | transient: nothing was done |
//! | `REQUEST_EXPIRED` (timestamp more than 60 s off) | timestamp: measure the clock offset and sign again, once |
//! | `INVALID_SIGNATURE` | bad signature (the secret) |
//! | `INVALID_KEY`, `INVALID_CREDENTIALS`, `MISSING_REQUIRED_HEADER`, `IP_FORBIDDEN`, `READ_ONLY`, `FORBIDDEN`, `ACCOUNT_LOCKED`, `SUB_ACCOUNT_LOCKED`, HTTP 401 | bad API key, IP or permission |
//! | `ORDER_NOT_FOUND`, `CLIENT_ID_NOT_FOUND` | not found. By `text`, Gate forgets an order about an hour after it ended: **not** "never sent" |
//! | anything else | rejected: the same request fails the same way |

use smartfolio_exchange::failure::clip;
use smartfolio_exchange::{ExchangeError, reject};
use std::fmt;

/// What a failure means for the caller: the class every connector shares.
pub use smartfolio_exchange::failure::Class as ErrorClass;

/// Classify an answer: its HTTP status and, when the body was Gate's error body, its label.
/// `mutating` says whether the request changes something (placing or canceling): only then
/// does an ambiguous failure mean "outcome unknown".
pub fn classify(status: u16, label: Option<&str>, mutating: bool) -> ErrorClass {
    let ambiguous = if mutating {
        ErrorClass::UnknownOutcome
    } else {
        ErrorClass::Transient
    };
    if status == 429 {
        return ErrorClass::RateLimited {
            retry_after_ms: None,
        };
    }
    match label {
        Some("TOO_MANY_REQUESTS" | "TOO_FAST") => ErrorClass::RateLimited {
            retry_after_ms: None,
        },
        Some("SERVER_ERROR" | "TOO_BUSY" | "INTERNAL") => ambiguous,
        Some("REQUEST_EXPIRED") => ErrorClass::Timestamp,
        Some("INVALID_SIGNATURE") => ErrorClass::BadSignature,
        Some(
            "INVALID_KEY"
            | "INVALID_CREDENTIALS"
            | "MISSING_REQUIRED_HEADER"
            | "IP_FORBIDDEN"
            | "READ_ONLY"
            | "FORBIDDEN"
            | "ACCOUNT_LOCKED"
            | "SUB_ACCOUNT_LOCKED",
        ) => ErrorClass::BadKey,
        Some("ORDER_NOT_FOUND" | "CLIENT_ID_NOT_FOUND") => ErrorClass::NotFound,
        _ if status >= 500 => ambiguous,
        None if status == 401 => ErrorClass::BadKey,
        _ => ErrorClass::Rejected,
    }
}

/// Classify a transport failure: `sent` says whether the request may have reached Gate (a
/// connection that never opened did not).
pub fn classify_transport(sent: bool, mutating: bool) -> ErrorClass {
    if sent && mutating {
        ErrorClass::UnknownOutcome
    } else {
        ErrorClass::Transient
    }
}

/// The interface's reject code for a refused request: the shared codes where Gate's label
/// means one of them, else `gate_<label>` in lower case (`gate_margin_not_supported`), or
/// `http<status>` without a label.
pub fn reject_code(status: u16, label: Option<&str>) -> String {
    let shared = match label {
        Some("BALANCE_NOT_ENOUGH" | "QUANTITY_NOT_ENOUGH" | "MARGIN_BALANCE_NOT_ENOUGH") => {
            Some(reject::INSUFFICIENT_BALANCE)
        }
        Some("INVALID_CURRENCY_PAIR" | "INVALID_CURRENCY") => Some(reject::UNKNOWN_INSTRUMENT),
        // Gate says AMOUNT_TOO_LITTLE below either minimum (`min_base_amount`, and
        // `min_quote_amount`): the interface's first check is the size.
        Some("AMOUNT_TOO_LITTLE") => Some(reject::MIN_SIZE),
        Some("AMOUNT_TOO_MUCH") => Some(reject::MAX_SIZE),
        Some("INVALID_PRECISION") => Some(reject::LOT_STEP),
        Some("POC_FILL_IMMEDIATELY" | "ORDER_POC_IMMEDIATE") => Some(reject::WOULD_TAKE),
        Some("ORDER_CLOSED" | "ORDER_CANCELLED" | "ORDER_FINISHED") => Some(reject::ORDER_NOT_OPEN),
        Some("ORDER_NOT_FOUND" | "CLIENT_ID_NOT_FOUND") => Some(reject::UNKNOWN_ORDER),
        Some("REPEATED_CREATION") => Some(reject::DUPLICATE_CLIENT_ID),
        Some("TRADE_RESTRICTED" | "CURRENCY_PAIR_NOT_TRADABLE") => Some(reject::NOT_TRADING),
        Some(
            "INVALID_PARAM_VALUE"
            | "INVALID_PROTOCOL"
            | "INVALID_ARGUMENT"
            | "INVALID_REQUEST_BODY"
            | "MISSING_REQUIRED_PARAM"
            | "BAD_REQUEST"
            | "INVALID_CONTENT_TYPE"
            | "NOT_ACCEPTABLE"
            | "METHOD_NOT_ALLOWED"
            | "NOT_FOUND",
        ) => Some(reject::INVALID),
        Some("INVALID_SIGNATURE") => Some(reject::BAD_SIGNATURE),
        Some(l) if classify(400, Some(l), false) == ErrorClass::BadKey => Some(reject::BAD_KEY),
        _ => None,
    };
    match (shared, label) {
        (Some(s), _) => s.to_string(),
        (None, Some(l)) => format!("gate_{}", l.to_ascii_lowercase()),
        (None, None) => format!("http{status}"),
    }
}

/// A failed Gate call: its class, and Gate's own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateError {
    pub class: ErrorClass,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Gate's label (`BALANCE_NOT_ENOUGH`).
    pub label: Option<String>,
    /// Gate's message, or what went wrong locally. Never holds a key or a secret.
    pub msg: String,
}

impl GateError {
    /// An answer with a status and maybe a label.
    pub fn from_answer(
        status: u16,
        label: Option<&str>,
        msg: &str,
        retry_after_ms: Option<u64>,
        mutating: bool,
    ) -> Self {
        let mut class = classify(status, label, mutating);
        if let ErrorClass::RateLimited { retry_after_ms: r } = &mut class {
            *r = retry_after_ms;
        }
        Self {
            class,
            status: Some(status),
            label: label.map(str::to_string),
            msg: clip(msg),
        }
    }

    /// A local failure of class `class` (transport, parse, an order refused before sending).
    pub fn local(class: ErrorClass, msg: impl Into<String>) -> Self {
        Self {
            class,
            status: None,
            label: None,
            msg: msg.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.label) {
            (Some(s), Some(l)) => write!(f, "gate answered HTTP {s}, {l}: {}", self.msg),
            (Some(s), None) => write!(f, "gate answered HTTP {s}: {}", self.msg),
            _ => write!(f, "gate: {}", self.msg),
        }
    }
}

impl std::error::Error for GateError {}

/// When Gate said nothing about how long to wait, a rate limit waits this long: Gate's
/// reference states its REST limits per 10-second window (unverified: not in the stored
/// references), so a whole window is the safe wait.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 10_000;

impl From<GateError> for ExchangeError {
    fn from(e: GateError) -> Self {
        let text = e.to_string();
        let status = e.status.unwrap_or(0);
        e.class
            .into_error(text, e.status.is_some(), DEFAULT_RETRY_AFTER_MS, || {
                reject_code(status, e.label.as_deref())
            })
    }
}
