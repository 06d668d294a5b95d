//! `auth = "negotiate"`: Kerberos when a ticket can be had, else NTLM inside SPNEGO, as
//! Windows' Negotiate package decides (spec §5). NTLM is used
//! - when Kerberos is "unavailable": no realm is known or no KDC answers
//!   ([`KerberosError::is_unavailable`]);
//! - when the server cannot take our ticket ([`KerberosError::is_refused_ticket`]: the KDC
//!   knows no SPN for the server's name, e.g. an IP address, or the server refused the ticket)
//!   and its 401 offers `NTLM` (HTTP.sys sends one challenge per enabled scheme).
//!
//! A login the KDC refuses (wrong password, unknown user, clock skew) is an error, not a
//! reason to try NTLM: the same password would fail there too, or lock the account sooner.
//!
//! A fallback is logged as a warning, and for [`RETRY_KERBEROS_AFTER`] the following requests
//! go straight to NTLM instead of waiting on a dead KDC each time.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::Method;

use super::auth::{AuthExchange, AuthStep, Authenticator, Challenge, RequestInfo};
use super::config::{Credentials, KerberosSettings};
use super::error::ClientError;
use super::kerberos::{Kerberos, KerberosError};
use super::ntlm::Ntlm;
use crate::authproto::challenge::parse_all;

/// How long after a fallback to NTLM the next request tries Kerberos again.
pub const RETRY_KERBEROS_AFTER: Duration = Duration::from_secs(300);

/// Negotiate: Kerberos first, NTLM when Kerberos is out of reach.
pub struct Negotiate {
    kerberos: Arc<Kerberos>,
    ntlm: Arc<Ntlm>,
    /// Until when requests use NTLM without trying Kerberos.
    ntlm_until: Arc<Mutex<Option<Instant>>>,
}

impl Negotiate {
    pub fn new(credentials: &Credentials, settings: &KerberosSettings, host: &str) -> Negotiate {
        Negotiate {
            kerberos: Arc::new(Kerberos::new(credentials, settings, host)),
            ntlm: Arc::new(Ntlm::new(credentials, true)),
            ntlm_until: Arc::new(Mutex::new(None)),
        }
    }

    fn ntlm_now(&self) -> bool {
        let until = *self.ntlm_until.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }
}

impl fmt::Debug for Negotiate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Negotiate").field("kerberos", &self.kerberos).finish_non_exhaustive()
    }
}

impl Authenticator for Negotiate {
    fn scheme(&self) -> &'static str {
        "Negotiate"
    }

    fn connection_bound(&self) -> bool {
        true
    }

    fn begin(&self, request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        if self.ntlm_now() {
            return Box::new(Fallback(self.ntlm.begin(request)));
        }
        Box::new(Exchange {
            kerberos: self.kerberos.begin(request),
            unavailable: self.kerberos.unavailable(),
            ntlm: self.ntlm.clone(),
            principal: self.kerberos.principal(),
            ntlm_until: self.ntlm_until.clone(),
            method: request.method.clone(),
            uri: request.uri.to_string(),
            fallback: None,
        })
    }
}

/// An exchange that went to NTLM: says so when asked which mechanism was used.
struct Fallback(Box<dyn AuthExchange>);

#[async_trait::async_trait]
impl AuthExchange for Fallback {
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        self.0.next(challenge).await
    }

    fn finish(&mut self, headers: &HeaderMap) -> Result<(), ClientError> {
        self.0.finish(headers)
    }

    fn mechanism(&self) -> Option<&'static str> {
        Some("NTLM")
    }
}

struct Exchange {
    kerberos: Box<dyn AuthExchange>,
    /// Why Kerberos cannot start, when that is known before the first leg: then NTLM
    /// starts on the first leg, with no bare request first.
    unavailable: Option<KerberosError>,
    ntlm: Arc<Ntlm>,
    principal: String,
    ntlm_until: Arc<Mutex<Option<Instant>>>,
    method: Method,
    uri: String,
    fallback: Option<Fallback>,
}

#[async_trait::async_trait]
impl AuthExchange for Exchange {
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        if let Some(ntlm) = &mut self.fallback {
            return ntlm.next(challenge).await;
        }
        let offers_ntlm =
            challenge.as_ref().is_some_and(|c| c.www_authenticate().flat_map(parse_all).any(|c| c.is("NTLM")));
        let step = match (&challenge, self.unavailable.take()) {
            (None, Some(e)) => Err(ClientError::Kerberos(e)),
            _ => self.kerberos.next(challenge).await,
        };
        match step {
            Err(ClientError::Kerberos(e)) if e.is_unavailable() || (offers_ntlm && e.is_refused_ticket()) => {
                let why = if e.is_unavailable() { "Kerberos is unavailable" } else { "the server takes no ticket" };
                tracing::warn!(
                    principal = %self.principal,
                    "{why} ({e}); Negotiate falls back to NTLM (trying Kerberos again in {} s)",
                    RETRY_KERBEROS_AFTER.as_secs()
                );
                *self.ntlm_until.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Instant::now() + RETRY_KERBEROS_AFTER);
                let mut ntlm = Fallback(self.ntlm.begin(RequestInfo { method: &self.method, uri: &self.uri }));
                let step = ntlm.next(None).await;
                self.fallback = Some(ntlm);
                step
            }
            other => other,
        }
    }

    fn finish(&mut self, headers: &HeaderMap) -> Result<(), ClientError> {
        match &mut self.fallback {
            Some(ntlm) => ntlm.finish(headers),
            None => self.kerberos.finish(headers),
        }
    }

    fn mechanism(&self) -> Option<&'static str> {
        match &self.fallback {
            Some(ntlm) => ntlm.mechanism(),
            None => self.kerberos.mechanism(),
        }
    }
}
