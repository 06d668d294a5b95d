//! Per-job bookkeeping: each fetch job's continuation mark and health counters.
//!
//! The mark is the job's resume point at Netwrix: it is only ever advanced by
//! [`Store::commit_page`], in the same transaction as the records it covers,
//! so a restart resumes exactly after what was spooled. The one exception is
//! [`Store::set_mark`], an operator's hand-over from another exporter. The counters and last
//! error exist for the status view and metrics.

use rusqlite::{params, OptionalExtension};

use crate::convert::from_db;
use crate::{StateError, Store};

/// One job's persisted state, for status output; exists so operators can see
/// where each job stands without reading SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// Job name (as configured).
    pub name: String,
    /// Continuation mark to resume from; `None` before the first mark.
    pub mark: Option<String>,
    /// `fetched_at_ms` of the last committed page.
    pub last_fetch_ms: Option<i64>,
    /// The last error recorded, if not cleared since.
    pub last_error: Option<String>,
    /// Records this job has spooled.
    pub spooled_total: u64,
    /// Records skipped as already spooled.
    pub duplicates_total: u64,
    /// Pages committed.
    pub pages_total: u64,
    /// Where its rows go when they are not the job's own (a backfill); `None`: a
    /// configured job, delivered as itself.
    pub routing: Option<Routing>,
}

/// Where the rows of a job fetched on behalf of another go (a backfill's): kept in the
/// job's row, so delivery reads it once per job instead of decoding it from a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// The configured job the rows belong to: the sinks that take it take them.
    pub base_job: String,
    /// The one sink that takes them; `None`: every sink that takes `base_job`.
    pub only_sink: Option<String>,
    /// They are sent again (events flagged as replays where the format allows).
    pub replay: bool,
    /// The `When` range fetched (`from`, `to`), for `status`.
    pub range: Option<(String, String)>,
}

/// How a job's fetching moves, for `status` and `/readyz` (Unix ms; `None` = not known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobProgress {
    /// When the continuation mark last changed.
    pub mark_moved_ms: Option<i64>,
    /// When the last page with records was committed.
    pub records_ms: Option<i64>,
    /// The latest `When` among the records spooled: where a stale-mark probe searches from.
    pub last_when_ms: Option<i64>,
}

impl Store {
    /// The job's continuation mark; `None` if the job never committed a mark.
    pub fn mark(&self, job: &str) -> Result<Option<String>, StateError> {
        let mark: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT mark FROM jobs WHERE name = ?1")?
            .query_row([job], |r| r.get(0))
            .optional()?;
        Ok(mark.flatten())
    }

    /// Sets (`Some`) or clears (`None`) the job's last error, creating the job
    /// row if needed. Nothing else changes; in particular not the mark. Setting
    /// the value it already has writes nothing (the fetcher clears it after every
    /// page, and a no-op must not cost a transaction's fsync).
    pub fn record_job_error(&mut self, job: &str, error: Option<&str>) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT INTO jobs (name, last_error) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error
                 WHERE jobs.last_error IS NOT excluded.last_error",
            )?
            .execute(params![job, error])?;
        Ok(())
    }

    /// Sets the job's continuation mark by hand (`auditbridge import-mark`: the mark an
    /// older exporter saved), creating the job row if needed, and returns the mark it
    /// replaces. Nothing is spooled with it, so the pairing of a page and its mark is
    /// untouched: the next page fetched is the first one after this mark.
    pub fn set_mark(&mut self, job: &str, mark: Option<&str>) -> Result<Option<String>, StateError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let before: Option<Option<String>> =
            tx.query_row("SELECT mark FROM jobs WHERE name = ?1", [job], |r| r.get(0)).optional()?;
        tx.execute(
            "INSERT INTO jobs (name, mark) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET mark = excluded.mark",
            params![job, mark],
        )?;
        tx.commit()?;
        Ok(before.flatten())
    }

    /// The time a job started from (`start_at`, `initial_lookback`, `import-mark
    /// --since`), kept so its search keeps the same `When` filter under its mark.
    pub fn start_from(&self, job: &str) -> Result<Option<String>, StateError> {
        let value: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([start_key(job)], |r| r.get(0))
            .optional()?;
        Ok(value)
    }

    /// Sets (`Some`) or forgets (`None`) the time a job starts from.
    pub fn set_start_from(&mut self, job: &str, from: Option<&str>) -> Result<(), StateError> {
        match from {
            Some(from) => self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![start_key(job), from],
            )?,
            None => self.conn.execute("DELETE FROM meta WHERE key = ?1", [start_key(job)])?,
        };
        Ok(())
    }

    /// Records where `job`'s rows go (creating its row if needed), before it fetches:
    /// the first page's rows are then routed from the start. Setting it again replaces it.
    pub fn set_routing(&mut self, job: &str, routing: &Routing) -> Result<(), StateError> {
        let (from, to) = routing.range.clone().unzip();
        self.conn.execute(
            "INSERT INTO jobs (name, base_job, only_sink, replay, range_from, range_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (name) DO UPDATE SET base_job = excluded.base_job, only_sink = excluded.only_sink,
                 replay = excluded.replay, range_from = excluded.range_from, range_to = excluded.range_to",
            params![job, routing.base_job, routing.only_sink, routing.replay, from, to],
        )?;
        Ok(())
    }

    /// When the job's mark last moved and its last records came, as last saved.
    pub fn job_progress(&self, job: &str) -> Result<JobProgress, StateError> {
        let get = |what: &str| -> Result<Option<i64>, StateError> {
            Ok(self
                .conn
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([format!("job_{what}:{job}")], |r| r.get(0))
                .optional()?)
        };
        Ok(JobProgress {
            mark_moved_ms: get("mark_moved_ms")?,
            records_ms: get("records_ms")?,
            last_when_ms: get("last_when_ms")?,
        })
    }

    /// Saves `progress` (the fetcher does so now and then, not on every page: it is for
    /// `status` and `/readyz`, which need seconds, not a transaction per page). A job with
    /// a [`Routing`] (a backfill) keeps none: nothing watches its mark, and a finished
    /// backfill must leave no keys behind.
    pub fn save_job_progress(&mut self, job: &str, progress: &JobProgress) -> Result<(), StateError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let routed: Option<bool> = tx
            .prepare_cached("SELECT base_job IS NOT NULL FROM jobs WHERE name = ?1")?
            .query_row([job], |r| r.get(0))
            .optional()?;
        if routed == Some(true) {
            return Ok(());
        }
        for (what, value) in [
            ("mark_moved_ms", progress.mark_moved_ms),
            ("records_ms", progress.records_ms),
            ("last_when_ms", progress.last_when_ms),
        ] {
            if let Some(value) = value {
                tx.prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![format!("job_{what}:{job}"), value])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every job that has committed a page, recorded an error or been given a routing, by name.
    pub fn jobs(&self) -> Result<Vec<JobState>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, mark, last_fetch_ms, last_error, spooled_total, duplicates_total, pages_total,
                    base_job, only_sink, replay, range_from, range_to
             FROM jobs ORDER BY name",
        )?;
        let rows = stmt.query_and_then([], |r| -> Result<JobState, StateError> {
            Ok(JobState {
                name: r.get(0)?,
                mark: r.get(1)?,
                last_fetch_ms: r.get(2)?,
                last_error: r.get(3)?,
                spooled_total: from_db("spooled_total", r.get(4)?)?,
                duplicates_total: from_db("duplicates_total", r.get(5)?)?,
                pages_total: from_db("pages_total", r.get(6)?)?,
                routing: match r.get::<_, Option<String>>(7)? {
                    Some(base_job) => Some(Routing {
                        base_job,
                        only_sink: r.get(8)?,
                        replay: r.get(9)?,
                        range: r.get::<_, Option<String>>(10)?.zip(r.get::<_, Option<String>>(11)?),
                    }),
                    None => None,
                },
            })
        })?;
        rows.collect()
    }
}

/// The `meta` key of a job's start time (the jobs table has no column for it).
fn start_key(job: &str) -> String {
    format!("job_start_from:{job}")
}
