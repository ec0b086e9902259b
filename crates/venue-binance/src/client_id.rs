//! Order client ids (`newClientOrderId`) within Binance's pattern `^[a-zA-Z0-9-_]{1,36}$`, unique
//! per account for ever.
//!
//! Binance accepts a reused `newClientOrderId` once the earlier order with it has filled, so an id
//! unique only within one data directory (`sf1r3l0`) could collide with an order a former
//! installation placed on the same account, and a resent id would place a second order. A
//! generated id is `prefix` + the time in ms (base 36, 9 characters, so ids sort by creation) +
//! 96 random bits (base 62, 17 characters): two ids collide only if they are made in the same
//! millisecond *and* draw the same 96 bits.

use rand::RngCore;
use std::fmt;

/// Longest client id Binance accepts.
pub const MAX_LEN: usize = 36;
/// Longest prefix [`ClientIdGenerator`] accepts (so a generated id fits in [`MAX_LEN`]).
pub const MAX_PREFIX_LEN: usize = MAX_LEN - TIME_LEN - RANDOM_LEN;

const TIME_LEN: usize = 9;
const RANDOM_LEN: usize = 17;
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A client id Binance would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} \"{value}\" is not allowed: {allowed}")]
pub struct ClientIdError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Check `id` against `^[a-zA-Z0-9-_]{1,36}$`.
pub fn validate(id: &str) -> Result<(), ClientIdError> {
    if id.is_empty() || id.len() > MAX_LEN || !id.chars().all(allowed_char) {
        return Err(ClientIdError {
            field: "newClientOrderId",
            value: id.to_string(),
            allowed: format!("1 to {MAX_LEN} characters among A-Z a-z 0-9 - _"),
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
        f.debug_struct("ClientIdGenerator")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ClientIdGenerator {
    /// A generator of ids starting with `prefix` (0 to [`MAX_PREFIX_LEN`] characters among
    /// `A-Z a-z 0-9 - _`).
    pub fn new(prefix: &str) -> Result<Self, ClientIdError> {
        if prefix.len() > MAX_PREFIX_LEN || !prefix.chars().all(allowed_char) {
            return Err(ClientIdError {
                field: "client id prefix",
                value: prefix.to_string(),
                allowed: format!("0 to {MAX_PREFIX_LEN} characters among A-Z a-z 0-9 - _"),
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
    pub fn next_with(&self, now_ms: i64, rng: &mut impl RngCore) -> String {
        let mut id = String::with_capacity(MAX_LEN);
        id.push_str(&self.prefix);
        // Base 36, fixed width: 36^9 ms is about 3,200 years, so ids sort by time.
        let mut t = now_ms.max(0) as u64;
        let mut time = [b'0'; TIME_LEN];
        for slot in time.iter_mut().rev() {
            *slot = BASE36[(t % 36) as usize];
            t /= 36;
        }
        id.extend(time.iter().map(|&b| b as char));
        // 17 base-62 digits carry 101 bits; 96 random bits fill them.
        let mut bytes = [0u8; 12];
        rng.fill_bytes(&mut bytes);
        let mut r = bytes
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        for _ in 0..RANDOM_LEN {
            id.push(BASE62[(r % 62) as usize] as char);
            r /= 62;
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_match_the_pattern_and_sort_by_time() {
        let g = ClientIdGenerator::new("sf-").unwrap();
        let a = g.next(1_700_000_000_000);
        let b = g.next(1_700_000_000_001);
        validate(&a).unwrap();
        assert!(a.starts_with("sf-"));
        assert_eq!(a.len(), 3 + 9 + 17);
        assert!(a < b, "{a} < {b}");
        let long = ClientIdGenerator::new(&"x".repeat(MAX_PREFIX_LEN)).unwrap();
        let id = long.next(i64::MAX);
        assert_eq!(id.len(), MAX_LEN);
        validate(&id).unwrap();
    }

    #[test]
    fn ids_made_in_the_same_millisecond_differ() {
        let g = ClientIdGenerator::new("sf").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let ids: HashSet<String> = (0..10_000).map(|_| g.next_with(5, &mut rng)).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn bad_ids_and_prefixes_are_named() {
        for bad in ["", "a b", "x".repeat(37).as_str(), "a.b", "é"] {
            let e = validate(bad).unwrap_err();
            assert_eq!(e.value, bad);
        }
        validate(&"a".repeat(36)).unwrap();
        validate("A-z_09").unwrap();
        let e = ClientIdGenerator::new("sf/").unwrap_err().to_string();
        assert!(e.contains("\"sf/\"") && e.contains("prefix"), "{e}");
        assert!(ClientIdGenerator::new(&"x".repeat(MAX_PREFIX_LEN + 1)).is_err());
    }
}
