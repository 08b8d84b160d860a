//! Prometheus duration strings (`1m30s`, `500ms`, `2d`, `1y`), parsed and printed the way the
//! Prometheus common library (`model.ParseDuration`, `Duration.String`) does, since
//! blackbox_exporter reads a module's `timeout` with it.

use std::time::Duration;

/// Why a duration string was rejected; the texts follow Prometheus' own messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string was empty.
    #[error("empty duration string")]
    Empty,
    /// Not a sequence of `<digits><unit>` with units from largest to smallest.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// A unit outside `y w d h m s ms`.
    #[error("unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit {
        /// The offending unit.
        unit: String,
        /// The whole duration string.
        text: String,
    },
    /// Longer than Go's `time.Duration` can hold (about 292 years).
    #[error("duration out of range")]
    OutOfRange,
}

/// Units in the only order Prometheus accepts them, with their length in milliseconds.
/// A year is 365 days and a week 7 days (Prometheus `model/time.go`).
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Largest duration Go's `time.Duration` (signed 64-bit nanoseconds) can hold, in milliseconds.
const MAX_MILLIS: u64 = (i64::MAX as u64) / 1_000_000;

/// Parses a Prometheus duration such as `5s`, `1m30s`, `500ms`, `1h`, `2d`, `1w` or `1y`; `0`
/// alone is accepted without a unit. There is no sign, fraction or space.
///
/// # Errors
/// [`DurationError`] naming what is wrong, worded as Prometheus words it.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    match text {
        "" => return Err(DurationError::Empty),
        "0" => return Ok(Duration::ZERO),
        _ => {}
    }
    let invalid = || DurationError::Invalid(text.to_string());
    let mut rest = text;
    let mut total_ms: u64 = 0;
    // Index into UNITS of the last unit seen; the next one must come strictly later.
    let mut next_allowed = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_string(),
                text: text.to_string(),
            });
        };
        if index < next_allowed {
            return Err(invalid());
        }
        next_allowed = index + 1;
        let part = value
            .checked_mul(UNITS[index].1)
            .ok_or(DurationError::OutOfRange)?;
        total_ms = total_ms
            .checked_add(part)
            .filter(|ms| *ms <= MAX_MILLIS)
            .ok_or(DurationError::OutOfRange)?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Prints a duration as Prometheus does (`Duration.String`): millisecond precision, `0s` for
/// zero, and years or weeks only when they divide the remainder exactly (so `90d`, not `12w6d`).
pub fn format_duration(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (index, (unit, mult)) in UNITS.iter().enumerate() {
        let exact_only = index < 2;
        if exact_only && ms % mult != 0 {
            continue;
        }
        let count = ms / mult;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
            ms -= count * mult;
        }
    }
    out
}
