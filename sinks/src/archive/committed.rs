//! The value an archive sink stores beside its cursor: which open segment, and how much
//! of it, the pipeline has acknowledged.
//!
//! Encoding, version 1 (17 bytes): byte 0 is `1`, bytes 1..9 the open segment's index
//! (`active.<index>.jsonl.gz`), bytes 9..17 its acknowledged length, both u64
//! big-endian. An unknown version or length is refused, never guessed at.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    pub index: u64,
    pub len: u64,
}

const VERSION: u8 = 1;
const ENCODED_LEN: usize = 17;

impl Committed {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != ENCODED_LEN || bytes[0] != VERSION {
            return Err(format!("unknown committed value ({} bytes, version {:?})", bytes.len(), bytes.first()));
        }
        let u64_at = |i: usize| bytes[i..i + 8].try_into().map(u64::from_be_bytes).map_err(|_| "bad u64".to_string());
        Ok(Self { index: u64_at(1)?, len: u64_at(9)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_pinned() {
        let c = Committed { index: 2, len: 0x0103 };
        assert_eq!(c.encode(), [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 3]);
        assert_eq!(Committed::decode(&c.encode()), Ok(c));
        assert!(Committed::decode(&[2; 17]).is_err());
        assert!(Committed::decode(&[1; 16]).is_err());
    }
}
