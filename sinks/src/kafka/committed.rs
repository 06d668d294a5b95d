//! The value the Kafka sink keeps beside its cursor: which writer it is, and where the
//! batch acknowledged last began.
//!
//! Version 2, 25 bytes: `2`, a 16-byte writer id, then the first seq of the batch whose
//! acknowledgement this value came with (big-endian `u64`). Version 1 (17 bytes, written
//! by older builds and by a sink's first open) has the writer id only. The id is drawn at
//! random when the sink first opens with no value (a new sink, or a new state file), and
//! every message carries it in its `auditbridge-writer` header. After a restart, the sink
//! trusts a partition's messages to say how far it got only when they carry its own
//! writer id: a message of another writer (another bridge, another state file, a person)
//! says nothing about this one's records, which are then sent again rather than risked.
//! The first seq tells the read-back how far back a message of this writer may still sit
//! after the batches in doubt (`tail.rs`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

const V1: u8 = 1;
const V1_LEN: usize = 17;
const V2: u8 = 2;
const V2_LEN: usize = 25;

/// A sink's identity as a writer, and the first seq of its last acknowledged batch; see
/// the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub writer: [u8; 16],
    /// `None` in a version 1 value (no batch acknowledged with this build yet).
    pub acked_first: Option<u64>,
}

impl Committed {
    /// A new writer id, random.
    pub fn new_writer() -> Self {
        let mut writer = [0u8; 16];
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        for (i, chunk) in writer.chunks_mut(8).enumerate() {
            // RandomState is seeded from the OS's randomness, differently per instance.
            let mut h = RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_be_bytes());
        }
        Committed { writer, acked_first: None }
    }

    /// The writer id as 32 hex digits, as in the header.
    pub fn writer_hex(&self) -> String {
        self.writer.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The same writer, with the batch that begins at seq `first` acknowledged.
    pub fn acked(self, first: u64) -> Self {
        Committed { acked_first: Some(first), ..self }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(V2_LEN);
        match self.acked_first {
            None => {
                v.push(V1);
                v.extend_from_slice(&self.writer);
            }
            Some(first) => {
                v.push(V2);
                v.extend_from_slice(&self.writer);
                v.extend_from_slice(&first.to_be_bytes());
            }
        }
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let writer = |rest: &[u8]| {
            let mut writer = [0u8; 16];
            writer.copy_from_slice(&rest[..16]);
            writer
        };
        match bytes {
            [V1, rest @ ..] if bytes.len() == V1_LEN => Ok(Committed { writer: writer(rest), acked_first: None }),
            [V2, rest @ ..] if bytes.len() == V2_LEN => {
                let mut first = [0u8; 8];
                first.copy_from_slice(&rest[16..]);
                Ok(Committed { writer: writer(rest), acked_first: Some(u64::from_be_bytes(first)) })
            }
            [v, ..] if *v != V1 && *v != V2 => Err(format!(
                "the stored sink value has version {v}, this build knows {V1} and {V2}; was the state file written by a newer auditbridge?"
            )),
            _ => Err(format!("the stored sink value is {} bytes, expected {V1_LEN} or {V2_LEN}", bytes.len())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_it_does_not_know() {
        let c = Committed::new_writer();
        assert_ne!(c, Committed::new_writer(), "two writers never share an id");
        assert_eq!(c.encode().len(), 17, "a writer with nothing acknowledged is a version 1 value");
        assert_eq!(Committed::decode(&c.encode()), Ok(c));
        let acked = c.acked(123_456_789_012);
        assert_eq!(acked.encode().len(), 25);
        assert_eq!(Committed::decode(&acked.encode()), Ok(acked));
        assert_eq!(acked.writer_hex(), c.writer_hex());
        assert_eq!(c.writer_hex().len(), 32);
        assert!(Committed::decode(&[3; 17]).unwrap_err().contains("version 3"));
        assert!(Committed::decode(&[1; 5]).unwrap_err().contains("5 bytes"));
        assert!(Committed::decode(&[2; 17]).unwrap_err().contains("17 bytes"), "a version 2 value is 25 bytes");
        assert!(Committed::decode(&[]).unwrap_err().contains("0 bytes"));
    }
}
