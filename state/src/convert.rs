//! Checked conversions between our unsigned counters and SQLite's `i64`.
//!
//! rusqlite only maps `u64` behind an optional feature, and a silent `as` cast
//! could turn a huge value negative. Every crossing goes through here instead,
//! so an impossible value becomes an error rather than a wrong cursor.

use crate::StateError;

/// A `u64` about to be stored.
pub(crate) fn to_db(what: &'static str, value: u64) -> Result<i64, StateError> {
    i64::try_from(value).map_err(|_| StateError::OutOfRange { what, value })
}

/// An `i64` just read that must be non-negative.
pub(crate) fn from_db(what: &'static str, value: i64) -> Result<u64, StateError> {
    u64::try_from(value).map_err(|_| StateError::Corrupt(format!("{what} is negative ({value})")))
}

/// A `usize` count (row limit) as an SQLite integer, saturating: "more rows
/// than i64::MAX" means "no limit" in practice.
pub(crate) fn limit_to_db(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Milliseconds since the Unix epoch, for timestamps this crate stamps itself.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
