//! Error classification for exit codes: bad input exits 2, everything else 1.

use smartfolio_core::ValidationError;
use std::fmt;

/// Bad input that is not a core [`ValidationError`]: an unreadable file, a malformed line, a
/// flag that does not parse. The message names the field (or file and line), the value and
/// what is allowed.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// 2 when any error in the chain is bad input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad_input = e.chain().any(|c| {
        c.is::<ValidationError>()
            || c.is::<InputError>()
            || c.downcast_ref::<smartfolio_node::NodeError>()
                .is_some_and(smartfolio_node::NodeError::is_input)
            || c.downcast_ref::<smartfolio_server::ServeError>()
                .is_some_and(smartfolio_server::ServeError::is_input)
            || c.downcast_ref::<smartfolio_sim::SimError>()
                .is_some_and(smartfolio_sim::SimError::is_input)
    });
    if bad_input { 2 } else { 1 }
}
