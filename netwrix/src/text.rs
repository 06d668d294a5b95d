//! [`Text`]: the string type of an Activity Record's fields, immutable and able to
//! share its bytes with the buffer it was read from.
//!
//! It exists for the sinks' side of the spool: every sink reads each record back from
//! its compact form, and with `String` fields each of a record's dozen or more
//! strings was allocated, copied and freed again, per record and per sink (in a run
//! with four sinks, a seventh of the bridge's CPU went to `malloc` and `free` there).
//! A `Text` cut from a spool row is a reference-counted slice of that row: no copy,
//! and the row is freed once when the record's last field goes.
//!
//! Everything else treats it as a `&str` (it derefs to one, compares with `str` and
//! `String`, and is written and read by serde as a plain string).

use bytes::Bytes;
use std::borrow::Borrow;
use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, Range};

/// An immutable UTF-8 string; cheap to clone (a reference count) and to cut from a
/// [`TextBuf`] (no copy).
#[derive(Clone, Default)]
pub struct Text(
    /// Always valid UTF-8: every constructor checks it or takes it from a `str`.
    Bytes,
);

impl Text {
    /// The empty text (no allocation).
    pub const fn new() -> Self {
        Text(Bytes::new())
    }

    /// A text of a `'static` string, without copying it.
    pub const fn from_static(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: the bytes are valid UTF-8 by the invariant on the field: `From<&str>`,
        // `From<String>` and `from_static` take them from a `str`, `TextBuf::text` checks
        // them (or cuts them at char boundaries of a buffer checked as a whole),
        // `TextBuf::cut_of` takes exactly the bytes of a `str` found in its buffer, and
        // nothing else builds a `Text` or changes its bytes (`Bytes` is immutable).
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s.into_bytes()))
    }
}

impl From<std::borrow::Cow<'_, str>> for Text {
    fn from(s: std::borrow::Cow<'_, str>) -> Self {
        match s {
            std::borrow::Cow::Borrowed(s) => Text::from(s),
            std::borrow::Cow::Owned(s) => Text::from(s),
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_owned()
    }
}

impl From<&Text> for String {
    fn from(t: &Text) -> Self {
        t.as_str().to_owned()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Text {
    /// As the `str` hashes, so maps keyed by `Text` can be looked up with a `&str`.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

/// `Text` compares with `str`, `&str` and `String` on either side, as `String` does.
macro_rules! eq_with {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for Text {
            fn eq(&self, other: &$other) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Text> for $other {
            fn eq(&self, other: &Text) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}
eq_with!(str, &str, String);

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Text::from(s))
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Text, E> {
                let lent = LENT.with(|lent| lent.borrow().as_ref().and_then(|buf| buf.cut_of(s)));
                Ok(lent.unwrap_or_else(|| Text::from(s)))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Text, E> {
                Ok(Text::from(s))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

thread_local! {
    /// The buffer a serde decoder on this thread reads from ([`TextBuf::lend`]).
    static LENT: RefCell<Option<TextBuf>> = const { RefCell::new(None) };
}

/// A buffer that [`Text`]s are cut from without copying; it checks whether the whole
/// buffer is UTF-8 once, so cuts at char boundaries need no check of their own.
#[derive(Clone)]
pub struct TextBuf {
    bytes: Bytes,
    /// The whole buffer is valid UTF-8.
    utf8: bool,
}

impl TextBuf {
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let utf8 = std::str::from_utf8(&bytes).is_ok();
        TextBuf { bytes, utf8 }
    }

    /// A buffer not checked as a whole: each cut by [`TextBuf::text`] is checked on its
    /// own (for a buffer only [`TextBuf::lend`] reads, where serde checks).
    pub fn unchecked(bytes: impl Into<Bytes>) -> Self {
        TextBuf { bytes: bytes.into(), utf8: false }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The whole buffer as a `str`, when it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        // SAFETY: `utf8` is true only when `from_utf8` accepted these very bytes in `new`,
        // and `Bytes` never changes them.
        self.utf8.then(|| unsafe { std::str::from_utf8_unchecked(&self.bytes) })
    }

    /// Runs `decode` (a serde decoder) over the buffer's bytes so that each `Text` it
    /// reads from a value borrowed straight from those bytes (a string without escapes)
    /// is a slice of the buffer instead of a copy.
    pub fn lend<R>(&self, decode: impl FnOnce(&[u8]) -> R) -> R {
        /// Puts back what was lent before, also when `decode` panics.
        struct Restore(Option<TextBuf>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let before = self.0.take();
                LENT.with(|lent| *lent.borrow_mut() = before);
            }
        }
        let _restore = Restore(LENT.with(|lent| lent.borrow_mut().replace(self.clone())));
        decode(&self.bytes)
    }

    /// `s` as a slice of this buffer, when it lies inside it (found by address).
    fn cut_of(&self, s: &str) -> Option<Text> {
        let start = (s.as_ptr() as usize).checked_sub(self.bytes.as_ptr() as usize)?;
        let end = start.checked_add(s.len()).filter(|&end| end <= self.bytes.len())?;
        // The bytes at start..end are those of `s`, a `str`: UTF-8.
        Some(Text(self.bytes.slice(start..end)))
    }

    /// The text at `range`; `None` when the range is out of bounds or its bytes are not
    /// UTF-8.
    pub fn text(&self, range: Range<usize>) -> Option<Text> {
        let cut = self.bytes.get(range.clone())?;
        let boundary = |i: usize| self.bytes.get(i).is_none_or(|&b| !is_continuation(b));
        if !(self.utf8 && boundary(range.start) && boundary(range.end)) {
            std::str::from_utf8(cut).ok()?;
        }
        Some(Text(self.bytes.slice(range)))
    }
}

/// A UTF-8 continuation byte (`10xxxxxx`): no char starts there.
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_as_the_str_it_holds() {
        let t = Text::from("CORP\\jdoe");
        assert_eq!(t, "CORP\\jdoe");
        assert_eq!("CORP\\jdoe", t);
        assert_eq!(t, String::from("CORP\\jdoe"));
        assert_eq!(t.len(), 9);
        assert_eq!(format!("{t} {t:?}"), "CORP\\jdoe \"CORP\\\\jdoe\"");
        let map: HashMap<Text, u8> = [(t.clone(), 1)].into();
        assert_eq!(map.get("CORP\\jdoe"), Some(&1));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"CORP\\\\jdoe\"");
        assert_eq!(serde_json::from_str::<Text>("\"a\\u00e4\"").unwrap(), "aä");
        assert_eq!(Text::new(), "");
        assert_eq!(Text::from_static("x"), Text::from(String::from("x")));
    }

    #[test]
    fn values_a_lent_buffer_holds_unescaped_are_cut_from_it() {
        let buf = TextBuf::new(br#"["plain","esc\"aped","\u00e4"]"#.to_vec());
        let texts: Vec<Text> = buf.lend(|b| serde_json::from_slice(b)).unwrap();
        assert_eq!(texts, ["plain", "esc\"aped", "ä"]);
        let inside = |t: &Text| buf.bytes().as_ptr_range().contains(&t.as_ptr());
        assert!(inside(&texts[0]), "borrowed: a slice of the buffer");
        assert!(!inside(&texts[1]) && !inside(&texts[2]), "unescaped by serde: copies");
        // Nothing is lent outside `lend`.
        let copied: Vec<Text> = serde_json::from_slice(buf.bytes()).unwrap();
        assert!(!inside(&copied[0]));
    }

    #[test]
    fn cuts_are_checked_unless_the_whole_buffer_is_utf8_and_they_fall_on_char_boundaries() {
        let whole = TextBuf::new("aäb".as_bytes().to_vec());
        assert_eq!(whole.as_str(), Some("aäb"));
        assert_eq!(whole.text(0..1).unwrap(), "a");
        assert_eq!(whole.text(1..3).unwrap(), "ä");
        assert_eq!(whole.text(0..4).unwrap(), "aäb");
        assert!(whole.text(0..2).is_none(), "ends inside ä");
        assert!(whole.text(2..4).is_none(), "starts inside ä");
        assert!(whole.text(3..9).is_none(), "out of bounds");

        // A buffer with bytes that are not UTF-8 (as a compact form's long lengths are).
        let mixed = TextBuf::new(vec![0x81, b'o', b'k', 0xC3, 0xA4, 0xFF]);
        assert_eq!(mixed.as_str(), None);
        assert_eq!(mixed.text(1..3).unwrap(), "ok");
        assert_eq!(mixed.text(3..5).unwrap(), "ä");
        assert!(mixed.text(0..3).is_none());
        assert!(mixed.text(4..6).is_none());
        assert_eq!(mixed.text(2..2).unwrap(), "");
    }
}
