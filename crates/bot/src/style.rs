//! How a bot's orders are placed (`[execution]`, per bot overridable): the style (market,
//! limit at the touch, post-only maker), how long a limit order rests before it is re-priced,
//! how many times, what happens to the rest after the last one (`fallback`), the slippage guard
//! and the largest slice (in quote, or as a share of the venue's 24-hour volume). Owns the settings and their validation; the runtime's `execute` and
//! `work` modules carry them out.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use smartfolio_core::ValidationError;
use std::fmt;
use std::str::FromStr;

/// The order style of a rebalance's legs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecStyle {
    /// Market orders (buys by base quantity sized on the bot's cash), as always.
    #[default]
    Market,
    /// A limit order at the touch (a buy at the best bid, a sell at the best ask), re-priced
    /// after `limit_timeout`, then the fallback.
    Limit,
    /// As `limit`, post-only (Binance `LIMIT_MAKER`, OKX `post_only`): never pays the taker fee
    /// while resting; one that would cross is placed one tick away.
    Maker,
}

impl ExecStyle {
    pub const ALLOWED: &'static str = "market, limit or maker";

    pub fn as_str(self) -> &'static str {
        match self {
            ExecStyle::Market => "market",
            ExecStyle::Limit => "limit",
            ExecStyle::Maker => "maker",
        }
    }
}

impl fmt::Display for ExecStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecStyle {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "market" => Ok(ExecStyle::Market),
            "limit" => Ok(ExecStyle::Limit),
            "maker" => Ok(ExecStyle::Maker),
            _ => Err(ValidationError::new(
                "execution.style",
                s,
                ExecStyle::ALLOWED,
            )),
        }
    }
}

/// What happens to what a limit leg has not filled after its last re-price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The rest is sent as a market order.
    #[default]
    Market,
    /// The rest is left (the leg is reported partial; the next rebalance plans it again).
    None,
}

impl Fallback {
    pub const ALLOWED: &'static str = "market or none";

    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Market => "market",
            Fallback::None => "none",
        }
    }
}

impl FromStr for Fallback {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "market" => Ok(Fallback::Market),
            "none" => Ok(Fallback::None),
            _ => Err(ValidationError::new(
                "execution.fallback",
                s,
                Fallback::ALLOWED,
            )),
        }
    }
}

fn d_timeout() -> i64 {
    ExecutionConfig::DEFAULT_LIMIT_TIMEOUT_MS
}
fn d_reprices() -> u32 {
    ExecutionConfig::DEFAULT_REPRICES
}
fn d_slice_interval() -> i64 {
    ExecutionConfig::DEFAULT_SLICE_INTERVAL_MS
}

/// A bot's execution settings. The default is market orders: nothing changes for a bot created
/// without them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutionConfig {
    #[serde(default)]
    pub style: ExecStyle,
    /// How long (the bot's clock) a limit order rests before it is canceled and re-priced.
    #[serde(default = "d_timeout")]
    pub limit_timeout_ms: i64,
    /// How many times a limit leg is re-priced at the new touch before the fallback.
    #[serde(default = "d_reprices")]
    pub reprices: u32,
    #[serde(default)]
    pub fallback: Fallback,
    /// A price further than this from the plan's price (basis points) stops the rebalance
    /// placing new orders; it is planned again at the next tick. None: no guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_slippage_bps: Option<Decimal>,
    /// The largest order of a leg, in quote: a larger leg is worked in slices of at most this.
    /// None: one order per leg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_slice: Option<Decimal>,
    /// A participation cap, a fraction in (0, 1]: a slice is at most this share of the quote
    /// volume the venue expects in one `slice_interval` (its last 24 hours' quote volume ×
    /// `slice_interval` / 24 h, read once when the leg starts). With `max_slice` too, the
    /// smaller cap wins. None: no volume cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_volume_share: Option<Decimal>,
    /// How long (the bot's clock) after one slice of a leg ends the next is sent (TWAP).
    #[serde(default = "d_slice_interval")]
    pub slice_interval_ms: i64,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            style: ExecStyle::Market,
            limit_timeout_ms: d_timeout(),
            reprices: d_reprices(),
            fallback: Fallback::Market,
            max_slippage_bps: None,
            max_slice: None,
            max_volume_share: None,
            slice_interval_ms: d_slice_interval(),
        }
    }
}

impl ExecutionConfig {
    pub const DEFAULT_LIMIT_TIMEOUT_MS: i64 = 60_000;
    pub const DEFAULT_REPRICES: u32 = 3;
    pub const DEFAULT_SLICE_INTERVAL_MS: i64 = 60_000;
    /// The longest a limit order rests before it is re-priced: one day.
    pub const MAX_LIMIT_TIMEOUT_MS: i64 = 86_400_000;
    pub const MAX_REPRICES: u32 = 20;
    /// The most slices one leg is cut into (a smaller `max_slice` makes larger slices).
    pub const MAX_SLICES: u32 = 1_000;
    /// What `limit_timeout` allows, as the error says it.
    pub const TIMEOUT_ALLOWED: &'static str = "a duration from 1 ms to 1 day (86400000 ms)";
    pub const SLIPPAGE_ALLOWED: &'static str = "basis points in (0, 10000]";
    pub const REPRICES_ALLOWED: &'static str = "a number of re-prices from 0 to 20";
    pub const SLICE_ALLOWED: &'static str = "a quote amount > 0 (leave it out for whole legs)";
    pub const VOLUME_SHARE_ALLOWED: &'static str =
        "a fraction in (0, 1] of the volume in one slice_interval (leave it out for no volume cap)";
    /// One day, the window of a venue's volume (ms).
    pub const DAY_MS: i64 = 86_400_000;
    pub const SLICE_INTERVAL_ALLOWED: &'static str = "a duration from 1 ms to 1 day (86400000 ms)";

    /// Whether orders rest on the book (limit or maker).
    pub fn rests(&self) -> bool {
        self.style != ExecStyle::Market
    }

    /// Whether a leg is worked order by order (see the runtime's `work`): it rests, or it is
    /// sliced (`max_slice` or `max_volume_share`).
    pub fn worked(&self) -> bool {
        self.rests() || self.max_slice.is_some() || self.max_volume_share.is_some()
    }

    /// The volume cap of one slice: `max_volume_share` × `volume_24h` × `slice_interval` /
    /// 24 h. None without `max_volume_share`, or without a volume above zero.
    pub fn volume_cap(&self, volume_24h: Option<Decimal>) -> Option<Decimal> {
        let share = self.max_volume_share.filter(|s| *s > Decimal::ZERO)?;
        let v = volume_24h.filter(|v| *v > Decimal::ZERO)?;
        let cap = share * v * Decimal::from(self.slice_interval_ms) / Decimal::from(Self::DAY_MS);
        (cap > Decimal::ZERO).then_some(cap)
    }

    /// The largest slice of a leg, in quote: the smaller of `max_slice` and the volume cap
    /// ([`Self::volume_cap`] of `volume_24h`); None: neither applies.
    pub fn slice_cap(&self, volume_24h: Option<Decimal>) -> Option<Decimal> {
        let fixed = self.max_slice.filter(|s| *s > Decimal::ZERO);
        match (fixed, self.volume_cap(volume_24h)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many slices a leg of `notional` (quote) is worked in: the fewest of at most
    /// [`Self::slice_cap`] each (the venue's 24-hour quote volume `volume_24h`, where
    /// `max_volume_share` is set), at most [`Self::MAX_SLICES`]; one without a cap.
    pub fn slices(&self, notional: Decimal, volume_24h: Option<Decimal>) -> u32 {
        match self.slice_cap(volume_24h) {
            Some(s) if notional > s => (notional / s)
                .ceil()
                .to_u32()
                .unwrap_or(u32::MAX)
                .clamp(1, Self::MAX_SLICES),
            _ => 1,
        }
    }

    /// Check every field; the error names the field (`execution.*`), the value and the range.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(1..=Self::MAX_LIMIT_TIMEOUT_MS).contains(&self.limit_timeout_ms) {
            return Err(ValidationError::new(
                "execution.limit_timeout",
                format!("{} ms", self.limit_timeout_ms),
                Self::TIMEOUT_ALLOWED,
            ));
        }
        if self.reprices > Self::MAX_REPRICES {
            return Err(ValidationError::new(
                "execution.reprices",
                self.reprices.to_string(),
                Self::REPRICES_ALLOWED,
            ));
        }
        if let Some(bps) = self.max_slippage_bps
            && (bps <= Decimal::ZERO || bps > Decimal::from(10_000))
        {
            return Err(ValidationError::new(
                "execution.max_slippage_bps",
                bps.normalize().to_string(),
                Self::SLIPPAGE_ALLOWED,
            ));
        }
        if let Some(s) = self.max_slice
            && (s <= Decimal::ZERO || s > smartfolio_core::limits::AMOUNT.max)
        {
            return Err(ValidationError::new(
                "execution.max_slice",
                s.normalize().to_string(),
                Self::SLICE_ALLOWED,
            ));
        }
        if let Some(s) = self.max_volume_share
            && (s <= Decimal::ZERO || s > Decimal::ONE)
        {
            return Err(ValidationError::new(
                "execution.max_volume_share",
                s.normalize().to_string(),
                Self::VOLUME_SHARE_ALLOWED,
            ));
        }
        if !(1..=Self::MAX_LIMIT_TIMEOUT_MS).contains(&self.slice_interval_ms) {
            return Err(ValidationError::new(
                "execution.slice_interval",
                format!("{} ms", self.slice_interval_ms),
                Self::SLICE_INTERVAL_ALLOWED,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(c: ExecutionConfig) -> String {
        c.validate().expect_err("refused").to_string()
    }

    #[test]
    fn the_default_is_market_and_valid() {
        let c = ExecutionConfig::default();
        assert_eq!(c.style, ExecStyle::Market);
        assert_eq!((c.limit_timeout_ms, c.reprices), (60_000, 3));
        assert_eq!(c.fallback, Fallback::Market);
        c.validate().unwrap();
        // A stored config without the section reads as the default.
        let read: ExecutionConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(read, c);
    }

    #[test]
    fn a_leg_is_cut_into_the_fewest_slices_of_at_most_max_slice() {
        let mut c = ExecutionConfig::default();
        assert_eq!(c.slices(Decimal::from(1_000_000), None), 1);
        c.max_slice = Some(Decimal::from(100));
        assert_eq!(c.slices(Decimal::from(100), None), 1);
        assert_eq!(c.slices(Decimal::new(10001, 2), None), 2);
        assert_eq!(c.slices(Decimal::from(250), None), 3);
        assert_eq!(
            c.slices(Decimal::from(10_000_000), None),
            ExecutionConfig::MAX_SLICES
        );
        // A volume read changes nothing without max_volume_share.
        assert_eq!(c.slices(Decimal::from(250), Some(Decimal::from(10))), 3);
        assert!(c.worked() && !c.rests());
    }

    #[test]
    fn the_volume_share_caps_a_slice_at_its_part_of_one_intervals_volume() {
        use rust_decimal_macros::dec;
        // 10% of 2,880,000 a day over 5 minutes (1/288 of a day): 1000 quote a slice.
        let mut c = ExecutionConfig {
            max_volume_share: Some(dec!(0.1)),
            slice_interval_ms: 300_000,
            ..Default::default()
        };
        assert!(c.worked() && !c.rests());
        let v = Some(dec!(2880000));
        assert_eq!(c.volume_cap(v), Some(dec!(1000)));
        assert_eq!(c.slices(dec!(1000), v), 1);
        assert_eq!(c.slices(dec!(1000.01), v), 2);
        assert_eq!(c.slices(dec!(4500), v), 5);
        // No volume (or none above zero): no cap, the leg is whole.
        assert_eq!(c.volume_cap(None), None);
        assert_eq!(c.volume_cap(Some(dec!(0))), None);
        assert_eq!(c.slices(dec!(4500), None), 1);
        assert_eq!(c.slices(dec!(4500), Some(dec!(0))), 1);
        // With max_slice too the smaller cap wins, either way round.
        c.max_slice = Some(dec!(600));
        assert_eq!(c.slice_cap(v), Some(dec!(600)));
        assert_eq!(c.slices(dec!(4500), v), 8);
        c.max_slice = Some(dec!(2000));
        assert_eq!(c.slice_cap(v), Some(dec!(1000)));
        assert_eq!(c.slices(dec!(4500), v), 5);
        // Without a volume max_slice alone.
        assert_eq!(c.slices(dec!(4500), None), 3);
        // A thin market: clamped to the most slices.
        c.max_slice = None;
        assert_eq!(
            c.slices(dec!(1000000), Some(dec!(2880))),
            ExecutionConfig::MAX_SLICES
        );
        // A share of 1 (the whole expected volume) is allowed.
        c.max_volume_share = Some(Decimal::ONE);
        c.validate().unwrap();
        assert_eq!(c.volume_cap(v), Some(dec!(10000)));
        // Read back from a stored config; left out when unset.
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"max_volume_share\":\"1\""), "{json}");
        let read: ExecutionConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(read, c);
        let unset = serde_json::to_string(&ExecutionConfig::default()).unwrap();
        assert!(!unset.contains("max_volume_share"), "{unset}");
    }

    #[test]
    fn a_volume_share_outside_zero_to_one_is_refused_naming_the_value_and_the_range() {
        use rust_decimal_macros::dec;
        for (bad, shown) in [(dec!(0), "0"), (dec!(-0.1), "-0.1"), (dec!(1.5), "1.5")] {
            let e = refused(ExecutionConfig {
                max_volume_share: Some(bad),
                ..Default::default()
            });
            assert!(
                e.contains("execution.max_volume_share") && e.contains(shown),
                "{e}"
            );
            assert!(e.contains("a fraction in (0, 1]"), "{e}");
        }
    }

    #[test]
    fn bad_settings_name_the_field_the_value_and_the_range() {
        let e = refused(ExecutionConfig {
            limit_timeout_ms: 0,
            ..Default::default()
        });
        assert!(
            e.contains("execution.limit_timeout") && e.contains("0 ms"),
            "{e}"
        );
        assert!(e.contains("1 ms to 1 day"), "{e}");
        let e = refused(ExecutionConfig {
            max_slippage_bps: Some(Decimal::new(-5, 0)),
            ..Default::default()
        });
        assert!(
            e.contains("execution.max_slippage_bps") && e.contains("-5"),
            "{e}"
        );
        assert!(e.contains("(0, 10000]"), "{e}");
        let e = refused(ExecutionConfig {
            reprices: 21,
            ..Default::default()
        });
        assert!(e.contains("execution.reprices") && e.contains("21"), "{e}");
        let e = refused(ExecutionConfig {
            max_slice: Some(Decimal::ZERO),
            ..Default::default()
        });
        assert!(e.contains("execution.max_slice"), "{e}");
        let e = refused(ExecutionConfig {
            slice_interval_ms: 0,
            ..Default::default()
        });
        assert!(
            e.contains("execution.slice_interval") && e.contains("0 ms"),
            "{e}"
        );
        assert!(e.contains("1 ms to 1 day"), "{e}");
        let e = "taker".parse::<ExecStyle>().unwrap_err().to_string();
        assert!(e.contains("execution.style") && e.contains("taker"), "{e}");
        assert!(e.contains("market, limit or maker"), "{e}");
        let e = "twap".parse::<Fallback>().unwrap_err().to_string();
        assert!(
            e.contains("execution.fallback") && e.contains("market or none"),
            "{e}"
        );
    }
}
