//! Sink cursors: how far each sink has durably delivered.
//!
//! This is the output half of "nothing lost, nothing taken twice": a sink
//! reads the spool after its cursor and moves the cursor only once the
//! destination has acknowledged, so after a crash it resumes exactly after
//! the last acknowledged record. Cursors never move backwards, never past the
//! highest assigned seq, and they decide what [`Store::prune`] may delete.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::convert::{from_db, now_ms, to_db};
use crate::spool::{before_oldest, max_seq};
use crate::{StateError, Store};

/// A sink's position in the spool; exists so the sink gets back both the seq
/// and any opaque resume data it stored with its last acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Every row with `seq <=` this has been delivered.
    pub seq: u64,
    /// Opaque data stored by the sink with its last ack (e.g. a file offset).
    pub value: Option<Vec<u8>>,
}

/// Where a newly registered sink starts; exists because adding a sink to a
/// running installation is a deliberate choice between backfill and not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Deliver everything still in the spool.
    Oldest,
    /// Deliver only records spooled from now on.
    Now,
}

/// One sink's persisted state, for status output and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkState {
    /// Sink name (as configured).
    pub name: String,
    /// Its cursor seq.
    pub cursor: u64,
    /// Records assigned but not yet acknowledged: `max_seq - cursor`.
    pub backlog: u64,
    /// Records acknowledged in total, as reported to [`Store::ack`].
    pub delivered_total: u64,
    /// When the last ack was stored (ms since the Unix epoch, local clock).
    pub last_ack_ms: Option<i64>,
    /// The last error recorded, if not cleared since.
    pub last_error: Option<String>,
}

impl Store {
    /// Returns the sink's cursor, creating it first if absent at the position
    /// `start` describes: [`Start::Oldest`] just before the oldest spooled row
    /// (or at [`Store::max_seq`] if the spool is empty), [`Start::Now`] at
    /// [`Store::max_seq`]. An existing cursor is returned unchanged whatever
    /// `start` says.
    pub fn register_sink(&mut self, sink: &str, start: Start) -> Result<Cursor, StateError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(cursor) = read_cursor(&tx, sink)? {
            return Ok(cursor);
        }
        let seq = match start {
            Start::Oldest => before_oldest(&tx)?,
            Start::Now => max_seq(&tx)?,
        };
        tx.prepare_cached("INSERT INTO cursors (sink, seq) VALUES (?1, ?2)")?
            .execute(params![sink, to_db("cursor", seq)?])?;
        tx.commit()?;
        tracing::info!(sink, seq, ?start, "sink registered");
        Ok(Cursor { seq, value: None })
    }

    /// The sink's cursor, or `None` if it was never registered.
    pub fn cursor(&self, sink: &str) -> Result<Option<Cursor>, StateError> {
        read_cursor(&self.conn, sink)
    }

    /// Records that the sink has durably delivered everything up to `seq`:
    /// moves the cursor to `seq`, stores `value` beside it (replacing the old
    /// one, `None` clears it), adds `delivered` to `delivered_total` and
    /// stamps `last_ack_ms`, in one transaction. `last_error` is not touched.
    ///
    /// Acking the current seq again is allowed (e.g. to update `value`); a
    /// smaller seq is [`StateError::CursorBackwards`], a seq never assigned is
    /// [`StateError::CursorAhead`], an unregistered sink is
    /// [`StateError::UnknownSink`].
    ///
    /// With [`Synchronous::Full`](crate::Synchronous::Full) the ack is committed
    /// without its own fsync (as `synchronous=NORMAL` would): a process crash cannot
    /// undo it (the WAL is written), and it becomes durable against power loss with
    /// the next synced commit (a page, a prune) or [`Store::sync`]. Power loss before
    /// that moves the cursor back, so the sink is sent those records again, with the
    /// same ids. Nothing is lost: WAL recovery keeps a prefix of the commits, so a
    /// prune (which relies on acks) survives only if the acks before it did. The fsync saved is one per batch per sink,
    /// which otherwise queues behind the page commits on the one writing connection.
    pub fn ack(&mut self, sink: &str, seq: u64, value: Option<&[u8]>, delivered: u64) -> Result<(), StateError> {
        self.without_fsync(|s| s.ack_in_tx(sink, seq, value, delivered))
    }

    fn ack_in_tx(&mut self, sink: &str, seq: u64, value: Option<&[u8]>, delivered: u64) -> Result<(), StateError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = read_cursor(&tx, sink)?.ok_or_else(|| StateError::UnknownSink { sink: sink.to_owned() })?;
        if seq < current.seq {
            return Err(StateError::CursorBackwards { sink: sink.to_owned(), current: current.seq, requested: seq });
        }
        let max = max_seq(&tx)?;
        if seq > max {
            return Err(StateError::CursorAhead { sink: sink.to_owned(), requested: seq, max_seq: max });
        }
        tx.prepare_cached(
            "UPDATE cursors SET seq = ?2, value = ?3, delivered_total = delivered_total + ?4, last_ack_ms = ?5
             WHERE sink = ?1",
        )?
        .execute(params![sink, to_db("cursor", seq)?, value, to_db("delivered", delivered)?, now_ms()])?;
        tx.commit()?;
        Ok(())
    }

    /// Sets (`Some`) or clears (`None`) the sink's last error. The sink must
    /// be registered ([`StateError::UnknownSink`] otherwise).
    pub fn record_sink_error(&mut self, sink: &str, error: Option<&str>) -> Result<(), StateError> {
        let n = self
            .conn
            .prepare_cached("UPDATE cursors SET last_error = ?2 WHERE sink = ?1")?
            .execute(params![sink, error])?;
        if n == 0 {
            return Err(StateError::UnknownSink { sink: sink.to_owned() });
        }
        Ok(())
    }

    /// Every registered sink, by name, with its backlog.
    pub fn sinks(&self) -> Result<Vec<SinkState>, StateError> {
        // One read transaction so max_seq and the cursors are from the same
        // snapshot, even if another connection writes in between.
        let tx = self.conn.unchecked_transaction()?;
        let max = max_seq(&tx)?;
        let sinks = {
            let mut stmt = tx.prepare_cached(
                "SELECT sink, seq, delivered_total, last_ack_ms, last_error FROM cursors ORDER BY sink",
            )?;
            let rows = stmt.query_and_then([], |r| -> Result<SinkState, StateError> {
                let cursor = from_db("cursor", r.get(1)?)?;
                Ok(SinkState {
                    name: r.get(0)?,
                    cursor,
                    backlog: max.saturating_sub(cursor),
                    delivered_total: from_db("delivered_total", r.get(2)?)?,
                    last_ack_ms: r.get(3)?,
                    last_error: r.get(4)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.finish()?;
        Ok(sinks)
    }
}

fn read_cursor(conn: &rusqlite::Connection, sink: &str) -> Result<Option<Cursor>, StateError> {
    let row: Option<(i64, Option<Vec<u8>>)> = conn
        .prepare_cached("SELECT seq, value FROM cursors WHERE sink = ?1")?
        .query_row([sink], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(seq, value)| Ok(Cursor { seq: from_db("cursor", seq)?, value })).transpose()
}
