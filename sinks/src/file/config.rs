//! What a person chooses about a file sink: [`FileConfig`], the `[[sink]]` keys of
//! `type = "file"`, and [`FileSinkConfig`], the plain struct the sink is built from.

use crate::format::cef::CefOptions;
use crate::format::leef::LeefOptions;
use crate::format::{Encoder, Format};
use crate::registry::{SinkContext, SinkType};
use crate::Sink;
use serde::Deserialize;
use std::path::PathBuf;

/// `type = "file"`: JSON lines (or CEF or LEEF lines) in a local file, fsynced before
/// acknowledging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub path: PathBuf,
    /// Rotate the file once it reaches this many bytes.
    pub rotate_bytes: Option<u64>,
    #[serde(default = "default_true")]
    pub fsync: bool,
    /// Permission bits of the files, an octal string (default "0600").
    #[serde(default)]
    pub file_mode: FileMode,
    /// `json` (default), `cef` or `leef`; options in `[sink.cef]` / `[sink.leef]`.
    #[serde(default)]
    pub format: Format,
    pub cef: Option<CefOptions>,
    pub leef: Option<LeefOptions>,
}

fn default_true() -> bool {
    true
}

impl SinkType for FileConfig {
    fn build(&self, _: SinkContext<'_>) -> Box<dyn Sink> {
        Box::new(super::FileSink::new(FileSinkConfig {
            path: self.path.clone(),
            rotate_bytes: self.rotate_bytes,
            fsync: self.fsync,
            encoder: Encoder::new(self.format, self.cef.as_ref(), self.leef.as_ref()),
            mode: self.file_mode,
        }))
    }

    fn describe(&self) -> String {
        format!(" -> {} ({})", self.path.display(), self.format.name())
    }

    fn misfit(&self) -> Option<(&'static str, String)> {
        if self.path.as_os_str().is_empty() {
            return Some(("path", "the file sink needs a path".into()));
        }
        self.format.misfit(self.cef.is_some(), self.leef.is_some()).map(|m| ("format", m))
    }
}

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
    /// Permission bits of the files (default `0600`: audit data is private); a
    /// directory the sink creates gets the matching search bits (`0640` → `0750`).
    pub mode: FileMode,
}

/// Unix permission bits, written in the config as an octal string (`"0640"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl Default for FileMode {
    fn default() -> Self {
        FileMode(0o600)
    }
}

impl FileMode {
    /// The mode of a directory holding such files: search bits wherever read bits are.
    pub fn for_dir(self) -> u32 {
        self.0 | ((self.0 & 0o444) >> 2)
    }
}

impl<'de> serde::Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match u32::from_str_radix(&text, 8) {
            Ok(mode) if mode <= 0o777 && mode & 0o600 == 0o600 => Ok(FileMode(mode)),
            _ => Err(serde::de::Error::custom(format!(
                "invalid file_mode {text:?}: write octal permission bits that let the owner read and write, like \"0600\" or \"0640\""
            ))),
        }
    }
}

impl FileSinkConfig {
    /// A config for `path` with the defaults: no rotation, `fsync` on, JSON lines.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            rotate_bytes: None,
            fsync: true,
            encoder: crate::format::Encoder::Json,
            mode: FileMode::default(),
        }
    }
}
