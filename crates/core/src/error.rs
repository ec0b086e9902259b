//! Validation errors that name the field, the value and what is allowed.

use std::fmt;

/// A rejected input. Its message always says which field, which value, and what is allowed,
/// e.g. `targets: "BTC=50,ETH=30" sums to 80; allowed: weights summing to 100 (±1e-9)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl ValidationError {
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}: {:?}; allowed: {}",
            self.field, self.value, self.allowed
        )
    }
}
