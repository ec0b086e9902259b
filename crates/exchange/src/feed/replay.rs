//! Replay of price history, one tick per bar.

use super::{FeedError, Pacer, PriceFeed, PriceTick};
use async_trait::async_trait;
use rust_decimal::Decimal;
use smartfolio_core::targets::normalize_symbol;
use smartfolio_data::{LoadOptions, PriceTable};
use std::path::Path;
use std::str::FromStr;

/// How a [`ReplayFeed`] plays its history.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReplayOptions {
    /// Milliseconds of history per millisecond of wall time (3600: one hour of history per
    /// second; 1: real time). `None`: as fast as the consumer takes ticks.
    pub speed: Option<f64>,
    /// Start at the first bar at or after this time (UTC epoch ms); `None`: the first bar.
    pub start_ms: Option<i64>,
}

/// The bars of a [`PriceTable`] as ticks, prices converted to `Decimal` once, up front.
#[derive(Debug, Clone)]
pub struct ReplayFeed {
    assets: Vec<String>,
    quote: String,
    times_ms: Vec<i64>,
    /// Row-major like the table.
    prices: Vec<Decimal>,
    next: usize,
    pacer: Pacer,
}

/// The shortest decimal that round-trips to `x` (Rust's `Display` of an `f64`), as a `Decimal`.
pub(crate) fn decimal_from_f64(x: f64) -> Option<Decimal> {
    if !x.is_finite() {
        return None;
    }
    Decimal::from_str(&x.to_string())
        .or_else(|_| Decimal::from_scientific(&format!("{x:e}")))
        .ok()
        .map(|d| d.normalize())
}

impl ReplayFeed {
    /// A replay of `table`, priced in `quote`. Every price must be finite and > 0 and representable
    /// as a decimal; the error names the asset, the bar's time and the value.
    pub fn new(table: &PriceTable, quote: &str, options: ReplayOptions) -> Result<Self, FeedError> {
        let quote =
            normalize_symbol("replay.quote", quote).map_err(|e| FeedError(e.to_string()))?;
        if let Some(speed) = options.speed
            && !(speed.is_finite() && speed > 0.0)
        {
            return Err(FeedError(format!(
                "invalid replay.speed: {speed}; allowed: a number > 0 of history milliseconds per wall millisecond (e.g. 3600 = one hour per second), or none for as fast as possible"
            )));
        }
        let n = table.n_assets();
        if n == 0 {
            return Err(FeedError("invalid replay table: it has no assets".into()));
        }
        if table.prices.len() != table.n_bars() * n {
            return Err(FeedError(format!(
                "invalid replay table: {} prices for {} bars × {} assets",
                table.prices.len(),
                table.n_bars(),
                n
            )));
        }
        if table.times_ms.windows(2).any(|w| w[1] <= w[0]) {
            return Err(FeedError(
                "invalid replay table: bar times are not strictly increasing".into(),
            ));
        }
        let first = options
            .start_ms
            .map_or(0, |s| table.times_ms.partition_point(|&t| t < s));
        let mut prices = Vec::with_capacity((table.n_bars() - first) * n);
        for t in first..table.n_bars() {
            for (i, &x) in table.row(t).iter().enumerate() {
                let d = decimal_from_f64(x)
                    .filter(|d| *d > Decimal::ZERO)
                    .ok_or_else(|| {
                        FeedError(format!(
                            "invalid price of {} at {}: {x}; allowed: a finite number > 0",
                            table.assets[i],
                            smartfolio_data::format_time_ms(table.times_ms[t])
                        ))
                    })?;
                prices.push(d);
            }
        }
        Ok(Self {
            assets: table.assets.clone(),
            quote,
            times_ms: table.times_ms[first..].to_vec(),
            prices,
            next: 0,
            pacer: Pacer::new(options.speed),
        })
    }

    /// Load history with [`smartfolio_data::load`] (a folder in the `../shared/data` layouts
    /// or a wide CSV) and replay it.
    pub fn load(
        path: &Path,
        load: &LoadOptions,
        quote: &str,
        options: ReplayOptions,
    ) -> Result<Self, FeedError> {
        let table = smartfolio_data::load(path, load)?;
        Self::new(&table, quote, options)
    }

    /// How many ticks the replay has in all (from its start).
    pub fn len(&self) -> usize {
        self.times_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times_ms.is_empty()
    }

    /// How many ticks are still to come.
    pub fn remaining(&self) -> usize {
        self.times_ms.len() - self.next
    }

    /// The next tick without waiting (ignores the speed).
    pub fn next_now(&mut self) -> Option<PriceTick> {
        let t = self.next;
        let time_ms = *self.times_ms.get(t)?;
        self.next += 1;
        let n = self.assets.len();
        Some(PriceTick {
            time_ms,
            prices: self
                .assets
                .iter()
                .cloned()
                .zip(self.prices[t * n..(t + 1) * n].iter().copied())
                .collect(),
        })
    }
}

#[async_trait]
impl PriceFeed for ReplayFeed {
    fn assets(&self) -> &[String] {
        &self.assets
    }

    fn quote(&self) -> &str {
        &self.quote
    }

    async fn next_tick(&mut self) -> Option<PriceTick> {
        let time_ms = *self.times_ms.get(self.next)?;
        self.pacer.wait(time_ms).await;
        self.next_now()
    }
}
