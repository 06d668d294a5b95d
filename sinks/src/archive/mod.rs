//! The archive sink: a compliance archive of compressed JSON-lines segments vouched for
//! by a signed chain of digests, verifiable offline (`auditbridge archive verify`).
//!
//! Records are the [file sink's JSON lines](crate::format::json), appended one gzip
//! member per batch to an open segment (`active.<n>.jsonl.gz`) which is closed by size
//! (`segment_bytes`) or age (`segment_interval`) into `segments/` under a name that
//! states its job, seq range and time range. Each close, and every `digest_interval`
//! even when idle, writes a digest into `digests/`: the segments closed since the last
//! one with their SHA-256, counts and ranges, linked to the previous digest's hash and
//! signature, signed with Ed25519. See `docs/archive.md` for the format and what
//! [`verify`] proves. Exactly once across crashes: see [`writer`].

mod committed;
mod config;
pub mod digest;
pub mod keys;
pub mod segment;
#[cfg(test)]
mod tests;
mod upload;
pub mod verify;
mod writer;

pub use config::ArchiveConfig;
pub use keys::{KeyError, PublicKey, SigningKey};
pub use upload::{LockMode, S3Config};

use crate::{Event, Sink, SinkError};
use async_trait::async_trait;
use committed::Committed;
use std::sync::{Arc, Mutex, MutexGuard};
use upload::Uploader;
use writer::Writer;

/// Delivers events into a signed archive; see the [module documentation](self).
///
/// File work runs on tokio's blocking pool behind a mutex shared with a timer task that
/// closes old segments and writes idle digests while no batch arrives.
pub struct ArchiveSink {
    config: ArchiveConfig,
    writer: Arc<Mutex<Option<Writer>>>,
    timer: Option<tokio::task::JoinHandle<()>>,
    /// Uploads closed files when `[sink.s3]` is set.
    uploader: Option<Arc<Uploader>>,
    /// The batch's JSON lines and its gzip member, reused across batches.
    scratch: Vec<u8>,
    buf: Vec<u8>,
}

/// A batch buffer larger than this is freed after use rather than kept for the next one.
const MAX_KEPT_BUFFER: usize = 16 << 20;

impl ArchiveSink {
    /// A sink for `config`; nothing is touched on disk until [`open`](Sink::open).
    pub fn new(config: ArchiveConfig) -> Self {
        Self {
            config,
            writer: Arc::new(Mutex::new(None)),
            timer: None,
            uploader: None,
            scratch: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn start_timer(&mut self) {
        let shortest = self.config.digest_interval.0.min(self.config.segment_interval.0);
        let period = (shortest / 4).clamp(std::time::Duration::from_millis(10), std::time::Duration::from_secs(1));
        let shared = Arc::clone(&self.writer);
        let path = self.config.path.clone();
        let uploader = self.uploader.clone();
        self.timer = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let shared = Arc::clone(&shared);
                let mut result = blocking(move || match lock(&shared).as_mut() {
                    Some(w) => w.tick(chrono::Utc::now()).map(|()| w.head_number()),
                    None => Ok(0),
                })
                .await;
                if let (Ok(head), Some(up)) = (&result, &uploader) {
                    result = up.upload_after(*head).await.map(|_| 0);
                }
                if let Err(e) = result {
                    tracing::warn!(archive = %path.display(), error = %e, "archive: closing a segment or writing a digest failed; retrying");
                }
            }
        }));
    }
}

impl Drop for ArchiveSink {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
    }
}

#[async_trait]
impl Sink for ArchiveSink {
    async fn open(&mut self, committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        let committed = committed
            .map(Committed::decode)
            .transpose()
            .map_err(|e| SinkError::fatal(format!("archive sink {}", self.config.path.display())).caused_by(e))?;
        let config = self.config.clone();
        let shared = Arc::clone(&self.writer);
        let (pos, head) = blocking(move || {
            let mut slot = lock(&shared);
            *slot = None;
            let w = Writer::open(&config, committed, chrono::Utc::now())?;
            let pos = (w.position(), w.head_number());
            *slot = Some(w);
            Ok(pos)
        })
        .await?;
        if let Some(s3) = &self.config.s3 {
            let uploader = Arc::new(Uploader::new(s3, &self.config.path)?);
            uploader.upload_after(head).await?;
            self.uploader = Some(uploader);
        }
        if self.timer.is_none() {
            self.start_timer();
        }
        Ok(Some(pos.encode()))
    }

    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        // Encoding happens here, off the lock; the blocking task only appends and syncs.
        let max = lock(&self.writer).as_ref().and_then(Writer::archived_max);
        let skip = batch.iter().take_while(|e| max.is_some_and(|m| e.seq <= m)).count();
        let now = chrono::Utc::now();
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let member =
            (skip < batch.len()).then(|| segment::encode_member(&batch[skip..], now, &mut self.scratch, &mut buf));
        let shared = Arc::clone(&self.writer);
        let (buf, pos) = blocking(move || {
            let pos = match lock(&shared).as_mut() {
                Some(w) => w.write_member(member.map(|m| (&buf[..], m)), now).map(|p| (p, w.head_number())),
                None => Err(SinkError::fatal("archive sink: not open (open failed, or closed)")),
            };
            Ok((buf, pos))
        })
        .await?;
        if buf.capacity() <= MAX_KEPT_BUFFER {
            self.buf = buf;
        }
        let (pos, head) = pos?;
        // The cursor moves only once every closed file is in the bucket.
        if let Some(up) = &self.uploader {
            up.upload_after(head).await?;
        }
        Ok(Some(pos.encode()))
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        let shared = Arc::clone(&self.writer);
        blocking(move || lock(&shared).take().map_or(Ok(()), |w| w.close(chrono::Utc::now()))).await?;
        if let Some(up) = &self.uploader {
            up.upload_after(u64::MAX).await?;
        }
        Ok(())
    }

    async fn check(&mut self) -> Result<String, SinkError> {
        match &self.config.s3 {
            Some(s3) => Uploader::new(s3, &self.config.path)?.check().await,
            None => Ok("a local directory: nothing to check".into()),
        }
    }
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
) -> Result<T, SinkError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::transient("archive sink: blocking task failed").caused_by(e))?
}

/// Locks the writer; after a panic mid-step its files are in an unknown state, so it
/// reloads them before its next step.
fn lock(m: &Mutex<Option<Writer>>) -> MutexGuard<'_, Option<Writer>> {
    match m.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            let mut guard = poisoned.into_inner();
            if let Some(w) = guard.as_mut() {
                w.mark_dirty();
            }
            m.clear_poison();
            guard
        }
    }
}
