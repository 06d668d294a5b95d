//! Segment files: pure functions from events to bytes, and back.
//!
//! A segment is a series of gzip members, one per delivered batch, each holding that
//! batch's records as JSON lines (the [file sink's format](crate::format::json)). Standard
//! tools read it whole (`zcat`, Python's `gzip`), because concatenated members are one
//! valid gzip file. One member per batch is what makes a segment exactly-once: a batch is
//! one append, and cutting the file back to an acknowledged length leaves whole members.
//!
//! Each member's header comment says which records it holds, `auditbridge seq=A-B
//! records=N time=T`, so the sink can rebuild what it knows of an open segment after a
//! crash (lines carry no seq). The comment is not trusted by `verify`; the digest is.

use crate::format::json;
use crate::Event;
use chrono::{DateTime, Utc};
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

/// What is known of one gzip member (one batch) of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Byte offset of the member in the segment file.
    pub offset: u64,
    /// Compressed length.
    pub bytes: u64,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// SHA-256 of the member's uncompressed JSON lines, hex.
    pub sha256: String,
    /// When the member was written.
    pub time: DateTime<Utc>,
    /// Its records' job (see [`job_label`]), as a file-name part.
    pub job: String,
}

/// Why a member could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("byte {offset}: {what}")]
pub struct ScanError {
    pub offset: u64,
    pub what: String,
}

/// Appends the gzip member of `batch` (never empty) to `out`, using `scratch` for the
/// JSON lines, and returns what it holds (`offset` is filled in by the caller).
pub fn encode_member(batch: &[Event], time: DateTime<Utc>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Member {
    scratch.clear();
    for event in batch {
        json::encode(event, scratch);
        scratch.push(b'\n');
    }
    let first_seq = batch.first().map_or(0, |e| e.seq);
    let last_seq = batch.last().map_or(0, |e| e.seq);
    let records = batch.len() as u64;
    let job = safe(&job_label(batch.iter().map(|e| e.job.as_str())));
    let comment = format!("auditbridge seq={first_seq}-{last_seq} records={records} time={} job={job}", stamp(time));
    let start = out.len();
    {
        let mut gz = GzBuilder::new().comment(comment).write(&mut *out, Compression::fast());
        // Writing into a Vec cannot fail.
        let _ = gz.write_all(scratch).and_then(|()| gz.try_finish());
    }
    Member {
        offset: 0,
        bytes: (out.len() - start) as u64,
        records,
        first_seq,
        last_seq,
        sha256: hex::encode(Sha256::digest(&scratch[..])),
        time,
        job,
    }
}

/// Reads every member of `bytes` (a segment, or an open segment cut to its acknowledged
/// length), with the uncompressed lines of each when `keep` is set.
pub fn scan(bytes: &[u8], mut keep: Option<&mut Vec<Vec<u8>>>) -> Result<Vec<Member>, ScanError> {
    let mut members = Vec::new();
    let mut rest = bytes;
    let mut plain = Vec::new();
    while !rest.is_empty() {
        let offset = (bytes.len() - rest.len()) as u64;
        let fail = |what: String| ScanError { offset, what };
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        plain.clear();
        decoder.read_to_end(&mut plain).map_err(|e| fail(format!("gzip member does not decode: {e}")))?;
        let comment = decoder.header().and_then(|h| h.comment()).map(|c| String::from_utf8_lossy(c).into_owned());
        rest = decoder.into_inner();
        let (first_seq, last_seq, time, job) = comment
            .as_deref()
            .and_then(parse_comment)
            .ok_or_else(|| fail(format!("gzip member without auditbridge's comment ({comment:?})")))?;
        let records = plain.iter().filter(|&&b| b == b'\n').count() as u64;
        members.push(Member {
            offset,
            bytes: (bytes.len() - rest.len()) as u64 - offset,
            records,
            first_seq,
            last_seq,
            sha256: hex::encode(Sha256::digest(&plain)),
            time,
            job,
        });
        if let Some(keep) = keep.as_deref_mut() {
            keep.push(plain.clone());
        }
    }
    Ok(members)
}

fn parse_comment(c: &str) -> Option<(u64, u64, DateTime<Utc>, String)> {
    let mut seqs = None;
    let mut time = None;
    let mut job = String::new();
    for part in c.strip_prefix("auditbridge ")?.split(' ') {
        if let Some(range) = part.strip_prefix("seq=") {
            let (a, b) = range.split_once('-')?;
            seqs = Some((a.parse().ok()?, b.parse().ok()?));
        } else if let Some(t) = part.strip_prefix("time=") {
            time = Some(parse_stamp(t)?);
        } else if let Some(j) = part.strip_prefix("job=") {
            job = j.to_owned();
        }
    }
    let (a, b) = seqs?;
    Some((a, b, time?, job))
}

/// A compact UTC time for names and comments: `20261206T013341Z`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok().map(|n| n.and_utc())
}

/// The name of a closed segment: job, first and last seq, and the time it was opened
/// and closed, so a listing sorts in seq order and shows what each file covers:
/// `corp.000000000001-000000050000.20261206T013300Z-20261206T014500Z.jsonl.gz`.
pub fn segment_name(job: &str, first_seq: u64, last_seq: u64, opened: DateTime<Utc>, closed: DateTime<Utc>) -> String {
    format!("{}.{first_seq:012}-{last_seq:012}.{}-{}.jsonl.gz", safe(job), stamp(opened), stamp(closed))
}

/// The label a segment's records give it: their job, or `multi` when several jobs share it.
pub fn job_label<'a>(mut jobs: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = jobs.next() else { return "none".into() };
    if jobs.all(|j| j == first) {
        first.to_owned()
    } else {
        "multi".into()
    }
}

/// A job name as a file name part: letters, digits, `-` and `_` kept, the rest `_`.
pub fn safe(job: &str) -> String {
    job.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// The first and last seq a closed segment's name states, if it is one of ours.
pub fn seqs_of_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".jsonl.gz")?;
    let mut parts = stem.rsplitn(3, '.');
    let _times = parts.next()?;
    let (a, b) = parts.next()?.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, RecordId};

    fn event(seq: u64) -> Event {
        let record =
            ActivityRecord { who: format!("CORP\\u{seq}").into(), action: "Added".into(), ..Default::default() };
        Event { seq, id: RecordId([seq as u8; 16]), job: "corp".into(), replay: false, record }
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_stamp(s).expect("stamp")
    }

    #[test]
    fn a_member_is_plain_gzip_of_the_json_lines_with_our_comment() {
        let t = at("20261206T013341Z");
        let mut out = b"before".to_vec();
        let m = encode_member(&[event(5), event(6)], t, &mut Vec::new(), &mut out);
        assert_eq!(&out[..6], b"before");
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&out[6..]).read_to_string(&mut plain).expect("gzip");
        let line = |n: u8| {
            format!(
                "{{\"auditbridge_id\":\"{}\",\"job\":\"corp\",\"Who\":\"CORP\\\\u{n}\",\"Action\":\"Added\",\"What\":\"\",\"When\":\"\",\"Where\":\"\",\"ObjectType\":\"\"}}\n",
                format!("{n:02x}").repeat(16)
            )
        };
        assert_eq!(plain, format!("{}{}", line(5), line(6)));
        assert_eq!(m.sha256, hex::encode(Sha256::digest(plain.as_bytes())));
        assert_eq!((m.records, m.first_seq, m.last_seq, m.bytes), (2, 5, 6, (out.len() - 6) as u64));
    }

    #[test]
    fn scan_finds_every_member_and_names_the_byte_of_damage() {
        let t = at("20261206T013341Z");
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        let a = encode_member(&[event(1), event(2)], t, &mut scratch, &mut out);
        let b = encode_member(&[event(3)], t, &mut scratch, &mut out);
        let found = scan(&out, None).expect("scans");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], Member { offset: 0, ..a.clone() });
        assert_eq!(found[1], Member { offset: a.bytes, ..b });
        let mut cut = out.clone();
        cut.truncate(out.len() - 3);
        let err = scan(&cut, None).expect_err("torn member");
        assert_eq!(err.offset, a.bytes);
    }

    #[test]
    fn names_sort_in_seq_order_and_read_back() {
        let name = segment_name("corp/eu", 1, 50_000, at("20261206T013300Z"), at("20261206T014500Z"));
        assert_eq!(name, "corp_eu.000000000001-000000050000.20261206T013300Z-20261206T014500Z.jsonl.gz");
        assert_eq!(seqs_of_name(&name), Some((1, 50_000)));
        assert_eq!(seqs_of_name("notes.txt"), None);
        assert_eq!(job_label(["a", "a"].into_iter()), "a");
        assert_eq!(job_label(["a", "b"].into_iter()), "multi");
    }
}
