//! NTLM and Negotiate authentication for the client: the three-leg NTLMv2 handshake,
//! bare under `NTLM`, or inside SPNEGO under `Negotiate` (what Windows does when no
//! Kerberos ticket can be had, e.g. when the server is reached by IP address).
//!
//! The handshake authenticates the TCP connection it runs on, so the client is built
//! HTTP/1.1-only with one idle connection per host, reads every 401 body to the end, and
//! sends its requests one at a time: the three legs then share one connection.
//!
//! That sharing is likely, not certain: the pool gets a connection back only after the
//! task driving it noticed the body's end, so a leg sent right after the previous answer
//! may go out on a fresh connection, where the server holds no CHALLENGE and answers
//! the AUTHENTICATE message with a new 401. A refused AUTHENTICATE that came back on
//! another connection than the CHALLENGE therefore starts the handshake over (at most
//! [`RESTARTS`] times); one refused on the CHALLENGE's own connection means wrong
//! credentials and gives up at once, so a wrong password still costs one failed logon.

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

/// How many times an AUTHENTICATE refused on a new connection starts the handshake over.
pub(crate) const RESTARTS: u8 = 2;

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
        Box::new(Exchange { initiator: self.initiator.clone(), negotiate: self.negotiate, leg: 0, restarts: 0 })
    }
}

struct Exchange {
    initiator: Arc<ntlm::Initiator>,
    negotiate: bool,
    /// Legs sent so far in this handshake.
    leg: u8,
    /// Handshakes started over after a refused AUTHENTICATE.
    restarts: u8,
}

impl Exchange {
    fn scheme(&self) -> &'static str {
        if self.negotiate {
            "Negotiate"
        } else {
            "NTLM"
        }
    }

    /// The first leg: the NEGOTIATE message.
    fn negotiate_message(&mut self) -> Result<AuthStep, ClientError> {
        self.leg = 1;
        let negotiate = self.initiator.negotiate();
        let token = if self.negotiate { spnego::init(&negotiate) } else { negotiate };
        self.header(&token)
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
            return self.negotiate_message();
        };
        if self.leg != 1 {
            // The answer to our AUTHENTICATE message was another 401: on the CHALLENGE's
            // connection, wrong credentials; on another one, the server never saw the
            // CHALLENGE it answers.
            if challenge.connection_changed && self.restarts < RESTARTS {
                self.restarts += 1;
                tracing::debug!(scheme, "AUTHENTICATE went out on a new connection; starting the handshake over");
                return self.negotiate_message();
            }
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

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
    use reqwest::{Method, StatusCode};

    use super::*;

    fn token(step: AuthStep) -> Vec<u8> {
        let AuthStep::Send(Some(value)) = step else { panic!("no Authorization header") };
        let text = value.to_str().unwrap().strip_prefix("NTLM ").unwrap().to_string();
        STANDARD.decode(text).unwrap()
    }

    fn unauthorized(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn message_type(message: &[u8]) -> Option<&[u8]> {
        message.get(8..12)
    }

    fn unauthorized_on(headers: &HeaderMap, connection_changed: bool) -> Challenge<'_> {
        Challenge { status: StatusCode::UNAUTHORIZED, headers, connection_changed }
    }

    /// An AUTHENTICATE refused on a connection that never saw the CHALLENGE starts the
    /// handshake over, at most [`RESTARTS`] times; one refused on the CHALLENGE's own
    /// connection (wrong credentials) gives up at once.
    #[tokio::test]
    async fn only_a_refusal_on_a_new_connection_starts_over() {
        let auth = Ntlm::new(&Credentials::new(r"CORP\jdoe", "secret"), false);
        let get = Method::GET;
        let refused = unauthorized("NTLM");
        for same_connection_at in [0, 1, RESTARTS, RESTARTS + 1] {
            let mut exchange = auth.begin(RequestInfo { method: &get, uri: "/netwrix/api/v1/activity_records/enum" });
            let mut negotiate = token(exchange.next(None).await.unwrap());
            for round in 0.. {
                assert_eq!(message_type(&negotiate), Some(&[1, 0, 0, 0][..]), "round {round}: NEGOTIATE");
                let (_, challenge) = ntlm::Acceptor::challenge(&negotiate, "NETWRIX", "CORP").unwrap();
                let headers = unauthorized(&format!("NTLM {}", STANDARD.encode(challenge)));
                let step = exchange.next(Some(unauthorized_on(&headers, false))).await.unwrap();
                assert_eq!(message_type(&token(step)), Some(&[3, 0, 0, 0][..]), "round {round}: AUTHENTICATE");
                let changed = round != same_connection_at;
                match exchange.next(Some(unauthorized_on(&refused, changed))).await.unwrap() {
                    AuthStep::GiveUp => {
                        assert_eq!(round, same_connection_at.min(RESTARTS), "gave up in round {round}");
                        break;
                    }
                    step => {
                        assert!(changed && round < RESTARTS, "round {round}: started over");
                        negotiate = token(step);
                    }
                }
            }
        }
    }
}
