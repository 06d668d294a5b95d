//! NTLM (MS-NLMP) for HTTP authentication: the NEGOTIATE, CHALLENGE and AUTHENTICATE
//! messages and the NTLMv2 response, as an initiator ([`Initiator`], the client) and as
//! an acceptor ([`Acceptor`], the emulator).
//!
//! Only authentication is done: no signing or sealing is negotiated, so no session key
//! exchange and no MIC (servers do not require one unless the client claims it sent one).
//! LM and NTLMv1 responses are never sent and never accepted.

use hmac::{Hmac, Mac};
use md4::{Digest as _, Md4};
use md5::Md5;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// The negotiate flags this implementation uses (MS-NLMP §2.2.2.5).
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    pub const EXTENDED_SESSION_SECURITY: u32 = 0x0008_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const N128: u32 = 0x2000_0000;
    pub const N56: u32 = 0x8000_0000;
}

/// What the initiator asks for in its NEGOTIATE message.
const CLIENT_FLAGS: u32 = flags::UNICODE
    | flags::OEM
    | flags::REQUEST_TARGET
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSION_SECURITY
    | flags::TARGET_INFO
    | flags::VERSION
    | flags::N128
    | flags::N56;

/// A Windows 10 version block (informational only).
const VERSION: [u8; 8] = [10, 0, 0x61, 0x4A, 0, 0, 0, 0x0F];

/// AV pair ids (MS-NLMP §2.2.2.1).
mod av {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const TIMESTAMP: u16 = 7;
}

/// Why an NTLM message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtlmError {
    #[error("not an NTLM message")]
    NotNtlm,
    #[error("expected NTLM message type {expected}, got {got}")]
    WrongType { expected: u32, got: u32 },
    #[error("the NTLM message is truncated or a field points outside it")]
    Truncated,
    #[error("the NTLM response is not NTLMv2")]
    NotV2,
    #[error("the NTLMv2 response does not match the password")]
    BadResponse,
    #[error("unknown user")]
    UnknownUser,
}

/// `DOMAIN\user` → (`DOMAIN`, `user`); a UPN or bare name has no domain.
pub fn split_user(user: &str) -> (&str, &str) {
    match user.split_once('\\') {
        Some((domain, name)) => (domain, name),
        None => ("", user),
    }
}

/// The NT hash: MD4 of the UTF-16LE password.
pub fn nt_hash(password: &str) -> [u8; 16] {
    Md4::digest(utf16(password)).into()
}

/// NTOWFv2 = HMAC-MD5(NT hash, UTF-16LE(UPPER(user) + domain)).
fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    hmac_md5(nt_hash, &[&utf16(&format!("{}{domain}", user.to_uppercase()))])
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // A key of any length is accepted by HMAC; this cannot fail.
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn from_utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

/// The time as a Windows FILETIME (100 ns since 1601-01-01).
fn filetime_now() -> u64 {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (unix.as_nanos() / 100) as u64 + 116_444_736_000_000_000
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, NtlmError> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or(NtlmError::Truncated)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, NtlmError> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or(NtlmError::Truncated)
}

/// The bytes a security buffer at `at` (len u16, max u16, offset u32) points to.
fn field(b: &[u8], at: usize) -> Result<&[u8], NtlmError> {
    let len = usize::from(u16_at(b, at)?);
    let offset = usize::try_from(u32_at(b, at + 4)?).map_err(|_| NtlmError::Truncated)?;
    if len == 0 {
        return Ok(&[]);
    }
    b.get(offset..offset.checked_add(len).ok_or(NtlmError::Truncated)?).ok_or(NtlmError::Truncated)
}

fn check_header(b: &[u8], expected: u32) -> Result<(), NtlmError> {
    if b.len() < 12 || &b[..8] != SIGNATURE {
        return Err(NtlmError::NotNtlm);
    }
    let got = u32_at(b, 8)?;
    if got != expected {
        return Err(NtlmError::WrongType { expected, got });
    }
    Ok(())
}

/// A message under construction: fixed header fields, then a payload the security
/// buffers point into.
struct Builder {
    head: Vec<u8>,
    payload: Vec<u8>,
    /// (position of a security buffer in `head`, its bytes' offset in `payload`, length)
    fields: Vec<(usize, usize, usize)>,
}

impl Builder {
    fn new(kind: u32) -> Builder {
        let mut head = SIGNATURE.to_vec();
        head.extend_from_slice(&kind.to_le_bytes());
        Builder { head, payload: Vec::new(), fields: Vec::new() }
    }

    fn field(&mut self, data: &[u8]) {
        self.fields.push((self.head.len(), self.payload.len(), data.len()));
        self.head.extend_from_slice(&[0; 8]);
        self.payload.extend_from_slice(data);
    }

    fn raw(&mut self, data: &[u8]) {
        self.head.extend_from_slice(data);
    }

    fn finish(mut self) -> Vec<u8> {
        let base = self.head.len();
        for (at, offset, len) in self.fields {
            let len = u16::try_from(len).unwrap_or(u16::MAX);
            self.head[at..at + 2].copy_from_slice(&len.to_le_bytes());
            self.head[at + 2..at + 4].copy_from_slice(&len.to_le_bytes());
            self.head[at + 4..at + 8].copy_from_slice(&((base + offset) as u32).to_le_bytes());
        }
        self.head.extend_from_slice(&self.payload);
        self.head
    }
}

/// The client side of one NTLM handshake.
#[derive(Debug, Clone)]
pub struct Initiator {
    user: String,
    domain: String,
    nt_hash: [u8; 16],
    workstation: String,
}

impl Initiator {
    /// An initiator for `DOMAIN\user` (or a UPN) with `password`.
    pub fn new(user: &str, password: &str) -> Initiator {
        let (domain, name) = split_user(user);
        Initiator {
            user: name.to_string(),
            domain: domain.to_string(),
            nt_hash: nt_hash(password),
            workstation: "AUDITBRIDGE".to_string(),
        }
    }

    /// The NEGOTIATE message (type 1).
    pub fn negotiate(&self) -> Vec<u8> {
        let mut b = Builder::new(1);
        b.raw(&CLIENT_FLAGS.to_le_bytes());
        b.field(&[]);
        b.field(&[]);
        b.raw(&VERSION);
        b.finish()
    }

    /// The AUTHENTICATE message (type 3) answering `challenge` (type 2).
    pub fn authenticate(&self, challenge: &[u8]) -> Result<Vec<u8>, NtlmError> {
        self.authenticate_with(challenge, rand::random(), filetime_now())
    }

    fn authenticate_with(&self, challenge: &[u8], client_challenge: [u8; 8], now: u64) -> Result<Vec<u8>, NtlmError> {
        check_header(challenge, 2)?;
        let server_flags = u32_at(challenge, 20)?;
        let server_challenge: [u8; 8] =
            challenge.get(24..32).and_then(|s| s.try_into().ok()).ok_or(NtlmError::Truncated)?;
        let target_info =
            if server_flags & flags::TARGET_INFO != 0 { field(challenge, 40)?.to_vec() } else { Vec::new() };
        let pairs = av_pairs(&target_info)?;
        let server_time = pairs.iter().find(|(id, _)| *id == av::TIMESTAMP).and_then(|(_, v)| {
            let bytes: [u8; 8] = v.as_slice().try_into().ok()?;
            Some(u64::from_le_bytes(bytes))
        });
        let time = server_time.unwrap_or(now);
        // The server's AV pairs go back as they came (an empty list is just EOL).
        let mut info = Vec::new();
        for (id, value) in &pairs {
            push_av(&mut info, *id, value);
        }
        push_av(&mut info, av::EOL, &[]);

        let key = ntowf_v2(&self.nt_hash, &self.user, &self.domain);
        let mut temp = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
        temp.extend_from_slice(&time.to_le_bytes());
        temp.extend_from_slice(&client_challenge);
        temp.extend_from_slice(&[0; 4]);
        temp.extend_from_slice(&info);
        temp.extend_from_slice(&[0; 4]);
        let proof = hmac_md5(&key, &[&server_challenge, &temp]);
        let mut nt_response = proof.to_vec();
        nt_response.extend_from_slice(&temp);
        let lm_response = if server_time.is_some() {
            vec![0u8; 24]
        } else {
            let mut lm = hmac_md5(&key, &[&server_challenge, &client_challenge]).to_vec();
            lm.extend_from_slice(&client_challenge);
            lm
        };

        let unicode = server_flags & flags::UNICODE != 0;
        let text = |s: &str| if unicode { utf16(s) } else { s.as_bytes().to_vec() };
        let negotiated = (CLIENT_FLAGS & server_flags) | if unicode { flags::UNICODE } else { flags::OEM };
        let negotiated = if unicode { negotiated & !flags::OEM } else { negotiated };
        let mut b = Builder::new(3);
        b.field(&lm_response);
        b.field(&nt_response);
        b.field(&text(&self.domain));
        b.field(&text(&self.user));
        b.field(&text(&self.workstation));
        b.field(&[]);
        b.raw(&negotiated.to_le_bytes());
        b.raw(&VERSION);
        Ok(b.finish())
    }
}

fn push_av(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(value);
}

/// The AV pairs of a target-info block, without the terminating EOL.
fn av_pairs(info: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, NtlmError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= info.len() {
        let id = u16_at(info, at)?;
        let len = usize::from(u16_at(info, at + 2)?);
        if id == av::EOL {
            break;
        }
        let value = info.get(at + 4..at + 4 + len).ok_or(NtlmError::Truncated)?;
        out.push((id, value.to_vec()));
        at += 4 + len;
    }
    Ok(out)
}

/// The server side of one NTLM handshake: it issues a challenge and checks the answer
/// against the one account it knows.
#[derive(Debug, Clone)]
pub struct Acceptor {
    server_challenge: [u8; 8],
}

/// Who an accepted AUTHENTICATE message logged in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub domain: String,
    pub user: String,
}

impl Acceptor {
    /// Reads a NEGOTIATE message and answers with a CHALLENGE for a server named
    /// `computer` in `domain`; keep the acceptor for the AUTHENTICATE that follows.
    pub fn challenge(negotiate: &[u8], computer: &str, domain: &str) -> Result<(Acceptor, Vec<u8>), NtlmError> {
        check_header(negotiate, 1)?;
        let client_flags = u32_at(negotiate, 12)?;
        let acceptor = Acceptor { server_challenge: rand::random() };
        let unicode = client_flags & flags::UNICODE != 0;
        let text = |s: &str| if unicode { utf16(s) } else { s.as_bytes().to_vec() };
        let mut info = Vec::new();
        push_av(&mut info, av::NB_DOMAIN_NAME, &utf16(domain));
        push_av(&mut info, av::NB_COMPUTER_NAME, &utf16(computer));
        push_av(&mut info, av::DNS_DOMAIN_NAME, &utf16(&domain.to_lowercase()));
        push_av(&mut info, av::DNS_COMPUTER_NAME, &utf16(&computer.to_lowercase()));
        push_av(&mut info, av::TIMESTAMP, &filetime_now().to_le_bytes());
        push_av(&mut info, av::EOL, &[]);
        let server_flags = (client_flags
            & (flags::EXTENDED_SESSION_SECURITY | flags::ALWAYS_SIGN | flags::N128 | flags::N56 | flags::VERSION))
            | flags::NTLM
            | flags::TARGET_INFO
            | flags::TARGET_TYPE_DOMAIN
            | flags::REQUEST_TARGET
            | if unicode { flags::UNICODE } else { flags::OEM };
        let mut b = Builder::new(2);
        b.field(&text(domain));
        b.raw(&server_flags.to_le_bytes());
        b.raw(&acceptor.server_challenge);
        b.raw(&[0; 8]);
        b.field(&info);
        b.raw(&VERSION);
        Ok((acceptor, b.finish()))
    }

    /// Checks an AUTHENTICATE message: `password_for(domain, user)` gives the password of
    /// the account named in it, or `None` for an unknown one.
    pub fn verify(
        &self,
        authenticate: &[u8],
        password_for: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<Authenticated, NtlmError> {
        check_header(authenticate, 3)?;
        let nt_response = field(authenticate, 20)?;
        let negotiated = u32_at(authenticate, 60)?;
        let text = |b: &[u8]| {
            if negotiated & flags::UNICODE != 0 {
                from_utf16(b)
            } else {
                String::from_utf8_lossy(b).into_owned()
            }
        };
        let domain = text(field(authenticate, 28)?);
        let user = text(field(authenticate, 36)?);
        if nt_response.len() <= 24 {
            return Err(NtlmError::NotV2);
        }
        let password = password_for(&domain, &user).ok_or(NtlmError::UnknownUser)?;
        let key = ntowf_v2(&nt_hash(&password), &user, &domain);
        let (proof, temp) = nt_response.split_at(16);
        let expected = hmac_md5(&key, &[&self.server_challenge, temp]);
        if super::digest::constant_time_eq(&expected, proof) {
            Ok(Authenticated { domain, user })
        } else {
            Err(NtlmError::BadResponse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nt_hash_and_ntowfv2_match_ms_nlmp_4_2() {
        // MS-NLMP §4.2.1 / §4.2.4: user "User", domain "Domain", password "Password".
        assert_eq!(hex::encode(nt_hash("Password")), "a4f49c406510bdcab6824ee7c30fd852");
        assert_eq!(hex::encode(ntowf_v2(&nt_hash("Password"), "User", "Domain")), "0c868a403bfd7a93a3001ef22ef02e3f");
    }

    #[test]
    fn ntlmv2_response_matches_ms_nlmp_4_2_4() {
        // §4.2.4.2.2: NTProofStr for the example's server challenge, client challenge,
        // time 0 and the AV pairs NbDomainName "Domain", NbComputerName "Server".
        let key = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        let mut info = Vec::new();
        push_av(&mut info, av::NB_DOMAIN_NAME, &utf16("Domain"));
        push_av(&mut info, av::NB_COMPUTER_NAME, &utf16("Server"));
        push_av(&mut info, av::EOL, &[]);
        let mut temp = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
        temp.extend_from_slice(&[0; 8]);
        temp.extend_from_slice(&[0xaa; 8]);
        temp.extend_from_slice(&[0; 4]);
        temp.extend_from_slice(&info);
        temp.extend_from_slice(&[0; 4]);
        let server = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        assert_eq!(hex::encode(hmac_md5(&key, &[&server, &temp])), "68cd0ab851e51c96aabc927bebef6a1c");
    }

    #[test]
    fn initiator_and_acceptor_agree_and_wrong_passwords_fail() {
        let client = Initiator::new(r"CORP\alice", "Secr3t!");
        let (acceptor, challenge) = Acceptor::challenge(&client.negotiate(), "NETWRIX", "CORP").unwrap();
        let auth = client.authenticate(&challenge).unwrap();
        let who = acceptor
            .verify(&auth, |d, u| {
                (d.eq_ignore_ascii_case("corp") && u.eq_ignore_ascii_case("alice")).then(|| "Secr3t!".into())
            })
            .unwrap();
        assert_eq!(who, Authenticated { domain: "CORP".into(), user: "alice".into() });
        let bad = Initiator::new(r"CORP\alice", "wrong").authenticate(&challenge).unwrap();
        assert_eq!(acceptor.verify(&bad, |_, _| Some("Secr3t!".into())), Err(NtlmError::BadResponse));
        assert_eq!(acceptor.verify(&auth, |_, _| None), Err(NtlmError::UnknownUser));
        assert_eq!(acceptor.verify(b"NTLMSSP\0\x03\0\0\0", |_, _| None), Err(NtlmError::Truncated));
        assert_eq!(Acceptor::challenge(b"garbage", "a", "b").unwrap_err(), NtlmError::NotNtlm);
    }
}
