//! The de-duplication memory: which records each job has spooled, kept after their
//! spool rows are pruned.
//!
//! The spool forgets a record once every sink has it; a server that serves it again (a
//! restored Netwrix database, a mark that steps back) would then have it delivered
//! again. So every spooled record also gets a row in `seen` — its (ord, id, job) under
//! the seq it was given, no payload — and [`Store::commit_page`] skips a record whose
//! key its job already has there. `seen` is trimmed by [`Store::forget_seen`] to a
//! window of age and count, never below what the spool still holds, so its size on
//! disk is bounded (about 100 bytes a record: the row and its index entry).
//!
//! The key holds the job because a record is a duplicate only of one its own job took:
//! two jobs whose records overlap (two searches, or one server in two wire formats)
//! each spool their copy, so a sink restricted to either job misses nothing.

use std::collections::HashSet;

use rusqlite::{params, CachedStatement, Connection, OptionalExtension};

use crate::convert::{from_db, limit_to_db, to_db};
use crate::spool::{before_oldest, delete_through, max_seq};
use crate::{NewRecord, StateError, Store};

/// Most keys one page's range scan reads before [`Seen::for_page`] gives up on it, per
/// record of the page.
const RANGE_PROBE_PER_RECORD: usize = 4;

/// What one job has spooled, as far as one page needs to know; records of the page are
/// added as they are spooled, so a repeat inside the page is caught too.
pub(crate) enum Seen<'c> {
    /// The job's keys in the page's range of `ord`s, read in one index range scan: for
    /// pages fetched in order that range is new and the scan finds nothing, where probing
    /// each record would cost a lookup each.
    Keys(HashSet<(i64, [u8; 16])>),
    /// The range held too many keys (many records without an order key, or a page far
    /// behind the others): each record is looked up, and the page's own keys kept aside.
    Probe { stmt: CachedStatement<'c>, job: String, page: HashSet<(i64, [u8; 16])> },
}

impl<'c> Seen<'c> {
    /// Reads what `job` has spooled in the range of `records`.
    pub(crate) fn for_page(conn: &'c Connection, job: &str, records: &[NewRecord<'_>]) -> Result<Self, StateError> {
        let orders = records.iter().map(|r| r.order);
        let (Some(low), Some(high)) = (orders.clone().min(), orders.max()) else {
            return Ok(Seen::Keys(HashSet::new()));
        };
        // Every key in range counts towards the cap, another job's too, so a range crowded
        // by another job falls back to probes instead of scanning it all.
        let cap = records.len().saturating_mul(RANGE_PROBE_PER_RECORD).saturating_add(16);
        let mut stmt =
            conn.prepare_cached("SELECT ord, id, job = ?3 FROM seen WHERE ord BETWEEN ?1 AND ?2 LIMIT ?4")?;
        let mut rows = stmt.query(params![low, high, job, limit_to_db(cap + 1)])?;
        let mut keys = HashSet::with_capacity(records.len());
        let mut found = 0usize;
        while let Some(row) = rows.next()? {
            found += 1;
            if found > cap {
                let stmt = conn.prepare_cached("SELECT 1 FROM seen WHERE ord = ?1 AND id = ?2 AND job = ?3")?;
                return Ok(Seen::Probe { stmt, job: job.to_owned(), page: HashSet::new() });
            }
            if row.get::<_, bool>(2)? {
                keys.insert((row.get(0)?, id_of(row.get_ref(1)?)?));
            }
        }
        Ok(Seen::Keys(keys))
    }

    /// Whether the job already has `record`; if not, it counts as had from now on.
    pub(crate) fn check_and_add(&mut self, record: &NewRecord<'_>) -> Result<bool, StateError> {
        let key = (record.order, record.id);
        Ok(match self {
            Seen::Keys(keys) => !keys.insert(key),
            Seen::Probe { stmt, job, page } => {
                !page.insert(key) || stmt.exists(params![record.order, &record.id[..], job.as_str()])?
            }
        })
    }
}

fn id_of(value: rusqlite::types::ValueRef<'_>) -> Result<[u8; 16], StateError> {
    let id = value.as_blob().map_err(rusqlite::Error::from)?;
    id.try_into().map_err(|_| StateError::Corrupt(format!("seen id of {} bytes", id.len())))
}

impl Store {
    /// Forgets the keys of records spooled longer ago than `window_ms` before `now_ms`,
    /// and beyond the newest `max_ids`, whichever forgets more, but never of a record
    /// still in the spool (the spool relies on `seen` for its own de-duplication).
    /// Returns how many were forgotten. Age is judged by the seq order: the oldest keys
    /// go first, and a key younger than the window stops the sweep even if an older one
    /// follows (a clock set back keeps keys longer, never shorter). Committed in chunks
    /// without an fsync, like [`Store::prune`]: a power loss only brings keys back.
    pub fn forget_seen(&mut self, now_ms: i64, window_ms: i64, max_ids: u64) -> Result<u64, StateError> {
        self.without_fsync(|s| s.forget_seen_chunks(now_ms, window_ms, max_ids))
    }

    fn forget_seen_chunks(&mut self, now_ms: i64, window_ms: i64, max_ids: u64) -> Result<u64, StateError> {
        let highest = max_seq(&self.conn)?;
        let by_count = highest.saturating_sub(max_ids);
        // The first key young enough to keep, found by walking from the oldest: the walk
        // reads only the keys about to be forgotten.
        let first_young: Option<i64> = self
            .conn
            .prepare_cached("SELECT seq FROM seen WHERE seen_at_ms >= ?1 ORDER BY seq LIMIT 1")?
            .query_row([now_ms.saturating_sub(window_ms)], |r| r.get(0))
            .optional()?;
        let by_age = match first_young {
            Some(seq) => from_db("seen seq", seq.saturating_sub(1))?,
            None => highest,
        };
        let floor = by_count.max(by_age).min(before_oldest(&self.conn)?);
        let floor = to_db("forget floor", floor)?;
        let forgotten = delete_through(&self.conn, "seen", floor)?;
        if forgotten > 0 {
            tracing::debug!(forgotten, floor, "de-duplication memory trimmed");
        }
        Ok(forgotten)
    }

    /// How many record keys the de-duplication memory holds.
    pub fn seen_count(&self) -> Result<u64, StateError> {
        let n: i64 = self.conn.prepare_cached("SELECT count(*) FROM seen")?.query_row([], |r| r.get(0))?;
        from_db("seen count", n)
    }
}
