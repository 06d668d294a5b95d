//! Numbers and ids written as text without a `String` each: the CEF and LEEF encoders
//! write several per record, and formatting through `to_string` allocated every time.

use netwrix::RecordId;

/// Appends `n` in decimal.
pub(super) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let start = unsigned_digits(n, &mut digits);
    out.extend_from_slice(&digits[start..]);
}

/// Writes the decimal digits of `n` at the end of `buf`; returns where they start.
fn unsigned_digits(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// `n` in decimal (what `n.to_string()` writes), in `buf` instead of a new `String`.
pub(super) fn decimal(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut start = unsigned_digits(n.unsigned_abs(), buf);
    if n < 0 {
        // 19 digits at most, so there is room for the sign.
        start -= 1;
        buf[start] = b'-';
    }
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

/// The record id in lowercase hex (what its `Display` writes), in `buf` instead of a new
/// `String`.
pub(super) fn hex_id<'b>(id: &RecordId, buf: &'b mut [u8; 32]) -> &'b str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in buf.chunks_exact_mut(2).zip(id.0) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 15)];
    }
    std::str::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn decimal_and_hex_write_what_display_writes(n in proptest::num::i64::ANY, id in proptest::array::uniform16(0u8..)) {
            let (mut digits, mut hex) = ([0u8; 20], [0u8; 32]);
            proptest::prop_assert_eq!(decimal(n, &mut digits), n.to_string());
            proptest::prop_assert_eq!(hex_id(&RecordId(id), &mut hex), RecordId(id).to_string());
        }
    }
}
