//! The bearer token of mutating routes: 32 random bytes, hex; generated on first start, shown
//! once, stored only as its SHA-256 (hex) in `<data dir>/api-token.sha256`.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The file holding the token's hash.
pub const TOKEN_FILE: &str = "api-token.sha256";

/// Checks presented tokens against the stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCheck {
    hash: [u8; 32],
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl TokenCheck {
    /// A check for `token` (tests, or a token from the environment).
    pub fn for_token(token: &str) -> Self {
        Self {
            hash: sha256(token),
        }
    }

    /// A new random token and its check.
    pub fn generate() -> (Self, String) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        (Self::for_token(&token), token)
    }

    /// Whether `presented` is the token (constant time in the hash comparison).
    pub fn verify(&self, presented: &str) -> bool {
        let h = sha256(presented.trim());
        let mut diff = 0u8;
        for (a, b) in h.iter().zip(self.hash.iter()) {
            diff |= a ^ b;
        }
        diff == 0
    }

    /// Load the stored hash from `dir`, or create a token (returned in clear, to show once)
    /// when there is none or `reset` is asked.
    pub fn load_or_create(dir: &Path, reset: bool) -> std::io::Result<(Self, Option<String>)> {
        let path = token_path(dir);
        if !reset && let Ok(text) = std::fs::read_to_string(&path) {
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(text.trim(), &mut hash).is_ok() {
                return Ok((Self { hash }, None));
            }
            tracing::warn!(
                "{} is not a SHA-256 hex digest: generating a new token",
                path.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        let (check, token) = Self::generate();
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            writeln!(f, "{}", hex::encode(check.hash))?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok((check, Some(token)))
    }
}

pub fn token_path(dir: &Path) -> PathBuf {
    dir.join(TOKEN_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_hashed_and_shown_once() {
        let dir = tempfile::tempdir().unwrap();
        let (check, token) = TokenCheck::load_or_create(dir.path(), false).unwrap();
        let token = token.expect("first start shows the token");
        assert_eq!(token.len(), 64);
        let stored = std::fs::read_to_string(token_path(dir.path())).unwrap();
        assert!(!stored.contains(&token), "the token is not stored in clear");
        assert_eq!(stored.trim(), hex::encode(Sha256::digest(token.as_bytes())));
        let (again, shown) = TokenCheck::load_or_create(dir.path(), false).unwrap();
        assert!(shown.is_none(), "a second start does not show it");
        assert_eq!(again, check);
        assert!(again.verify(&token));
        assert!(!again.verify("nope"));
        let (reset, new_token) = TokenCheck::load_or_create(dir.path(), true).unwrap();
        let new_token = new_token.unwrap();
        assert_ne!(new_token, token);
        assert!(reset.verify(&new_token) && !reset.verify(&token));
    }
}
