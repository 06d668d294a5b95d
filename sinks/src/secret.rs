//! Secrets in the config: written as `${VAR}` (an environment variable) or
//! `${file:PATH}` (a file's content, trailing newline removed), or literally.
//!
//! A [`Secret`] never prints its value: `Debug` and `Display` show `***`, so
//! `validate`, `status` and logs cannot leak it.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A resolved secret value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Resolves `${VAR}` / `${file:PATH}` references; other text is taken literally.
    pub fn resolve(raw: &str) -> Result<Secret, String> {
        let Some(inner) = raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
            return Ok(Secret(raw.to_owned()));
        };
        if let Some(path) = inner.strip_prefix("file:") {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read secret file {path}: {e}"))?;
            return Ok(Secret(text.trim_end_matches(['\r', '\n']).to_owned()));
        }
        std::env::var(inner).map(Secret).map_err(|_| format!("environment variable {inner} is not set"))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Secret::resolve(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_env_and_file_and_never_prints() {
        std::env::set_var("AUDITBRIDGE_TEST_SECRET", "s3cret");
        let s = Secret::resolve("${AUDITBRIDGE_TEST_SECRET}").unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "fromfile\n").unwrap();
        assert_eq!(Secret::resolve(&format!("${{file:{}}}", p.display())).unwrap().expose(), "fromfile");
        assert!(Secret::resolve("${AUDITBRIDGE_SURELY_UNSET_VAR}")
            .unwrap_err()
            .contains("AUDITBRIDGE_SURELY_UNSET_VAR"));
        assert_eq!(Secret::resolve("plain").unwrap().expose(), "plain");
    }
}
