//! The deterministic record id: the key every sink de-duplicates on.
//!
//! It is the first 16 bytes of SHA-256 over the record's [compact](crate::compact)
//! form, written as 32 lower-case hex digits. The compact form covers every field,
//! RID included, in a fixed order with explicit lengths and presence markers, so the
//! id is the same whether the record arrived as XML or JSON, and two records differ in
//! id exactly when they differ in content.

use crate::model::ActivityRecord;
use sha2::{Digest, Sha256};
use std::fmt;

/// A record's content hash (128 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub [u8; 16]);

impl RecordId {
    /// The id of `record`.
    pub fn of(record: &ActivityRecord) -> Self {
        Self::of_compact(&crate::compact::to_vec(record))
    }

    /// The id of a record given in its compact form (what the spool holds).
    pub fn of_compact(compact: &[u8]) -> Self {
        let digest = Sha256::digest(compact);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        RecordId(id)
    }

    /// Reads an id back from its 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(RecordId(id))
    }

    /// The id as raw bytes.
    /// The 32 lower-case hex digits, without a `String` (formats write it per record).
    pub fn hex(&self) -> HexId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0xF)];
        }
        HexId(out)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// A [`RecordId`] as its 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexId([u8; 32]);

impl HexId {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Text;

    #[test]
    fn id_is_stable_and_content_sensitive() {
        let mut a = ActivityRecord { who: "CORP\\a".into(), ..Default::default() };
        let id = a.id();
        assert_eq!(id, a.clone().id());
        assert_eq!(id.to_string().len(), 32);
        assert_eq!(RecordId::from_hex(&id.to_string()), Some(id));
        a.workstation = Some(Text::new());
        assert_ne!(a.id(), id, "absent and empty differ");
    }

    /// Pins the hash so a change to the compact layout (which would re-key every
    /// spooled record and every SIEM's de-duplication) cannot pass unnoticed.
    #[test]
    fn id_of_a_known_record_never_changes() {
        let rec = ActivityRecord {
            rid: Some("20240301101502123A1B2C3D4E5F60718293A4B5C6D7E8F90".into()),
            who: "CORP\\jdoe".into(),
            action: "Modified".into(),
            what: "\\example\\corp\\Groups\\Finance".into(),
            when: "2024-03-01T10:15:02Z".into(),
            where_: "dc01.corp.example".into(),
            object_type: "group".into(),
            ..Default::default()
        };
        assert_eq!(rec.id().to_string(), PINNED);
    }
    const PINNED: &str = "b526bf26066a087d96843a4d6fdc6de3";
}
