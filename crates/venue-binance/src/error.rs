//! Binance's error codes and HTTP statuses, classified, and mapped onto the exchange
//! interface's [`ExchangeError`].
//!
//! | Binance answer | class |
//! |---|---|
//! | 429, 418, `-1003`, `-1015` | rate limited (`Retry-After`, a 418 is an IP ban) |
//! | 5xx, `-1006`, `-1007`, `-1000`, a timeout or a lost connection after sending | outcome unknown when the request changes something (an order), transient for a read |
//! | `-1001`, `-1008`, a connection that never opened | transient: nothing was done |
//! | `-1021` | timestamp: refresh the clock offset and sign again, once |
//! | `-1022` | bad signature (the secret) |
//! | `-2014`, `-2015`, `-1002` | bad API key, IP or permissions |
//! | `-2013`, `-2011 Unknown order sent.` | not found. Right after a placement this is **not** "never sent": Binance can miss a fresh order for seconds |
//! | any other 4xx | rejected: the same request fails the same way |

use crate::model::ErrorBody;
use smartfolio_exchange::failure::{self, Class};
use smartfolio_exchange::{ExchangeError, reject};
use std::fmt;

/// What a failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nothing was done; the same request may be sent again.
    Transient,
    /// Too many requests; nothing may be sent before `retry_after_ms` (when known). `banned` is
    /// an HTTP 418: the IP is banned.
    RateLimited {
        retry_after_ms: Option<u64>,
        banned: bool,
    },
    /// Refused; the same request fails the same way.
    Rejected,
    /// The request may have taken effect: look the order up, never re-send it.
    UnknownOutcome,
    /// The order is not (yet) known to Binance.
    NotFound,
    /// `-1021`: the timestamp is outside `recvWindow` or ahead of the server.
    Timestamp,
    /// `-1022`: the signature does not match (a wrong secret).
    BadSignature,
    /// `-2014`/`-2015`/`-1002`: the API key is malformed, unknown, or lacks the permission or
    /// the IP.
    BadKey,
}

/// Reject code of a request signed with the wrong secret.
pub const BAD_SIGNATURE: &str = reject::BAD_SIGNATURE;
/// Reject code of a wrong, malformed or unauthorised API key.
pub const BAD_KEY: &str = reject::BAD_KEY;
/// Reject code of a request the venue's firewall refused (HTTP 403).
pub const FIREWALL: &str = "firewall";

/// Classify an answer: its HTTP status and, when the body was Binance's `{code,msg}`, the code
/// and message. `mutating` says whether the request changes something (placing or canceling):
/// only then does an ambiguous failure mean "outcome unknown".
pub fn classify(status: u16, code: Option<i64>, msg: &str, mutating: bool) -> ErrorClass {
    let ambiguous = if mutating {
        ErrorClass::UnknownOutcome
    } else {
        ErrorClass::Transient
    };
    if status == 429 || status == 418 {
        return ErrorClass::RateLimited {
            retry_after_ms: None,
            banned: status == 418,
        };
    }
    if let Some(code) = code {
        match code {
            -1003 | -1015 => {
                return ErrorClass::RateLimited {
                    retry_after_ms: None,
                    banned: false,
                };
            }
            -1000 | -1006 | -1007 => return ambiguous,
            -1001 | -1008 => return ErrorClass::Transient,
            -1021 => return ErrorClass::Timestamp,
            -1022 => return ErrorClass::BadSignature,
            -1002 | -2014 | -2015 => return ErrorClass::BadKey,
            -2013 => return ErrorClass::NotFound,
            -2011 if msg.contains("Unknown order") => return ErrorClass::NotFound,
            _ => {}
        }
    }
    if status >= 500 {
        return ambiguous;
    }
    ErrorClass::Rejected
}

/// Classify a transport failure: `sent` says whether the request may have reached Binance (a
/// connection that never opened did not).
pub fn classify_transport(sent: bool, mutating: bool) -> ErrorClass {
    if sent && mutating {
        ErrorClass::UnknownOutcome
    } else {
        ErrorClass::Transient
    }
}

/// The interface's reject code for a refused request: the shared codes where Binance's answer
/// means one of them, else `binance<code>` (`binance-2010`).
pub fn reject_code(status: u16, code: Option<i64>, msg: &str) -> String {
    let shared = match code {
        Some(-1013) | Some(-2010) => {
            let m = msg.to_ascii_uppercase();
            if m.contains("PERCENT_PRICE") {
                Some(reject::PRICE_BAND)
            } else if m.contains("NOTIONAL") {
                Some(reject::MIN_NOTIONAL)
            } else if m.contains("LOT_SIZE") {
                Some(reject::LOT_STEP)
            } else if m.contains("PRICE_FILTER") {
                Some(reject::TICK_SIZE)
            } else if m.contains("INSUFFICIENT BALANCE") {
                Some(reject::INSUFFICIENT_BALANCE)
            } else if m.contains("DUPLICATE ORDER") {
                Some(reject::DUPLICATE_CLIENT_ID)
            } else if m.contains("MARKET IS CLOSED") {
                Some(reject::NOT_TRADING)
            } else {
                None
            }
        }
        Some(-1121) => Some(reject::UNKNOWN_INSTRUMENT),
        Some(-2013) | Some(-2011) => Some(reject::UNKNOWN_ORDER),
        Some(-1022) => Some(BAD_SIGNATURE),
        Some(-1002) | Some(-2014) | Some(-2015) => Some(BAD_KEY),
        Some(c) if (-1199..=-1100).contains(&c) => Some(reject::INVALID),
        _ => None,
    };
    match (shared, code) {
        (Some(s), _) => s.to_string(),
        (None, Some(c)) => format!("binance{c}"),
        (None, None) if status == 403 => FIREWALL.to_string(),
        (None, None) => format!("http{status}"),
    }
}

/// A failed Binance call: its class, and Binance's own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinanceError {
    pub class: ErrorClass,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Binance's error code, when the body was `{code,msg}`.
    pub code: Option<i64>,
    /// Binance's message, or what went wrong locally. Never holds a key or a secret.
    pub msg: String,
}

impl BinanceError {
    /// An answer with a status and maybe a `{code,msg}` body.
    pub fn from_answer(
        status: u16,
        body: Option<&ErrorBody>,
        raw: &str,
        retry_after_ms: Option<u64>,
        mutating: bool,
    ) -> Self {
        let (code, msg) = match body {
            Some(b) => (Some(b.code), b.msg.clone()),
            None => (None, failure::clip(raw)),
        };
        let mut class = classify(status, code, &msg, mutating);
        if let ErrorClass::RateLimited {
            retry_after_ms: r, ..
        } = &mut class
        {
            *r = retry_after_ms;
        }
        Self {
            class,
            status: Some(status),
            code,
            msg,
        }
    }

    /// A local failure of class `class` (transport, parse, rate budget).
    pub fn local(class: ErrorClass, msg: impl Into<String>) -> Self {
        Self {
            class,
            status: None,
            code: None,
            msg: msg.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }
}

impl fmt::Display for BinanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, self.code) {
            (Some(s), Some(c)) => write!(f, "binance answered HTTP {s}, code {c}: {}", self.msg),
            (Some(s), None) => write!(f, "binance answered HTTP {s}: {}", self.msg),
            _ => write!(f, "binance: {}", self.msg),
        }
    }
}

impl std::error::Error for BinanceError {}

/// When Binance said nothing about how long to wait, a rate limit waits this long.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;

impl ErrorClass {
    /// The class every connector shares (a ban is a rate limit there).
    pub fn shared(self) -> Class {
        match self {
            ErrorClass::Transient => Class::Transient,
            ErrorClass::RateLimited { retry_after_ms, .. } => Class::RateLimited { retry_after_ms },
            ErrorClass::Rejected => Class::Rejected,
            ErrorClass::UnknownOutcome => Class::UnknownOutcome,
            ErrorClass::NotFound => Class::NotFound,
            ErrorClass::Timestamp => Class::Timestamp,
            ErrorClass::BadSignature => Class::BadSignature,
            ErrorClass::BadKey => Class::BadKey,
        }
    }
}

impl From<BinanceError> for ExchangeError {
    fn from(e: BinanceError) -> Self {
        let text = e.to_string();
        let status = e.status.unwrap_or(0);
        e.class
            .shared()
            .into_error(text, e.status.is_some(), DEFAULT_RETRY_AFTER_MS, || {
                reject_code(status, e.code, &e.msg)
            })
    }
}
