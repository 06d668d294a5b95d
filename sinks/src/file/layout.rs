//! Where a file sink's files live and what they are called.
//!
//! The active file is the configured path. Rotating renames it to
//! `<stem>.<generation>.<ext>` beside it — `records.jsonl` of generation 1 becomes
//! `records.000001.jsonl` — with the generation zero-padded to six digits (more when it
//! outgrows them), so a directory listing sorts in write order. A path without an
//! extension rotates to `<name>.<generation>`.

use super::error::io_error;
use crate::SinkError;
use std::io;
use std::path::{Path, PathBuf};

/// The names of one sink's files.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub active: PathBuf,
    pub dir: PathBuf,
    stem: String,
    ext: Option<String>,
}

impl Layout {
    /// The layout around `active`; refuses a path without a (UTF-8) file name.
    pub fn new(active: &Path) -> Result<Self, SinkError> {
        let bad = || SinkError::fatal(format!("file sink: {} is not a usable file path", active.display()));
        let stem = active.file_stem().and_then(|s| s.to_str()).ok_or_else(bad)?.to_owned();
        let ext = match active.extension() {
            Some(e) => Some(e.to_str().ok_or_else(bad)?.to_owned()),
            None => None,
        };
        let dir = match active.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Self { active: active.to_path_buf(), dir, stem, ext })
    }

    /// The name generation `generation` of the active file gets when rotated.
    pub fn rotated(&self, generation: u64) -> PathBuf {
        let name = match &self.ext {
            Some(ext) => format!("{}.{generation:06}.{ext}", self.stem),
            None => format!("{}.{generation:06}", self.stem),
        };
        self.dir.join(name)
    }

    /// The generation a rotated file's name encodes, if it is one of ours.
    fn generation_of(&self, name: &str) -> Option<u64> {
        let rest = name.strip_prefix(self.stem.as_str())?.strip_prefix('.')?;
        let digits = match &self.ext {
            Some(ext) => rest.strip_suffix(ext.as_str())?.strip_suffix('.')?,
            None => rest,
        };
        if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// The generations of the rotated files present, ascending.
    pub fn rotated_generations(&self) -> Result<Vec<u64>, SinkError> {
        let listing = |e: io::Error| io_error("listing", &self.dir, e);
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(listing)? {
            let entry = entry.map_err(listing)?;
            if let Some(g) = entry.file_name().to_str().and_then(|n| self.generation_of(n)) {
                found.push(g);
            }
        }
        found.sort_unstable();
        Ok(found)
    }

    /// Makes renames, creations and removals in the directory durable.
    pub fn sync_dir(&self) -> Result<(), SinkError> {
        let syncing = |e| io_error("syncing directory", &self.dir, e);
        std::fs::File::open(&self.dir).map_err(syncing)?.sync_all().map_err(syncing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let l = Layout::new(Path::new("/d/records.jsonl")).expect("layout");
        assert_eq!(l.rotated(1), Path::new("/d/records.000001.jsonl"));
        assert_eq!(l.rotated(1234567), Path::new("/d/records.1234567.jsonl"));
        assert_eq!(l.generation_of("records.000001.jsonl"), Some(1));
        assert_eq!(l.generation_of("records.1234567.jsonl"), Some(1234567));
        for other in ["records.jsonl", "records.01.jsonl", "records.00000x.jsonl", "other.000001.jsonl"] {
            assert_eq!(l.generation_of(other), None, "{other}");
        }
        let bare = Layout::new(Path::new("out")).expect("layout");
        assert_eq!(bare.dir, Path::new("."));
        assert_eq!(bare.rotated(2), Path::new("./out.000002"));
        assert_eq!(bare.generation_of("out.000002"), Some(2));
        assert_eq!(bare.generation_of("out"), None);
    }
}
