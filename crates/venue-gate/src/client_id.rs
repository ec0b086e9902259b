//! Client ids on Gate: the order's `text`.
//!
//! Gate takes a client id in `text`, which must start with `t-`; the whole `text` here is at
//! most 28 characters among digits, letters, `_`, `-` and `.` (venue-facts.md §Gate v4 allows
//! 28 after the `t-`; keeping the whole `text` within 28 satisfies either reading). Our client
//! id is the part after `t-`, so at most [`MAX_ID_LEN`] = 26 characters.
//!
//! A `text` must be unique **for ever**: Gate does not refuse a duplicate, the later order
//! *overrides* the earlier one (gateapi-go#41). The runtime never reuses a client id, and the
//! connector refuses to send one it already sent (see `GateExchange::place_order`).
//!
//! [`ClientIdGenerator`] makes ids that fit: `prefix` + the creation time in ms (base 36, 9
//! characters, so ids sort by creation) + 13 random letters and digits (about 77 bits).

use rand::Rng;
use rand::distr::Alphanumeric;
use std::fmt;

/// What every client `text` starts with.
pub const TEXT_PREFIX: &str = "t-";
/// Longest `text` sent.
pub const MAX_TEXT_LEN: usize = 28;
/// Longest client id (the `text` without `t-`).
pub const MAX_ID_LEN: usize = MAX_TEXT_LEN - TEXT_PREFIX.len();
const TIME_LEN: usize = 9;
const RANDOM_LEN: usize = 13;
/// Longest prefix [`ClientIdGenerator`] accepts (so a generated id fits in [`MAX_ID_LEN`]).
pub const MAX_PREFIX_LEN: usize = MAX_ID_LEN - TIME_LEN - RANDOM_LEN;

/// A client id Gate would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} \"{value}\" is not allowed: {allowed}")]
pub struct ClientIdError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

fn allowed_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

const ALPHABET: &str = "A-Z a-z 0-9 _ - .";

/// The `text` of client id `id`: `t-` + `id`, checked against Gate's rule.
pub fn text_of(id: &str) -> Result<String, ClientIdError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(allowed_byte) {
        return Err(ClientIdError {
            field: "client id",
            value: id.to_string(),
            allowed: format!("1 to {MAX_ID_LEN} characters among {ALPHABET} (sent as t-<id>)"),
        });
    }
    Ok(format!("{TEXT_PREFIX}{id}"))
}

/// Our client id in a `text`: what follows `t-`; empty for an order placed without one
/// (`apiv4`, `web`, `app`): that order is not ours.
pub fn client_id_of(text: &str) -> &str {
    text.strip_prefix(TEXT_PREFIX).unwrap_or("")
}

/// Makes client ids: `prefix`, creation time, randomness.
pub struct ClientIdGenerator {
    prefix: String,
}

impl fmt::Debug for ClientIdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientIdGenerator({:?})", self.prefix)
    }
}

impl ClientIdGenerator {
    /// A generator of ids starting with `prefix` (0 to [`MAX_PREFIX_LEN`] characters among
    /// Gate's alphabet).
    pub fn new(prefix: &str) -> Result<Self, ClientIdError> {
        if prefix.len() > MAX_PREFIX_LEN || !prefix.bytes().all(allowed_byte) {
            return Err(ClientIdError {
                field: "client id prefix",
                value: prefix.to_string(),
                allowed: format!("0 to {MAX_PREFIX_LEN} characters among {ALPHABET}"),
            });
        }
        Ok(Self {
            prefix: prefix.to_string(),
        })
    }

    /// A new id made at `now_ms` (epoch ms) with randomness from the thread's CSPRNG.
    pub fn next(&self, now_ms: i64) -> String {
        self.next_with(now_ms, &mut rand::rng())
    }

    /// A new id made at `now_ms` with randomness from `rng`.
    pub fn next_with(&self, now_ms: i64, rng: &mut impl Rng) -> String {
        // 36^9 ms is about 3,200 years: fixed width, so ids sort by time.
        let mut digits = [b'0'; TIME_LEN];
        let mut t = now_ms.max(0) as u64;
        for d in digits.iter_mut().rev() {
            *d = b"0123456789abcdefghijklmnopqrstuvwxyz"[(t % 36) as usize];
            t /= 36;
        }
        let mut id = self.prefix.clone();
        id.extend(digits.iter().map(|&b| char::from(b)));
        id.extend(
            rng.sample_iter(&Alphanumeric)
                .take(RANDOM_LEN)
                .map(char::from),
        );
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn texts_are_t_dash_and_at_most_28_characters() {
        assert_eq!(text_of("sf1r2l0").unwrap(), "t-sf1r2l0");
        let longest = "a".repeat(MAX_ID_LEN);
        assert_eq!(text_of(&longest).unwrap().len(), MAX_TEXT_LEN);
        text_of("a_b-c.d").unwrap();
        for bad in ["", "a b", "a/b", "é", &"x".repeat(MAX_ID_LEN + 1)] {
            let e = text_of(bad).unwrap_err();
            assert_eq!((e.field, e.value.as_str()), ("client id", bad));
            assert!(e.to_string().contains("1 to 26 characters"), "{e}");
        }
        assert_eq!(client_id_of("t-sf1"), "sf1");
        assert_eq!(client_id_of("apiv4"), "");
        assert_eq!(client_id_of("web"), "");
    }

    #[test]
    fn generated_ids_fit_and_sort_by_time() {
        let g = ClientIdGenerator::new("sf").unwrap();
        let a = g.next(1_700_000_000_000);
        let b = g.next(1_700_000_000_001);
        text_of(&a).unwrap();
        assert!(
            a.starts_with("sf") && a.len() == 2 + TIME_LEN + RANDOM_LEN,
            "{a}"
        );
        assert!(a[..11] < b[..11], "{a} < {b}");
        let long = ClientIdGenerator::new(&"x".repeat(MAX_PREFIX_LEN)).unwrap();
        let id = long.next(i64::MAX);
        assert_eq!(id.len(), MAX_ID_LEN);
        assert_eq!(text_of(&id).unwrap().len(), MAX_TEXT_LEN);
        let e = ClientIdGenerator::new("s f").unwrap_err().to_string();
        assert!(e.contains("\"s f\"") && e.contains("prefix"), "{e}");
        assert!(ClientIdGenerator::new(&"x".repeat(MAX_PREFIX_LEN + 1)).is_err());
    }

    #[test]
    fn ids_made_in_the_same_millisecond_differ() {
        let g = ClientIdGenerator::new("").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let ids: HashSet<String> = (0..10_000).map(|_| g.next_with(5, &mut rng)).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
