//! The segment half of verification: every listed segment present with its listed
//! SHA-256, every segment file listed, seqs running on; and, for a changed segment, where
//! the change is (which gzip member's bytes, which lines).

use super::{list, Finding, Found, Hole, Report, VerifyError, Window};
use crate::archive::digest::SegmentEntry;
use crate::archive::segment;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// A listed segment and the digest that lists it.
struct Listed<'a> {
    entry: &'a SegmentEntry,
    digest: &'a str,
    dense: bool,
}

pub(super) fn check(
    dir: &Path,
    judged: &[&Found],
    holes: &[Hole],
    window: Window,
    report: &mut Report,
) -> Result<(), VerifyError> {
    let listed: Vec<Listed> = judged
        .iter()
        .flat_map(|f| {
            f.parsed.body.segments.iter().map(|entry| Listed { entry, digest: &f.name, dense: f.parsed.body.dense })
        })
        .collect();
    let names = list(&dir.join("segments"))?;
    let read = |name: &str| {
        let path = dir.join("segments").join(name);
        std::fs::read(&path).map_err(|source| VerifyError { path, source })
    };
    let sha_of_name = |name: &str| read(name).map(|b| hex::encode(Sha256::digest(&b)));
    let by_name: HashMap<&str, &Listed> = listed.iter().map(|l| (l.entry.file.as_str(), l)).collect();
    let by_sha: HashMap<&str, &Listed> = listed.iter().map(|l| (l.entry.sha256.as_str(), l)).collect();
    let present: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();

    // Files no digest lists: renamed ones (their bytes are a listed segment whose name is
    // gone), ones a finding already accounts for, and ones added.
    let mut renamed_from = std::collections::HashSet::new();
    for name in names.iter().filter(|n| !by_name.contains_key(n.as_str())) {
        let seqs = segment::seqs_of_name(name);
        if outside(name, window) {
            // A segment written outside the window is another window's business.
            continue;
        }
        let sha = sha_of_name(name)?;
        if let Some(l) = by_sha.get(sha.as_str()).filter(|l| !present.contains(l.entry.file.as_str())) {
            renamed_from.insert(l.entry.file.as_str());
            report.findings.push(Finding {
                file: format!("segments/{name}"),
                at: String::new(),
                what: format!("is segment {} (listed by digests/{}) renamed", l.entry.file, l.digest),
            });
            continue;
        }
        if let Some(hole) = seqs.and_then(|(a, b)| holes.iter().find(|h| a > h.after && b <= h.through)) {
            report.findings[hole.finding].what.push_str(&format!("; it listed segments/{name}"));
            continue;
        }
        report.findings.push(Finding {
            file: format!("segments/{name}"),
            at: String::new(),
            what: "is in no digest: a segment added without a digest".into(),
        });
    }

    let mut swapped_with = HashMap::new();
    for l in &listed {
        let e = l.entry;
        let file = format!("segments/{}", e.file);
        if !present.contains(e.file.as_str()) {
            if !renamed_from.contains(e.file.as_str()) {
                report.findings.push(Finding {
                    file,
                    at: String::new(),
                    what: format!(
                        "missing: listed by digests/{} with seqs {}..{} ({} records): a segment deleted",
                        l.digest, e.first_seq, e.last_seq, e.records
                    ),
                });
            }
            continue;
        }
        let bytes = read(&e.file)?;
        report.segments += 1;
        report.records += e.records;
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha == e.sha256 {
            continue;
        }
        if let Some(other) = by_sha.get(sha.as_str()) {
            if swapped_with.get(other.entry.file.as_str()) == Some(&e.file.as_str()) {
                continue;
            }
            swapped_with.insert(e.file.as_str(), other.entry.file.as_str());
            report.findings.push(Finding {
                file,
                at: String::new(),
                what: format!(
                    "holds the bytes of segment {} (listed by digests/{}): segments renamed or reordered",
                    other.entry.file, other.digest
                ),
            });
            continue;
        }
        let (at, what) = locate(&bytes, e);
        report.findings.push(Finding { file, at, what: format!("{what} (listed by digests/{})", l.digest) });
    }

    let mut prev: Option<&Listed> = None;
    for l in &listed {
        let e = l.entry;
        let across_hole =
            prev.is_some_and(|p| holes.iter().any(|h| p.entry.last_seq <= h.after && e.first_seq > h.after));
        if let Some(p) = prev.filter(|_| l.dense && !across_hole) {
            if e.first_seq > p.entry.last_seq + 1 {
                report.findings.push(Finding {
                    file: format!("segments/{}", e.file),
                    at: String::new(),
                    what: format!(
                        "seqs {}..{} are in no segment: a gap between segments/{} and this one",
                        p.entry.last_seq + 1,
                        e.first_seq - 1,
                        p.entry.file
                    ),
                });
            } else if e.first_seq <= p.entry.last_seq {
                report.findings.push(Finding {
                    file: format!("segments/{}", e.file),
                    at: String::new(),
                    what: format!("starts at seq {}, not after segments/{} (seqs overlap)", e.first_seq, p.entry.file),
                });
            }
        }
        if l.dense && e.last_seq.checked_sub(e.first_seq).map(|d| d + 1) != Some(e.records) {
            report.findings.push(Finding {
                file: format!("segments/{}", e.file),
                at: String::new(),
                what: format!("holds {} records for seqs {}..{}: a gap inside it", e.records, e.first_seq, e.last_seq),
            });
        }
        report.seqs = Some((report.seqs.map_or(e.first_seq, |s| s.0), e.last_seq));
        prev = Some(l);
    }
    Ok(())
}

/// Whether a segment's name says it was opened before `--from` or closed after `--to`.
fn outside(name: &str, window: Window) -> bool {
    let stamps = name.strip_suffix(".jsonl.gz").and_then(|s| s.rsplit('.').next()).and_then(|t| t.split_once('-'));
    let Some((opened, closed)) = stamps.map(|(a, b)| (segment::parse_stamp(a), segment::parse_stamp(b))) else {
        return false;
    };
    window.from.zip(opened).is_some_and(|(from, opened)| opened < from)
        || window.to.zip(closed).is_some_and(|(to, closed)| closed > to)
}

/// Where a segment whose SHA-256 does not match its entry differs: the gzip member that
/// no longer decodes, or the first run of lines whose hash differs.
fn locate(bytes: &[u8], e: &SegmentEntry) -> (String, String) {
    let member_at = |offset: u64| e.members.iter().rposition(|m| m.0 <= offset).unwrap_or(0);
    let lines_of = |k: usize| {
        let first: u64 = e.members[..k].iter().map(|m| m.1).sum::<u64>() + 1;
        let count = e.members.get(k).map_or(0, |m| m.1);
        let seq = e.members.get(k).map_or(0, |m| m.2);
        format!("lines {first}..{} (seqs from {seq})", first + count.max(1) - 1)
    };
    // Decode member by member, so a change names the member it is in.
    let mut rest = bytes;
    let mut plain = Vec::new();
    while !rest.is_empty() {
        let offset = (bytes.len() - rest.len()) as u64;
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        if let Err(err) = decoder.read_to_end(&mut plain) {
            let k = member_at(offset);
            let end = e.members.get(k + 1).map_or(e.bytes, |m| m.0);
            let start = e.members.get(k).map_or(0, |m| m.0);
            return (
                format!("bytes {start}..{end}, {}", lines_of(k)),
                format!("changed: its gzip data no longer decodes ({err})"),
            );
        }
        rest = decoder.into_inner();
    }
    let lines: Vec<&[u8]> = plain.split_inclusive(|&b| b == b'\n').collect();
    let mut at = 0usize;
    for (k, m) in e.members.iter().enumerate() {
        let n = usize::try_from(m.1).unwrap_or(usize::MAX);
        let chunk = lines.get(at..at.saturating_add(n)).unwrap_or(&[]);
        let mut sha = Sha256::new();
        chunk.iter().for_each(|l| sha.update(l));
        if chunk.len() != n || hex::encode(sha.finalize()) != m.3 {
            let what = if lines.len() as u64 == e.records {
                "changed: these lines differ from what the digest vouches for".to_owned()
            } else {
                format!(
                    "holds {} lines where the digest lists {}: a line deleted or added within these lines",
                    lines.len(),
                    e.records
                )
            };
            return (lines_of(k), what);
        }
        at += n;
    }
    if lines.len() > at {
        return (format!("lines {}..{}", at + 1, lines.len()), "lines added after the last listed record".into());
    }
    (
        format!("bytes 0..{}", bytes.len()),
        "changed: the compressed bytes differ (gzip framing) though every record matches".into(),
    )
}
