//! Capping an encoded value at a byte length, with a visible marker where it was cut.
//!
//! CEF and LEEF receivers cut or refuse over-long values on their own terms; the bridge
//! cuts first, deterministically, so the SIEM sees the head of the value followed by
//! [`CUT_MARKER`] and tests can pin the exact bytes. The cut falls between whole
//! encoded characters, so it never splits a UTF-8 sequence or an escape like `\=`.

/// Appended where a value was cut.
pub const CUT_MARKER: &str = "[truncated]";

/// Appends `chars`, each written by `put`, to `out`, keeping what is appended within
/// `max` bytes. When the whole would not fit, it stops early and appends [`CUT_MARKER`]
/// (the marker counts towards `max`). Returns whether the value was cut.
pub fn push_capped<I, F>(out: &mut Vec<u8>, chars: I, max: usize, put: F) -> bool
where
    I: Iterator<Item = char> + Clone,
    F: Fn(char, &mut Vec<u8>),
{
    let start = out.len();
    for c in chars.clone() {
        put(c, out);
    }
    if out.len() - start <= max {
        return false;
    }
    out.truncate(start);
    let budget = max.saturating_sub(CUT_MARKER.len());
    for c in chars {
        let before = out.len();
        put(c, out);
        if out.len() - start > budget {
            out.truncate(before);
            break;
        }
    }
    if max >= CUT_MARKER.len() {
        out.extend_from_slice(CUT_MARKER.as_bytes());
    }
    true
}

/// The bytes that send a char of a value down the slow, char-by-char path of
/// [`push_str_capped`]: bytes below 0x20 (control characters), optionally every byte of
/// a non-ASCII char, and up to two more ASCII bytes. It is a set, not a predicate, so
/// that values are scanned eight bytes at a time rather than byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    /// Two ASCII bytes (the same one twice for a single byte).
    exact: [u8; 2],
    /// Whether bytes 0x80 and up are special too.
    non_ascii: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

impl Specials {
    /// Control bytes and the ASCII bytes `a` and `b` (which may be equal).
    pub const fn controls_and(a: u8, b: u8) -> Specials {
        Specials { exact: [a, b], non_ascii: false }
    }

    /// Control bytes, the ASCII byte `a` and, when `non_ascii`, every byte of 0x80 and up.
    pub const fn controls_and_one(a: u8, non_ascii: bool) -> Specials {
        Specials { exact: [a, a], non_ascii }
    }

    /// Whether `b` is in the set.
    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        b < 0x20 || b == self.exact[0] || b == self.exact[1] || (self.non_ascii && b >= 0x80)
    }

    /// The high bit of each byte of `w` that is in the set, and maybe of bytes above the
    /// lowest such byte: the lowest bit set always marks the first byte in the set.
    #[inline]
    fn hits(&self, w: u64) -> u64 {
        // A byte below `n` (n <= 0x80) borrows when `n` is taken from it, and only a
        // borrow from a lower byte can mark a byte that is not below `n`; a byte equal to
        // `x` is zero after `^ x`, and zero is below 1.
        let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v;
        let mut hits = below(w, 0x20) | below(w ^ (ONES * u64::from(self.exact[0])), 1);
        hits |= below(w ^ (ONES * u64::from(self.exact[1])), 1);
        if self.non_ascii {
            hits |= w;
        }
        hits & HIGHS
    }

    /// The index of the first byte of `bytes` at or after `from` that is in the set, or
    /// `bytes.len()`. Reads eight bytes at a time.
    #[inline]
    pub fn find(&self, bytes: &[u8], from: usize) -> usize {
        let mut i = from;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let hits = self.hits(u64::from_le_bytes(word));
            if hits != 0 {
                return i + (hits.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        let rest = bytes.get(i..).unwrap_or_default();
        if rest.is_empty() {
            return bytes.len();
        }
        // The tail, as the low bytes of a word padded with zero bytes (which are in the
        // set, as controls): a hit in the padding means none in the tail. Read as the last
        // eight bytes shifted down when there are eight, so no `memcpy` call is needed.
        let word = match bytes.len().checked_sub(8).and_then(|last| bytes.get(last..)) {
            Some(last) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(last);
                u64::from_le_bytes(word) >> (8 * (8 - rest.len()))
            }
            None => rest.iter().rev().fold(0, |w, &b| w << 8 | u64::from(b)),
        };
        let first = (self.hits(word).trailing_zeros() / 8) as usize;
        i + first.min(rest.len())
    }
}

/// [`push_capped`] for a whole string, written run by run: runs of bytes that are not
/// `special` are copied as they are, and only a char starting with a special byte goes
/// through `put`. `special` must hold a byte of every char that `put` writes other than
/// as its UTF-8 bytes (a special byte inside a char, not at its start, falls back to
/// the char-by-char path). Over `max`, it starts again with [`push_capped`], which
/// cuts between encoded chars. The output is exactly [`push_capped`]'s; skipping the
/// per-char calls is what makes CEF and LEEF encoding fast.
pub fn push_str_capped<F>(out: &mut Vec<u8>, value: &str, max: usize, special: &Specials, put: F) -> bool
where
    F: Fn(char, &mut Vec<u8>),
{
    let start = out.len();
    let bytes = value.as_bytes();
    // First pass: the whole value, given up as soon as it is over `max`.
    let mut run = 0;
    loop {
        let i = special.find(bytes, run);
        if out.len() - start + (i - run) > max {
            break;
        }
        out.extend_from_slice(&bytes[run..i]);
        if i == bytes.len() {
            return false;
        }
        let Some(c) = char_at(value, i) else {
            out.truncate(start);
            return push_capped(out, value.chars(), max, put);
        };
        put(c, out);
        if out.len() - start > max {
            break;
        }
        run = i + c.len_utf8();
    }
    // Over `max`: again, up to the last whole encoded char within the budget, as
    // `push_capped` cuts. Within a run, output bytes are input bytes, so the cut is the
    // last char boundary of the input that fits.
    out.truncate(start);
    let budget = max.saturating_sub(CUT_MARKER.len());
    let mut run = 0;
    loop {
        let i = special.find(bytes, run);
        let room = budget - (out.len() - start);
        if i - run > room || i == bytes.len() {
            let mut end = run + room.min(i - run);
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&bytes[run..end]);
            break;
        }
        out.extend_from_slice(&bytes[run..i]);
        let Some(c) = char_at(value, i) else {
            out.truncate(start);
            return push_capped(out, value.chars(), max, put);
        };
        let before = out.len();
        put(c, out);
        if out.len() - start > budget {
            out.truncate(before);
            break;
        }
        run = i + c.len_utf8();
    }
    if max >= CUT_MARKER.len() {
        out.extend_from_slice(CUT_MARKER.as_bytes());
    }
    true
}

/// The char that starts at byte `i` of `value`, if one does (ASCII without decoding).
#[inline]
fn char_at(value: &str, i: usize) -> Option<char> {
    match value.as_bytes().get(i) {
        Some(&b) if b < 0x80 => Some(char::from(b)),
        _ => value.get(i..).and_then(|rest| rest.chars().next()),
    }
}

/// Writes a char as its UTF-8 bytes.
pub fn put_utf8(c: char, out: &mut Vec<u8>) {
    let mut b = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doubled(c: char, out: &mut Vec<u8>) {
        put_utf8(c, out);
        if c == '=' {
            put_utf8(c, out);
        }
    }

    #[test]
    fn short_values_are_whole_and_long_ones_cut_between_encoded_chars() {
        let mut out = Vec::new();
        assert!(!push_capped(&mut out, "abc".chars(), 3, put_utf8));
        assert_eq!(out, b"abc");

        let mut out = Vec::new();
        let value = format!("ab=ü{}", "x".repeat(40));
        assert!(push_capped(&mut out, value.chars(), CUT_MARKER.len() + 4, doubled));
        // "ab==" is 4 bytes; "ü" (2 bytes) would exceed the budget.
        assert_eq!(String::from_utf8(out).unwrap(), format!("ab=={CUT_MARKER}"));

        let mut out = Vec::new();
        assert!(push_capped(&mut out, value.chars(), CUT_MARKER.len() + 3, doubled));
        assert_eq!(String::from_utf8(out).unwrap(), format!("ab{CUT_MARKER}"), "never half of an escape");
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_writes_what_the_char_path_writes(
            value in "[a-c=é\\t\\n\\\\|^\u{1}\u{7f}]{0,40}",
            max in 0usize..60,
            non_ascii in proptest::bool::ANY,
        ) {
            let special = Specials::controls_and(b'=', b'\\');
            let put = |c: char, out: &mut Vec<u8>| match c {
                '=' => out.extend_from_slice(b"\\="),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                c => put_utf8(c, out),
            };
            let (mut fast, mut slow) = (b"x".to_vec(), b"x".to_vec());
            let cut_fast = push_str_capped(&mut fast, &value, max, &special, put);
            let cut_slow = push_capped(&mut slow, value.chars(), max, put);
            proptest::prop_assert_eq!(fast, slow);
            proptest::prop_assert_eq!(cut_fast, cut_slow);

            // LEEF's shape: one byte, non-ASCII optionally special.
            let special = Specials::controls_and_one(b'^', non_ascii);
            let put = |c: char, out: &mut Vec<u8>| match c {
                '^' | 'é' => out.push(b' '),
                c if c.is_ascii_control() && c != '\u{7f}' => out.push(b' '),
                c => put_utf8(c, out),
            };
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            // 'é' is only written specially when non-ASCII bytes are special.
            let value = if non_ascii { value } else { value.replace('é', "e") };
            push_str_capped(&mut fast, &value, max, &special, put);
            push_capped(&mut slow, value.chars(), max, put);
            proptest::prop_assert_eq!(fast, slow);
        }

        #[test]
        fn the_word_scan_finds_what_the_byte_scan_finds(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            a in 0u8..0x80,
            b in 0u8..0x80,
            non_ascii in proptest::bool::ANY,
            from in 0usize..40,
        ) {
            let set = if a == b { Specials::controls_and_one(a, non_ascii) } else { Specials::controls_and(a, b) };
            let from = from.min(bytes.len());
            let want = (from..bytes.len()).find(|&i| set.contains(bytes[i])).unwrap_or(bytes.len());
            proptest::prop_assert_eq!(set.find(&bytes, from), want);
        }
    }
}
