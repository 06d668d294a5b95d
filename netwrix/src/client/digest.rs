//! Digest authentication (RFC 7616, `qop=auth`, MD5 or SHA-256) for the client.
//!
//! The first request of a client goes out bare; the server's 401 carries the challenge,
//! which is answered and then kept, so later requests answer pre-emptively with the same
//! nonce and the next nonce count (one round trip per request). A second 401 to a fresh
//! answer means the password is wrong, unless the server says the nonce was `stale`.

use std::fmt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};

use super::auth::{AuthExchange, AuthStep, Authenticator, Challenge, RequestInfo};
use super::config::Credentials;
use super::error::ClientError;
use crate::authproto::challenge::parse_all;
use crate::authproto::digest;

/// The Digest authenticator: credentials and the last challenge, shared by every request.
pub struct Digest {
    state: Arc<State>,
}

struct State {
    user: String,
    password: String,
    /// The challenge answered last and the nonce count used with it.
    cached: Mutex<Option<(digest::Challenge, u32)>>,
}

impl Digest {
    pub fn new(credentials: &Credentials) -> Digest {
        Digest {
            state: Arc::new(State {
                user: credentials.user.clone(),
                password: credentials.password.clone(),
                cached: Mutex::new(None),
            }),
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digest").field("user", &self.state.user).finish_non_exhaustive()
    }
}

impl Authenticator for Digest {
    fn scheme(&self) -> &'static str {
        "Digest"
    }

    fn begin(&self, request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        Box::new(Exchange {
            state: self.state.clone(),
            method: request.method.as_str().to_string(),
            uri: request.uri.to_string(),
            fresh_answers: 0,
        })
    }
}

struct Exchange {
    state: Arc<State>,
    method: String,
    uri: String,
    /// Answers sent to a challenge received in this exchange.
    fresh_answers: u32,
}

impl Exchange {
    fn cache(&self) -> std::sync::MutexGuard<'_, Option<(digest::Challenge, u32)>> {
        self.state.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn answer(&self, challenge: &digest::Challenge, nc: u32) -> Result<HeaderValue, ClientError> {
        let cnonce = base64::engine::general_purpose::STANDARD_NO_PAD.encode(rand::random::<[u8; 16]>());
        let value = challenge.respond(&self.state.user, &self.state.password, &self.method, &self.uri, nc, &cnonce);
        let mut header = HeaderValue::try_from(value)
            .map_err(|_| ClientError::Config("the Digest credentials do not make a valid header".into()))?;
        header.set_sensitive(true);
        Ok(header)
    }
}

#[async_trait::async_trait]
impl AuthExchange for Exchange {
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        let Some(challenge) = challenge else {
            // Pre-emptive answer with the cached nonce, if any.
            let cached = {
                let mut cache = self.cache();
                cache.as_mut().map(|(c, nc)| {
                    *nc += 1;
                    (c.clone(), *nc)
                })
            };
            return match cached {
                Some((c, nc)) => Ok(AuthStep::Send(Some(self.answer(&c, nc)?))),
                None => Ok(AuthStep::Send(None)),
            };
        };
        let parsed: Vec<_> = challenge.www_authenticate().flat_map(parse_all).collect();
        let Some(fresh) = digest::Challenge::pick(&parsed) else {
            *self.cache() = None;
            return Ok(AuthStep::GiveUp);
        };
        if self.fresh_answers >= 2 || (self.fresh_answers == 1 && !fresh.stale) {
            *self.cache() = None;
            return Ok(AuthStep::GiveUp);
        }
        self.fresh_answers += 1;
        let header = self.answer(&fresh, 1)?;
        *self.cache() = Some((fresh, 1));
        Ok(AuthStep::Send(Some(header)))
    }

    fn finish(&mut self, headers: &HeaderMap) -> Result<(), ClientError> {
        // `Authentication-Info: nextnonce="…"` moves the cache to the next nonce.
        let next = headers
            .get("authentication-info")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_all(&format!("Digest {v}")).into_iter().next())
            .and_then(|p| p.param("nextnonce").map(str::to_string));
        if let Some(nonce) = next {
            if let Some((c, nc)) = self.cache().as_mut() {
                c.nonce = nonce;
                *nc = 0;
            }
        }
        Ok(())
    }
}
