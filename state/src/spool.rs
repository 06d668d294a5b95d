//! The spool: records fetched from Netwrix, each with a monotonic `seq`, kept
//! until every sink has acknowledged them.
//!
//! This is where "nothing lost, nothing taken twice" is enforced on the input
//! side: [`Store::commit_page`] writes a page's records and the job's next
//! continuation mark in one transaction, so after a crash either both are
//! there or neither is. Seqs are dense (1, 2, 3, ...: duplicates consume none),
//! so `max_seq - cursor` is a sink's backlog in rows. A record is a duplicate
//! only of one its *own job* spooled before: the ids each job spooled are
//! remembered in `seen` (see [`crate::seen`]), which outlives pruning for a
//! window, so a record a server serves again after its row was pruned is still
//! skipped and counted.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::seen::Seen;

use crate::convert::{from_db, limit_to_db, to_db};
use crate::{StateError, Store};

/// Rows deleted per statement by [`Store::prune`]; each chunk is its own
/// short write transaction so fetchers and sinks are never blocked for long.
const PRUNE_CHUNK: i64 = 5_000;

/// One record to spool; exists so callers can pass borrowed payloads without
/// copying a whole page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRecord<'a> {
    /// Stable record identity (e.g. a hash of the Netwrix record); with the
    /// job, the deduplication key.
    pub id: [u8; 16],
    /// A key derived from the record itself that grows roughly with fetch order
    /// (auditbridge: the timestamp that opens the RID; 0 when there is none).
    /// Duplicates are found by (`order`, `id`), so it must be a function of the
    /// record: the same record must always get the same `order`. Roughly
    /// increasing keys keep the dedup index's writes on a few pages.
    pub order: i64,
    /// The record as it will be delivered.
    pub payload: &'a [u8],
}

/// What [`Store::commit_page`] did; exists so the fetcher can log and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitOutcome {
    /// Records newly spooled.
    pub inserted: u64,
    /// Records skipped because the job had already spooled them (including
    /// repeats within the page).
    pub duplicates: u64,
    /// The highest seq ever assigned, as of this commit (the previous value if
    /// nothing was inserted).
    pub last_seq: u64,
}

/// One spooled record as read back for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRow {
    /// Position in the spool; sinks acknowledge up to a seq.
    pub seq: u64,
    /// The record id given at commit.
    pub id: [u8; 16],
    /// The job that fetched it.
    pub job: String,
    /// When its page was fetched (ms since the Unix epoch, caller's clock).
    pub fetched_at_ms: i64,
    /// The record.
    pub payload: Vec<u8>,
}

impl Store {
    /// Spools `records` for `job` and, in the same transaction, sets the job's
    /// mark to `next_mark` (`None` leaves it unchanged), adds to its
    /// `spooled_total`/`duplicates_total`, bumps `pages_total` and sets
    /// `last_fetch_ms = fetched_at_ms`. The job's `last_error` is not touched;
    /// clear it with [`Store::record_job_error`].
    ///
    /// Records `job` already spooled (still in the spool, or pruned within the
    /// dedup window, see [`Store::forget_seen`]) are skipped and counted as
    /// duplicates; another job's copy of the same record does not count.
    ///
    /// On error nothing is written: no records, no mark, no counters.
    pub fn commit_page(
        &mut self,
        job: &str,
        records: &[NewRecord<'_>],
        next_mark: Option<&str>,
        fetched_at_ms: i64,
    ) -> Result<CommitOutcome, StateError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut inserted: u64 = 0;
        {
            // Duplicates are skipped before the insert, never by `INSERT OR IGNORE`:
            // an ignored insert still consumes an AUTOINCREMENT seq, leaving gaps that
            // make `max_seq - cursor` overstate backlogs. And a single-row `INSERT ...
            // VALUES` needs no statement journal, which an `INSERT ... SELECT` filling
            // the same role costs on every row.
            let mut seen = Seen::for_page(&tx, job, records)?;
            let mut insert =
                tx.prepare_cached("INSERT INTO spool (id, job, fetched_at_ms, payload) VALUES (?1, ?2, ?3, ?4)")?;
            let mut remember =
                tx.prepare_cached("INSERT INTO seen (seq, ord, id, job, seen_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for record in records {
                if seen.check_and_add(record)? {
                    continue;
                }
                insert.execute(params![&record.id[..], job, fetched_at_ms, record.payload])?;
                remember.execute(params![tx.last_insert_rowid(), record.order, &record.id[..], job, fetched_at_ms])?;
                inserted += 1;
            }
        }
        let duplicates = records.len() as u64 - inserted;
        tx.prepare_cached(
            "INSERT INTO jobs (name, mark, last_fetch_ms, spooled_total, duplicates_total, pages_total)
             VALUES (?1, ?2, ?3, ?4, ?5, 1)
             ON CONFLICT (name) DO UPDATE SET
                 mark = coalesce(excluded.mark, jobs.mark),
                 last_fetch_ms = excluded.last_fetch_ms,
                 spooled_total = jobs.spooled_total + excluded.spooled_total,
                 duplicates_total = jobs.duplicates_total + excluded.duplicates_total,
                 pages_total = jobs.pages_total + 1",
        )?
        .execute(params![
            job,
            next_mark,
            fetched_at_ms,
            to_db("inserted", inserted)?,
            to_db("duplicates", duplicates)?
        ])?;
        let last_seq = max_seq(&tx)?;
        tx.commit()?;
        tracing::trace!(job, inserted, duplicates, last_seq, "page committed");
        Ok(CommitOutcome { inserted, duplicates, last_seq })
    }

    /// Spooled rows with `seq > after`, ascending: at most `limit` rows, and
    /// no more than `max_bytes` of payload in total, except that the first
    /// row is always returned even if it alone is larger (so a batch is never
    /// empty while rows remain). `limit == 0` returns nothing.
    pub fn read_batch(&self, after: u64, limit: usize, max_bytes: usize) -> Result<Vec<SpoolRow>, StateError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, id, job, fetched_at_ms, payload FROM spool WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![to_db("after", after)?, limit_to_db(limit)])?;
        let mut bytes: usize = 0;
        while let Some(row) = rows.next()? {
            let payload_len = row.get_ref(4)?.as_blob().map_err(rusqlite::Error::from)?.len();
            if !out.is_empty() && bytes.saturating_add(payload_len) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(payload_len);
            let id = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            let id: [u8; 16] =
                id.try_into().map_err(|_| StateError::Corrupt(format!("spool id of {} bytes", id.len())))?;
            out.push(SpoolRow {
                seq: from_db("seq", row.get(0)?)?,
                id,
                job: row.get(2)?,
                fetched_at_ms: row.get(3)?,
                payload: row.get(4)?,
            });
        }
        Ok(out)
    }

    /// Deletes the spool rows that every sink in `sinks` has acknowledged
    /// (`seq <=` the smallest of their cursors) and returns how many. Sinks
    /// not named do not hold rows back. An empty `sinks` deletes nothing
    /// (rather than everything); an unregistered name is
    /// [`StateError::UnknownSink`]. Deletes in chunks of a few thousand rows,
    /// each its own short transaction, committed without an fsync (like
    /// [`Store::ack`]); follow with [`Store::sync`] to make it durable. A power
    /// loss before that brings back rows that the next prune deletes again.
    pub fn prune(&mut self, sinks: &[&str]) -> Result<u64, StateError> {
        self.without_fsync(|s| s.prune_chunks(sinks))
    }

    fn prune_chunks(&mut self, sinks: &[&str]) -> Result<u64, StateError> {
        let mut floor: Option<u64> = None;
        for sink in sinks {
            let cursor = self.cursor(sink)?.ok_or_else(|| StateError::UnknownSink { sink: (*sink).to_owned() })?;
            floor = Some(floor.map_or(cursor.seq, |f| f.min(cursor.seq)));
        }
        let Some(floor) = floor else { return Ok(0) };
        let floor = to_db("prune floor", floor)?;
        if let Some(deleted) = self.truncate_if_all_below(floor)? {
            return Ok(deleted);
        }
        let deleted = delete_through(&self.conn, "spool", floor)?;
        if deleted > 0 {
            tracing::debug!(deleted, floor, "spool pruned");
        }
        Ok(deleted)
    }

    /// When every row is at or below `floor` (every sink has everything: a quiet spool,
    /// or the end of `run --once`), deletes them all with one `DELETE` without a `WHERE`,
    /// which SQLite runs as a truncation of the table and its index: about ten times less
    /// time per row than deleting by range (docs/performance.md). `None` when some row
    /// is above `floor`. Seqs keep growing: AUTOINCREMENT's high-water mark stays.
    fn truncate_if_all_below(&mut self, floor: i64) -> Result<Option<u64>, StateError> {
        // IMMEDIATE: no page can be committed between the check and the delete.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let highest: Option<i64> = tx.prepare_cached("SELECT max(seq) FROM spool")?.query_row([], |r| r.get(0))?;
        if highest.is_none_or(|h| h > floor) {
            return Ok(None);
        }
        let deleted = tx.prepare_cached("DELETE FROM spool")?.execute([])?;
        tx.commit()?;
        Ok(Some(deleted as u64))
    }

    /// The highest seq ever assigned (0 if none); unaffected by pruning.
    pub fn max_seq(&self) -> Result<u64, StateError> {
        max_seq(&self.conn)
    }

    /// How many rows the spool holds now.
    pub fn spool_rows(&self) -> Result<u64, StateError> {
        let n: i64 = self.conn.prepare_cached("SELECT count(*) FROM spool")?.query_row([], |r| r.get(0))?;
        from_db("spool rows", n)
    }

    /// Bytes of the database file in use: pages holding data, not the free pages that
    /// pruning leaves for reuse (the file itself does not shrink). Cheap: no table scan.
    pub fn used_bytes(&self) -> Result<u64, StateError> {
        let pragma = |name: &str| -> Result<i64, StateError> {
            Ok(self.conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?)
        };
        let used = (pragma("page_count")? - pragma("freelist_count")?).max(0) * pragma("page_size")?;
        from_db("used bytes", used)
    }
}

/// Deletes the rows of `table` (`spool` or `seen`, keyed by `seq`) with `seq <= floor`,
/// oldest first, [`PRUNE_CHUNK`] rows a statement. Outside any explicit transaction, so
/// each chunk commits on its own and writers never wait long behind it.
pub(crate) fn delete_through(conn: &Connection, table: &str, floor: i64) -> Result<u64, StateError> {
    let sql =
        format!("DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} WHERE seq <= ?1 ORDER BY seq LIMIT ?2)");
    let mut deleted: u64 = 0;
    loop {
        let n = conn.prepare_cached(&sql)?.execute(params![floor, PRUNE_CHUNK])?;
        deleted += n as u64;
        if (n as i64) < PRUNE_CHUNK {
            return Ok(deleted);
        }
    }
}

/// The highest seq ever assigned, from the AUTOINCREMENT bookkeeping that
/// SQLite keeps in `sqlite_sequence` (which pruning does not lower).
pub(crate) fn max_seq(conn: &Connection) -> Result<u64, StateError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'spool'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    from_db("max seq", seq.unwrap_or(0))
}

/// The seq just before the oldest row still spooled, or [`max_seq`] if the
/// spool is empty: a cursor there receives everything still spooled.
pub(crate) fn before_oldest(conn: &Connection) -> Result<u64, StateError> {
    let oldest: Option<i64> = conn.prepare_cached("SELECT min(seq) FROM spool")?.query_row([], |r| r.get(0))?;
    match oldest {
        Some(seq) => from_db("oldest seq", seq - 1),
        None => max_seq(conn),
    }
}
