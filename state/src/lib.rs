//! auditbridge's durable state in SQLite: continuation marks, the record spool
//! and one cursor per sink.
//!
//! Everything the exporter must not forget across restarts lives in one SQLite
//! file so that a single transaction can tie facts together: a fetched page's
//! records and the job's new continuation mark are written atomically
//! ([`Store::commit_page`]), and a sink's cursor moves atomically with its
//! delivery counters ([`Store::ack`]). Records leave the spool only once every
//! sink has acknowledged them ([`Store::prune`]), so the spool is bounded by
//! the slowest sink's backlog rather than by uptime.
//!
//! ```
//! use state::{NewRecord, Start, Store};
//!
//! let mut store = Store::open_in_memory()?;
//! let sink = store.register_sink("syslog", Start::Oldest)?;
//! let page = [NewRecord { id: [1; 16], order: 0, payload: b"{\"who\":\"alice\"}" }];
//! store.commit_page("activity", &page, Some("mark-1"), 1_700_000_000_000)?;
//! let batch = store.read_batch(sink.seq, 100, 1 << 20)?;
//! store.ack("syslog", batch[batch.len() - 1].seq, None, batch.len() as u64)?;
//! assert_eq!(store.prune(&["syslog"])?, 1);
//! # Ok::<(), state::StateError>(())
//! ```

mod convert;
mod cursors;
mod error;
mod jobs;
mod migrations;
mod seen;
mod spool;
mod vacuum;

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use cursors::{Cursor, SinkState, Start};
pub use error::StateError;
pub use jobs::{JobProgress, JobState, Routing};
pub use migrations::SCHEMA_VERSION;
pub use spool::{CommitOutcome, NewRecord, SpoolRow};
pub use vacuum::{file_bytes, Vacuumed};

/// How long a statement waits for another connection's lock before failing
/// with `SQLITE_BUSY` (e.g. while a status command reads the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// WAL size after which a commit checkpoints by itself (SQLite's default is 1,000 pages,
/// 4 MiB with 4 KiB pages). Larger, so that the checkpoints of a busy spool are mostly
/// run by [`Store::sync`] from a connection other than the one committing pages, instead
/// of inside a page commit every eight pages; the WAL stays bounded at about 32 MiB.
const WAL_AUTOCHECKPOINT_BYTES: i64 = 32 * 1024 * 1024;

/// The page size of a new state file (SQLite's default is 4 KiB). A spool row is about
/// half a KiB, so a 4 KiB page holds seven or eight of them: with bigger pages, a page
/// commit and a prune touch (and log to the WAL) fewer pages, and the B-tree is shallower.
const PAGE_SIZE: i64 = 16_384;

/// Prepared statements kept per connection; comfortably more than the number
/// of distinct hot statements in this crate, and a fixed bound on memory.
const STATEMENT_CACHE: usize = 32;

/// How hard SQLite works to make each commit survive power loss.
///
/// Exists because durability costs an `fsync` per commit, and the operator
/// may trade the last few commits on power loss (never corruption) for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=FULL`: the WAL is synced at every commit, so a committed
    /// page survives power loss. The default: nothing is lost.
    #[default]
    Full,
    /// `synchronous=NORMAL`: the WAL is synced only at checkpoints. A power
    /// loss (not a process crash) may roll back the most recent commits; the
    /// marks roll back with them, so the records are fetched again, not lost.
    Normal,
}

/// Tunables for [`Store::open`]; exists so new knobs don't change `open`'s
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreOptions {
    /// Commit durability; see [`Synchronous`].
    pub synchronous: Synchronous,
}

/// The durable state: one SQLite connection to one state file.
///
/// Exists as the only door to the file, so every write goes through the
/// transactional operations below. `Send` (move it into the task that owns
/// it), deliberately not `Sync`: methods that write take `&mut self`.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Opened with [`Synchronous::Full`]: acks then commit without their own fsync
    /// (see [`Store::ack`]).
    full: bool,
}

impl Store {
    /// Opens (creating it and its parent directories if needed) the state
    /// database at `path`: WAL journal, the requested `synchronous` level,
    /// a busy timeout, and any pending schema migrations.
    ///
    /// Fails with [`StateError::NewerSchema`] if the file was written by a
    /// newer build, with [`StateError::ForeignDatabase`] if it is some other
    /// application's SQLite file, and with [`StateError::Open`] (naming the
    /// path) if SQLite itself fails.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<Store, StateError> {
        // The spool holds whole audit records: the directory this creates and the file are
        // private (SQLite gives its -wal and -shm files the database file's mode).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| StateError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|source| StateError::CreateFile { path: path.to_path_buf(), source })?;
        }
        let sync = match opts.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        let with_path = |e: StateError| match e {
            StateError::Sqlite(source) => StateError::Open { path: path.to_path_buf(), source },
            other => other,
        };
        let store = Store::open_file(path, sync).map_err(with_path)?;
        tracing::debug!(path = %path.display(), synchronous = sync, "state database open");
        Ok(store)
    }

    fn open_file(path: &Path, sync: &str) -> Result<Store, StateError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Only takes effect on a new, empty file (before WAL mode is set); an existing
        // file keeps the page size it was created with.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::WalUnavailable { path: path.to_path_buf(), mode });
        }
        conn.pragma_update(None, "synchronous", sync)?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_BYTES / page_size.max(512))?;
        let mut store = Store::init(conn, path.to_path_buf())?;
        store.full = sync == "FULL";
        Ok(store)
    }

    /// An empty, private, non-durable store (tests, dry runs).
    pub fn open_in_memory() -> Result<Store, StateError> {
        Store::init(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    /// Makes every commit so far durable, the lazily synced acks included (see
    /// [`Store::ack`]): a passive WAL checkpoint, which syncs the WAL first. Cheap
    /// when nothing was written since the last one. Any connection to the file may
    /// run it, and it does not block the one that writes.
    pub fn sync(&self) -> Result<(), StateError> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Runs `f` with its commits not synced even under [`Synchronous::Full`] (they
    /// are durable against a crash of the process at once, and against power loss
    /// with the next synced commit or [`Store::sync`]). Only for writes whose loss on
    /// power failure repeats work instead of losing data: acks and prunes. WAL
    /// recovery keeps a prefix of the commits (each frame's checksum covers the ones
    /// before it), so a prune that survives implies the acks before it survived.
    pub(crate) fn without_fsync<R>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        if !self.full {
            return f(self);
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let result = f(self);
        let restored = self.conn.pragma_update(None, "synchronous", "FULL");
        let value = result?;
        restored?;
        Ok(value)
    }

    /// The file this store was opened from (`:memory:` for in-memory stores).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Store, StateError> {
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let before = migrations::migrate(&mut conn, &path)?;
        if before != SCHEMA_VERSION {
            tracing::info!(path = %path.display(), from = before, to = SCHEMA_VERSION, "state schema migrated");
        }
        Ok(Store { conn, path, full: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
    }

    #[test]
    fn default_is_full() {
        assert_eq!(StoreOptions::default().synchronous, Synchronous::Full);
    }

    #[test]
    fn pragmas_applied() {
        let dir = tempfile::tempdir().unwrap();
        for (opt, want) in [(Synchronous::Full, 2), (Synchronous::Normal, 1)] {
            let store = Store::open(&dir.path().join("s.db"), StoreOptions { synchronous: opt }).unwrap();
            let mode: String = store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = store.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
            assert_eq!(sync, want);
        }
    }

    #[test]
    fn new_files_get_the_page_size_and_old_ones_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |store: &Store| -> i64 { store.conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap() };
        let autocheckpoint =
            |store: &Store| -> i64 { store.conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap() };
        let new = Store::open(&dir.path().join("new.db"), StoreOptions::default()).unwrap();
        assert_eq!((page_size(&new), autocheckpoint(&new)), (PAGE_SIZE, WAL_AUTOCHECKPOINT_BYTES / PAGE_SIZE));
        // A file made before the page size was set, with SQLite's default of 4 KiB.
        let old = dir.path().join("old.db");
        Connection::open(&old).unwrap().execute_batch("PRAGMA page_size = 4096; VACUUM;").unwrap();
        let old = Store::open(&old, StoreOptions::default()).unwrap();
        assert_eq!((page_size(&old), autocheckpoint(&old)), (4096, WAL_AUTOCHECKPOINT_BYTES / 4096));
    }

    #[test]
    fn open_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = Store::open(&path, StoreOptions::default()).unwrap_err();
        assert!(matches!(err, StateError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
}
