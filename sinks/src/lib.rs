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
mod ticket;
pub mod transport;

pub use duration::Duration;
pub use error::{Report, SinkError, SinkErrorKind};
pub use registry::{SinkContext, SinkKind, SinkType};
pub use secret::{deferring, Secret, Unresolved};
pub use ticket::Ticket;

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
    /// acknowledged all of it, with the value to store beside the cursor. The pipeline
    /// calls it through [`settle`](Sink::settle)'s default.
    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError>;

    /// Whether the pipeline may [submit](Sink::submit) the next batch before the previous
    /// one is [settled](Sink::settle). A sink whose peer acknowledges late (Kafka's
    /// delivery reports, HEC's indexer acks) hides that wait behind reading and sending
    /// the next batch. Default: one batch at a time.
    fn pipelined(&self) -> bool {
        false
    }

    /// Hands `batch` (never empty, in spool order) to the peer without waiting for its
    /// acknowledgement. Called in spool order, and on a batch after another only when that
    /// one's [`Ticket`] says it [went whole](Ticket::went_whole), so what a sink sends goes
    /// out in spool order. Never fails: what did not go is in the ticket, and
    /// [`settle`](Sink::settle) sends it. Default: nothing is sent now
    /// ([`Ticket::deferred`]), `settle` delivers the batch.
    async fn submit(&mut self, batch: &[Event]) -> Ticket {
        Ticket::deferred(batch)
    }

    /// Returns once the peer acknowledged every event of the submitted `batch`, sending
    /// first whatever of it did not go at [`submit`](Sink::submit), with the value to store
    /// beside the cursor. Called on tickets in the order they were submitted, and again
    /// with the same ticket and batch after a transient error: a sink must not send again
    /// what the peer already took. Default: [`deliver`](Sink::deliver).
    async fn settle(&mut self, ticket: &Ticket, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        let _ = ticket;
        self.deliver(batch).await
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
