//! NTLM and Negotiate authentication for the client: the three-leg NTLMv2 handshake,
//! bare under `NTLM`, or inside SPNEGO under `Negotiate` (what Windows does when no
//! Kerberos ticket can be had, e.g. when the server is reached by IP address).
//!
//! The handshake authenticates the TCP connection it runs on, so the client is built
//! HTTP/1.1-only with one idle connection per host, reads every 401 body to the end, and
//! sends its requests one at a time: the three legs then share one connection.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::header::HeaderValue;

use super::auth::{AuthExchange, AuthStep, Authenticator, Challenge, RequestInfo};
use super::config::Credentials;
use super::error::ClientError;
use crate::authproto::challenge::parse_all;
use crate::authproto::{ntlm, spnego};

/// NTLM (`negotiate = false`) or Negotiate carrying NTLM (`negotiate = true`).
pub struct Ntlm {
    initiator: Arc<ntlm::Initiator>,
    negotiate: bool,
}

impl Ntlm {
    pub fn new(credentials: &Credentials, negotiate: bool) -> Ntlm {
        Ntlm { initiator: Arc::new(ntlm::Initiator::new(&credentials.user, &credentials.password)), negotiate }
    }
}

impl fmt::Debug for Ntlm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.negotiate { "Negotiate(<redacted>)" } else { "NTLM(<redacted>)" })
    }
}

impl Authenticator for Ntlm {
    fn scheme(&self) -> &'static str {
        if self.negotiate {
            "Negotiate"
        } else {
            "NTLM"
        }
    }

    fn connection_bound(&self) -> bool {
        true
    }

    fn begin(&self, _request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        Box::new(Exchange { initiator: self.initiator.clone(), negotiate: self.negotiate, leg: 0 })
    }
}

struct Exchange {
    initiator: Arc<ntlm::Initiator>,
    negotiate: bool,
    /// Legs sent so far.
    leg: u8,
}

impl Exchange {
    fn scheme(&self) -> &'static str {
        if self.negotiate {
            "Negotiate"
        } else {
            "NTLM"
        }
    }

    fn header(&self, token: &[u8]) -> Result<AuthStep, ClientError> {
        let mut value = HeaderValue::try_from(format!("{} {}", self.scheme(), STANDARD.encode(token)))
            .map_err(|_| ClientError::Config("NTLM token does not make a valid header".into()))?;
        value.set_sensitive(true);
        Ok(AuthStep::Send(Some(value)))
    }
}

#[async_trait::async_trait]
impl AuthExchange for Exchange {
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        let scheme = self.scheme();
        let Some(challenge) = challenge else {
            self.leg = 1;
            let negotiate = self.initiator.negotiate();
            let token = if self.negotiate { spnego::init(&negotiate) } else { negotiate };
            return self.header(&token);
        };
        if self.leg != 1 {
            // The answer to our AUTHENTICATE message was another 401: wrong credentials.
            return Ok(AuthStep::GiveUp);
        }
        self.leg = 2;
        let token = challenge
            .www_authenticate()
            .flat_map(parse_all)
            .find(|c| c.is(scheme) && !c.rest.is_empty())
            .and_then(|c| STANDARD.decode(c.rest.trim()).ok());
        let Some(token) = token else {
            tracing::debug!(scheme, "the server's 401 carries no NTLM challenge; giving up");
            return Ok(AuthStep::GiveUp);
        };
        let (ntlm_challenge, spnego_used) = if self.negotiate {
            match spnego::unwrap(&token) {
                Ok(u) if u.state == Some(spnego::NegState::Reject as u8) => return Ok(AuthStep::GiveUp),
                Ok(u) => match u.token {
                    Some(t) => (t, u.spnego),
                    None => return Ok(AuthStep::GiveUp),
                },
                Err(e) => return Err(ClientError::Transport(format!("the server's Negotiate challenge: {e}"))),
            }
        } else {
            (token, false)
        };
        let authenticate = self
            .initiator
            .authenticate(&ntlm_challenge)
            .map_err(|e| ClientError::Transport(format!("the server's {scheme} challenge: {e}")))?;
        let token = if spnego_used {
            spnego::response(None, false, Some(&authenticate), Some(&spnego::NTLM_NO_SIGN_MIC))
        } else {
            authenticate
        };
        self.header(&token)
    }
}
