//! Durations written the way people write them in config files: `500ms`, `30s`, `5m`, `1h 30m`.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A `std::time::Duration` read from a humantime string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(Duration).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration {s:?} ({e}); write it like \"30s\" or \"5m\""))
        })
    }
}
