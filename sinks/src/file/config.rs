//! What a person chooses about a file sink. Parsing it is the application's business;
//! this is the plain struct the sink is built from.

use std::path::PathBuf;

/// Settings of one [`FileSink`](super::FileSink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// The active file, e.g. `/var/lib/auditbridge/records.jsonl`. Rotated files live
    /// beside it (see [`FileSink`](super::FileSink) for their names). Its parent directory
    /// is created on open.
    pub path: PathBuf,
    /// Rotate once the active file has reached this many bytes (checked before each
    /// batch, so a file exceeds it by at most one batch). `None`: never rotate.
    pub rotate_bytes: Option<u64>,
    /// `fsync` every batch (and the directory on rotation) before acknowledging it.
    /// Without it a power loss may lose acknowledged lines; a process crash cannot.
    pub fsync: bool,
    /// The format of each line: JSON (the default), CEF or LEEF.
    pub encoder: crate::format::Encoder,
}

impl FileSinkConfig {
    /// A config for `path` with the defaults: no rotation, `fsync` on, JSON lines.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), rotate_bytes: None, fsync: true, encoder: crate::format::Encoder::Json }
    }
}
