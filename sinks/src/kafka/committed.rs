//! The value the Kafka sink keeps beside its cursor: which writer it is.
//!
//! 17 bytes: version `1`, then a 16-byte writer id drawn at random when the sink first
//! opens with no value (a new sink, or a new state file). Every message carries the id
//! in its `auditbridge-writer` header. After a restart, the sink trusts a partition's
//! last message to say how far it got only when that message carries its own writer id:
//! a message of another writer (another bridge, another state file, a person) says
//! nothing about this one's records, which are then sent again rather than risked.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

const VERSION: u8 = 1;
const LEN: usize = 17;

/// A sink's identity as a writer; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub writer: [u8; 16],
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
        Committed { writer }
    }

    /// The writer id as 32 hex digits, as in the header.
    pub fn writer_hex(&self) -> String {
        self.writer.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(LEN);
        v.push(VERSION);
        v.extend_from_slice(&self.writer);
        v
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        match bytes {
            [VERSION, rest @ ..] if rest.len() == 16 => {
                let mut writer = [0u8; 16];
                writer.copy_from_slice(rest);
                Ok(Committed { writer })
            }
            [v, ..] if *v != VERSION => Err(format!(
                "the stored sink value has version {v}, this build knows {VERSION}; was the state file written by a newer auditbridge?"
            )),
            _ => Err(format!("the stored sink value is {} bytes, expected {LEN}", bytes.len())),
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
        assert_eq!(Committed::decode(&c.encode()), Ok(c));
        assert_eq!(c.writer_hex().len(), 32);
        assert!(Committed::decode(&[2; 17]).unwrap_err().contains("version 2"));
        assert!(Committed::decode(&[1; 5]).unwrap_err().contains("5 bytes"));
        assert!(Committed::decode(&[]).unwrap_err().contains("0 bytes"));
    }
}
