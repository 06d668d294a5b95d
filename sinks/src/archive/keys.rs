//! The archive's Ed25519 keys and their text form.
//!
//! Both files hold one line of lowercase hex: the 32-byte secret seed (`PREFIX.key`) or
//! the 32-byte public key (`PREFIX.pub`). Plain hex rather than PEM keeps them readable
//! by any tool an auditor has, and needs no ASN.1 code in the build. A key's id, printed
//! in every digest, is the first 16 hex digits of the SHA-256 of the public key, so a
//! finding can say which key signed a digest.

use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};
use std::fmt;

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("an Ed25519 key is 64 hex digits (32 bytes); found {0} characters that are not that")]
    Malformed(usize),
    #[error("the public key is not a valid Ed25519 point")]
    BadPoint(#[source] ed25519_dalek::SignatureError),
    #[error("reading 32 random bytes from /dev/urandom")]
    Random(#[source] std::io::Error),
}

/// The secret key that signs digests. Never printed.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

/// The public key that checks them.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

fn bytes32(text: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let bytes = hex::decode(text).map_err(|_| KeyError::Malformed(text.len()))?;
    bytes.try_into().map_err(|_| KeyError::Malformed(text.len()))
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        use std::io::Read;
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)).map_err(KeyError::Random)?;
        Ok(Self::from_seed(seed))
    }

    /// The key whose secret seed is `seed` (tests use fixed seeds).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Reads the text of a `.key` file.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        bytes32(text).map(Self::from_seed)
    }

    /// The text of a `.key` file.
    pub fn to_text(&self) -> String {
        format!("{}\n", hex::encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The signature of `message`, 128 hex digits.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(*** public {})", self.public().id())
    }
}

impl PublicKey {
    /// Reads the text of a `.pub` file.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        ed25519_dalek::VerifyingKey::from_bytes(&bytes32(text)?).map(Self).map_err(KeyError::BadPoint)
    }

    /// The text of a `.pub` file.
    pub fn to_text(&self) -> String {
        format!("{}\n", hex::encode(self.0.to_bytes()))
    }

    /// The key's short id: 16 hex digits of the SHA-256 of its bytes.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.to_bytes())[..8])
    }

    /// Whether `signature_hex` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(bytes) = hex::decode(signature_hex) else { return false };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else { return false };
        self.0.verify(message, &sig).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_signatures_check() {
        let key = SigningKey::from_seed([7; 32]);
        assert_eq!(key.to_text(), format!("{}\n", "07".repeat(32)));
        let again = SigningKey::parse(&key.to_text()).expect("parses");
        assert_eq!(again.public(), key.public());
        let public = PublicKey::parse(&key.public().to_text()).expect("parses");
        let sig = key.sign_hex(b"digest");
        assert_eq!(sig.len(), 128);
        assert!(public.verifies(b"digest", &sig));
        assert!(!public.verifies(b"digesT", &sig));
        assert!(!SigningKey::from_seed([8; 32]).public().verifies(b"digest", &sig));
        assert!(SigningKey::parse("abc").is_err());
        assert!(!format!("{key:?}").contains("0707"));
    }
}
