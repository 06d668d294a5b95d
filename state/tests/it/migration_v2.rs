//! Migration 2 (dedup by (ord, id)): a version-1 file keeps its rows, seqs and
//! AUTOINCREMENT high-water mark, each old row gets the ordering key auditbridge
//! derives from its compact form (SQL and `netwrix::compact::order_key` agree), and a
//! record spooled before the upgrade is still recognised as a duplicate after it (and
//! after migration 3, which moves the key into the de-duplication memory).

use rusqlite::Connection;
use state::{NewRecord, Store, StoreOptions, SCHEMA_VERSION};

/// The version-1 schema, as migration 1 created it.
const V1: &str = "CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) STRICT;
    CREATE TABLE jobs (name TEXT PRIMARY KEY, mark TEXT, last_fetch_ms INTEGER, last_error TEXT,
        spooled_total INTEGER NOT NULL DEFAULT 0, duplicates_total INTEGER NOT NULL DEFAULT 0,
        pages_total INTEGER NOT NULL DEFAULT 0) STRICT;
    CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id BLOB NOT NULL UNIQUE CHECK (length(id) = 16), job TEXT NOT NULL,
        fetched_at_ms INTEGER NOT NULL, payload BLOB NOT NULL) STRICT;
    CREATE TABLE cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL CHECK (seq >= 0), value BLOB,
        delivered_total INTEGER NOT NULL DEFAULT 0, last_ack_ms INTEGER, last_error TEXT) STRICT;
    PRAGMA application_id = 1094873972;
    PRAGMA user_version = 1;";

#[test]
fn version_one_rows_get_their_ordering_key_and_still_deduplicate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let records = netwrix::generate::generate(200, 3);
    let mut payloads: Vec<Vec<u8>> = records.iter().map(netwrix::compact::to_vec).collect();
    // Rows whose key is 0: not compact at all, and a record without a RID.
    payloads.push(b"not a compact record".to_vec());
    let mut no_rid = records[0].clone();
    no_rid.rid = None;
    payloads.push(netwrix::compact::to_vec(&no_rid));
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V1).unwrap();
        // Seqs 1..=50 were pruned: the rows start at 51, and the high-water mark is above.
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('spool', 50)", []).unwrap();
        for p in &payloads {
            let id = netwrix::RecordId::of_compact(p).0;
            conn.execute(
                "INSERT INTO spool (id, job, fetched_at_ms, payload) VALUES (?1, 'corp', 0, ?2)",
                rusqlite::params![&id[..], p],
            )
            .unwrap();
        }
        conn.execute("UPDATE sqlite_sequence SET seq = 400 WHERE name = 'spool'", []).unwrap();
    }
    let mut store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.max_seq().unwrap(), 400, "the AUTOINCREMENT high-water mark survives");
    assert_eq!(store.spool_rows().unwrap(), payloads.len() as u64);
    {
        let conn = Connection::open(&path).unwrap();
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // Since version 3 the key lives in the de-duplication memory, under the row's seq.
        let mut stmt =
            conn.prepare("SELECT seq, seen.ord, payload FROM spool JOIN seen USING (seq) ORDER BY seq").unwrap();
        let rows: Vec<(i64, i64, Vec<u8>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(rows.first().map(|r| r.0), Some(51), "seqs kept");
        for (seq, ord, payload) in &rows {
            assert_eq!(*ord, netwrix::compact::order_key(payload), "seq {seq}: SQL and Rust keys agree");
        }
        assert!(rows.iter().filter(|r| r.1 != 0).count() >= 200, "generated records have RID keys");
        assert_eq!(rows.iter().rev().take(2).map(|r| r.1).collect::<Vec<_>>(), [0, 0]);
    }
    // The same records fetched again after the upgrade are all duplicates.
    let again: Vec<NewRecord<'_>> = payloads
        .iter()
        .map(|p| NewRecord {
            id: netwrix::RecordId::of_compact(p).0,
            order: netwrix::compact::order_key(p),
            payload: p,
        })
        .collect();
    let outcome = store.commit_page("corp", &again, Some("m"), 1).unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, payloads.len() as u64));
    assert_eq!(outcome.last_seq, 400);
}
