//! Behavioural tests of the public `Store` API against real files: schema
//! migration, atomic page commits, deduplication, batching, cursors, pruning
//! and durability across reopen and process death.

use std::path::Path;

use state::{NewRecord, Start, StateError, Store, StoreOptions, Synchronous, SCHEMA_VERSION};

fn id(n: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    id
}

fn payloads(range: std::ops::Range<u32>) -> Vec<(u32, Vec<u8>)> {
    range.map(|n| (n, format!("record-{n}").into_bytes())).collect()
}

fn records(p: &[(u32, Vec<u8>)]) -> Vec<NewRecord<'_>> {
    p.iter().map(|(n, b)| NewRecord { id: id(*n), order: 0, payload: b }).collect()
}

fn open(path: &Path) -> Store {
    Store::open(path, StoreOptions::default()).unwrap()
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn fresh_file_is_created_migrated_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/state.db");
    {
        let mut store = open(&path);
        assert_eq!(store.path(), path);
        assert_eq!(store.max_seq().unwrap(), 0);
        assert_eq!(store.spool_rows().unwrap(), 0);
        assert!(store.jobs().unwrap().is_empty());
        assert!(store.sinks().unwrap().is_empty());
        store.commit_page("a", &[], Some("m1"), 1).unwrap();
    }
    let conn = raw(&path);
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let meta: u32 = conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
    assert_eq!(meta, SCHEMA_VERSION);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    // Reopening an up-to-date file is a no-op that keeps the data.
    let store = open(&path);
    assert_eq!(store.mark("a").unwrap().as_deref(), Some("m1"));
}

#[test]
fn newer_schema_is_refused_with_path_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(open(&path));
    raw(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let err = Store::open(&path, StoreOptions::default()).unwrap_err();
    match &err {
        StateError::NewerSchema { found, supported, path: p } => {
            assert_eq!(*found, SCHEMA_VERSION + 1);
            assert_eq!(*supported, SCHEMA_VERSION);
            assert_eq!(p, &path);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(&format!("version {}", SCHEMA_VERSION + 1)), "{msg}");
    // And the refusal changed nothing.
    let v: u32 = raw(&path).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION + 1);
}

#[test]
fn foreign_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path).execute_batch("CREATE TABLE customers (name TEXT)").unwrap();
    let err = Store::open(&path, StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StateError::ForeignDatabase { .. }), "{err:?}");
    let tables: i64 = raw(&path).query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn commit_page_spools_records_sets_mark_and_counts() {
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(store.mark("activity").unwrap(), None);
    let p = payloads(0..3);
    let out = store.commit_page("activity", &records(&p), Some("m1"), 1_000).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (3, 0, 3));
    assert_eq!(store.mark("activity").unwrap().as_deref(), Some("m1"));

    // next_mark None leaves the mark; an empty page still counts as a page.
    let out = store.commit_page("activity", &[], None, 2_000).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (0, 0, 3));
    assert_eq!(store.mark("activity").unwrap().as_deref(), Some("m1"));

    let rows = store.read_batch(0, 10, usize::MAX).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].id, id(0));
    assert_eq!(rows[2].payload, b"record-2");
    assert_eq!(rows[1].job, "activity");
    assert_eq!(rows[1].fetched_at_ms, 1_000);

    let jobs = store.jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!((j.spooled_total, j.duplicates_total, j.pages_total), (3, 0, 2));
    assert_eq!(j.last_fetch_ms, Some(2_000));
    assert_eq!(j.last_error, None);
}

#[test]
fn duplicates_are_skipped_and_counted() {
    let mut store = Store::open_in_memory().unwrap();
    let first = payloads(0..5);
    store.commit_page("a", &records(&first), Some("m1"), 1).unwrap();
    // Overlapping page: 3..5 already spooled, 5..8 new, plus a repeat inside the page.
    let mut second = payloads(3..8);
    second.push((6, b"again".to_vec()));
    let out = store.commit_page("a", &records(&second), Some("m2"), 2).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (3, 3, 8));
    assert_eq!(store.spool_rows().unwrap(), 8);
    // The first copy wins.
    let rows = store.read_batch(0, 100, usize::MAX).unwrap();
    let six = rows.iter().find(|r| r.id == id(6)).unwrap();
    assert_eq!(six.payload, b"record-6");
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
    let a = store.jobs().unwrap().into_iter().find(|j| j.name == "a").unwrap();
    assert_eq!((a.spooled_total, a.duplicates_total, a.pages_total), (8, 3, 2));
}

#[test]
fn a_record_is_a_duplicate_only_within_its_own_job() {
    let mut store = Store::open_in_memory().unwrap();
    store.commit_page("all", &records(&payloads(0..5)), Some("m1"), 1).unwrap();
    // "security" overlaps "all" on 3..5: its own copies are spooled, with the same ids.
    let out = store.commit_page("security", &records(&payloads(3..8)), Some("m1"), 2).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (5, 0, 10));
    let rows = store.read_batch(0, 100, usize::MAX).unwrap();
    let jobs_of = |n: u32| rows.iter().filter(|r| r.id == id(n)).map(|r| r.job.as_str()).collect::<Vec<_>>();
    assert_eq!(jobs_of(3), ["all", "security"]);
    assert_eq!(jobs_of(0), ["all"]);
    // Each job still skips its own repeats.
    let out = store.commit_page("security", &records(&payloads(6..9)), None, 3).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 2));
}

#[test]
fn pruned_records_served_again_are_still_duplicates_within_the_window() {
    let mut store = Store::open_in_memory().unwrap();
    store.register_sink("s", Start::Oldest).unwrap();
    store.commit_page("a", &records(&payloads(0..10)), Some("m1"), 1_000).unwrap();
    store.ack("s", 10, None, 10).unwrap();
    assert_eq!(store.prune(&["s"]).unwrap(), 10);
    assert_eq!(store.spool_rows().unwrap(), 0);
    // A restored server serves them again: recognised although their rows are gone.
    let out = store.commit_page("a", &records(&payloads(0..12)), Some("m2"), 2_000).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (2, 10, 12));
    let j = store.jobs().unwrap().into_iter().find(|j| j.name == "a").unwrap();
    assert_eq!(j.duplicates_total, 10);

    // Nothing still in the spool is forgotten, whatever the window says.
    assert_eq!(store.forget_seen(1_000_000, 0, 0).unwrap(), 10);
    assert_eq!(store.seen_count().unwrap(), 2);
    store.ack("s", 12, None, 2).unwrap();
    store.prune(&["s"]).unwrap();
    // By age: keys seen at 2_000 are kept with a window reaching back past them.
    assert_eq!(store.forget_seen(5_000, 3_000, u64::MAX).unwrap(), 0);
    assert_eq!(store.forget_seen(5_000, 2_999, u64::MAX).unwrap(), 2);
    // Forgotten keys are new again.
    let out = store.commit_page("a", &records(&payloads(0..1)), None, 6_000).unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 0));
}

#[test]
fn the_dedup_memory_is_bounded_by_count() {
    let mut store = Store::open_in_memory().unwrap();
    store.register_sink("s", Start::Oldest).unwrap();
    store.commit_page("a", &records(&payloads(0..100)), None, 1).unwrap();
    store.ack("s", 100, None, 100).unwrap();
    store.prune(&["s"]).unwrap();
    // The newest 30 are kept, however young the rest.
    assert_eq!(store.forget_seen(1, 1_000, 30).unwrap(), 70);
    assert_eq!(store.seen_count().unwrap(), 30);
    let out = store.commit_page("a", &records(&payloads(65..75)), None, 2).unwrap();
    assert_eq!((out.inserted, out.duplicates), (5, 5));
}

#[test]
fn duplicates_are_found_by_a_range_scan_and_by_probes_alike() {
    // Keys with an order: pages fetched in order (the range scan finds nothing), an
    // overlapping page (the scan finds the overlap), and a page whose order range spans
    // more spooled keys than the scan reads (each record is probed instead).
    let ordered = |p: &[(u32, Vec<u8>)], order: fn(u32) -> i64| -> Vec<(i64, [u8; 16], Vec<u8>)> {
        p.iter().map(|(n, b)| (order(*n), id(*n), b.clone())).collect()
    };
    let mut store = Store::open_in_memory().unwrap();
    let by_ten: fn(u32) -> i64 = |n| 1_000 + i64::from(n / 10);
    for page in 0..5u32 {
        let rows = ordered(&payloads(page * 1_000..(page + 1) * 1_000), by_ten);
        let recs: Vec<NewRecord<'_>> =
            rows.iter().map(|(o, i, b)| NewRecord { id: *i, order: *o, payload: b }).collect();
        let out = store.commit_page("a", &recs, None, 1).unwrap();
        assert_eq!((out.inserted, out.duplicates), (1_000, 0));
    }
    // Overlap: 4_500..5_500, half spooled, plus a repeat inside the page.
    let mut overlap = ordered(&payloads(4_500..5_500), by_ten);
    overlap.push(overlap[999].clone());
    let recs: Vec<NewRecord<'_>> =
        overlap.iter().map(|(o, i, b)| NewRecord { id: *i, order: *o, payload: b }).collect();
    let out = store.commit_page("a", &recs, None, 2).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (500, 501, 5_500));
    // A page whose orders span the whole spool (0 = no order key, and the newest): more
    // keys in range than the scan reads, so every record is probed.
    let mut wide = ordered(&payloads(0..3), |_| 0);
    wide.extend(ordered(&payloads(5_490..5_510), by_ten));
    wide.push(wide[4].clone());
    let recs: Vec<NewRecord<'_>> = wide.iter().map(|(o, i, b)| NewRecord { id: *i, order: *o, payload: b }).collect();
    let out = store.commit_page("a", &recs, None, 3).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (13, 11, 5_513));
    let rows = store.read_batch(0, 10_000, usize::MAX).unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=5_513).collect::<Vec<_>>());
}

#[test]
fn commit_page_is_atomic_when_the_mark_update_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut store = open(&path);
    let p = payloads(0..10);
    store.commit_page("a", &records(&p), Some("good"), 1).unwrap();
    // Inject a failure in the jobs write, which runs after the page's inserts.
    raw(&path)
        .execute_batch(
            "CREATE TRIGGER poison_update BEFORE UPDATE ON jobs WHEN NEW.mark = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
             CREATE TRIGGER poison_insert BEFORE INSERT ON jobs WHEN NEW.mark = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let p2 = payloads(10..1_010);
    for job in ["a", "new-job"] {
        let err = store.commit_page(job, &records(&p2), Some("poison"), 2).unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
    }
    assert_eq!(store.spool_rows().unwrap(), 10);
    assert_eq!(store.max_seq().unwrap(), 10);
    assert_eq!(store.mark("a").unwrap().as_deref(), Some("good"));
    assert_eq!(store.mark("new-job").unwrap(), None);
    let jobs = store.jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].spooled_total, jobs[0].pages_total, jobs[0].last_fetch_ms), (10, 1, Some(1)));
    // The store is still usable, and seqs continue without a gap.
    let out = store.commit_page("a", &records(&p2), Some("next"), 3).unwrap();
    assert_eq!((out.inserted, out.last_seq), (1_000, 1_010));
}

#[test]
fn commit_page_is_atomic_when_an_insert_fails_mid_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut store = open(&path);
    raw(&path)
        .execute_batch(
            "CREATE TRIGGER poison_row BEFORE INSERT ON spool WHEN NEW.payload = CAST('record-500' AS BLOB)
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let p = payloads(0..1_000);
    let err = store.commit_page("a", &records(&p), Some("m1"), 1).unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.spool_rows().unwrap(), 0);
    assert_eq!(store.max_seq().unwrap(), 0);
    assert_eq!(store.mark("a").unwrap(), None);
    assert!(store.jobs().unwrap().is_empty());
}

#[test]
fn read_batch_orders_limits_and_caps_bytes() {
    let mut store = Store::open_in_memory().unwrap();
    assert!(store.read_batch(0, 10, 100).unwrap().is_empty());
    // Payload sizes 10, 20, ..., 100 bytes for seqs 1..=10.
    let p: Vec<(u32, Vec<u8>)> = (1..=10u32).map(|n| (n, vec![b'x'; n as usize * 10])).collect();
    // Commit in reverse-id order across two pages: seq order is commit order.
    store.commit_page("a", &records(&p[5..]), None, 1).unwrap();
    store.commit_page("a", &records(&p[..5]), None, 2).unwrap();
    let all = store.read_batch(0, 100, usize::MAX).unwrap();
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert_eq!(all[0].id, id(6));

    let seqs = |rows: Vec<state::SpoolRow>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.read_batch(3, 4, usize::MAX).unwrap()), vec![4, 5, 6, 7]);
    assert_eq!(seqs(store.read_batch(8, 100, usize::MAX).unwrap()), vec![9, 10]);
    assert!(store.read_batch(10, 100, usize::MAX).unwrap().is_empty());
    assert!(store.read_batch(0, 0, usize::MAX).unwrap().is_empty());
    // seq 1..=3 carry 60, 70, 80 bytes: 60+70 = 130 fits 150, +80 would not.
    assert_eq!(seqs(store.read_batch(0, 100, 150).unwrap()), vec![1, 2]);
    // Exactly at the cap is allowed.
    assert_eq!(seqs(store.read_batch(0, 100, 130).unwrap()), vec![1, 2]);
    // A first row bigger than the cap still comes back, alone.
    assert_eq!(seqs(store.read_batch(0, 100, 1).unwrap()), vec![1]);
    assert_eq!(seqs(store.read_batch(0, 100, 0).unwrap()), vec![1]);
}

#[test]
fn register_sink_oldest_and_now() {
    let mut store = Store::open_in_memory().unwrap();
    // Empty spool: both start at max_seq (0).
    assert_eq!(store.register_sink("early", Start::Oldest).unwrap().seq, 0);
    let p = payloads(0..10);
    store.commit_page("a", &records(&p), None, 1).unwrap();
    store.ack("early", 4, None, 4).unwrap();
    assert_eq!(store.prune(&["early"]).unwrap(), 4);
    // Rows 5..=10 remain.
    let oldest = store.register_sink("backfill", Start::Oldest).unwrap();
    assert_eq!(oldest, state::Cursor { seq: 4, value: None });
    assert_eq!(store.read_batch(oldest.seq, 100, usize::MAX).unwrap().len(), 6);
    assert_eq!(store.register_sink("live", Start::Now).unwrap().seq, 10);
    // Registering again returns the stored cursor, whatever `start` says.
    store.ack("live", 10, Some(b"offset=42"), 0).unwrap();
    let again = store.register_sink("live", Start::Oldest).unwrap();
    assert_eq!(again, state::Cursor { seq: 10, value: Some(b"offset=42".to_vec()) });
    assert_eq!(store.cursor("backfill").unwrap().unwrap().seq, 4);
    assert_eq!(store.cursor("nobody").unwrap(), None);
    // After everything is pruned, Oldest means "from max_seq on".
    store.ack("early", 10, None, 6).unwrap();
    store.ack("backfill", 10, None, 6).unwrap();
    store.prune(&["early", "backfill", "live"]).unwrap();
    assert_eq!(store.register_sink("late", Start::Oldest).unwrap().seq, 10);
}

#[test]
fn ack_moves_forward_stores_value_and_rejects_bad_moves() {
    let mut store = Store::open_in_memory().unwrap();
    let p = payloads(0..10);
    store.commit_page("a", &records(&p), None, 1).unwrap();
    store.register_sink("s", Start::Oldest).unwrap();
    store.ack("s", 3, Some(b"v3"), 3).unwrap();
    assert_eq!(store.cursor("s").unwrap().unwrap(), state::Cursor { seq: 3, value: Some(b"v3".to_vec()) });
    // Same seq again is fine (updates the value); None clears it.
    store.ack("s", 3, None, 0).unwrap();
    assert_eq!(store.cursor("s").unwrap().unwrap().value, None);
    store.ack("s", 7, Some(b"v7"), 4).unwrap();

    match store.ack("s", 6, Some(b"nope"), 1).unwrap_err() {
        StateError::CursorBackwards { sink, current, requested } => {
            assert_eq!((sink.as_str(), current, requested), ("s", 7, 6))
        }
        other => panic!("expected CursorBackwards, got {other:?}"),
    }
    match store.ack("s", 11, None, 1).unwrap_err() {
        StateError::CursorAhead { requested, max_seq, .. } => assert_eq!((requested, max_seq), (11, 10)),
        other => panic!("expected CursorAhead, got {other:?}"),
    }
    assert!(matches!(store.ack("ghost", 1, None, 1), Err(StateError::UnknownSink { .. })));
    assert!(matches!(store.record_sink_error("ghost", Some("x")), Err(StateError::UnknownSink { .. })));

    // Rejected acks changed nothing.
    let sinks = store.sinks().unwrap();
    assert_eq!(sinks.len(), 1);
    let s = &sinks[0];
    assert_eq!((s.cursor, s.backlog, s.delivered_total), (7, 3, 7));
    assert!(s.last_ack_ms.is_some_and(|ms| ms > 1_600_000_000_000));
    assert_eq!(store.cursor("s").unwrap().unwrap().value, Some(b"v7".to_vec()));
}

#[test]
fn errors_are_recorded_and_cleared() {
    let mut store = Store::open_in_memory().unwrap();
    store.register_sink("s", Start::Now).unwrap();
    store.record_sink_error("s", Some("connection refused")).unwrap();
    store.record_job_error("j", Some("HTTP 503")).unwrap();
    assert_eq!(store.sinks().unwrap()[0].last_error.as_deref(), Some("connection refused"));
    let j = &store.jobs().unwrap()[0];
    assert_eq!(
        (j.name.as_str(), j.last_error.as_deref(), j.mark.as_deref(), j.pages_total),
        ("j", Some("HTTP 503"), None, 0)
    );
    // Commits and acks leave errors alone; clearing is explicit.
    store.commit_page("j", &[], Some("m"), 5).unwrap();
    assert_eq!(store.jobs().unwrap()[0].last_error.as_deref(), Some("HTTP 503"));
    store.record_job_error("j", None).unwrap();
    store.record_sink_error("s", None).unwrap();
    assert_eq!(store.jobs().unwrap()[0].last_error, None);
    assert_eq!(store.jobs().unwrap()[0].mark.as_deref(), Some("m"));
    assert_eq!(store.sinks().unwrap()[0].last_error, None);
}

#[test]
fn prune_respects_the_slowest_named_sink_only() {
    let mut store = Store::open_in_memory().unwrap();
    let p = payloads(0..20);
    store.commit_page("a", &records(&p), None, 1).unwrap();
    store.register_sink("fast", Start::Oldest).unwrap();
    store.register_sink("slow", Start::Oldest).unwrap();
    store.register_sink("retired", Start::Oldest).unwrap();
    store.ack("fast", 15, None, 15).unwrap();
    store.ack("slow", 5, None, 5).unwrap();

    assert_eq!(store.prune(&[]).unwrap(), 0, "no sinks named must not mean 'delete everything'");
    assert_eq!(store.prune(&["fast", "slow"]).unwrap(), 5);
    assert_eq!(store.read_batch(0, 100, usize::MAX).unwrap()[0].seq, 6);
    assert_eq!(store.prune(&["fast", "slow"]).unwrap(), 0);
    // "retired" is still at 0 but not named, so it does not hold rows back.
    store.ack("slow", 12, None, 7).unwrap();
    assert_eq!(store.prune(&["slow", "fast"]).unwrap(), 7);
    assert_eq!(store.spool_rows().unwrap(), 8);
    assert!(matches!(store.prune(&["fast", "ghost"]), Err(StateError::UnknownSink { .. })));
    assert_eq!(store.spool_rows().unwrap(), 8);
}

#[test]
fn prune_handles_more_rows_than_one_chunk() {
    let mut store = Store::open_in_memory().unwrap();
    for page in 0..12u32 {
        let p = payloads(page * 1_000..(page + 1) * 1_000);
        store.commit_page("a", &records(&p), None, 1).unwrap();
    }
    store.register_sink("s", Start::Oldest).unwrap();
    store.ack("s", 11_500, None, 11_500).unwrap();
    assert_eq!(store.prune(&["s"]).unwrap(), 11_500);
    assert_eq!(store.spool_rows().unwrap(), 500);
    assert_eq!(store.read_batch(0, 1, usize::MAX).unwrap()[0].seq, 11_501);
}

#[test]
fn a_prune_of_everything_empties_the_spool_and_its_index() {
    let mut store = Store::open_in_memory().unwrap();
    let p = payloads(0..3_000);
    store.commit_page("a", &records(&p[..2_000]), None, 1).unwrap();
    store.register_sink("s", Start::Oldest).unwrap();
    store.register_sink("t", Start::Oldest).unwrap();
    store.ack("s", 2_000, None, 2_000).unwrap();
    store.ack("t", 1_999, None, 1_999).unwrap();
    // One row is still held back by "t": deleted by range, that row kept.
    assert_eq!(store.prune(&["s", "t"]).unwrap(), 1_999);
    assert_eq!(store.spool_rows().unwrap(), 1);
    store.ack("t", 2_000, None, 1).unwrap();
    // Every row below the floor: all of them go at once.
    assert_eq!(store.prune(&["s", "t"]).unwrap(), 1);
    store.commit_page("a", &records(&p[2_000..]), None, 2).unwrap();
    store.ack("s", 3_000, None, 1_000).unwrap();
    store.ack("t", 3_000, None, 1_000).unwrap();
    assert_eq!(store.prune(&["s", "t"]).unwrap(), 1_000);
    assert_eq!((store.spool_rows().unwrap(), store.max_seq().unwrap()), (0, 3_000));
    // The de-duplication memory outlives the rows; once it forgets, a record served
    // again is spooled again, at a new seq.
    let out = store.commit_page("a", &records(&p[..1]), None, 3).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (0, 1, 3_000));
    store.forget_seen(3, 0, u64::MAX).unwrap();
    let out = store.commit_page("a", &records(&p[..1]), None, 3).unwrap();
    assert_eq!((out.inserted, out.duplicates, out.last_seq), (1, 0, 3_001));
    assert_eq!(store.prune(&["s", "t"]).unwrap(), 0, "a row above the floor stays");
    assert_eq!(store.spool_rows().unwrap(), 1);
}

#[test]
fn max_seq_survives_prune_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let mut store = open(&path);
        let p = payloads(0..50);
        store.commit_page("a", &records(&p), None, 1).unwrap();
        store.register_sink("s", Start::Oldest).unwrap();
        store.ack("s", 50, None, 50).unwrap();
        assert_eq!(store.prune(&["s"]).unwrap(), 50);
        assert_eq!(store.spool_rows().unwrap(), 0);
        assert_eq!(store.max_seq().unwrap(), 50);
    }
    let mut store = open(&path);
    assert_eq!(store.max_seq().unwrap(), 50);
    assert_eq!(store.sinks().unwrap()[0].backlog, 0);
    let p = payloads(100..101);
    let out = store.commit_page("a", &records(&p), None, 2).unwrap();
    assert_eq!(out.last_seq, 51, "seqs are never reused");
    assert_eq!(store.sinks().unwrap()[0].backlog, 1);
}

#[test]
fn everything_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let p = payloads(0..1_000);
    {
        let mut store = Store::open(&path, StoreOptions { synchronous: Synchronous::Normal }).unwrap();
        store.register_sink("s", Start::Oldest).unwrap();
        store.commit_page("a", &records(&p), Some("after-1000"), 7).unwrap();
        store.ack("s", 400, Some(b"file:4096"), 400).unwrap();
        store.record_job_error("a", Some("slow")).unwrap();
    }
    let store = open(&path);
    assert_eq!(store.mark("a").unwrap().as_deref(), Some("after-1000"));
    assert_eq!(store.cursor("s").unwrap().unwrap(), state::Cursor { seq: 400, value: Some(b"file:4096".to_vec()) });
    let rows = store.read_batch(0, 2_000, usize::MAX).unwrap();
    assert_eq!(rows.len(), 1_000);
    assert!(rows.iter().zip(&p).all(|(r, (n, b))| r.id == id(*n) && &r.payload == b));
    let j = &store.jobs().unwrap()[0];
    assert_eq!((j.spooled_total, j.pages_total, j.last_error.as_deref()), (1_000, 1, Some("slow")));
    let s = &store.sinks().unwrap()[0];
    assert_eq!((s.cursor, s.backlog, s.delivered_total), (400, 600, 400));
}

const CRASH_ENV: &str = "STATE_TEST_CRASH_PATH";

/// Child half of `committed_pages_survive_process_abort`: commits, then dies
/// without closing the connection or checkpointing the WAL. A no-op when run
/// normally.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_ENV) else { return };
    let mut store = open(Path::new(&path));
    store.register_sink("s", Start::Oldest).unwrap();
    for page in 0..5u32 {
        let p = payloads(page * 100..(page + 1) * 100);
        store.commit_page("a", &records(&p), Some(&format!("mark-{page}")), 1).unwrap();
    }
    store.ack("s", 250, Some(b"v"), 250).unwrap();
    std::process::abort();
}

#[test]
fn committed_pages_survive_process_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // This test binary again, running only the child half (named by its module path).
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["store::crash_child", "--exact", "--test-threads=1", "--nocapture"])
        .env(CRASH_ENV, &path)
        .status()
        .unwrap();
    assert!(!status.success(), "child was supposed to abort");
    assert!(dir.path().join("state.db-wal").exists(), "the commits should still be in the WAL");
    let store = open(&path);
    assert_eq!(store.spool_rows().unwrap(), 500);
    assert_eq!(store.max_seq().unwrap(), 500);
    assert_eq!(store.mark("a").unwrap().as_deref(), Some("mark-4"));
    assert_eq!(store.cursor("s").unwrap().unwrap().seq, 250);
}

#[test]
fn a_second_connection_sees_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut writer = open(&path);
    let reader = open(&path);
    let p = payloads(0..3);
    writer.commit_page("a", &records(&p), Some("m"), 1).unwrap();
    assert_eq!(reader.spool_rows().unwrap(), 3);
    assert_eq!(reader.mark("a").unwrap().as_deref(), Some("m"));
}
