//! What a connector's failed call means, and the one mapping of it onto [`ExchangeError`],
//! shared by the venue connectors: each classifies its venue's codes and statuses into a
//! [`Class`], and [`Class::into_error`] turns it into the interface's error the same way for
//! every venue.

use crate::{ExchangeError, reject};

/// What a failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Nothing was done; the same request may be sent again.
    Transient,
    /// Too many requests; nothing may be sent before `retry_after_ms` (when known).
    RateLimited { retry_after_ms: Option<u64> },
    /// Refused; the same request fails the same way.
    Rejected,
    /// The request may have taken effect: look the order up, never re-send it.
    UnknownOutcome,
    /// The order is not (yet) known to the venue.
    NotFound,
    /// The request's timestamp was refused (the clock offset is to be measured again).
    Timestamp,
    /// The signature does not match (a wrong secret).
    BadSignature,
    /// The key (or passphrase, IP, permission) is refused.
    BadKey,
}

impl Class {
    /// The interface's error. `text` is the whole message (venue, status, code, message);
    /// `answered` says whether the venue answered (a request refused before sending is
    /// [`reject::INVALID`]); `venue_code` gives the reject code of a refusal the venue answered;
    /// a rate limit without a known wait waits `default_retry_after_ms`.
    pub fn into_error(
        self,
        text: String,
        answered: bool,
        default_retry_after_ms: u64,
        venue_code: impl FnOnce() -> String,
    ) -> ExchangeError {
        let rejected = |code: String| ExchangeError::Rejected {
            code,
            message: text.clone(),
        };
        match self {
            Class::Transient | Class::Timestamp => ExchangeError::Transient(text),
            Class::RateLimited { retry_after_ms } => ExchangeError::RateLimited {
                retry_after_ms: retry_after_ms.unwrap_or(default_retry_after_ms),
            },
            Class::UnknownOutcome => ExchangeError::UnknownOutcome(text),
            Class::BadKey => rejected(reject::BAD_KEY.into()),
            Class::BadSignature => rejected(reject::BAD_SIGNATURE.into()),
            Class::NotFound => rejected(reject::UNKNOWN_ORDER.into()),
            Class::Rejected if !answered => rejected(reject::INVALID.into()),
            Class::Rejected => rejected(venue_code()),
        }
    }
}

/// An error and its chain of sources on one line (`a: b: c`): what a connector says about a
/// request that failed without an answer (the transport's error says little on its own).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

/// A venue's message as an error shows it: trimmed, and cut after 200 characters.
pub fn clip(raw: &str) -> String {
    let t = raw.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(class: Class, answered: bool) -> ExchangeError {
        class.into_error("t".into(), answered, 7, || "venue9".into())
    }

    #[test]
    fn classes_map_onto_the_interface() {
        assert_eq!(
            err(Class::Transient, true),
            ExchangeError::Transient("t".into())
        );
        assert_eq!(
            err(Class::Timestamp, true),
            ExchangeError::Transient("t".into())
        );
        assert_eq!(
            err(
                Class::RateLimited {
                    retry_after_ms: None
                },
                true
            ),
            ExchangeError::RateLimited { retry_after_ms: 7 }
        );
        assert_eq!(
            err(
                Class::RateLimited {
                    retry_after_ms: Some(9)
                },
                true
            ),
            ExchangeError::RateLimited { retry_after_ms: 9 }
        );
        assert_eq!(
            err(Class::UnknownOutcome, true),
            ExchangeError::UnknownOutcome("t".into())
        );
        let code = |e: ExchangeError| match e {
            ExchangeError::Rejected { code, .. } => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(err(Class::BadKey, true)), reject::BAD_KEY);
        assert_eq!(code(err(Class::BadSignature, true)), reject::BAD_SIGNATURE);
        assert_eq!(code(err(Class::NotFound, true)), reject::UNKNOWN_ORDER);
        assert_eq!(code(err(Class::Rejected, true)), "venue9");
        assert_eq!(code(err(Class::Rejected, false)), reject::INVALID);
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn chains_name_every_source() {
        let e = Layer(
            "send",
            Some(Box::new(Layer(
                "connect",
                Some(Box::new(Layer("refused", None))),
            ))),
        );
        assert_eq!(chain(&e), "send: connect: refused");
        assert_eq!(chain(&Layer("alone", None)), "alone");
    }

    #[test]
    fn messages_are_clipped() {
        assert_eq!(clip("  a  "), "a");
        let c = clip(&"é".repeat(300));
        assert_eq!(c.chars().count(), 201);
        assert!(c.ends_with('…'));
    }
}
