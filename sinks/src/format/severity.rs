//! Severity of a record for CEF and LEEF, from a table keyed by Action.
//!
//! Netwrix records carry no severity, and Netwrix's own CEF export always sends `0`,
//! which leaves a SIEM nothing to rank by. The bridge ranks by Action: failed
//! attempts highest, removals next, changes, then reads and logons. A person can
//! override any entry or add actions (`[sink.cef.severity]`, `[sink.leef.severity]`)
//! and set the level of every action the table does not name (`default_severity`).

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// A severity level, 0 (lowest) to 10 (highest), checked when the config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    /// `n` capped at 10.
    pub const fn new(n: u8) -> Level {
        Level(if n > 10 { 10 } else { n })
    }

    /// The level, 0..=10.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if (0..=10).contains(&n) {
            Ok(Level(n as u8))
        } else {
            Err(serde::de::Error::custom(format!("a severity is 0 to 10, not {n}")))
        }
    }
}

/// The level of the actions the built-in table does not name, when the config sets none.
pub const DEFAULT_LEVEL: Level = Level(3);

/// The built-in table: Netwrix Auditor's actions and their level.
pub const BUILT_IN: &[(&str, u8)] = &[
    ("Failed Logon", 7),
    ("Failed Read", 6),
    ("Failed Add", 7),
    ("Failed Modify", 7),
    ("Failed Remove", 7),
    ("Failed Move", 7),
    ("Failed Rename", 7),
    ("Removed", 5),
    ("Added", 4),
    ("Modified", 4),
    ("Moved", 4),
    ("Renamed", 4),
    ("Activated", 4),
    ("Copied", 3),
    ("Checked in", 3),
    ("Checked out", 3),
    ("Discarded check out", 3),
    ("Sent", 2),
    ("Read", 2),
    ("Successful Logon", 2),
    ("Session start", 2),
    ("Session end", 1),
    ("Logoff", 1),
];

/// Looks up `action`: the config's own entries first, then the built-in table, then
/// `default`. Matching is exact (Netwrix's action names are fixed, untranslated text).
pub fn level(action: &str, overrides: &BTreeMap<String, Level>, default: Level) -> Level {
    if let Some(level) = overrides.get(action) {
        return *level;
    }
    BUILT_IN.iter().find(|(a, _)| *a == action).map_or(default, |(_, n)| Level(*n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_then_built_in_then_default() {
        let mut table = BTreeMap::new();
        table.insert("Read".to_owned(), Level::new(9));
        assert_eq!(level("Read", &table, Level::new(1)).get(), 9);
        assert_eq!(level("Failed Logon", &table, Level::new(1)).get(), 7);
        assert_eq!(level("Something new", &table, Level::new(1)).get(), 1);
        assert!(
            level("Failed Logon", &BTreeMap::new(), DEFAULT_LEVEL)
                > level("Successful Logon", &BTreeMap::new(), DEFAULT_LEVEL)
        );
    }

    #[test]
    fn out_of_range_levels_are_refused() {
        #[derive(Deserialize)]
        struct T {
            #[allow(dead_code)]
            s: Level,
        }
        let err = serde_json::from_str::<T>(r#"{"s": 11}"#).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("0 to 10"), "{err}");
        assert!(serde_json::from_str::<T>(r#"{"s": 10}"#).is_ok());
    }
}
