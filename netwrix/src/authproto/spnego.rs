//! SPNEGO (RFC 4178) as HTTP Negotiate uses it when Kerberos is not available: NTLM
//! messages carried inside `NegTokenInit` / `NegTokenResp` DER structures.
//!
//! Only what NTLM-in-SPNEGO needs is implemented: one mechanism (NTLMSSP), the mech token,
//! the negotiation state and `mechListMIC`. Raw NTLM tokens sent under `Negotiate` (which
//! Windows servers also accept) are recognised by [`unwrap`] too.

/// OID 1.3.6.1.5.5.2 (SPNEGO), DER contents.
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), DER contents.
const NTLM_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// The `negState` of a `NegTokenResp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegState {
    AcceptCompleted = 0,
    AcceptIncomplete = 1,
    Reject = 2,
    RequestMic = 3,
}

/// What a Negotiate token carried.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unwrapped {
    /// The NTLM message inside (or the raw token when it was not SPNEGO).
    pub token: Option<Vec<u8>>,
    /// Whether the token was SPNEGO (else raw NTLM).
    pub spnego: bool,
    /// The `negState`, when present.
    pub state: Option<u8>,
    /// Whether NTLM is among the offered mechanisms (`NegTokenInit`) or the chosen one.
    pub ntlm_offered: bool,
    pub mech_list_mic: Option<Vec<u8>>,
}

/// Why a Negotiate token could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SPNEGO token")]
pub struct SpnegoError;

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_len(&mut out, contents.len());
    out.extend_from_slice(contents);
    out
}

/// The DER of `MechTypeList` offering NTLM only (what a `mechListMIC` signs).
pub fn mech_type_list() -> Vec<u8> {
    tlv(0x30, &tlv(0x06, NTLM_OID))
}

/// The initiator's first token: `NegTokenInit` offering NTLM, with `ntlm` as the mech token.
pub fn init(ntlm: &[u8]) -> Vec<u8> {
    let mut seq = tlv(0xa0, &mech_type_list());
    seq.extend(tlv(0xa2, &tlv(0x04, ntlm)));
    let mut inner = tlv(0x06, SPNEGO_OID);
    inner.extend(tlv(0xa0, &tlv(0x30, &seq)));
    tlv(0x60, &inner)
}

/// A `NegTokenResp`: optional state, supported mechanism (NTLM), token and MIC.
pub fn response(state: Option<NegState>, supported_ntlm: bool, token: Option<&[u8]>, mic: Option<&[u8]>) -> Vec<u8> {
    let mut seq = Vec::new();
    if let Some(state) = state {
        seq.extend(tlv(0xa0, &tlv(0x0a, &[state as u8])));
    }
    if supported_ntlm {
        seq.extend(tlv(0xa1, &tlv(0x06, NTLM_OID)));
    }
    if let Some(token) = token {
        seq.extend(tlv(0xa2, &tlv(0x04, token)));
    }
    if let Some(mic) = mic {
        seq.extend(tlv(0xa3, &tlv(0x04, mic)));
    }
    tlv(0xa1, &tlv(0x30, &seq))
}

/// Reads one TLV at the start of `b`: (tag, contents, rest).
fn read(b: &[u8]) -> Result<(u8, &[u8], &[u8]), SpnegoError> {
    let (&tag, rest) = b.split_first().ok_or(SpnegoError)?;
    let (&first, rest) = rest.split_first().ok_or(SpnegoError)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(SpnegoError);
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(SpnegoError);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The TLVs of a constructed value's contents.
fn children(mut b: &[u8]) -> Result<Vec<(u8, &[u8])>, SpnegoError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (tag, contents, rest) = read(b)?;
        out.push((tag, contents));
        b = rest;
    }
    Ok(out)
}

fn octets(b: &[u8]) -> Result<Vec<u8>, SpnegoError> {
    match read(b)? {
        (0x04, contents, _) => Ok(contents.to_vec()),
        _ => Err(SpnegoError),
    }
}

/// Reads a Negotiate token: a `NegTokenInit`, a `NegTokenResp`, or a raw NTLM message.
pub fn unwrap(token: &[u8]) -> Result<Unwrapped, SpnegoError> {
    if token.starts_with(b"NTLMSSP\0") {
        return Ok(Unwrapped { token: Some(token.to_vec()), ntlm_offered: true, ..Default::default() });
    }
    let mut out = Unwrapped { spnego: true, ..Default::default() };
    let (tag, contents, _) = read(token)?;
    let fields = match tag {
        0x60 => {
            let (oid_tag, oid, rest) = read(contents)?;
            if oid_tag != 0x06 || oid != SPNEGO_OID {
                return Err(SpnegoError);
            }
            let (t, init, _) = read(rest)?;
            if t != 0xa0 {
                return Err(SpnegoError);
            }
            let (t, seq, _) = read(init)?;
            if t != 0x30 {
                return Err(SpnegoError);
            }
            for (t, value) in children(seq)? {
                match t {
                    0xa0 => {
                        let (_, list, _) = read(value)?;
                        out.ntlm_offered = children(list)?.iter().any(|(t, oid)| *t == 0x06 && *oid == NTLM_OID);
                    }
                    0xa2 => out.token = Some(octets(value)?),
                    0xa3 => out.mech_list_mic = Some(octets(value)?),
                    _ => {}
                }
            }
            return Ok(out);
        }
        0xa1 => {
            let (t, seq, _) = read(contents)?;
            if t != 0x30 {
                return Err(SpnegoError);
            }
            children(seq)?
        }
        _ => return Err(SpnegoError),
    };
    for (t, value) in fields {
        match t {
            0xa0 => match read(value)? {
                (0x0a, [state], _) => out.state = Some(*state),
                _ => return Err(SpnegoError),
            },
            0xa1 => out.ntlm_offered = matches!(read(value)?, (0x06, oid, _) if oid == NTLM_OID),
            0xa2 => out.token = Some(octets(value)?),
            0xa3 => out.mech_list_mic = Some(octets(value)?),
            _ => {}
        }
    }
    Ok(out)
}

/// The `mechListMIC` an NTLM context that negotiated no signing sends: SSPI's constant
/// signature for `NTLMSSP_NEGOTIATE_ALWAYS_SIGN` (version 1, then zeros).
pub const NTLM_NO_SIGN_MIC: [u8; 16] = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_response_round_trip() {
        let ntlm = b"NTLMSSP\0\x01\0\0\0rest".to_vec();
        let u = unwrap(&init(&ntlm)).unwrap();
        assert!(u.spnego && u.ntlm_offered);
        assert_eq!(u.token.as_deref(), Some(&ntlm[..]));
        let big = vec![7u8; 300];
        let r = response(Some(NegState::AcceptIncomplete), true, Some(&big), Some(&NTLM_NO_SIGN_MIC));
        let u = unwrap(&r).unwrap();
        assert_eq!(u.state, Some(1));
        assert!(u.ntlm_offered);
        assert_eq!(u.token.as_deref(), Some(&big[..]));
        assert_eq!(u.mech_list_mic.as_deref(), Some(&NTLM_NO_SIGN_MIC[..]));
        let raw = unwrap(&ntlm).unwrap();
        assert!(!raw.spnego && raw.token.is_some());
        assert_eq!(unwrap(b"\xa1\x05\x30"), Err(SpnegoError));
        assert_eq!(unwrap(b""), Err(SpnegoError));
    }
}
