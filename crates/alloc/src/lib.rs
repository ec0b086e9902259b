//! Allocation methods (placeholder until issue 4 lands).
