//! What a person chooses about an archive sink: the `[[sink]]` keys of `type = "archive"`.
//! Every key is documented in `config/archive.toml` and `docs/archive.md`.

use super::keys::SigningKey;
use crate::{Duration, Secret};
use serde::Deserialize;
use std::path::PathBuf;

/// Settings of one [`ArchiveSink`](super::ArchiveSink).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// The archive's directory: `segments/`, `digests/` and the open segment live in it.
    pub path: PathBuf,
    /// Close the open segment once it holds this many compressed bytes (checked after
    /// each batch, so a segment exceeds it by at most one batch).
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// Close the open segment once it is this old, even when records trickle in slowly.
    #[serde(default = "default_interval")]
    pub segment_interval: Duration,
    /// Write a digest at least this often, also when nothing arrived, so a deleted digest
    /// or a cut-off tail shows as a hole in time.
    #[serde(default = "default_interval")]
    pub digest_interval: Duration,
    /// The Ed25519 secret key that signs digests, `"${file:/etc/auditbridge/archive.key}"`
    /// (written by `auditbridge archive keygen`).
    #[serde(deserialize_with = "signing_key")]
    pub signing_key: SigningKey,
    /// `fsync` every batch and every file the archive closes before acknowledging it.
    #[serde(default = "default_true")]
    pub fsync: bool,
    /// Whether every record of the spool reaches this sink, so a gap in seqs between
    /// segments is a loss. Set by the application (false when the sink has `jobs` or
    /// filters), never read from the config.
    #[serde(skip, default = "default_true")]
    pub dense: bool,
    /// `[sink.s3]`: also upload closed segments and digests to WORM object storage.
    #[serde(default)]
    pub s3: Option<super::upload::S3Config>,
}

fn default_segment_bytes() -> u64 {
    64 << 20
}

fn default_interval() -> Duration {
    Duration::from_secs(3600)
}

fn default_true() -> bool {
    true
}

fn signing_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SigningKey, D::Error> {
    let secret = Secret::deserialize(d)?;
    SigningKey::parse(secret.expose()).map_err(serde::de::Error::custom)
}

impl ArchiveConfig {
    /// A config for `path` signed with `key`, with the defaults (64 MiB or 1 h segments,
    /// hourly digests, `fsync` on).
    pub fn new(path: impl Into<PathBuf>, key: SigningKey) -> Self {
        Self {
            path: path.into(),
            segment_bytes: default_segment_bytes(),
            segment_interval: default_interval(),
            digest_interval: default_interval(),
            signing_key: key,
            fsync: true,
            dense: true,
            s3: None,
        }
    }
}

impl crate::SinkType for ArchiveConfig {
    /// `dense` is not a key: the archive is dense exactly when it takes every record.
    fn build(&self, context: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(super::ArchiveSink::new(ArchiveConfig { dense: context.every_record, ..self.clone() }))
    }

    fn describe(&self) -> String {
        format!(" -> {} (signed by key {})", self.path.display(), self.signing_key.public().id())
    }
}
