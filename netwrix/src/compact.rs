//! A compact, lossless binary form of an [`ActivityRecord`].
//!
//! It exists for two jobs: it is what the spool stores (smaller and far cheaper to
//! decode than JSON), and it is the canonical byte string the record id hashes, so
//! the id depends on content only, never on which wire format the record came in.
//!
//! Layout: a version byte (`1`); a varint of flags (bit 0: `MonitoringPlan` present,
//! bit 1: `Item` present, so a present-but-empty one survives the round trip); then
//! each field in a fixed order. A string field is a LEB128 varint of `len + 1`
//! followed by its UTF-8 bytes; `0` means absent. The order: RID, Who, Action, What,
//! When, Where, ObjectType, MonitoringPlan.Name, MonitoringPlan.ID, DataSource,
//! Item.Name, Workstation, then a varint count of details and, per detail,
//! PropertyName, Before, After, Message.

use crate::model::{ActivityRecord, Detail, Item, MonitoringPlan};
use crate::text::{Text, TextBuf};

const VERSION: u8 = 1;

/// Why a compact buffer could not be read back (a corrupt or foreign spool row).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("compact record corrupt at byte {position}: {detail}")]
pub struct CompactError {
    pub position: usize,
    pub detail: &'static str,
}

/// Appends the compact form of `record` to `out`.
pub fn encode(record: &ActivityRecord, out: &mut Vec<u8>) {
    out.push(VERSION);
    let flags = u64::from(record.monitoring_plan.is_some()) | (u64::from(record.item.is_some()) << 1);
    put_varint(out, flags);
    put_opt(out, record.rid.as_deref());
    put_str(out, &record.who);
    put_str(out, &record.action);
    put_str(out, &record.what);
    put_str(out, &record.when);
    put_str(out, &record.where_);
    put_str(out, &record.object_type);
    let plan = record.monitoring_plan.as_ref();
    put_opt(out, plan.and_then(|p| p.name.as_deref()));
    put_opt(out, plan.and_then(|p| p.id.as_deref()));
    put_opt(out, record.data_source.as_deref());
    put_opt(out, record.item.as_ref().and_then(|i| i.name.as_deref()));
    put_opt(out, record.workstation.as_deref());
    put_varint(out, record.details.len() as u64);
    for d in &record.details {
        put_str(out, &d.property_name);
        put_opt(out, d.before.as_deref());
        put_opt(out, d.after.as_deref());
        put_opt(out, d.message.as_deref());
    }
}

/// The compact form of `record` in a new buffer.
pub fn to_vec(record: &ActivityRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode(record, &mut out);
    out
}

/// The spool's ordering key of a record, from its compact form: the 17 digits
/// `yyyyMMddHHmmssfff` that open a Netwrix RID, as a number, so records fetched later
/// get larger keys; 0 when the RID is absent, shorter or not made of digits there.
///
/// The state file's migration 2 computes the same key in SQL for rows spooled before
/// it; the two must agree (a test checks), so this reads the bytes at fixed places
/// exactly as that SQL does: version byte 1, a one-byte flags varint, a one-byte
/// length varint of at least 18 (`len + 1`, RID of 17 bytes or more), then the digits.
pub fn order_key(compact: &[u8]) -> i64 {
    let Some(digits) = compact.get(3..20) else { return 0 };
    let header_fits = compact[0] == VERSION && compact[1] < 0x80 && (0x12..0x80).contains(&compact[2]);
    if !header_fits || !digits.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'))
}

/// Reads a record back from its compact form (copied once into a buffer its fields share).
pub fn decode(buf: &[u8]) -> Result<ActivityRecord, CompactError> {
    decode_shared(TextBuf::new(bytes::Bytes::copy_from_slice(buf)))
}

/// Reads a record back from its compact form in `buf` without copying its strings: each
/// field is a slice of `buf` (for a spool row, `TextBuf::new(row.payload)`).
pub fn decode_shared(buf: TextBuf) -> Result<ActivityRecord, CompactError> {
    let mut r = Reader { src: &buf, buf: buf.bytes(), pos: 0 };
    if r.byte()? != VERSION {
        return Err(r.err("unknown compact version"));
    }
    let flags = r.varint()?;
    let rid = r.opt()?;
    let who = r.string()?;
    let action = r.string()?;
    let what = r.string()?;
    let when = r.string()?;
    let where_ = r.string()?;
    let object_type = r.string()?;
    let plan_name = r.opt()?;
    let plan_id = r.opt()?;
    let data_source = r.opt()?;
    let item_name = r.opt()?;
    let workstation = r.opt()?;
    let count = r.varint()?;
    // Every detail takes at least 4 bytes, so a count beyond that is corrupt, not a reason to allocate.
    if count > (r.buf.len() - r.pos) as u64 / 4 {
        return Err(r.err("detail count larger than the buffer"));
    }
    let mut details = Vec::with_capacity(count as usize);
    for _ in 0..count {
        details.push(Detail { property_name: r.string()?, before: r.opt()?, after: r.opt()?, message: r.opt()? });
    }
    if r.pos != r.buf.len() {
        return Err(r.err("trailing bytes"));
    }
    let monitoring_plan = (flags & 1 != 0).then_some(MonitoringPlan { name: plan_name, id: plan_id });
    let item = (flags & 2 != 0).then_some(Item { name: item_name });
    Ok(ActivityRecord {
        rid,
        who,
        action,
        what,
        when,
        where_,
        object_type,
        monitoring_plan,
        data_source,
        item,
        workstation,
        details,
    })
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_opt(out, Some(s))
}

struct Reader<'a> {
    src: &'a TextBuf,
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, detail: &'static str) -> CompactError {
        CompactError { position: self.pos, detail }
    }

    fn byte(&mut self) -> Result<u8, CompactError> {
        let b = *self.buf.get(self.pos).ok_or(self.err("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, CompactError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint too long"))
    }

    fn opt(&mut self) -> Result<Option<Text>, CompactError> {
        let n = self.varint()?;
        if n == 0 {
            return Ok(None);
        }
        let len = usize::try_from(n - 1).map_err(|_| self.err("length overflow"))?;
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len()).ok_or(self.err("string past the end"))?;
        let text = self.src.text(self.pos..end).ok_or(self.err("invalid UTF-8"))?;
        self.pos = end;
        Ok(Some(text))
    }

    fn string(&mut self) -> Result<Text, CompactError> {
        self.opt()?.ok_or(self.err("mandatory field absent"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_empty_versus_absent() {
        let rec = ActivityRecord {
            rid: None,
            who: "CORP\\jdoe".into(),
            action: "Modified".into(),
            what: "\\\\fs\\share\\ä.txt".into(),
            when: "2024-03-01T10:15:02Z".into(),
            where_: "fs01".into(),
            object_type: "File".into(),
            monitoring_plan: Some(MonitoringPlan { name: None, id: None }),
            data_source: Some(Text::new()),
            item: None,
            workstation: Some("ws".into()),
            details: vec![Detail {
                property_name: "Size".into(),
                before: Some(Text::new()),
                after: None,
                message: Some("m".into()),
            }],
        };
        let bytes = to_vec(&rec);
        assert_eq!(decode(&bytes).unwrap(), rec);
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let bytes = to_vec(&ActivityRecord::default());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err());
        }
        assert!(decode(&[1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }
}
