//! Offline verification of an archive directory (or a copy of its bucket): the checks
//! behind `auditbridge archive verify`.
//!
//! Every digest must parse, be signed by the given public key, and link to its
//! predecessor by file name, SHA-256 and signature; numbers run without holes and times
//! without gaps longer than the digest's own `interval_secs` (plus slack). Every segment
//! a digest lists must be present with the SHA-256 it lists; every segment file must be
//! listed; seqs run on between segments. Each finding names one file, where in it, and
//! what is wrong; one cause gives one finding (a deleted digest is reported once, not
//! again for the segments it listed). What each check proves is in `docs/archive.md`.

mod segments;

use super::digest::{self, Parsed};
use super::keys::PublicKey;
use chrono::{DateTime, Utc};
use std::fmt;
use std::path::{Path, PathBuf};

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the archive (`segments/…`, `digests/…`).
    pub file: String,
    /// Where in it (`line 2`, `bytes 100..200 (lines 1001..2000)`), or empty.
    pub at: String,
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "{}: {}", self.file, self.what)
        } else {
            write!(f, "{}: {}: {}", self.file, self.at, self.what)
        }
    }
}

/// The time window to judge (`--from`, `--to`): digests written in it and the
/// segments they list. `to` is also the time the archive must reach: digests missing
/// after the last one (a cut-off tail) show only against it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// What verification found, with totals for the summary line.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub digests: usize,
    pub segments: usize,
    pub records: u64,
    pub seqs: Option<(u64, u64)>,
    pub times: Option<(String, String)>,
}

/// Why verification could not run at all (as opposed to a finding).
#[derive(Debug, thiserror::Error)]
#[error("reading {path}")]
pub struct VerifyError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// One digest file as found.
struct Found {
    name: String,
    parsed: Parsed,
    time: DateTime<Utc>,
    /// A finding was already made about this file: links to it are not judged again.
    bad: bool,
}

/// A range of seqs whose segments are accounted for by a finding already made (a
/// missing digest, a cut-off tail): segments in it that no digest lists are not
/// reported again. `finding` is the index of that finding, to which they are added.
struct Hole {
    after: u64,
    through: u64,
    finding: usize,
}

/// Verifies the archive in `dir` with `key`; see the [module documentation](self).
pub fn verify(dir: &Path, key: &PublicKey, window: Window) -> Result<Report, VerifyError> {
    let mut report = Report::default();
    let mut found = Vec::new();
    for name in list(&dir.join("digests"))? {
        let path = dir.join("digests").join(&name);
        let file = format!("digests/{name}");
        let bytes = std::fs::read(&path).map_err(|source| VerifyError { path: path.clone(), source })?;
        let parsed = match digest::parse(&bytes, key) {
            Ok(p) => p,
            Err(e) => {
                let (at, what) = e.split_once(": ").unwrap_or(("", &e));
                report.findings.push(Finding { file, at: at.into(), what: format!("{what} (digest damaged)") });
                continue;
            }
        };
        let Some(time) = digest::parse_time(&parsed.body.time) else {
            report.findings.push(Finding { file, at: "line 1".into(), what: "time is not RFC 3339".into() });
            continue;
        };
        let mut bad = false;
        if !parsed.signed_by_key {
            bad = true;
            report.findings.push(Finding {
                file: file.clone(),
                at: "line 2".into(),
                what: format!(
                    "signature does not verify with public key {} (the digest says key {}): signed by another key, or its body was changed",
                    key.id(),
                    parsed.signature.key_id
                ),
            });
        }
        if digest::number_of_name(&name) != Some(parsed.body.number) {
            bad = true;
            report.findings.push(Finding {
                file: file.clone(),
                at: "line 1".into(),
                what: format!("holds digest number {} but is named otherwise (renamed)", parsed.body.number),
            });
        }
        found.push(Found { name, parsed, time, bad });
    }
    found.sort_by_key(|f| f.parsed.body.number);
    let in_window = |f: &Found| window.from.is_none_or(|t| f.time >= t) && window.to.is_none_or(|t| f.time <= t);
    let mut holes = Vec::new();
    chain(&found, &in_window, &mut report, &mut holes);
    tail(&found, &in_window, window, &mut report, &mut holes);
    let judged: Vec<&Found> = found.iter().filter(|f| in_window(f)).collect();
    report.digests = judged.len();
    report.times =
        judged.first().zip(judged.last()).map(|(a, b)| (a.parsed.body.time.clone(), b.parsed.body.time.clone()));
    segments::check(dir, &judged, &holes, window, &mut report)?;
    Ok(report)
}

/// The longest expected gap between two digests of `interval_secs`: half again, at
/// least five seconds more, for a late timer or a slow close.
fn allowed_gap(interval_secs: u64) -> chrono::Duration {
    let secs = i64::try_from(interval_secs).unwrap_or(i64::MAX / 4);
    chrono::Duration::seconds(secs + (secs / 2).max(5))
}

/// Checks numbering, links and time gaps between consecutive digests.
fn chain(found: &[Found], in_window: &dyn Fn(&Found) -> bool, report: &mut Report, holes: &mut Vec<Hole>) {
    let mut by_number = std::collections::HashMap::new();
    for (i, f) in found.iter().enumerate() {
        if let Some(other) = by_number.insert(f.parsed.body.number, i) {
            report.findings.push(Finding {
                file: format!("digests/{}", f.name),
                at: "line 1".into(),
                what: format!("has the same number as digests/{} (a digest added)", found[other].name),
            });
        }
    }
    for (i, f) in found.iter().enumerate() {
        if !in_window(f) {
            continue;
        }
        let body = &f.parsed.body;
        let file = format!("digests/{}", f.name);
        let Some(link) = &body.previous else {
            if body.number != 1 {
                report.findings.push(Finding {
                    file,
                    at: "line 1".into(),
                    what: "has no predecessor but is not digest 1".into(),
                });
            }
            continue;
        };
        let pred = i.checked_sub(1).map(|p| &found[p]).filter(|p| p.parsed.body.number + 1 == body.number);
        let Some(pred) = pred else {
            let earlier = i.checked_sub(1).map(|p| &found[p]);
            let missing_from = earlier.map_or(1, |p| p.parsed.body.number + 1);
            let what = if missing_from + 1 < body.number {
                format!(
                    "missing, with the {} digests before it: digests/{} names it as its predecessor",
                    body.number - 1 - missing_from,
                    f.name
                )
            } else {
                format!("missing: digests/{} names it as its predecessor (a digest deleted)", f.name)
            };
            holes.push(Hole {
                after: earlier.and_then(|p| p.parsed.body.archived_through_seq).unwrap_or(0),
                through: body.first_seq.map(|s| s.saturating_sub(1)).or(body.archived_through_seq).unwrap_or(0),
                finding: report.findings.len(),
            });
            report.findings.push(Finding { file: format!("digests/{}", link.file), at: String::new(), what });
            continue;
        };
        if pred.bad {
            continue;
        }
        let p = &pred.parsed;
        if link.file != pred.name || link.sha256 != p.sha256 || link.signature != p.signature.signature {
            report.findings.push(Finding {
                file,
                at: "line 1".into(),
                what: format!("its link to digests/{} does not match that file (the chain was altered)", pred.name),
            });
        } else if f.time - pred.time > allowed_gap(pred.parsed.body.interval_secs) || f.time < pred.time {
            report.findings.push(Finding {
                file,
                at: "line 1".into(),
                what: format!(
                    "written {} but the digest before it {}: more than digest_interval ({}s) apart (the bridge was not running, or the clock jumped)",
                    body.time, p.body.time, p.body.interval_secs
                ),
            });
        }
    }
}

/// Judges the end of the chain against `--to`: digests are written every interval, so
/// a last digest older than that means the ones after it are missing.
fn tail(
    found: &[Found],
    in_window: &dyn Fn(&Found) -> bool,
    window: Window,
    report: &mut Report,
    holes: &mut Vec<Hole>,
) {
    let (Some(last), Some(to)) = (found.iter().rev().find(|f| in_window(f)), window.to) else { return };
    if to - last.time > allowed_gap(last.parsed.body.interval_secs) {
        holes.push(Hole {
            after: last.parsed.body.archived_through_seq.unwrap_or(0),
            through: u64::MAX,
            finding: report.findings.len(),
        });
        report.findings.push(Finding {
            file: format!("digests/{}", last.name),
            at: String::new(),
            what: format!(
                "is the last digest, written {}, but --to is {} and digests come every {}s: the digests after it are missing (tail cut off)",
                last.parsed.body.time,
                digest::rfc3339(to),
                last.parsed.body.interval_secs
            ),
        });
    }
}

/// The file names in `dir` (sorted; none when it does not exist), without dotfiles.
fn list(dir: &Path) -> Result<Vec<String>, VerifyError> {
    let err = |source| VerifyError { path: dir.to_path_buf(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Some(name) = entry.map_err(err)?.file_name().to_str() {
            if !name.starts_with('.') {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}
