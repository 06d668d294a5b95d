//! The `syslog` sink, and the machinery the `arcsight` and `qradar` sinks share with it.
//!
//! Request building: for each event of a batch, the syslog header ([`Header`], with the
//! record's When as its time) and the event in the sink's format ([`Encoder`]) are
//! appended to one reused buffer; the [`Transport`] frames and writes the whole batch.
//! A batch is acknowledged once written and, on TCP and TLS, flushed (see
//! `docs/syslog.md` for what that guarantees).

mod config;

pub(crate) use config::transport_checks;
pub use config::SyslogConfig;

use crate::format::Encoder;
use crate::transport::syslog::{Header, Target, Transport};
use crate::{Event, Sink, SinkError};
use async_trait::async_trait;

/// A batch buffer larger than this is freed after use rather than kept.
const MAX_KEPT_BUFFER: usize = 16 << 20;

/// Delivers events as syslog messages (or, without a header, as bare lines).
pub struct SyslogSink {
    header: Option<Header>,
    encoder: Encoder,
    transport: Transport,
    /// The batch's messages, back to back, reused.
    buf: Vec<u8>,
    /// Where each message of `buf` ends.
    ends: Vec<usize>,
}

impl SyslogSink {
    /// A sink writing `header` (none: the bare message) and `encoder`'s bytes to `target`.
    pub fn new(header: Option<Header>, encoder: Encoder, target: Target) -> Self {
        SyslogSink { header, encoder, transport: Transport::new(target), buf: Vec::new(), ends: Vec::new() }
    }

    /// A `syslog` sink from its config.
    pub fn from_config(config: &SyslogConfig) -> Self {
        let (header, encoder, target) = config.parts();
        Self::new(Some(header), encoder, target)
    }

    /// The transport, for its counters.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Appends the messages of `batch` to the internal buffer (exposed for tests).
    pub fn build(&mut self, batch: &[Event]) -> (&[u8], &[usize]) {
        self.buf.clear();
        self.ends.clear();
        for event in batch {
            if let Some(header) = &self.header {
                // The record's time to the millisecond (all the header shows), parsed as CEF's `rt` is.
                let when =
                    crate::format::when::when_millis(&event.record).and_then(chrono::DateTime::from_timestamp_millis);
                header.write(when.unwrap_or_else(chrono::Utc::now), &mut self.buf);
            }
            self.encoder.encode(event, &mut self.buf);
            self.ends.push(self.buf.len());
        }
        (&self.buf, &self.ends)
    }
}

#[async_trait]
impl Sink for SyslogSink {
    fn preview(&mut self, _committed: Option<&[u8]>, batch: &[Event]) -> Option<Vec<u8>> {
        self.build(batch);
        Some(self.transport.wire(&self.buf, &self.ends))
    }

    async fn open(&mut self, _committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        // Connecting waits for the first batch: a receiver down at start is then retried
        // with the same backoff as one that goes down later.
        Ok(None)
    }

    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        self.build(batch);
        let result = self.transport.send(&self.buf, &self.ends).await;
        if self.buf.capacity() > MAX_KEPT_BUFFER {
            self.buf = Vec::new();
        }
        result.map(|()| None)
    }

    async fn check(&mut self) -> Result<String, SinkError> {
        self.transport.check().await
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        self.transport.close().await;
        Ok(())
    }
}
