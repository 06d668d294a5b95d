//! Framing messages on a stream, and cutting a message to fit a datagram.
//!
//! Octet counting (RFC 6587 §3.4.1, mandatory on TLS by RFC 5425) writes
//! `LEN SP MSG`, so a message may hold any bytes, line feeds included. LF framing
//! writes `MSG LF`; a message cannot contain a line feed there, so any LF in it is
//! written as a space (CEF, LEEF and JSON never write a raw one).

use super::config::Framing;

/// Appended where a datagram was cut.
pub const CUT_MARKER: &[u8] = b"[truncated]";

/// Appends `msg` framed by `framing` to `out`.
pub fn frame(framing: Framing, msg: &[u8], out: &mut Vec<u8>) {
    match framing {
        Framing::OctetCounting => {
            out.extend_from_slice(msg.len().to_string().as_bytes());
            out.push(b' ');
            out.extend_from_slice(msg);
        }
        Framing::Lf => {
            let start = out.len();
            out.extend_from_slice(msg);
            for b in &mut out[start..] {
                if *b == b'\n' {
                    *b = b' ';
                }
            }
            out.push(b'\n');
        }
    }
}

/// Appends `msg` cut to at most `max` bytes, ending in [`CUT_MARKER`]. The cut falls on
/// a UTF-8 character boundary and never leaves a lone trailing backslash (which would
/// escape the marker's first character in CEF).
pub fn cut(msg: &[u8], max: usize, out: &mut Vec<u8>) {
    let mut end = max.saturating_sub(CUT_MARKER.len()).min(msg.len());
    // Back off continuation bytes (10xxxxxx) so a multi-byte character stays whole.
    while end > 0 && end < msg.len() && (msg[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let backslashes = msg[..end].iter().rev().take_while(|b| **b == b'\\').count();
    if backslashes % 2 == 1 {
        end -= 1;
    }
    out.extend_from_slice(&msg[..end]);
    out.extend_from_slice(CUT_MARKER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_counting_counts_bytes_and_keeps_newlines() {
        let mut out = Vec::new();
        frame(Framing::OctetCounting, "a\nü".as_bytes(), &mut out);
        frame(Framing::OctetCounting, b"", &mut out);
        assert_eq!(out, "4 a\nü0 ".as_bytes());
    }

    /// formats.md §1.8: the C1 record in an RFC 5424 header is a 235-byte frame.
    #[test]
    fn golden_octet_frame_of_c1() {
        let msg = r"<110>1 2024-06-01T12:00:00.123Z fs01.corp.example netwrix-bridge - cef - CEF:0|Netwrix|Auditor|10.8|Modified|Modified file\|share|3|rt=1717243200123 suser=CORP\\jdoe filePath=\\\\fs01\\Finance\\Q1 a\=b.xlsx act=Modified outcome=success";
        let mut out = Vec::new();
        frame(Framing::OctetCounting, msg.as_bytes(), &mut out);
        assert!(out.starts_with(b"235 <110>1 "));
        assert!(out.ends_with(b"outcome=success"));
        let mut out = Vec::new();
        frame(Framing::Lf, msg.as_bytes(), &mut out);
        assert_eq!(out.len(), 236);
        assert!(out.ends_with(b"outcome=success\n"));
    }

    #[test]
    fn lf_framing_cannot_carry_a_newline() {
        let mut out = Vec::new();
        frame(Framing::Lf, b"a\nb", &mut out);
        assert_eq!(out, b"a b\n");
    }

    #[test]
    fn cuts_at_char_boundaries_and_never_after_a_lone_backslash() {
        let m = CUT_MARKER.len();
        let mut out = Vec::new();
        cut("abcü".as_bytes(), m + 4, &mut out);
        assert_eq!(out, [b"abc".as_slice(), CUT_MARKER].concat());
        out.clear();
        cut(br"ab\\cd", m + 3, &mut out);
        assert_eq!(out, [br"ab".as_slice(), CUT_MARKER].concat());
        out.clear();
        cut(br"a\\\\cd", m + 3, &mut out);
        assert_eq!(out, [br"a\\".as_slice(), CUT_MARKER].concat());
    }
}
