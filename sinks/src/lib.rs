//! Where auditbridge delivers records.
//!
//! A [`Sink`] takes a batch of spooled [`Event`]s and returns only once its peer has
//! acknowledged all of them; the pipeline moves the sink's cursor only then. Formats
//! ([`format`](mod@format)) are pure functions from an event to bytes; transports and sinks know
//! nothing of how bytes are made.

pub mod archive;
mod duration;
mod error;
pub mod file;
pub mod format;
pub mod hec;
pub mod kafka;
mod secret;
// Microsoft Sentinel through the Logs Ingestion API (issue 20).
pub mod sentinel;
pub mod stdout;
// Syslog with CEF and LEEF (issue 5).
pub mod arcsight;
pub mod qradar;
mod registry;
pub mod syslog;
pub mod transport;

pub use duration::Duration;
pub use error::{Report, SinkError, SinkErrorKind};
pub use registry::{SinkContext, SinkKind, SinkType};
pub use secret::{deferring, Secret, Unresolved};

use async_trait::async_trait;
use netwrix::{ActivityRecord, RecordId};

/// One spooled record on its way to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The spool's sequence number: monotonic, the unit of every cursor.
    pub seq: u64,
    /// The record's deterministic id, which travels in every format.
    pub id: RecordId,
    /// The name of the job that fetched it.
    pub job: String,
    /// Sent again by `auditbridge backfill`, not by the live export: formats that can
    /// carry a flag say so, so a SIEM can tell a replay from new activity.
    pub replay: bool,
    pub record: ActivityRecord,
}

/// A destination for records.
#[async_trait]
pub trait Sink: Send {
    /// Called once before the first batch, with the value stored beside the sink's
    /// cursor at its last acknowledgement (`None` for a new sink). A sink that writes
    /// locally uses it to undo anything written after that acknowledgement.
    ///
    /// Returns the value to store beside the cursor before the first batch is
    /// delivered (or `None` to leave it as it is). A new sink uses it to record where
    /// its own output begins, so even its first batch can be undone after a crash.
    async fn open(&mut self, committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError>;

    /// Delivers `batch` (never empty, in spool order) and returns once the peer has
    /// acknowledged all of it, with the value to store beside the cursor.
    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError>;

    /// Whether the delivery loop may hand this sink the next batch (with [`send`](Sink::send))
    /// before it waits, in [`deliver`](Sink::deliver), for the previous batch's
    /// acknowledgement. A sink whose peer acknowledges late (Kafka's delivery reports) hides
    /// that wait behind reading and sending the next batch. Default: one batch at a time.
    fn pipelined(&self) -> bool {
        false
    }

    /// Hands `batch` to the peer without waiting for its acknowledgement; called only when
    /// [`pipelined`](Sink::pipelined), on the batch after the one whose `deliver` comes next.
    /// `deliver` is later called with this same batch and must not send again what got
    /// through here, only what did not. So an error here fails nothing: it is logged, and
    /// `deliver` retries and reports; nothing after this batch is sent before that
    /// `deliver`, so what a sink sends goes out in spool order.
    async fn send(&mut self, batch: &[Event]) -> Result<(), SinkError> {
        let _ = batch;
        Ok(())
    }

    /// Checks that the peer is reachable and accepts us, without delivering anything
    /// (`auditbridge validate --check`). The default says nothing can be checked.
    async fn check(&mut self) -> Result<String, SinkError> {
        Ok("nothing to check".into())
    }

    /// The bytes this sink would put on the wire for `batch`, made by the same code as
    /// [`deliver`](Sink::deliver) but with nothing connected, sent or written
    /// (`auditbridge preview`: checking a SIEM's parser before going live). `committed`
    /// is the value stored beside the sink's cursor, as [`open`](Sink::open) gets it.
    /// `None`: this sink cannot show its bytes.
    fn preview(&mut self, committed: Option<&[u8]>, batch: &[Event]) -> Option<Vec<u8>> {
        let _ = (committed, batch);
        None
    }

    /// Flushes and releases whatever the sink holds (graceful shutdown).
    async fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}
