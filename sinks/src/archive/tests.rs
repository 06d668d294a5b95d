//! The archive's promises, on a real archive of 50,000 records built with a simulated
//! clock: the untouched archive verifies, and each kind of tampering is named by exactly
//! one finding that points at the file it happened to. Also: crashes at any step keep
//! every record exactly once.

use super::committed::Committed;
use super::config::ArchiveConfig;
use super::keys::SigningKey;
use super::verify::{verify, Finding, Window};
use super::writer::Writer;
use crate::Event;
use chrono::{DateTime, Duration, Utc};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const RECORDS: u64 = 50_000;
const BATCH: u64 = 1000;

fn key() -> SigningKey {
    SigningKey::from_seed([3; 32])
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|t| t.with_timezone(&Utc)).expect("time")
}

/// Batch `k`'s events: 1000 generated records from seq `first`.
fn events(records: &[netwrix::ActivityRecord], first: u64) -> Vec<Event> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| Event { seq: first + i as u64, id: r.id(), job: "corp".into(), replay: false, record: r.clone() })
        .collect()
}

fn config(dir: &Path) -> ArchiveConfig {
    ArchiveConfig { segment_bytes: 400_000, ..ArchiveConfig::new(dir, key()) }
}

/// An archive of 50,000 records written over about four hours, a batch every five
/// minutes (a timer tick between), closed by size and by age; with `gap`, the 100 seqs
/// after the first segment close never arrive. Returns the end of its run.
fn build(dir: &Path, gap: bool) -> DateTime<Utc> {
    let records = netwrix::generate::generate(RECORDS as usize, 7);
    let mut w = Writer::open(&config(dir), Some(Committed { index: 1, len: 0 }), t0()).expect("open");
    let mut now = t0();
    let mut skip = 0;
    for (k, chunk) in records.chunks(BATCH as usize).enumerate() {
        now += Duration::minutes(5);
        let before = w.position().index;
        w.write_events(&events(chunk, 1 + k as u64 * BATCH + skip), now).expect("write");
        if gap && skip == 0 && w.position().index != before {
            skip = 100;
        }
        w.tick(now + Duration::seconds(150)).expect("tick");
    }
    now += Duration::minutes(1);
    w.tick(now).expect("tick");
    now
}

struct Built {
    dir: PathBuf,
    end: DateTime<Utc>,
}

/// The archive each test copies, built once per run. It lives under `target/` rather
/// than in a temporary directory because statics are never dropped: rebuilding it in the
/// same place each run keeps the disk from filling with old ones.
fn template(gap: bool) -> &'static Built {
    static PLAIN: OnceLock<Built> = OnceLock::new();
    static GAP: OnceLock<Built> = OnceLock::new();
    (if gap { &GAP } else { &PLAIN }).get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp").join(if gap {
            "archive-template-gap"
        } else {
            "archive-template"
        });
        let _ = std::fs::remove_dir_all(&dir);
        let end = build(&dir, gap);
        Built { dir, end }
    })
}

/// A private copy of the template archive to tamper with.
fn copy(gap: bool) -> (tempfile::TempDir, DateTime<Utc>) {
    let built = template(gap);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&built.dir, dir.path());
    (dir, built.end)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn names(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir.join(sub)).expect("read_dir").map(|e| e.expect("e").path()).collect();
    v.sort();
    v
}

fn findings(dir: &Path, end: DateTime<Utc>) -> Vec<Finding> {
    let window = Window { from: None, to: Some(end) };
    verify(dir, &key().public(), window).expect("verify runs").findings
}

/// Exactly one finding, about `file`, saying each of `words`.
fn one_finding(found: &[Finding], file: &Path, words: &[&str]) {
    assert_eq!(found.len(), 1, "exactly one finding: {found:#?}");
    let name = file.file_name().and_then(|n| n.to_str()).expect("name");
    let line = found[0].to_string();
    assert!(found[0].file.ends_with(name), "names {name}: {line}");
    for w in words {
        assert!(line.contains(w), "says {w:?}: {line}");
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn the_untouched_archive_verifies_and_holds_every_record_once() {
    let built = template(false);
    let dir = built.dir.as_path();
    let report = verify(dir, &key().public(), Window { from: None, to: Some(built.end) }).expect("verify");
    assert_eq!(report.findings, vec![], "no findings");
    let segments = names(dir, "segments");
    assert!(segments.len() >= 5, "closed by size and age: {segments:?}");
    assert!(names(dir, "digests").len() > segments.len(), "idle hours have digests too");
    // Every record of the closed segments and the open one, in seq order, once.
    let mut ids = Vec::new();
    let mut files = segments;
    files.extend(names(dir, ".").into_iter().filter(|p| p.to_string_lossy().contains("active.")));
    for f in files {
        for line in String::from_utf8(gunzip(&std::fs::read(f).expect("read"))).expect("utf-8").lines() {
            assert!(line.starts_with("{\"auditbridge_id\":\""), "auditbridge_id first");
            ids.push(line[19..51].to_owned());
        }
    }
    let expected: Vec<String> =
        netwrix::generate::generate(RECORDS as usize, 7).iter().map(|r| r.id().to_string()).collect();
    assert!(ids == expected, "every record once, in order ({} lines)", ids.len());
}

#[test]
fn a_changed_byte_in_a_segment_is_named() {
    let (dir, end) = copy(false);
    let seg = &names(dir.path(), "segments")[1];
    let mut bytes = std::fs::read(seg).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(seg, bytes).expect("write");
    one_finding(&findings(dir.path(), end), seg, &["bytes ", "lines ", "changed"]);
}

#[test]
fn a_deleted_line_is_named() {
    let (dir, end) = copy(false);
    let seg = &names(dir.path(), "segments")[1];
    let text = gunzip(&std::fs::read(seg).expect("read"));
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    lines.remove(1500);
    std::fs::write(seg, gzip(&lines.concat())).expect("write");
    let found = findings(dir.path(), end);
    one_finding(&found, seg, &["a line deleted", "lines 1001..2000"]);
}

#[test]
fn a_deleted_segment_is_named() {
    let (dir, end) = copy(false);
    let seg = &names(dir.path(), "segments")[2];
    std::fs::remove_file(seg).expect("rm");
    one_finding(&findings(dir.path(), end), seg, &["missing", "a segment deleted"]);
}

#[test]
fn a_deleted_digest_is_named() {
    let (dir, end) = copy(false);
    // A digest that lists a segment, in the middle of the chain.
    let digests = names(dir.path(), "digests");
    let victim = digests[2..digests.len() - 2]
        .iter()
        .find(|d| std::fs::read_to_string(d).expect("read").contains(".jsonl.gz"))
        .expect("a digest listing a segment")
        .clone();
    std::fs::remove_file(&victim).expect("rm");
    one_finding(&findings(dir.path(), end), &victim, &["missing", "a digest deleted", "it listed segments/"]);
}

#[test]
fn a_renamed_segment_is_named() {
    let (dir, end) = copy(false);
    let seg = &names(dir.path(), "segments")[1];
    let renamed = seg.with_file_name("corp.000000009999-000000010000.20260101T000000Z-20260101T000000Z.jsonl.gz");
    std::fs::rename(seg, &renamed).expect("mv");
    one_finding(
        &findings(dir.path(), end),
        &renamed,
        &["renamed", seg.file_name().and_then(|n| n.to_str()).expect("n")],
    );
}

#[test]
fn reordered_segments_are_named() {
    let (dir, end) = copy(false);
    let segs = names(dir.path(), "segments");
    let (a, b) = (&segs[1], &segs[2]);
    let tmp = a.with_extension("tmp");
    std::fs::rename(a, &tmp).expect("mv");
    std::fs::rename(b, a).expect("mv");
    std::fs::rename(&tmp, b).expect("mv");
    let found = findings(dir.path(), end);
    one_finding(&found, a, &["reordered", b.file_name().and_then(|n| n.to_str()).expect("n")]);
}

#[test]
fn a_segment_added_without_a_digest_is_named() {
    let (dir, end) = copy(false);
    let forged =
        dir.path().join("segments").join("corp.000000100001-000000100001.20260101T040000Z-20260101T040000Z.jsonl.gz");
    std::fs::write(&forged, gzip(b"{\"auditbridge_id\":\"00000000000000000000000000000000\",\"job\":\"corp\"}\n"))
        .expect("write");
    one_finding(&findings(dir.path(), end), &forged, &["in no digest"]);
}

#[test]
fn a_digest_signed_by_another_key_is_named() {
    let (dir, end) = copy(false);
    let digests = names(dir.path(), "digests");
    let victim = &digests[digests.len() / 2];
    let text = std::fs::read_to_string(victim).expect("read");
    let body = text.lines().next().expect("body");
    let other = SigningKey::from_seed([9; 32]);
    let resigned = format!(
        "{body}\n{{\"key_id\":\"{}\",\"signature\":\"{}\"}}\n",
        other.public().id(),
        other.sign_hex(body.as_bytes())
    );
    std::fs::write(victim, resigned).expect("write");
    one_finding(&findings(dir.path(), end), victim, &["line 2", "signature does not verify", &other.public().id()]);
}

#[test]
fn a_cut_off_tail_is_named() {
    let (dir, end) = copy(false);
    // The last two hours: their digests and the segments those list.
    let digests = names(dir.path(), "digests");
    let written = |d: &PathBuf| {
        let name = d.file_name().and_then(|n| n.to_str()).expect("name");
        super::segment::parse_stamp(name.split('.').nth(2).expect("stamp")).expect("stamp")
    };
    let cut = digests.iter().position(|d| written(d) > end - Duration::hours(2)).expect("recent digests");
    for d in &digests[cut..] {
        let text = std::fs::read_to_string(d).expect("read");
        for seg in names(dir.path(), "segments") {
            if text.contains(seg.file_name().and_then(|n| n.to_str()).expect("n")) {
                std::fs::remove_file(seg).expect("rm");
            }
        }
        std::fs::remove_file(d).expect("rm");
    }
    let last = &digests[cut - 1];
    one_finding(&findings(dir.path(), end), last, &["tail cut off", "is the last digest"]);
    // Without --to there is nothing to judge the end against.
    assert_eq!(verify(dir.path(), &key().public(), Window::default()).expect("verify").findings, vec![]);
}

#[test]
fn a_gap_in_seqs_between_segments_is_named() {
    let (dir, end) = copy(true);
    let seg = &names(dir.path(), "segments")[1];
    one_finding(&findings(dir.path(), end), seg, &["are in no segment", "a gap between"]);
}

#[test]
fn a_window_of_the_untouched_archive_verifies_and_a_change_outside_it_is_not_judged() {
    let (dir, _) = copy(false);
    let window = Window { from: Some(t0() + Duration::hours(1)), to: Some(t0() + Duration::hours(3)) };
    let report = verify(dir.path(), &key().public(), window).expect("verify");
    assert_eq!(report.findings, vec![], "no findings in the window");
    assert!(report.segments > 0 && report.records < RECORDS, "only the window's segments: {report:?}");
    // The first segment was closed before the window's digests: a change to it is another
    // window's finding.
    let first = &names(dir.path(), "segments")[0];
    std::fs::remove_file(first).expect("rm");
    assert_eq!(verify(dir.path(), &key().public(), window).expect("verify").findings, vec![]);
    assert_eq!(findings(dir.path(), template(false).end).len(), 1, "the whole archive still names it");
}

/// The seqs of every line in the closed segments, then the open one.
fn archived_ids(dir: &Path) -> Vec<String> {
    let mut files = names(dir, "segments");
    files.extend(names(dir, ".").into_iter().filter(|p| p.to_string_lossy().contains("active.")));
    let mut ids = Vec::new();
    for f in files {
        let text = String::from_utf8(gunzip(&std::fs::read(f).expect("read"))).expect("utf-8");
        ids.extend(text.lines().map(|l| l[19..51].to_owned()));
    }
    ids
}

#[test]
fn a_crash_after_a_close_rolls_forward_and_a_torn_batch_is_cut_away() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = netwrix::generate::generate(300, 7);
    let cfg = ArchiveConfig { segment_bytes: 1, ..config(dir.path()) };
    let now = t0();
    let mut w = Writer::open(&cfg, Some(Committed { index: 1, len: 0 }), now).expect("open");
    let acked = w.write_events(&events(&records[..100], 1), now).expect("write");
    // This batch closes segment 1 (1 byte is full); the pipeline never stores its value.
    let big = ArchiveConfig { segment_bytes: 1 << 30, ..cfg.clone() };
    w.write_events(&events(&records[100..200], 101), now).expect("write");
    drop(w);
    let mut w = Writer::open(&big, Some(acked), now).expect("reopen");
    // Delivered again, then the next batch: seqs 101..200 are in the closed segment already.
    w.write_events(&events(&records[100..200], 101), now).expect("again");
    let acked = w.write_events(&events(&records[200..250], 201), now).expect("write");
    drop(w);
    // A torn, unacknowledged batch after the last acknowledgement.
    let active = names(dir.path(), ".").into_iter().find(|p| p.to_string_lossy().contains("active.")).expect("open");
    let mut f = std::fs::OpenOptions::new().append(true).open(&active).expect("open");
    f.write_all(b"\x1f\x8b\x08torn").expect("write");
    drop(f);
    let mut w = Writer::open(&big, Some(acked), now).expect("reopen");
    w.write_events(&events(&records[250..300], 251), now).expect("write");
    w.close(now).expect("close");
    let expected: Vec<String> = records.iter().map(|r| r.id().to_string()).collect();
    assert!(archived_ids(dir.path()) == expected, "every record once, in order");
    assert_eq!(findings(dir.path(), now), vec![], "and the archive verifies");
}
