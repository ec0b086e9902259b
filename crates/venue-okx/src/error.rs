//! OKX's error codes and HTTP statuses, classified, and mapped onto the exchange interface's
//! [`ExchangeError`].
//!
//! OKX answers an error as the envelope `{"code":"…","msg":"…","data":[…]}`, usually with HTTP
//! 200 (4xx/5xx for some). An order endpoint can answer HTTP 200 with envelope code `"0"`,
//! `"1"` (all failed) or `"2"` (some failed) and the real verdict in each item's
//! `sCode`/`sMsg`: an item whose `sCode` is not `"0"` is that order's error, classified by the
//! same table.
//!
//! | OKX answer | class |
//! |---|---|
//! | HTTP 429, `50011` (too frequent), `50061` (order rate) | rate limited |
//! | `50004` (endpoint timeout: "does not mean that the request was successful or failed"), `50026` (system error), `50001`/`50005`/`50013` (unavailable, busy), HTTP 5xx, a timeout or a lost connection after sending | outcome unknown when the request changes something (an order), transient for a read |
//! | a connection that never opened | transient: nothing was done |
//! | `50102` (timestamp expired), `50112` (invalid timestamp) | timestamp: measure the clock offset and sign again, once |
//! | `50113` | bad signature (the secret) |
//! | `50100`, `50101` (key of the other environment: live vs demo), `50103`–`50105` (key or passphrase missing or wrong), `50110` (IP), `50111` (invalid key), `50114`, `50030` (no permission) | bad API key, passphrase, IP or permission |
//! | `51603` (order does not exist) | not found. Right after a placement this is **not** "never sent" |
//! | anything else | rejected: the same request fails the same way |

use smartfolio_exchange::failure::clip;
use smartfolio_exchange::{ExchangeError, reject};
use std::fmt;

/// What a failure means for the caller: the class every connector shares.
pub use smartfolio_exchange::failure::Class as ErrorClass;

/// Reject code of a request signed with the wrong secret.
pub const BAD_SIGNATURE: &str = reject::BAD_SIGNATURE;
/// Reject code of a wrong key or passphrase, a key of the other environment, or one lacking the
/// IP or the permission.
pub const BAD_KEY: &str = reject::BAD_KEY;

/// Classify an answer: its HTTP status and, when the body was OKX's envelope (or an order's
/// item), its code. `mutating` says whether the request changes something (placing or
/// canceling): only then does an ambiguous failure mean "outcome unknown".
pub fn classify(status: u16, code: Option<&str>, mutating: bool) -> ErrorClass {
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
    match code {
        Some("50011" | "50061") => ErrorClass::RateLimited {
            retry_after_ms: None,
        },
        Some("50004" | "50026" | "50001" | "50005" | "50013") => ambiguous,
        Some("50102" | "50112") => ErrorClass::Timestamp,
        Some("50113") => ErrorClass::BadSignature,
        Some(
            "50100" | "50101" | "50103" | "50104" | "50105" | "50110" | "50111" | "50114" | "50030",
        ) => ErrorClass::BadKey,
        Some("51603") => ErrorClass::NotFound,
        _ if status >= 500 => ambiguous,
        _ => ErrorClass::Rejected,
    }
}

/// Classify a transport failure: `sent` says whether the request may have reached OKX (a
/// connection that never opened did not).
pub fn classify_transport(sent: bool, mutating: bool) -> ErrorClass {
    if sent && mutating {
        ErrorClass::UnknownOutcome
    } else {
        ErrorClass::Transient
    }
}

/// The interface's reject code for a refused request: the shared codes where OKX's code means
/// one of them, else `okx<code>` (`okx51024`), or `http<status>` without a code.
pub fn reject_code(status: u16, code: Option<&str>) -> String {
    let shared = match code {
        Some("51008" | "51127" | "51131") => Some(reject::INSUFFICIENT_BALANCE),
        Some("51001") => Some(reject::UNKNOWN_INSTRUMENT),
        Some("51016") => Some(reject::DUPLICATE_CLIENT_ID),
        Some("51020" | "51120") => Some(reject::MIN_SIZE),
        Some("51121") => Some(reject::LOT_STEP),
        Some("51006" | "51137" | "51138") => Some(reject::PRICE_BAND),
        Some("51201") => Some(reject::MAX_NOTIONAL),
        Some("51005" | "51202" | "51203") => Some(reject::MAX_SIZE),
        Some("51009" | "50029" | "50033") => Some(reject::NOT_TRADING),
        Some("51603" | "51400") => Some(reject::UNKNOWN_ORDER),
        Some("51401" | "51402") => Some(reject::ORDER_NOT_OPEN),
        Some(
            "51000" | "50000" | "50002" | "50014" | "50015" | "50016" | "50024" | "50025" | "51150",
        ) => Some(reject::INVALID),
        Some("50113") => Some(BAD_SIGNATURE),
        Some(c) if classify(400, Some(c), false) == ErrorClass::BadKey => Some(BAD_KEY),
        _ => None,
    };
    match (shared, code) {
        (Some(s), _) => s.to_string(),
        (None, Some(c)) => format!("okx{c}"),
        (None, None) => format!("http{status}"),
    }
}

/// A failed OKX call: its class, and OKX's own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OkxError {
    pub class: ErrorClass,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// OKX's code: the order item's `sCode` when an order was refused, else the envelope's.
    pub code: Option<String>,
    /// OKX's message (`sMsg` or `msg`), or what went wrong locally. Never holds a key, a
    /// secret or a passphrase.
    pub msg: String,
}

impl OkxError {
    /// An answer with a status and maybe a code (an envelope's or an order item's).
    pub fn from_answer(
        status: u16,
        code: Option<&str>,
        msg: &str,
        retry_after_ms: Option<u64>,
        mutating: bool,
    ) -> Self {
        let mut class = classify(status, code, mutating);
        if let ErrorClass::RateLimited { retry_after_ms: r } = &mut class {
            *r = retry_after_ms;
        }
        Self {
            class,
            status: Some(status),
            code: code.map(str::to_string),
            msg: clip(msg),
        }
    }

    /// A local failure of class `class` (transport, parse, a refused order before sending).
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

impl fmt::Display for OkxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, &self.code) {
            (Some(s), Some(c)) => write!(f, "okx answered HTTP {s}, code {c}: {}", self.msg),
            (Some(s), None) => write!(f, "okx answered HTTP {s}: {}", self.msg),
            _ => write!(f, "okx: {}", self.msg),
        }
    }
}

impl std::error::Error for OkxError {}

/// When OKX said nothing about how long to wait, a rate limit waits this long: one of the
/// 2-second windows OKX counts its limits in ([`crate::limits::WINDOW_MS`]). The client bans
/// itself this long, and whoever waits out its rate-limited error waits the same.
pub const DEFAULT_RETRY_AFTER_MS: u64 = crate::limits::WINDOW_MS as u64;

impl From<OkxError> for ExchangeError {
    fn from(e: OkxError) -> Self {
        let text = e.to_string();
        let status = e.status.unwrap_or(0);
        e.class
            .into_error(text, e.status.is_some(), DEFAULT_RETRY_AFTER_MS, || {
                reject_code(status, e.code.as_deref())
            })
    }
}
