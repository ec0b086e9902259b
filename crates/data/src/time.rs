//! Timestamp parsing and formatting (UTC epoch milliseconds), with a fast path for the ISO forms
//! the data files use.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// `YYYY-MM-DD`, optionally followed by `THH:MM[:SS]` or ` HH:MM[:SS]` and an optional `Z`.
fn fast_iso(s: &[u8]) -> Option<i64> {
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut rest = &s[10..];
    let mut secs = 0;
    if !rest.is_empty() {
        if rest[0] != b'T' && rest[0] != b' ' {
            return None;
        }
        rest = &rest[1..];
        if rest.last() == Some(&b'Z') {
            rest = &rest[..rest.len() - 1];
        }
        let (h, mi, se) = match rest.len() {
            5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?, 0),
            8 if rest[2] == b':' && rest[5] == b':' => (
                digits(&rest[0..2])?,
                digits(&rest[3..5])?,
                digits(&rest[6..8])?,
            ),
            _ => return None,
        };
        if h > 23 || mi > 59 || se > 59 {
            return None;
        }
        secs = h * 3600 + mi * 60 + se;
    }
    Some((days_from_civil(y, m, d) * 86_400 + secs) * 1000)
}

/// Parse a timestamp into UTC epoch milliseconds. Accepted: `2021-01-01` (midnight UTC),
/// `2024-01-21T07:00:00Z`, `2024-01-21 07:00:00`, any RFC 3339 time with an offset, and integer
/// epoch seconds or milliseconds (values of 10^11 and above are taken as milliseconds).
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(ms) = fast_iso(s.as_bytes()) {
        return Some(ms);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 15 {
        let v: i64 = s.parse().ok()?;
        return Some(if v >= 100_000_000_000 { v } else { v * 1000 });
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// ISO-8601 UTC: `2024-01-21` for midnight, `2024-01-21T07:00:00Z` otherwise.
pub fn format_time_ms(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) if ms.rem_euclid(86_400_000) == 0 => t.format("%Y-%m-%d").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in [
            "1970-01-01",
            "2020-02-29",
            "2024-01-21T07:00:00Z",
            "2024-12-31 23:59:59",
            "2000-03-01T00:00",
            "1999-12-31T12:30:00Z",
        ] {
            let fast = fast_iso(s.as_bytes()).unwrap();
            let slow = NaiveDateTime::parse_from_str(
                &format!(
                    "{} {}",
                    &s[..10],
                    if s.len() > 10 {
                        let t = s[11..].trim_end_matches('Z');
                        if t.len() == 5 {
                            format!("{t}:00")
                        } else {
                            t.to_string()
                        }
                    } else {
                        "00:00:00".into()
                    }
                ),
                "%Y-%m-%d %H:%M:%S",
            )
            .unwrap()
            .and_utc()
            .timestamp_millis();
            assert_eq!(fast, slow, "{s}");
        }
    }

    #[test]
    fn accepted_and_rejected_forms() {
        assert_eq!(parse_time_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time_ms("86400"), Some(86_400_000));
        assert_eq!(parse_time_ms("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(
            parse_time_ms("2024-01-01T01:00:00+01:00"),
            parse_time_ms("2024-01-01")
        );
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "yesterday",
            "2024-01-01T25:00:00Z",
        ] {
            assert_eq!(parse_time_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn format_round_trips() {
        for s in ["2024-02-29", "2024-01-21T07:00:00Z"] {
            assert_eq!(format_time_ms(parse_time_ms(s).unwrap()), s);
        }
    }
}
