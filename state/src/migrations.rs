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
