//! Giving disk space back: the state file keeps the size of its largest backlog (SQLite
//! reuses freed pages but never shrinks the file), and files made before new ones got
//! 16 KiB pages keep 4 KiB pages (the page size cannot change in WAL mode). A vacuum
//! rewrites the file with neither problem. It needs the file to itself: `auditbridge
//! vacuum` holds the state lock, so no `run` can use the file meanwhile.

use crate::{StateError, Store, PAGE_SIZE};
use std::path::Path;

/// What [`Store::vacuum`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vacuumed {
    /// The file and its write-ahead log before, bytes.
    pub bytes_before: u64,
    /// The file and its write-ahead log after, bytes.
    pub bytes_after: u64,
    pub page_size_before: i64,
    pub page_size_after: i64,
}

impl Store {
    /// Rewrites the state file without its free pages and with the page size new files
    /// get. Everything in it stays (spool, marks, cursors). Needs as much free disk
    /// space again as the data kept, up to twice that (SQLite writes a copy, then
    /// replaces the file, atomic through its rollback journal; `auditbridge vacuum`
    /// checks before it starts), and no other connection to the file: one reading
    /// at the time makes it fail with "database is locked", changing nothing.
    pub fn vacuum(&mut self) -> Result<Vacuumed, StateError> {
        let page_size = |store: &Store| store.conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0));
        let page_size_before = page_size(self)?;
        // Everything into the main file first, and the WAL emptied.
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let bytes_before = file_bytes(&self.path);
        // The page size can change only outside WAL mode, by a VACUUM.
        let mode: String = self.conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
        let vacuumed = (|| {
            if !mode.eq_ignore_ascii_case("delete") {
                return Err(StateError::WalUnavailable { path: self.path.clone(), mode: mode.clone() });
            }
            self.conn.pragma_update(None, "page_size", PAGE_SIZE)?;
            self.conn.execute_batch("VACUUM")?;
            Ok(())
        })();
        // Back to WAL whatever happened: the file stays usable by `run`.
        let back: String = self.conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        vacuumed?;
        if !back.eq_ignore_ascii_case("wal") {
            return Err(StateError::WalUnavailable { path: self.path.clone(), mode: back });
        }
        let page_size_after = page_size(self)?;
        self.conn.pragma_update(
            None,
            "wal_autocheckpoint",
            crate::WAL_AUTOCHECKPOINT_BYTES / page_size_after.max(512),
        )?;
        Ok(Vacuumed { bytes_before, bytes_after: file_bytes(&self.path), page_size_before, page_size_after })
    }
}

/// The state file at `path` plus its write-ahead log, bytes (0 for what does not exist):
/// what it takes on disk.
pub fn file_bytes(path: &Path) -> u64 {
    let size = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    };
    size("") + size("-wal")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewRecord, StoreOptions};
    use rusqlite::Connection;

    #[test]
    fn vacuum_shrinks_an_emptied_file_gives_it_the_new_page_size_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // A file made before new files got 16 KiB pages.
        Connection::open(&path).unwrap().execute_batch("PRAGMA page_size = 4096; VACUUM;").unwrap();
        let mut store = Store::open(&path, StoreOptions::default()).unwrap();
        store.register_sink("archive", crate::Start::Oldest).unwrap();
        let payload = vec![7u8; 2000];
        for page in 0..20u8 {
            let records: Vec<NewRecord> = (0..100u8)
                .map(|i| NewRecord {
                    id: [page, i, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
                    order: 0,
                    payload: &payload,
                })
                .collect();
            store.commit_page("corp", &records, Some(&format!("mark{page}")), 0).unwrap();
        }
        // The sink took all but the last 10 rows; they are pruned.
        store.ack("archive", 1990, Some(b"v"), 1990).unwrap();
        assert_eq!(store.prune(&["archive"]).unwrap(), 1990);
        let v = store.vacuum().unwrap();
        assert_eq!((v.page_size_before, v.page_size_after), (4096, PAGE_SIZE));
        assert!(v.bytes_after * 10 < v.bytes_before, "{v:?}");
        // Everything kept is there, and the file is in WAL mode again.
        drop(store);
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        assert_eq!(store.max_seq().unwrap(), 2000);
        assert_eq!(store.read_batch(1990, 100, 1 << 20).unwrap().len(), 10);
        let sink = store.sinks().unwrap().into_iter().find(|s| s.name == "archive").unwrap();
        assert_eq!(sink.cursor, 1990);
        assert_eq!(store.jobs().unwrap()[0].mark.as_deref(), Some("mark19"));
    }
}
