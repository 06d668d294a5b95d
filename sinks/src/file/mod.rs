//! The file sink: one record per line in a local file, exactly once across crashes.
//!
//! Each event is one line: the [JSON format](crate::format::json) (or, with `format`,
//! [CEF](crate::format::cef) or [LEEF](crate::format::leef)) and `\n`. A batch is
//! appended with a single write and `fsync`ed before it is acknowledged. The value stored
//! beside the sink's cursor names the active file's generation and acknowledged length
//! (17 bytes: version `1`, then both as big-endian `u64`); on [`open`](crate::Sink::open)
//! everything written after it — a torn or unacknowledged batch, an unacknowledged
//! rotation — is undone, so every line is in the files exactly once however the process
//! died.
//!
//! Rotation (when [`FileSinkConfig::rotate_bytes`] is set and the active file has reached
//! it) renames the active file to `<stem>.<generation>.<ext>` — `records.000001.jsonl`,
//! `records.000002.jsonl`, … — before the next batch; concatenating the rotated files in
//! generation order and then the active file gives every line once, in spool order.
//!
//! A new sink (no committed value) whose file already holds data keeps that data (it may
//! be a person's, or an earlier deployment's) and appends after it, with a warning; it
//! starts at a generation above any rotated file present so rotation never overwrites
//! one. `open` returns that starting position as the sink's first committed value, and
//! the pipeline stores it before the first batch, so even the first batch of a new sink
//! is undone after a crash rather than written again.
//!
//! A file found shorter than acknowledged (someone truncated or removed it) is logged
//! and appended to, never a failure.

pub(crate) mod committed;
mod config;
pub(crate) mod error;
mod layout;
#[cfg(test)]
mod tests;
mod writer;

pub use config::{FileConfig, FileMode, FileSinkConfig};

use crate::{Event, Sink, SinkError};
use async_trait::async_trait;
use committed::Committed;
use std::sync::{Arc, Mutex, MutexGuard};
use writer::Writer;

/// A batch buffer larger than this is freed after use rather than kept for the next one.
const MAX_KEPT_BUFFER: usize = 16 << 20;

/// Delivers events as JSON lines to a file; see the [module documentation](self).
///
/// All file I/O runs on tokio's blocking pool. The writer sits behind a mutex so that a
/// write whose future was dropped (a cancelled deliver) finishes before the next one
/// starts; the next one then recovers to the last value this sink returned.
pub struct FileSink {
    config: FileSinkConfig,
    writer: Arc<Mutex<Option<Writer>>>,
    /// The last state handed to the pipeline (by `open` or `deliver`).
    acked: Option<Committed>,
    /// The batch buffer, reused across batches.
    buf: Vec<u8>,
}

impl FileSink {
    /// A sink for `config`; nothing is touched on disk until [`open`](Sink::open).
    pub fn new(config: FileSinkConfig) -> Self {
        Self { config, writer: Arc::new(Mutex::new(None)), acked: None, buf: Vec::new() }
    }

    /// The settings this sink was built with.
    pub fn config(&self) -> &FileSinkConfig {
        &self.config
    }
}

#[async_trait]
impl Sink for FileSink {
    fn preview(&mut self, _committed: Option<&[u8]>, batch: &[Event]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for event in batch {
            self.config.encoder.encode(event, &mut out);
            out.push(b'\n');
        }
        Some(out)
    }

    async fn open(&mut self, committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        let committed = committed
            .map(Committed::decode)
            .transpose()
            .map_err(|e| SinkError::fatal(format!("file sink {}", self.config.path.display())).caused_by(e))?;
        let config = self.config.clone();
        let shared = Arc::clone(&self.writer);
        let pos = blocking(move || {
            let mut slot = lock(&shared);
            *slot = None;
            let w = Writer::open(&config, committed)?;
            let pos = w.position();
            *slot = Some(w);
            Ok(pos)
        })
        .await?;
        self.acked = Some(pos);
        Ok(Some(pos.encode()))
    }

    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        let from = self.acked.ok_or_else(|| SinkError::fatal("file sink: deliver before open"))?;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for event in batch {
            self.config.encoder.encode(event, &mut buf);
            buf.push(b'\n');
        }
        let shared = Arc::clone(&self.writer);
        let (buf, result) = blocking(move || {
            let result = match lock(&shared).as_mut() {
                Some(w) => w.write_batch(from, &buf),
                None => Err(SinkError::fatal("file sink: not open (open failed, or closed)")),
            };
            Ok((buf, result))
        })
        .await?;
        if buf.capacity() <= MAX_KEPT_BUFFER {
            self.buf = buf;
        }
        let pos = result?;
        self.acked = Some(pos);
        Ok(Some(pos.encode()))
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let shared = Arc::clone(&self.writer);
        blocking(move || lock(&shared).take().map_or(Ok(()), Writer::close)).await
    }
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
) -> Result<T, SinkError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::transient("file sink: blocking task failed").caused_by(e))?
}

/// Locks the writer; after a panic mid-write its files are in an unknown state, so it is
/// marked to recover before its next write.
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
