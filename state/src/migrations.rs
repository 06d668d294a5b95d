//! The numbered schema migrations and the code that applies them at open.
//!
//! The state file lives for months and outlives the binary that created it, so
//! its schema must evolve in place. Each entry of [`MIGRATIONS`] upgrades the
//! schema by one version; they run in order, all inside one `IMMEDIATE`
//! transaction, and the resulting version is recorded in `PRAGMA user_version`
//! (which SQLite rolls back with the transaction). A file from a newer build is
//! refused instead of being misread. Never edit a released migration: append.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::StateError;

/// Marks the file as ours (`PRAGMA application_id`), ASCII "ABst".
pub(crate) const APPLICATION_ID: i32 = 0x4142_7374;

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1: jobs with their continuation marks, the spool, sink cursors.
    // STRICT tables make SQLite reject values of the wrong type instead of
    // storing them. AUTOINCREMENT keeps seq monotonic even after the newest
    // rows are pruned, and `sqlite_sequence` remembers the highest seq ever
    // assigned.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value ANY
    ) STRICT;
    CREATE TABLE jobs (
        name             TEXT PRIMARY KEY,
        mark             TEXT,
        last_fetch_ms    INTEGER,
        last_error       TEXT,
        spooled_total    INTEGER NOT NULL DEFAULT 0,
        duplicates_total INTEGER NOT NULL DEFAULT 0,
        pages_total      INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE spool (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
        job           TEXT NOT NULL,
        fetched_at_ms INTEGER NOT NULL,
        payload       BLOB NOT NULL
    ) STRICT;
    CREATE TABLE cursors (
        sink            TEXT PRIMARY KEY,
        seq             INTEGER NOT NULL CHECK (seq >= 0),
        value           BLOB,
        delivered_total INTEGER NOT NULL DEFAULT 0,
        last_ack_ms     INTEGER,
        last_error      TEXT
    ) STRICT;",
    // Version 2: duplicates are found through UNIQUE (ord, id) instead of UNIQUE (id).
    // `ord` is a key the caller derives from the record itself (auditbridge: the
    // timestamp digits that open a Netwrix RID), so new rows land at the right edge of
    // the index instead of on random pages: a page commit and a prune then touch a few
    // index pages, not one per record (measured in docs/performance.md). Since `ord`
    // is a function of the record, (ord, id) is unique exactly when id is. Existing
    // rows get the key auditbridge derives from its compact form version 1 (a version
    // byte 1, a one-byte flags varint, the RID's one-byte length varint, then the RID),
    // so a record spooled before the upgrade is still recognised when fetched again.
    // The table is rebuilt (a UNIQUE constraint cannot be dropped) with its seqs and
    // its AUTOINCREMENT high-water mark.
    "CREATE TABLE spool_v2 (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        ord           INTEGER NOT NULL,
        id            BLOB NOT NULL CHECK (length(id) = 16),
        job           TEXT NOT NULL,
        fetched_at_ms INTEGER NOT NULL,
        payload       BLOB NOT NULL,
        UNIQUE (ord, id)
    ) STRICT;
    INSERT INTO spool_v2 (seq, ord, id, job, fetched_at_ms, payload)
        SELECT seq,
               CASE WHEN length(payload) >= 20
                     AND substr(payload, 1, 1) = x'01'
                     AND substr(payload, 2, 1) < x'80'
                     AND substr(payload, 3, 1) >= x'12' AND substr(payload, 3, 1) < x'80'
                     AND CAST(substr(payload, 4, 17) AS TEXT) NOT GLOB '*[^0-9]*'
                    THEN CAST(CAST(substr(payload, 4, 17) AS TEXT) AS INTEGER)
                    ELSE 0 END,
               id, job, fetched_at_ms, payload
        FROM spool;
    CREATE TEMP TABLE spool_high AS SELECT seq FROM sqlite_sequence WHERE name = 'spool';
    DROP TABLE spool;
    ALTER TABLE spool_v2 RENAME TO spool;
    DELETE FROM sqlite_sequence WHERE name = 'spool';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'spool', seq FROM spool_high;
    DROP TABLE spool_high;",
    // Version 3: duplicates are found per job, and remembered after their rows are pruned.
    // `seen` holds each spooled record's (ord, id, job) under the seq it was given, and
    // outlives the spool row (pruned by age and count, `Store::forget_seen`), so a record
    // a server serves again after pruning is still recognised. The key includes the job:
    // a record is a duplicate only of one its own job spooled, so a sink restricted to
    // one of two overlapping jobs still gets every record of that job. The spool loses
    // its UNIQUE (ord, id) (two jobs may now spool the same id) and `ord`, which lives
    // in `seen`; it is rebuilt with its seqs and AUTOINCREMENT high-water mark.
    "CREATE TABLE seen (
        seq        INTEGER PRIMARY KEY,
        ord        INTEGER NOT NULL,
        id         BLOB NOT NULL CHECK (length(id) = 16),
        job        TEXT NOT NULL,
        seen_at_ms INTEGER NOT NULL,
        UNIQUE (ord, id, job)
    ) STRICT;
    INSERT INTO seen (seq, ord, id, job, seen_at_ms) SELECT seq, ord, id, job, fetched_at_ms FROM spool;
    CREATE TABLE spool_v3 (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            BLOB NOT NULL CHECK (length(id) = 16),
        job           TEXT NOT NULL,
        fetched_at_ms INTEGER NOT NULL,
        payload       BLOB NOT NULL
    ) STRICT;
    INSERT INTO spool_v3 (seq, id, job, fetched_at_ms, payload) SELECT seq, id, job, fetched_at_ms, payload FROM spool;
    CREATE TEMP TABLE spool_high AS SELECT seq FROM sqlite_sequence WHERE name = 'spool';
    DROP TABLE spool;
    ALTER TABLE spool_v3 RENAME TO spool;
    DELETE FROM sqlite_sequence WHERE name = 'spool';
    INSERT INTO sqlite_sequence (name, seq) SELECT 'spool', seq FROM spool_high;
    DROP TABLE spool_high;",
    // Version 4: a job's rows carry their routing in columns. A backfill fetches under a
    // name of its own (its own mark); `base_job` is the configured job its rows belong to,
    // `only_sink` the one sink that takes them (NULL: every sink that takes the base job),
    // `replay` flags them as sent again, and `range_from`/`range_to` are the `When` range
    // it fetches, so `status` can show it. NULL `base_job`: a configured job, delivered
    // as itself. Backfills started before version 4 encoded all of this in their name,
    // `<job>@backfill|<sink or *>|<from>|<to>` (times of 20 characters, no `|`): those
    // names get their columns here (and a job row, for rows spooled without one), so an
    // interrupted backfill resumes under the same name with its mark and its rows routed.
    "ALTER TABLE jobs ADD COLUMN base_job TEXT;
    ALTER TABLE jobs ADD COLUMN only_sink TEXT;
    ALTER TABLE jobs ADD COLUMN replay INTEGER NOT NULL DEFAULT 0 CHECK (replay IN (0, 1));
    ALTER TABLE jobs ADD COLUMN range_from TEXT;
    ALTER TABLE jobs ADD COLUMN range_to TEXT;
    INSERT OR IGNORE INTO jobs (name) SELECT DISTINCT job FROM spool WHERE instr(job, '@backfill|') > 0;
    CREATE TEMP TABLE old_backfill AS
        SELECT name, instr(name, '@backfill|') AS at, length(name) AS len FROM jobs
        WHERE instr(name, '@backfill|') > 1;
    DELETE FROM old_backfill
        WHERE len - (at + 9) < 43 OR substr(name, len - 41, 1) <> '|' OR substr(name, len - 20, 1) <> '|';
    UPDATE jobs SET
        base_job = (SELECT substr(name, 1, at - 1) FROM old_backfill o WHERE o.name = jobs.name),
        only_sink = (SELECT nullif(substr(name, at + 10, len - (at + 9) - 42), '*')
                     FROM old_backfill o WHERE o.name = jobs.name),
        replay = 1,
        range_from = substr(name, length(name) - 40, 20),
        range_to = substr(name, length(name) - 19, 20)
    WHERE name IN (SELECT name FROM old_backfill);
    DROP TABLE old_backfill;",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database at `path` (used for messages only) up to
/// [`SCHEMA_VERSION`], or refuses it. Returns the version found before.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<u32, StateError> {
    // IMMEDIATE: two processes opening a fresh file at once must not both
    // decide to run migration 1.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let found = u32::try_from(found)
        .map_err(|_| StateError::Corrupt(format!("schema version {found} in {}", path.display())))?;
    if found > SCHEMA_VERSION {
        return Err(StateError::NewerSchema { found, supported: SCHEMA_VERSION, path: path.to_path_buf() });
    }
    let app_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if found == 0 {
        let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if objects > 0 || app_id != 0 {
            return Err(StateError::ForeignDatabase {
                path: path.to_path_buf(),
                reason: format!("it has {objects} schema objects but no auditbridge schema version"),
            });
        }
    } else if app_id != APPLICATION_ID {
        return Err(StateError::ForeignDatabase {
            path: path.to_path_buf(),
            reason: format!("application_id is {app_id:#x}, not {APPLICATION_ID:#x}"),
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tracing::info!(path = %path.display(), to_version = index + 1, "applying state schema migration");
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRecord, Routing, Start, Store};

    /// A new state file at `path` as a build of schema `version` left it.
    fn at_version(path: &Path, version: usize) -> Connection {
        let conn = Connection::open(path).unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID).unwrap();
        conn.pragma_update(None, "user_version", version as i64).unwrap();
        conn
    }

    /// A state file of schema version 2 (dedup on the id alone, no `seen`) with rows of two
    /// jobs, one of them already acknowledged and pruned, opened by this build.
    #[test]
    fn version_2_files_keep_their_rows_and_learn_what_they_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let conn = at_version(&path, 2);
            conn.execute_batch(
                "INSERT INTO spool (seq, ord, id, job, fetched_at_ms, payload) VALUES
                     (7, 100, x'01010101010101010101010101010101', 'a', 5, x'aa'),
                     (8, 101, x'02020202020202020202020202020202', 'b', 6, x'bb');
                 UPDATE sqlite_sequence SET seq = 9 WHERE name = 'spool';
                 INSERT INTO cursors (sink, seq) VALUES ('s', 6);",
            )
            .unwrap();
        }
        let mut store = Store::open(&path, Default::default()).unwrap();
        assert_eq!(store.max_seq().unwrap(), 9, "the high-water mark survives");
        let rows = store.read_batch(0, 10, usize::MAX).unwrap();
        assert_eq!(rows.iter().map(|r| (r.seq, r.job.as_str())).collect::<Vec<_>>(), [(7, "a"), (8, "b")]);
        assert_eq!(store.seen_count().unwrap(), 2);
        // Job a's record is still known to a, and new to b.
        let again = [NewRecord { id: [1; 16], order: 100, payload: b"aa" }];
        assert_eq!(store.commit_page("a", &again, None, 9).unwrap().duplicates, 1);
        assert_eq!(store.commit_page("b", &again, None, 9).unwrap().inserted, 1);
        store.register_sink("t", Start::Oldest).unwrap();
        assert_eq!(store.read_batch(9, 10, usize::MAX).unwrap()[0].seq, 10, "seqs go on from the high-water mark");
    }

    /// A state file of schema version 3, with backfills interrupted while their routing was
    /// in their names, opened by this build: each resumes from its mark with its routing
    /// in columns, and a name that only looks like a backfill's stays a job of its own.
    #[test]
    fn version_3_backfill_names_become_routing_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        let all = "corp@backfill|*|2024-03-01T00:00:00Z|2024-03-02T00:00:00Z";
        let one = "corp@backfill|splunk|eu|2024-03-01T00:00:00Z|2024-03-02T00:00:00Z";
        {
            let conn = at_version(&path, 3);
            conn.execute(
                "INSERT INTO jobs (name, mark, pages_total) VALUES ('corp', 'live-mark', 4), (?1, 'backfill-mark', 2),
                     ('odd@backfill|x', NULL, 1)",
                [all],
            )
            .unwrap();
            // Rows of the second backfill were spooled, but its job row is gone.
            conn.execute(
                "INSERT INTO spool (seq, id, job, fetched_at_ms, payload) VALUES
                     (1, x'01010101010101010101010101010101', ?1, 5, x'aa')",
                [one],
            )
            .unwrap();
        }
        let mut store = Store::open(&path, Default::default()).unwrap();
        assert_eq!(store.mark("corp").unwrap().as_deref(), Some("live-mark"));
        assert_eq!(store.mark(all).unwrap().as_deref(), Some("backfill-mark"), "the backfill resumes from its mark");
        let routing: Vec<(String, Option<Routing>)> =
            store.jobs().unwrap().into_iter().map(|j| (j.name, j.routing)).collect();
        let range = Some(("2024-03-01T00:00:00Z".to_owned(), "2024-03-02T00:00:00Z".to_owned()));
        let backfill = |only_sink: Option<&str>| {
            Some(Routing {
                base_job: "corp".into(),
                only_sink: only_sink.map(Into::into),
                replay: true,
                range: range.clone(),
            })
        };
        assert_eq!(
            routing,
            [
                ("corp".to_owned(), None),
                (all.to_owned(), backfill(None)),
                (one.to_owned(), backfill(Some("splunk|eu"))),
                ("odd@backfill|x".to_owned(), None),
            ]
        );
        // A backfill's progress is not kept; a configured job's is.
        let progress = crate::JobProgress { mark_moved_ms: Some(1), ..Default::default() };
        store.save_job_progress(all, &progress).unwrap();
        store.save_job_progress("corp", &progress).unwrap();
        assert_eq!(store.job_progress(all).unwrap(), Default::default());
        assert_eq!(store.job_progress("corp").unwrap(), progress);
    }
}
