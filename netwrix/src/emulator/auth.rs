//! How the emulator checks who is calling, as HTTP.sys does for a Netwrix server with
//! the schemes it is configured for: Basic, Digest (RFC 7616: SHA-256 and MD5 offered,
//! `qop=auth`), NTLM (NTLMv2 only) and Negotiate (SPNEGO carrying NTLM, or raw NTLM).
//!
//! NTLM and Negotiate authenticate a connection: the CHALLENGE a connection was sent is
//! kept in that connection's [`ConnAuth`], so the AUTHENTICATE message must arrive on the
//! same connection. Every request is authenticated afresh (no auth persistence), which
//! is the strictest behaviour a client can meet.
//!
//! Digest nonces are stateless: Base64 of the issue time and an HMAC of it under a key
//! made at start. A nonce older than [`NONCE_LIFETIME`] is answered with `stale=true`.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, HOST};
use hyper::Method;
use sha2::Sha256;

use crate::authproto::challenge::{parse_all, quote};
use crate::authproto::{digest, ntlm, spnego};

/// How long a Digest nonce is accepted.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// An authentication scheme the emulator accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerScheme {
    Basic,
    Digest,
    Ntlm,
    Negotiate,
}

impl ServerScheme {
    /// Every scheme, in the order HTTP.sys lists its challenges (strongest first).
    pub const ALL: [ServerScheme; 4] =
        [ServerScheme::Negotiate, ServerScheme::Ntlm, ServerScheme::Digest, ServerScheme::Basic];

    /// The scheme named `name` (`basic`, `digest`, `ntlm`, `negotiate`; any case).
    pub fn parse(name: &str) -> Option<ServerScheme> {
        ServerScheme::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The scheme's name in headers.
    pub fn name(self) -> &'static str {
        match self {
            ServerScheme::Basic => "Basic",
            ServerScheme::Digest => "Digest",
            ServerScheme::Ntlm => "NTLM",
            ServerScheme::Negotiate => "Negotiate",
        }
    }
}

/// A connection's NTLM handshake in progress.
#[derive(Debug, Default)]
pub(crate) struct ConnAuth {
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    scheme: ServerScheme,
    acceptor: ntlm::Acceptor,
    spnego: bool,
}

/// The outcome of checking a request.
pub(crate) enum Verdict {
    /// Go on; add this `WWW-Authenticate` value to the answer (Negotiate's final token).
    Allowed(Option<HeaderValue>),
    /// Answer 401 with these `WWW-Authenticate` values.
    Refused(Vec<HeaderValue>),
}

/// The emulator's account and the key its Digest nonces are signed with.
pub(crate) struct Checker {
    pub(crate) schemes: Vec<ServerScheme>,
    user: String,
    password: String,
    nonce_key: [u8; 32],
}

impl Checker {
    pub(crate) fn new(schemes: Vec<ServerScheme>, user: String, password: String) -> Checker {
        let schemes = if schemes.is_empty() { vec![ServerScheme::Basic] } else { schemes };
        Checker { schemes, user, password, nonce_key: rand::random() }
    }

    /// Checks one request on a connection whose NTLM state is `conn`.
    pub(crate) fn check(&self, conn: &Mutex<ConnAuth>, method: &Method, uri: &str, headers: &HeaderMap) -> Verdict {
        let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
        let (scheme_name, token) = value.split_once(' ').unwrap_or((value, ""));
        let scheme = ServerScheme::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(scheme_name))
            .filter(|s| self.schemes.contains(s));
        let realm = realm(headers);
        let result = match scheme {
            None => None,
            Some(ServerScheme::Basic) => self.basic(token).then_some(Verdict::Allowed(None)),
            Some(ServerScheme::Digest) => match self.digest(value, method, uri, &realm) {
                DigestOutcome::Good => Some(Verdict::Allowed(None)),
                DigestOutcome::Stale => return Verdict::Refused(self.challenges(&realm, true)),
                DigestOutcome::Bad => None,
            },
            Some(s @ (ServerScheme::Ntlm | ServerScheme::Negotiate)) => match self.ntlm(&mut conn, s, token.trim()) {
                Ok(verdict) => Some(verdict),
                Err(e) => {
                    tracing::debug!(scheme = s.name(), error = %e, "emulator: NTLM refused");
                    None
                }
            },
        };
        if !matches!(result, Some(Verdict::Refused(_))) {
            conn.pending = None;
        }
        result.unwrap_or_else(|| Verdict::Refused(self.challenges(&realm, false)))
    }

    /// One challenge per scheme; for Digest, SHA-256 then MD5.
    fn challenges(&self, realm: &str, stale: bool) -> Vec<HeaderValue> {
        let mut out = Vec::new();
        for scheme in &self.schemes {
            match scheme {
                ServerScheme::Basic => out.push(format!("Basic realm={}", quote(realm))),
                ServerScheme::Digest => {
                    let nonce = self.nonce(now_secs());
                    for alg in ["SHA-256", "MD5"] {
                        let mut c = format!(
                            "Digest realm={}, qop=\"auth\", algorithm={alg}, nonce={}, opaque=\"0000000000000000\"",
                            quote(realm),
                            quote(&nonce)
                        );
                        if stale {
                            c.push_str(", stale=true");
                        }
                        out.push(c);
                    }
                }
                ServerScheme::Ntlm | ServerScheme::Negotiate => out.push(scheme.name().to_string()),
            }
        }
        out.into_iter().filter_map(|c| HeaderValue::from_str(&c).ok()).collect()
    }

    fn account_matches(&self, domain: &str, user: &str) -> bool {
        let (my_domain, my_user) = ntlm::split_user(&self.user);
        my_user.eq_ignore_ascii_case(user) && (my_domain.is_empty() || my_domain.eq_ignore_ascii_case(domain))
    }

    fn basic(&self, token: &str) -> bool {
        let Ok(decoded) = STANDARD.decode(token.trim()) else { return false };
        let Ok(decoded) = String::from_utf8(decoded) else { return false };
        let Some((u, p)) = decoded.split_once(':') else { return false };
        u.to_lowercase() == self.user.to_lowercase() && p == self.password
    }

    fn nonce(&self, issued: u64) -> String {
        let mut raw = issued.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.nonce_mac(issued));
        STANDARD.encode(raw)
    }

    fn nonce_mac(&self, issued: u64) -> [u8; 16] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.nonce_key).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(&issued.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    fn digest(&self, value: &str, method: &Method, uri: &str, realm: &str) -> DigestOutcome {
        let Some(answer) = parse_all(value).first().and_then(digest::Answer::from_parsed) else {
            return DigestOutcome::Bad;
        };
        let (domain, user) = ntlm::split_user(&answer.username);
        let named = answer.username.eq_ignore_ascii_case(&self.user) || self.account_matches(domain, user);
        if !named || answer.realm != realm || answer.uri != uri || !answer.verify(&self.password, method.as_str()) {
            return DigestOutcome::Bad;
        }
        let Some(raw) = STANDARD.decode(&answer.nonce).ok().filter(|r| r.len() == 24) else {
            return DigestOutcome::Bad;
        };
        let issued = u64::from_be_bytes(raw[..8].try_into().unwrap_or_default());
        if !digest::constant_time_eq(&raw[8..], &self.nonce_mac(issued)) {
            return DigestOutcome::Bad;
        }
        if now_secs().saturating_sub(issued) > NONCE_LIFETIME.as_secs() {
            return DigestOutcome::Stale;
        }
        DigestOutcome::Good
    }

    fn ntlm(&self, conn: &mut ConnAuth, scheme: ServerScheme, token: &str) -> Result<Verdict, String> {
        let raw = STANDARD.decode(token).map_err(|_| "the token is not Base64".to_string())?;
        let (message, is_spnego) = if scheme == ServerScheme::Negotiate {
            let u = spnego::unwrap(&raw).map_err(|e| e.to_string())?;
            if !u.ntlm_offered && u.token.as_ref().is_none_or(|t| !t.starts_with(b"NTLMSSP\0")) {
                return Err("Negotiate without NTLM (Kerberos is not available here)".into());
            }
            (u.token.ok_or("the Negotiate token carries no NTLM message")?, u.spnego)
        } else {
            (raw, false)
        };
        let kind = message.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if kind == Some(1) {
            let (domain, _) = ntlm::split_user(&self.user);
            let domain = if domain.is_empty() { "WORKGROUP" } else { domain };
            let (acceptor, challenge) =
                ntlm::Acceptor::challenge(&message, "NETWRIX", &domain.to_uppercase()).map_err(|e| e.to_string())?;
            conn.pending = Some(Pending { scheme, acceptor, spnego: is_spnego });
            let token = if is_spnego {
                spnego::response(Some(spnego::NegState::AcceptIncomplete), true, Some(&challenge), None)
            } else {
                challenge
            };
            let value = HeaderValue::from_str(&format!("{} {}", scheme.name(), STANDARD.encode(token)))
                .map_err(|e| e.to_string())?;
            return Ok(Verdict::Refused(vec![value]));
        }
        let pending = conn.pending.take().ok_or("AUTHENTICATE without a CHALLENGE on this connection")?;
        if pending.scheme != scheme {
            return Err("the handshake changed scheme".into());
        }
        pending
            .acceptor
            .verify(&message, |d, u| self.account_matches(d, u).then(|| self.password.clone()))
            .map_err(|e| e.to_string())?;
        let last = if pending.spnego {
            let token = spnego::response(Some(spnego::NegState::AcceptCompleted), false, None, None);
            HeaderValue::from_str(&format!("Negotiate {}", STANDARD.encode(token))).ok()
        } else {
            None
        };
        Ok(Verdict::Allowed(last))
    }
}

enum DigestOutcome {
    Good,
    Stale,
    Bad,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The realm of the challenges: the host the client asked for (HTTP.sys's default).
pub(crate) fn realm(headers: &HeaderMap) -> String {
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let host = match host.rfind(':') {
        Some(i) if !host.ends_with(']') => &host[..i],
        _ => host,
    };
    host.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}
