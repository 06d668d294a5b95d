//! The file sink's promises: every acknowledged line exactly once, in order, whatever
//! point a crash interrupts; permanent misconfiguration is `Fatal`.
//!
//! A crash is simulated by dropping the sink or [`Writer`] after some of its steps, then
//! opening a new sink with the last value the pipeline had stored.

use super::committed::Committed;
use super::writer::Writer;
use super::{FileSink, FileSinkConfig};
use crate::format::json;
use crate::{Event, Sink, SinkError};
use netwrix::{ActivityRecord, RecordId};
use std::path::{Path, PathBuf};

fn event(seq: u64) -> Event {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&seq.to_be_bytes());
    let record = ActivityRecord {
        who: format!("CORP\\user{seq}").into(),
        action: "Modified".into(),
        what: "Grüße\n\"quoted\"".into(),
        ..Default::default()
    };
    Event { seq, id: RecordId(id), job: "ad".into(), replay: false, record }
}

/// Events `first..first + k`.
fn batch(first: u64, k: u64) -> Vec<Event> {
    (first..first + k).map(event).collect()
}

fn bytes_of(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        json::encode(e, &mut out);
        out.push(b'\n');
    }
    out
}

fn config(dir: &Path, rotate_bytes: Option<u64>) -> FileSinkConfig {
    FileSinkConfig { rotate_bytes, ..FileSinkConfig::new(dir.join("out").join("records.jsonl")) }
}

/// The names of the files beside the active one, sorted.
fn names(cfg: &FileSinkConfig) -> Vec<String> {
    let dir = cfg.path.parent().expect("parent");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The sequence numbers of every line of the rotated files (in generation order) then
/// the active file; checks each line is a JSON object carrying our keys.
fn seqs(cfg: &FileSinkConfig) -> Vec<u64> {
    let dir = cfg.path.parent().expect("parent");
    let mut files: Vec<PathBuf> =
        names(cfg).iter().filter(|n| n.as_str() != "records.jsonl").map(|n| dir.join(n)).collect();
    files.sort();
    files.push(cfg.path.clone());
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(text.is_empty() || text.ends_with('\n'), "{} ends mid-line", f.display());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
            assert_eq!(v["job"], "ad");
            assert!(v["Who"].as_str().is_some_and(|w| w.starts_with("CORP\\user")));
            let id = RecordId::from_hex(v["auditbridge_id"].as_str().expect("id")).expect("hex id");
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&id.0[8..]);
            out.push(u64::from_be_bytes(seq));
        }
    }
    out
}

fn upto(n: u64) -> Vec<u64> {
    (1..=n).collect()
}

async fn opened(cfg: &FileSinkConfig, committed: Option<&[u8]>) -> FileSink {
    let mut sink = FileSink::new(cfg.clone());
    sink.open(committed).await.expect("open");
    sink
}

async fn deliver(sink: &mut FileSink, events: &[Event]) -> Vec<u8> {
    sink.deliver(events).await.expect("deliver").expect("a file sink always returns a value")
}

#[tokio::test]
async fn n_batches_give_n_times_k_lines_in_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), None);
    let mut sink = opened(&cfg, None).await;
    let mut last = Committed { generation: 0, len: 0 };
    for b in 0..5 {
        let value = deliver(&mut sink, &batch(b * 4 + 1, 4)).await;
        let c = Committed::decode(&value).expect("decodes");
        assert_eq!(c.len, std::fs::metadata(&cfg.path).expect("meta").len(), "value = file length");
        assert_eq!(c.generation, 1);
        assert!(c.len > last.len);
        last = c;
    }
    sink.close().await.expect("close");
    assert_eq!(seqs(&cfg), upto(20));
    assert_eq!(std::fs::read(&cfg.path).expect("read"), bytes_of(&batch(1, 20)));
}

#[tokio::test]
async fn reopening_with_an_older_value_truncates_what_followed_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), None);
    let mut sink = opened(&cfg, None).await;
    deliver(&mut sink, &batch(1, 3)).await;
    let stored = deliver(&mut sink, &batch(4, 3)).await;
    // Written and fsynced, but the crash came before the cursor moved.
    deliver(&mut sink, &batch(7, 3)).await;
    drop(sink);
    assert_eq!(seqs(&cfg), upto(9));

    let mut sink = opened(&cfg, Some(&stored)).await;
    assert_eq!(seqs(&cfg), upto(6));
    deliver(&mut sink, &batch(7, 3)).await;
    assert_eq!(seqs(&cfg), upto(9));
}

#[tokio::test]
async fn a_torn_line_is_cut_off() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), None);
    let mut sink = opened(&cfg, None).await;
    let stored = deliver(&mut sink, &batch(1, 2)).await;
    drop(sink);
    let mut torn = bytes_of(&batch(3, 1));
    torn.truncate(torn.len() / 2);
    let mut f = std::fs::OpenOptions::new().append(true).open(&cfg.path).expect("open");
    std::io::Write::write_all(&mut f, &torn).expect("write");

    let mut sink = opened(&cfg, Some(&stored)).await;
    deliver(&mut sink, &batch(3, 2)).await;
    assert_eq!(seqs(&cfg), upto(4));
}

#[tokio::test]
async fn rotation_names_files_by_generation_and_keeps_every_line_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let per_batch = bytes_of(&batch(1, 3)).len() as u64;
    // Full after two batches of three.
    let cfg = config(tmp.path(), Some(per_batch * 2 - 10));
    let mut sink = opened(&cfg, None).await;
    let mut generations = Vec::new();
    for b in 0..7 {
        let value = deliver(&mut sink, &batch(b * 3 + 1, 3)).await;
        generations.push(Committed::decode(&value).expect("decodes").generation);
    }
    assert_eq!(generations, [1, 1, 2, 2, 3, 3, 4]);
    assert_eq!(names(&cfg), ["records.000001.jsonl", "records.000002.jsonl", "records.000003.jsonl", "records.jsonl"]);
    let dir = cfg.path.parent().expect("parent");
    assert_eq!(std::fs::read(dir.join("records.000002.jsonl")).expect("read"), bytes_of(&batch(7, 6)));
    assert_eq!(seqs(&cfg), upto(21));

    // A restart with the latest value carries on in generation 4.
    drop(sink);
    let len = std::fs::metadata(&cfg.path).expect("meta").len();
    let stored = Committed { generation: 4, len }.encode();
    let mut sink = opened(&cfg, Some(&stored)).await;
    let value = deliver(&mut sink, &batch(22, 3)).await;
    let len = std::fs::metadata(&cfg.path).expect("meta").len();
    assert_eq!(Committed::decode(&value), Ok(Committed { generation: 4, len }));
    assert_eq!(seqs(&cfg), upto(24));
}

/// Where in a rotation the process dies. The committed value is always the one from
/// before the rotation (generation 1), except for `AfterAck`.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// The batch that would have triggered rotation was never started.
    BeforeRotation,
    /// `records.jsonl` is now `records.000001.jsonl` (directory synced); no active file.
    AfterRename,
    /// A new, empty active file of generation 2 exists.
    AfterNewActive,
    /// Generation 2 holds the batch, fsynced; the cursor did not move.
    AfterWrite,
    /// Half the batch reached generation 2.
    TornWrite,
    /// Two more batches and a second rotation happened before the crash; none acknowledged.
    SeveralUnacknowledged,
    /// The new value was stored: nothing to undo.
    AfterAck,
}

#[tokio::test]
async fn every_crash_point_of_rotation_recovers_exactly_once() {
    let crashes = [
        Crash::BeforeRotation,
        Crash::AfterRename,
        Crash::AfterNewActive,
        Crash::AfterWrite,
        Crash::TornWrite,
        Crash::SeveralUnacknowledged,
        Crash::AfterAck,
    ];
    for crash in crashes {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Any non-empty file is full: every batch after the first rotates.
        let cfg = config(tmp.path(), Some(1));
        let mut w = Writer::open(&cfg, None).expect("open");
        let c0 = w.position();
        let c1 = w.write_batch(c0, &bytes_of(&batch(1, 3))).expect("batch 1");
        let next = bytes_of(&batch(4, 3));
        let stored = match crash {
            Crash::BeforeRotation => c1,
            Crash::AfterRename => {
                w.rotate_rename().expect("rename");
                assert_eq!(names(&cfg), ["records.000001.jsonl"]);
                c1
            }
            Crash::AfterNewActive => {
                w.rotate_rename().expect("rename");
                w.rotate_start().expect("start");
                c1
            }
            Crash::AfterWrite => {
                w.rotate_rename().expect("rename");
                w.rotate_start().expect("start");
                w.append(&next).expect("append");
                c1
            }
            Crash::TornWrite => {
                w.rotate_rename().expect("rename");
                w.rotate_start().expect("start");
                w.append(&next[..next.len() / 2]).expect("append");
                c1
            }
            Crash::SeveralUnacknowledged => {
                let c2 = w.write_batch(c1, &next).expect("batch 2");
                let c3 = w.write_batch(c2, &bytes_of(&batch(7, 3))).expect("batch 3");
                assert_eq!(c3.generation, 3);
                assert_eq!(names(&cfg), ["records.000001.jsonl", "records.000002.jsonl", "records.jsonl"]);
                c1
            }
            Crash::AfterAck => w.write_batch(c1, &next).expect("batch 2"),
        };
        drop(w);

        let mut sink = opened(&cfg, Some(&stored.encode())).await;
        let acked_through = if matches!(crash, Crash::AfterAck) { 6 } else { 3 };
        assert_eq!(seqs(&cfg), upto(acked_through), "{crash:?}: state after recovery");
        // The pipeline resends everything after its cursor.
        if acked_through == 3 {
            deliver(&mut sink, &batch(4, 3)).await;
        }
        deliver(&mut sink, &batch(7, 3)).await;
        let value = deliver(&mut sink, &batch(10, 3)).await;
        assert_eq!(seqs(&cfg), upto(12), "{crash:?}");
        assert_eq!(
            names(&cfg),
            ["records.000001.jsonl", "records.000002.jsonl", "records.000003.jsonl", "records.jsonl"],
            "{crash:?}"
        );
        assert_eq!(Committed::decode(&value).expect("decodes").generation, 4, "{crash:?}");
    }
}

#[tokio::test]
async fn recovery_is_idempotent_when_interrupted_itself() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), Some(1));
    let mut w = Writer::open(&cfg, None).expect("open");
    let c1 = w.write_batch(w.position(), &bytes_of(&batch(1, 3))).expect("batch 1");
    let c2 = w.write_batch(c1, &bytes_of(&batch(4, 3))).expect("batch 2");
    w.write_batch(c2, &bytes_of(&batch(7, 3))).expect("batch 3");
    drop(w);
    // Recovery removed the later rotated file, then died before restoring generation 1.
    let dir = cfg.path.parent().expect("parent");
    std::fs::remove_file(dir.join("records.000002.jsonl")).expect("remove");

    let mut sink = opened(&cfg, Some(&c1.encode())).await;
    assert_eq!(seqs(&cfg), upto(3));
    deliver(&mut sink, &batch(4, 6)).await;
    assert_eq!(seqs(&cfg), upto(9));
}

#[test]
fn the_writer_returns_to_the_callers_state_before_writing() {
    // A deliver whose value never reached the pipeline (dropped future, failed step):
    // the next write starts from the last value the pipeline holds.
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), Some(1));
    let mut w = Writer::open(&cfg, None).expect("open");
    let c1 = w.write_batch(w.position(), &bytes_of(&batch(1, 3))).expect("batch 1");
    w.write_batch(c1, &bytes_of(&batch(4, 3))).expect("lost");
    w.write_batch(c1, &bytes_of(&batch(4, 3))).expect("again");
    assert_eq!(seqs(&cfg), upto(6));
    assert_eq!(names(&cfg), ["records.000001.jsonl", "records.jsonl"]);

    // And after a step failed half-way (here: the panic flag), it recovers too.
    let c = w.position();
    w.rotate_rename().expect("rename");
    w.mark_dirty();
    let c3 = w.write_batch(c, &bytes_of(&batch(7, 3))).expect("after failure");
    assert_eq!(c3.generation, 3);
    assert_eq!(seqs(&cfg), upto(9));
}

#[tokio::test]
async fn a_file_shorter_than_committed_is_appended_to() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), None);
    let mut sink = opened(&cfg, None).await;
    let stored = deliver(&mut sink, &batch(1, 3)).await;
    drop(sink);

    // Someone cut the file mid-line.
    let f = std::fs::OpenOptions::new().write(true).open(&cfg.path).expect("open");
    f.set_len(10).expect("truncate");
    let mut sink = opened(&cfg, Some(&stored)).await;
    deliver(&mut sink, &batch(4, 2)).await;
    let text = std::fs::read_to_string(&cfg.path).expect("read");
    let mut lines = text.lines();
    assert_eq!(lines.next().map(str::len), Some(10), "the damaged line stays on its own");
    assert_eq!(lines.count(), 2);

    // Someone removed it.
    let stored = deliver(&mut sink, &batch(6, 1)).await;
    drop(sink);
    std::fs::remove_file(&cfg.path).expect("remove");
    let mut sink = opened(&cfg, Some(&stored)).await;
    deliver(&mut sink, &batch(7, 2)).await;
    assert_eq!(seqs(&cfg), [7, 8]);
}

#[tokio::test]
async fn a_new_sink_keeps_existing_data_and_never_reuses_a_generation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The existing line fits; after our first line the file is full.
    let cfg = config(tmp.path(), Some(40));
    let dir = cfg.path.parent().expect("parent");
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(&cfg.path, "someone's line without a newline").expect("write");
    std::fs::write(dir.join("records.000007.jsonl"), "older\n").expect("write");

    let mut sink = opened(&cfg, None).await;
    let value = deliver(&mut sink, &batch(1, 1)).await;
    assert_eq!(Committed::decode(&value).expect("decodes").generation, 8);
    let text = std::fs::read_to_string(&cfg.path).expect("read");
    assert!(text.starts_with("someone's line without a newline\n{\"auditbridge_id\""), "{text}");
    let value = deliver(&mut sink, &batch(2, 1)).await;
    assert_eq!(Committed::decode(&value).expect("decodes").generation, 9);
    assert_eq!(names(&cfg), ["records.000007.jsonl", "records.000008.jsonl", "records.jsonl"]);
    assert_eq!(std::fs::read_to_string(dir.join("records.000007.jsonl")).expect("read"), "older\n");
}

#[tokio::test]
async fn without_fsync_it_behaves_the_same() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = FileSinkConfig { fsync: false, ..config(tmp.path(), Some(1)) };
    let mut sink = opened(&cfg, None).await;
    for b in 0..3 {
        deliver(&mut sink, &batch(b * 2 + 1, 2)).await;
    }
    sink.close().await.expect("close");
    assert_eq!(seqs(&cfg), upto(6));
    assert_eq!(names(&cfg).len(), 3);
}

fn fatal_naming(err: SinkError, path: &Path) {
    let msg = crate::error::fatal_report(&err);
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[tokio::test]
async fn a_directory_at_the_path_is_fatal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), None);
    std::fs::create_dir_all(&cfg.path).expect("mkdir");
    let err = FileSink::new(cfg.clone()).open(None).await.expect_err("a directory");
    fatal_naming(err, &cfg.path);
}

#[tokio::test]
async fn a_file_where_the_directory_should_be_is_fatal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blocker = tmp.path().join("out");
    std::fs::write(&blocker, "").expect("write");
    let cfg = FileSinkConfig::new(blocker.join("sub").join("records.jsonl"));
    let err = FileSink::new(cfg).open(None).await.expect_err("not a directory");
    fatal_naming(err, &blocker.join("sub"));
}

#[cfg(unix)]
#[tokio::test]
async fn permission_denied_is_fatal() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ro");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    if std::fs::write(dir.join("probe"), "").is_ok() {
        // Running as root: permissions do not apply (the classification itself is
        // covered in `error`'s tests).
        return;
    }
    let cfg = FileSinkConfig::new(dir.join("records.jsonl"));
    let err = FileSink::new(cfg.clone()).open(None).await.expect_err("read-only directory");
    fatal_naming(err, &cfg.path);
}

#[tokio::test]
async fn an_unreadable_committed_value_is_fatal_and_deliver_needs_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), None);
    let mut sink = FileSink::new(cfg.clone());
    let err = sink.deliver(&batch(1, 1)).await.expect_err("not open");
    assert!(!err.is_transient());
    let err = sink.open(Some(b"garbage")).await.expect_err("garbage");
    fatal_naming(err, &cfg.path);
}

#[tokio::test]
async fn a_foreign_file_at_the_rotation_target_is_refused_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = config(tmp.path(), Some(1));
    let mut sink = opened(&cfg, None).await;
    deliver(&mut sink, &batch(1, 2)).await;
    let target = cfg.path.parent().expect("parent").join("records.000001.jsonl");
    std::fs::write(&target, "a person's file\n").expect("write");
    for _ in 0..2 {
        let err = sink.deliver(&batch(3, 1)).await.expect_err("refused");
        fatal_naming(err, &target);
    }
    assert_eq!(std::fs::read(&cfg.path).expect("read"), bytes_of(&batch(1, 2)));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "a person's file\n");
}
