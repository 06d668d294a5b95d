//! The stdout sink: JSON lines (or CEF or LEEF lines, with `format`) on standard
//! output, for piping into a shipper or a terminal.
//!
//! A pipe cannot take anything back, so this sink keeps no committed value: a batch is
//! acknowledged once it is written and flushed, and a crash between that and the cursor
//! moving shows the batch again on the next start. The records' `auditbridge_id` lets
//! the consumer drop such repeats.

use crate::format::cef::CefOptions;
use crate::format::leef::LeefOptions;
use crate::format::{Encoder, Format};
use crate::registry::{SinkContext, SinkType};
use crate::{Event, Sink, SinkError};
use async_trait::async_trait;
use serde::Deserialize;
use std::io;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// `type = "stdout"`: JSON lines (or CEF or LEEF lines) on standard output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// `json` (default), `cef` or `leef`; options in `[sink.cef]` / `[sink.leef]`.
    #[serde(default)]
    pub format: Format,
    pub cef: Option<CefOptions>,
    pub leef: Option<LeefOptions>,
}

impl SinkType for StdoutConfig {
    fn build(&self, _: SinkContext<'_>) -> Box<dyn Sink> {
        Box::new(StdoutSink::new().with_encoder(Encoder::new(self.format, self.cef.as_ref(), self.leef.as_ref())))
    }

    fn describe(&self) -> String {
        format!(" ({})", self.format.name())
    }

    fn misfit(&self) -> Option<(&'static str, String)> {
        self.format.misfit(self.cef.is_some(), self.leef.is_some()).map(|m| ("format", m))
    }
}

/// Writes events as JSON lines to stdout (or, for tests and embedding, any async writer).
pub struct StdoutSink<W = tokio::io::Stdout> {
    out: W,
    /// The batch buffer, reused across batches.
    buf: Vec<u8>,
    /// The format of each line (JSON unless [`with_encoder`](StdoutSink::with_encoder)).
    encoder: Encoder,
}

impl StdoutSink {
    /// A sink on the process's standard output.
    pub fn new() -> Self {
        Self::with_writer(tokio::io::stdout())
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl<W> StdoutSink<W> {
    /// A sink writing to `out` instead of stdout.
    pub fn with_writer(out: W) -> Self {
        Self { out, buf: Vec::new(), encoder: Encoder::Json }
    }

    /// The same sink writing each line in `encoder`'s format.
    pub fn with_encoder(mut self, encoder: Encoder) -> Self {
        self.encoder = encoder;
        self
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[async_trait]
impl<W: AsyncWrite + Send + Unpin> Sink for StdoutSink<W> {
    fn preview(&mut self, _committed: Option<&[u8]>, batch: &[Event]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for event in batch {
            self.encoder.encode(event, &mut out);
            out.push(b'\n');
        }
        Some(out)
    }

    async fn open(&mut self, _committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        Ok(None)
    }

    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        self.buf.clear();
        for event in batch {
            self.encoder.encode(event, &mut self.buf);
            self.buf.push(b'\n');
        }
        self.out.write_all(&self.buf).await.map_err(stdout_error)?;
        self.out.flush().await.map_err(stdout_error)?;
        Ok(None)
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        self.out.flush().await.map_err(stdout_error)
    }
}

/// A closed pipe stays closed (the reader is gone): `Fatal`. Anything else: `Transient`.
fn stdout_error(e: io::Error) -> SinkError {
    let context = "stdout sink: writing to stdout";
    let error =
        if e.kind() == io::ErrorKind::BrokenPipe { SinkError::fatal(context) } else { SinkError::transient(context) };
    error.caused_by(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::json;
    use netwrix::{ActivityRecord, RecordId};

    fn event(seq: u64) -> Event {
        let record = ActivityRecord { who: format!("CORP\\u{seq}").into(), ..Default::default() };
        Event { seq, id: RecordId([seq as u8; 16]), job: "j".into(), replay: false, record }
    }

    #[tokio::test]
    async fn writes_one_line_per_event_and_acknowledges_without_a_value() {
        let mut sink = StdoutSink::with_writer(Vec::new());
        sink.open(None).await.expect("open");
        assert_eq!(sink.deliver(&[event(1), event(2)]).await.expect("deliver"), None);
        assert_eq!(sink.deliver(&[event(3)]).await.expect("deliver"), None);
        sink.close().await.expect("close");
        let out = String::from_utf8(sink.into_inner()).expect("utf-8");
        let mut expected = Vec::new();
        for seq in 1..=3 {
            json::encode(&event(seq), &mut expected);
            expected.push(b'\n');
        }
        assert_eq!(out.as_bytes(), expected);
        assert_eq!(out.lines().count(), 3);
    }

    /// A writer whose reader has gone away.
    struct Closed;
    impl AsyncWrite for Closed {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::task::Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_closed_pipe_is_fatal() {
        let mut sink = StdoutSink::with_writer(Closed);
        let err = sink.deliver(&[event(1)]).await.expect_err("broken pipe");
        assert_eq!(err.kind(), crate::SinkErrorKind::Fatal, "{err:?}");
    }
}
