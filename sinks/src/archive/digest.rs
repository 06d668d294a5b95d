//! Digest files: the signed chain that vouches for the segments.
//!
//! A digest file is two lines. The first is the body, compact JSON, and is exactly the
//! message that is signed; the second carries the Ed25519 signature:
//!
//! ```text
//! {"format":"auditbridge-archive-digest/1","number":7,"time":"2026-12-06T02:00:00Z",…}
//! {"key_id":"3f1c…","signature":"<128 hex digits>"}
//! ```
//!
//! Each body names the previous digest's file, its SHA-256 (of the whole file, both
//! lines) and its signature, so the digests form a chain: removing, changing or
//! reordering one breaks the link of the next. Digests are written at every segment close
//! and every `digest_interval` even when idle, so a gap in their times shows a deleted
//! digest. Field order is fixed by the structs below; verification never re-serialises,
//! it checks the signature over the first line's bytes as found.

use super::keys::{PublicKey, SigningKey};
use super::segment::Member;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `format` value of this version.
pub const FORMAT: &str = "auditbridge-archive-digest/1";

/// The signed body of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub format: String,
    /// 1 for the first digest of an archive, then +1 each.
    pub number: u64,
    /// When it was written (RFC 3339, UTC).
    pub time: String,
    /// The configured `digest_interval` in seconds: the longest expected gap to the next.
    pub interval_secs: u64,
    /// Whether the archive takes every record of the spool, so a gap in seqs is a loss.
    pub dense: bool,
    /// The digest before this one; `None` only for number 1.
    pub previous: Option<Previous>,
    /// The segments closed since the previous digest, in seq order.
    pub segments: Vec<SegmentEntry>,
    /// Totals over `segments`.
    pub records: u64,
    pub bytes: u64,
    /// The seq range of `segments` (absent when none).
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The last seq in any segment of the archive so far (absent before the first).
    pub archived_through_seq: Option<u64>,
}

/// The link to the previous digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Previous {
    pub file: String,
    /// SHA-256 of the previous digest file's bytes, hex.
    pub sha256: String,
    pub signature: String,
}

/// One closed segment as a digest vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentEntry {
    /// File name under `segments/`.
    pub file: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub bytes: u64,
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// When it was opened and closed (RFC 3339, UTC).
    pub opened: String,
    pub closed: String,
    /// Its gzip members: `[byte offset, records, first seq, SHA-256 of the lines]`, so
    /// `verify` can name the lines a change is in.
    pub members: Vec<(u64, u64, u64, String)>,
}

/// The signature line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureLine {
    pub key_id: String,
    pub signature: String,
}

/// RFC 3339 in UTC, whole seconds: what digests hold.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// The name of digest `number` written at `time`: `digest.000007.20261206T020000Z.json`.
pub fn digest_name(number: u64, time: DateTime<Utc>) -> String {
    format!("digest.{number:06}.{}.json", super::segment::stamp(time))
}

/// The number a digest file's name states, if it is one of ours.
pub fn number_of_name(name: &str) -> Option<u64> {
    name.strip_prefix("digest.")?.strip_suffix(".json")?.split('.').next()?.parse().ok()
}

impl SegmentEntry {
    /// The entry of a segment file `file` with `content`, holding `members`.
    pub fn new(file: String, content: &[u8], members: &[Member], closed: DateTime<Utc>) -> Self {
        Self {
            file,
            sha256: hex::encode(Sha256::digest(content)),
            bytes: content.len() as u64,
            records: members.iter().map(|m| m.records).sum(),
            first_seq: members.first().map_or(0, |m| m.first_seq),
            last_seq: members.last().map_or(0, |m| m.last_seq),
            opened: rfc3339(members.first().map_or(closed, |m| m.time)),
            closed: rfc3339(closed),
            members: members.iter().map(|m| (m.offset, m.records, m.first_seq, m.sha256.clone())).collect(),
        }
    }
}

/// A signed digest: its file's bytes, with what the next one links to.
#[derive(Debug, Clone)]
pub struct Signed {
    pub bytes: Vec<u8>,
    pub link: Previous,
}

/// Signs `body` and lays out its file (named `file`).
pub fn sign(body: &Body, file: &str, key: &SigningKey) -> Signed {
    // Serialising plain structs of strings and numbers cannot fail.
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    let signature = key.sign_hex(&bytes);
    let line = SignatureLine { key_id: key.public().id(), signature: signature.clone() };
    bytes.push(b'\n');
    bytes.extend_from_slice(&serde_json::to_vec(&line).unwrap_or_default());
    bytes.push(b'\n');
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Signed { bytes, link: Previous { file: file.to_owned(), sha256, signature } }
}

/// A digest file as read back, before any judgement.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub body: Body,
    pub signature: SignatureLine,
    /// Whether the signature verifies with the key given.
    pub signed_by_key: bool,
    pub sha256: String,
}

/// Reads a digest file; the error says what is malformed (which line).
pub fn parse(bytes: &[u8], key: &PublicKey) -> Result<Parsed, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("byte {}: not UTF-8", e.valid_up_to()))?;
    let mut lines = text.split_terminator('\n');
    let first = lines.next().ok_or("line 1: empty file")?;
    let body: Body = serde_json::from_str(first).map_err(|e| format!("line 1: not a digest body: {e}"))?;
    if body.format != FORMAT {
        return Err(format!("line 1: unknown format {:?}", body.format));
    }
    let second = lines.next().ok_or("line 2: the signature line is missing")?;
    let signature: SignatureLine =
        serde_json::from_str(second).map_err(|e| format!("line 2: not a signature line: {e}"))?;
    if lines.next().is_some() {
        return Err("line 3: unexpected text after the signature line".into());
    }
    let signed_by_key = key.verifies(first.as_bytes(), &signature.signature);
    Ok(Parsed { body, signature, signed_by_key, sha256: hex::encode(Sha256::digest(bytes)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_the_signed_body_then_the_signature() {
        let key = SigningKey::from_seed([1; 32]);
        let body = Body {
            format: FORMAT.into(),
            number: 1,
            time: "2026-12-06T02:00:00Z".into(),
            interval_secs: 3600,
            dense: true,
            previous: None,
            segments: vec![],
            records: 0,
            bytes: 0,
            first_seq: None,
            last_seq: None,
            archived_through_seq: None,
        };
        let signed = sign(&body, "digest.000001.20261206T020000Z.json", &key);
        let text = String::from_utf8(signed.bytes.clone()).expect("utf-8");
        let (first, second) = text.trim_end().split_once('\n').expect("two lines");
        assert_eq!(
            first,
            r#"{"format":"auditbridge-archive-digest/1","number":1,"time":"2026-12-06T02:00:00Z","interval_secs":3600,"dense":true,"previous":null,"segments":[],"records":0,"bytes":0,"first_seq":null,"last_seq":null,"archived_through_seq":null}"#
        );
        assert_eq!(second, format!(r#"{{"key_id":"{}","signature":"{}"}}"#, key.public().id(), signed.link.signature));
        let parsed = parse(&signed.bytes, &key.public()).expect("parses");
        assert!(parsed.signed_by_key);
        assert_eq!(parsed.body, body);
        assert_eq!(parsed.sha256, signed.link.sha256);
        let other = SigningKey::from_seed([2; 32]).public();
        assert!(!parse(&signed.bytes, &other).expect("parses").signed_by_key);
        assert_eq!(number_of_name("digest.000001.20261206T020000Z.json"), Some(1));
    }
}
