//! Continuation marks: opaque tokens that look like the real server's.
//!
//! A real mark is Base64 of a small serialised bookmark list ending in a NUL byte
//! (`<nr><n n="{GUID}">…</n></nr>\0`, spec §2). The emulator's marks have that shape,
//! with one bookmark: the position in the store just after the last record scanned. A
//! fixed GUID per kind (enum or search) lets a mark survive a restart of the emulator or
//! a second emulator holding the same records, and keeps the two kinds apart.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

/// Which endpoint a mark belongs to; the two are not interchangeable (spec §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkKind {
    Enum,
    Search,
}

impl MarkKind {
    fn guid(self) -> &'static str {
        match self {
            MarkKind::Enum => "{E7041C5A-4D2E-4F3B-9A61-0C8D7E6F5A41}",
            MarkKind::Search => "{5EA6C3D2-8B71-4E09-A2F4-71D3C0B9E816}",
        }
    }
}

/// Why a mark was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MarkError {
    #[error("the continuation mark is not Base64")]
    NotBase64,
    #[error("the continuation mark is not a bookmark list")]
    NotABookmark,
    #[error("the continuation mark belongs to another endpoint")]
    WrongKind,
}

/// The token for position `pos` of the store.
/// The position is zero-padded so the bookmark's length is a multiple of three: the
/// Base64 then has no `=` padding and ends like the documented marks (`…PC9ucj4A`).
pub(crate) fn encode(kind: MarkKind, pos: usize) -> String {
    let digits = pos.to_string();
    let unpadded = "<nr><n n=\"\"><a s=\"\"></a></n></nr>\0".len() + kind.guid().len() + digits.len();
    let zeros = (3 - unpadded % 3) % 3;
    let raw = format!("<nr><n n=\"{}\"><a s=\"{}{digits}\"></a></n></nr>\0", kind.guid(), "0".repeat(zeros));
    STANDARD.encode(raw.as_bytes())
}

/// The store position a token resumes from. Whitespace around the token is ignored
/// (the docs show marks with line breaks around them).
pub(crate) fn decode(kind: MarkKind, token: &str) -> Result<usize, MarkError> {
    let token = token.trim();
    let raw = STANDARD.decode(token).or_else(|_| STANDARD_NO_PAD.decode(token)).map_err(|_| MarkError::NotBase64)?;
    let text = std::str::from_utf8(&raw).map_err(|_| MarkError::NotABookmark)?;
    let text = text.strip_suffix('\0').unwrap_or(text);
    let rest = text.strip_prefix("<nr><n n=\"").ok_or(MarkError::NotABookmark)?;
    let (guid, rest) = rest.split_once("\"><a s=\"").ok_or(MarkError::NotABookmark)?;
    let (pos, rest) = rest.split_once('"').ok_or(MarkError::NotABookmark)?;
    if rest != "></a></n></nr>" && rest != "/></n></nr>" {
        return Err(MarkError::NotABookmark);
    }
    let pos: usize = pos.parse().map_err(|_| MarkError::NotABookmark)?;
    if guid == kind.guid() {
        Ok(pos)
    } else if guid == MarkKind::Enum.guid() || guid == MarkKind::Search.guid() {
        Err(MarkError::WrongKind)
    } else {
        Err(MarkError::NotABookmark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_shape() {
        let t = encode(MarkKind::Enum, 2500);
        assert!(t.starts_with("PG5yPjxuIG49IntFNzA"), "{t}");
        assert!(t.ends_with("PjwvYT48L24+PC9ucj4A"), "{t}");
        assert_eq!(decode(MarkKind::Enum, &format!("\n  {t}\n")), Ok(2500));
        assert_eq!(decode(MarkKind::Search, &t), Err(MarkError::WrongKind));
        for pos in 0..12 {
            let t = encode(MarkKind::Search, pos);
            assert!(!t.contains('='), "{t}");
            assert_eq!(decode(MarkKind::Search, &t), Ok(pos));
        }
        assert_eq!(decode(MarkKind::Enum, "!!!"), Err(MarkError::NotBase64));
        assert_eq!(decode(MarkKind::Enum, "aGVsbG8="), Err(MarkError::NotABookmark));
        let self_closing = STANDARD.encode(format!("<nr><n n=\"{}\"><a s=\"7\"/></n></nr>\0", MarkKind::Search.guid()));
        assert_eq!(decode(MarkKind::Search, &self_closing), Ok(7));
    }
}
