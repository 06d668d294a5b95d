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

/// [`push_capped`] for a whole string, written run by run: bytes that are not
/// `special` are copied as they are, and only a char starting with a special byte goes
/// through `put`. `special` must name a byte of every char that `put` writes other than
/// as its UTF-8 bytes (a special byte inside a char, not at its start, falls back to
/// the char-by-char path). Over `max`, it starts again with [`push_capped`], which
/// cuts between encoded chars. The output is exactly [`push_capped`]'s; skipping the
/// per-char calls is what makes CEF and LEEF encoding fast.
pub fn push_str_capped<S, F>(out: &mut Vec<u8>, value: &str, max: usize, special: S, put: F) -> bool
where
    S: Fn(u8) -> bool,
    F: Fn(char, &mut Vec<u8>),
{
    let start = out.len();
    let bytes = value.as_bytes();
    let (mut run, mut i) = (0, 0);
    while i < bytes.len() {
        if !special(bytes[i]) {
            i += 1;
            continue;
        }
        let Some(c) = value.get(i..).and_then(|rest| rest.chars().next()) else {
            out.truncate(start);
            return push_capped(out, value.chars(), max, put);
        };
        out.extend_from_slice(&bytes[run..i]);
        put(c, out);
        i += c.len_utf8();
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
    if out.len() - start <= max {
        return false;
    }
    out.truncate(start);
    push_capped(out, value.chars(), max, put)
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
        fn the_fast_path_writes_what_the_char_path_writes(value in "[a-c=é\\t\\n]{0,12}", max in 0usize..20) {
            let special = |b: u8| b == b'=' || b < 0x20 && b != b'\t';
            let put = |c: char, out: &mut Vec<u8>| match c {
                '=' => out.extend_from_slice(b"\\="),
                '\n' => out.extend_from_slice(b"\\n"),
                c => put_utf8(c, out),
            };
            let (mut fast, mut slow) = (b"x".to_vec(), b"x".to_vec());
            let cut_fast = push_str_capped(&mut fast, &value, max, special, put);
            let cut_slow = push_capped(&mut slow, value.chars(), max, put);
            proptest::prop_assert_eq!(fast, slow);
            proptest::prop_assert_eq!(cut_fast, cut_slow);
        }
    }
}
