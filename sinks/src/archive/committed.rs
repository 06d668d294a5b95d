//! The value an archive sink stores beside its cursor: which open segment, and how much
//! of it, the pipeline has acknowledged.
//!
//! Encoding, version 1 (17 bytes): byte 0 is `1`, bytes 1..9 the open segment's index
//! (`active.<index>.jsonl.gz`), bytes 9..17 its acknowledged length, both u64
//! big-endian. An unknown version or length is refused, never guessed at.
//!
//! The layout is the file sink's (a version, then a position and a length), so the
//! codec is [`crate::file::committed::Committed`]'s, with `index` in `generation`'s place.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    pub index: u64,
    pub len: u64,
}

impl Committed {
    pub fn encode(&self) -> Vec<u8> {
        crate::file::committed::Committed { generation: self.index, len: self.len }.encode()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let c = crate::file::committed::Committed::decode(bytes)?;
        Ok(Self { index: c.generation, len: c.len })
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
