//! Order client ids (`clOrdId`): 1 to 32 letters and digits (OKX: "a combination of
//! case-sensitive alphanumerics, all numbers, or all letters of up to 32 characters"), unique
//! per account for ever.
//!
//! A generated id is `prefix` + the creation time in ms (base 36, 9 characters, so ids sort by
//! creation) + 17 random letters and digits (about 101 bits): two ids collide only if they are
//! made in the same millisecond *and* draw the same 17 characters. No separator: OKX refuses
//! `-` and `_` in a `clOrdId`.

use rand::Rng;
use rand::distr::Alphanumeric;
use std::fmt;

/// Longest client id OKX accepts.
pub const MAX_LEN: usize = 32;
const TIME_LEN: usize = 9;
const RANDOM_LEN: usize = 17;
/// Longest prefix [`ClientIdGenerator`] accepts (so a generated id fits in [`MAX_LEN`]).
pub const MAX_PREFIX_LEN: usize = MAX_LEN - TIME_LEN - RANDOM_LEN;

/// A client id OKX would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} \"{value}\" is not allowed: {allowed}")]
pub struct ClientIdError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

/// Check `id` against OKX's rule: 1 to 32 characters among `A-Z a-z 0-9`.
pub fn validate(id: &str) -> Result<(), ClientIdError> {
    if id.is_empty() || id.len() > MAX_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ClientIdError {
            field: "clOrdId",
            value: id.to_string(),
            allowed: format!("1 to {MAX_LEN} characters among A-Z a-z 0-9"),
        });
    }
    Ok(())
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
    /// A generator of ids starting with `prefix` (0 to [`MAX_PREFIX_LEN`] letters and digits).
    pub fn new(prefix: &str) -> Result<Self, ClientIdError> {
        if prefix.len() > MAX_PREFIX_LEN || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ClientIdError {
                field: "client id prefix",
                value: prefix.to_string(),
                allowed: format!("0 to {MAX_PREFIX_LEN} characters among A-Z a-z 0-9"),
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
        let mut digits = Vec::with_capacity(TIME_LEN);
        let mut t = now_ms.max(0) as u64;
        for _ in 0..TIME_LEN {
            digits.push(char::from_digit((t % 36) as u32, 36).unwrap_or('0'));
            t /= 36;
        }
        let time: String = digits.into_iter().rev().collect();
        let random: String = rng
            .sample_iter(&Alphanumeric)
            .take(RANDOM_LEN)
            .map(char::from)
            .collect();
        format!("{}{time}{random}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_alphanumeric_fit_and_sort_by_time() {
        let g = ClientIdGenerator::new("sf").unwrap();
        let a = g.next(1_700_000_000_000);
        let b = g.next(1_700_000_000_001);
        validate(&a).unwrap();
        assert!(a.starts_with("sf") && a.len() == 2 + 9 + 17, "{a}");
        assert!(a[..11] < b[..11], "{a} < {b}");
        let long = ClientIdGenerator::new(&"x".repeat(MAX_PREFIX_LEN)).unwrap();
        let id = long.next(i64::MAX);
        assert_eq!(id.len(), MAX_LEN);
        validate(&id).unwrap();
    }

    #[test]
    fn ids_made_in_the_same_millisecond_differ() {
        let g = ClientIdGenerator::new("").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let ids: HashSet<String> = (0..10_000).map(|_| g.next_with(5, &mut rng)).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn bad_ids_and_prefixes_are_named() {
        for bad in ["", "a-b", "a_b", &"x".repeat(33), "é"] {
            let e = validate(bad).unwrap_err();
            assert_eq!((e.field, e.value.as_str()), ("clOrdId", bad));
        }
        validate(&"a".repeat(32)).unwrap();
        validate("rb1").unwrap();
        let e = ClientIdGenerator::new("sf-").unwrap_err().to_string();
        assert!(e.contains("\"sf-\"") && e.contains("prefix"), "{e}");
        assert!(ClientIdGenerator::new(&"x".repeat(MAX_PREFIX_LEN + 1)).is_err());
    }
}
