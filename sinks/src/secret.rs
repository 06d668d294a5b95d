//! Secrets in the config: written as `${VAR}` (an environment variable) or
//! `${file:PATH}` (a file's content, trailing newline removed), or literally.
//!
//! A [`Secret`] never prints its value: `Debug` and `Display` show `***`, so
//! `validate`, `status` and logs cannot leak it.

use serde::{Deserialize, Deserializer};
use std::cell::RefCell;
use std::fmt;

thread_local! {
    /// While [`deferring`] runs on this thread: the references that could not be resolved.
    static DEFERRED: RefCell<Option<Vec<Unresolved>>> = const { RefCell::new(None) };
}

/// A `${…}` reference that could not be resolved while [`deferring`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The reference as written, e.g. `${NETWRIX_PASSWORD}`, to find it in the file.
    pub reference: String,
    pub message: String,
}

/// Runs `f` (a config parse) with every secret that cannot be resolved left empty
/// instead of failing, and returns them all. Why: `status` only reads the state file
/// and must work in an operator's shell without the service's secrets, and `validate`
/// reports every unset variable at once rather than the first.
pub fn deferring<T>(f: impl FnOnce() -> T) -> (T, Vec<Unresolved>) {
    /// Puts back what an enclosing `deferring` had collected, also when `f` panics.
    struct Reset(Option<Vec<Unresolved>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let outer = self.0.take();
            DEFERRED.with(|d| *d.borrow_mut() = outer);
        }
    }
    let _reset = Reset(DEFERRED.with(|d| d.borrow_mut().replace(Vec::new())));
    let value = f();
    let found = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
    (value, found)
}

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
        Self::resolve_now(raw).or_else(|message| {
            DEFERRED.with(|d| match d.borrow_mut().as_mut() {
                Some(found) => {
                    found.push(Unresolved { reference: raw.to_owned(), message });
                    Ok(Secret(String::new()))
                }
                None => Err(message),
            })
        })
    }

    fn resolve_now(raw: &str) -> Result<Secret, String> {
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

    #[test]
    fn deferring_collects_every_unresolved_reference() {
        let (both, found) = deferring(|| {
            (Secret::resolve("${AUDITBRIDGE_UNSET_A}").is_ok(), Secret::resolve("${AUDITBRIDGE_UNSET_B}").is_ok())
        });
        assert_eq!(both, (true, true));
        let refs: Vec<_> = found.iter().map(|u| u.reference.as_str()).collect();
        assert_eq!(refs, ["${AUDITBRIDGE_UNSET_A}", "${AUDITBRIDGE_UNSET_B}"]);
        assert!(Secret::resolve("${AUDITBRIDGE_UNSET_A}").is_err(), "outside deferring it fails again");
    }
}
