//! The value a file sink stores beside its cursor: which file, and how much of it, the
//! pipeline has acknowledged. Everything on disk beyond it is undone on open.
//!
//! Encoding, version 1 (17 bytes):
//!
//! ```text
//! byte  0      version = 1
//! bytes 1..9   generation of the active file, u64 big-endian
//! bytes 9..17  committed length of the active file in bytes, u64 big-endian
//! ```
//!
//! A later layout gets a new version byte; an unknown version or length is refused
//! (`Fatal`), never guessed at.

/// The acknowledged state of a file sink: the active file is generation `generation`
/// and its first `len` bytes are acknowledged lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    pub generation: u64,
    pub len: u64,
}

const VERSION: u8 = 1;
const ENCODED_LEN: usize = 17;

impl Committed {
    /// The stored form (see the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.generation.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out
    }

    /// Reads a stored value back; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let (&version, rest) = bytes.split_first().ok_or("empty committed value")?;
        if version != VERSION {
            return Err(format!("unknown committed value version {version}"));
        }
        if bytes.len() != ENCODED_LEN {
            return Err(format!("committed value is {} bytes, expected {ENCODED_LEN}", bytes.len()));
        }
        let (generation, len) = rest.split_at(8);
        let u64_of = |b: &[u8]| b.try_into().map(u64::from_be_bytes).map_err(|_| "bad u64".to_string());
        Ok(Self { generation: u64_of(generation)?, len: u64_of(len)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_pinned() {
        let c = Committed { generation: 3, len: 0x0102 };
        let bytes = c.encode();
        assert_eq!(bytes, [1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(Committed::decode(&bytes), Ok(c));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(Committed::decode(&[]).is_err());
        assert!(Committed::decode(&[2; 17]).is_err());
        assert!(Committed::decode(&[1; 16]).is_err());
        assert!(Committed::decode(&[1; 18]).is_err());
    }
}
