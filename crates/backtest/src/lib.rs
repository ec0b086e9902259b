//! Fast f64 backtest engine (placeholder until issue 3 lands).
