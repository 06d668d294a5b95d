//! `auth = "auto"`: the scheme is taken from the server's `WWW-Authenticate` challenges.
//!
//! The first request goes out bare; the 401's challenges decide, strongest first:
//! Negotiate (Kerberos, or NTLM without a KDC), NTLM, Digest, Basic (HTTP.sys sends one challenge per enabled scheme). The
//! choice is kept for the client's life, so later requests start with that scheme directly.

use std::fmt;
use std::sync::{Arc, Mutex};

use reqwest::Method;

use super::auth::{AuthExchange, AuthStep, Authenticator, Basic, Challenge, RequestInfo};
use super::config::{Credentials, KerberosSettings};
use super::digest::Digest;
use super::error::ClientError;
use super::negotiate::Negotiate;
use super::ntlm::Ntlm;
use crate::authproto::challenge::parse_all;

/// Picks the scheme from the first 401, then behaves as that scheme.
pub struct Auto {
    credentials: Credentials,
    kerberos: KerberosSettings,
    host: String,
    chosen: Arc<Mutex<Option<Arc<dyn Authenticator>>>>,
}

impl Auto {
    pub fn new(credentials: &Credentials, kerberos: &KerberosSettings, host: &str) -> Auto {
        Auto {
            credentials: credentials.clone(),
            kerberos: kerberos.clone(),
            host: host.to_string(),
            chosen: Arc::new(Mutex::new(None)),
        }
    }

    fn chosen(&self) -> Option<Arc<dyn Authenticator>> {
        self.chosen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl fmt::Debug for Auto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auto").field("chosen", &self.chosen().map(|c| c.scheme())).finish_non_exhaustive()
    }
}

impl Authenticator for Auto {
    fn scheme(&self) -> &'static str {
        self.chosen().map_or("auto", |c| c.scheme())
    }

    fn connection_bound(&self) -> bool {
        // NTLM or Negotiate may be chosen, and the client is built before the choice.
        true
    }

    fn begin(&self, request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        if let Some(chosen) = self.chosen() {
            return chosen.begin(request);
        }
        Box::new(Exchange {
            credentials: self.credentials.clone(),
            kerberos: self.kerberos.clone(),
            host: self.host.clone(),
            chosen: self.chosen.clone(),
            method: request.method.clone(),
            uri: request.uri.to_string(),
            delegate: None,
        })
    }
}

struct Exchange {
    credentials: Credentials,
    kerberos: KerberosSettings,
    host: String,
    chosen: Arc<Mutex<Option<Arc<dyn Authenticator>>>>,
    method: Method,
    uri: String,
    delegate: Option<Box<dyn AuthExchange>>,
}

/// The schemes this client speaks, strongest first, as named in challenges.
const PREFERENCE: [&str; 4] = ["Negotiate", "NTLM", "Digest", "Basic"];

fn authenticator_for(scheme: &str, exchange: &Exchange) -> Result<Arc<dyn Authenticator>, ClientError> {
    let credentials = &exchange.credentials;
    Ok(match scheme {
        "Negotiate" => Arc::new(Negotiate::new(credentials, &exchange.kerberos, &exchange.host)),
        "NTLM" => Arc::new(Ntlm::new(credentials, false)),
        "Digest" => Arc::new(Digest::new(credentials)),
        _ => Arc::new(Basic::new(credentials)?),
    })
}

#[async_trait::async_trait]
impl AuthExchange for Exchange {
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        if let Some(delegate) = &mut self.delegate {
            return delegate.next(challenge).await;
        }
        let Some(challenge) = challenge else {
            return Ok(AuthStep::Send(None));
        };
        let offered: Vec<String> = challenge.www_authenticate().flat_map(parse_all).map(|c| c.scheme).collect();
        let Some(scheme) = PREFERENCE.into_iter().find(|p| offered.iter().any(|o| o.eq_ignore_ascii_case(p))) else {
            let offered = if offered.is_empty() { "no challenge at all".to_string() } else { offered.join(", ") };
            return Err(ClientError::Unauthorized {
                scheme: format!("auto: the server offers {offered}, none of Negotiate, NTLM, Digest, Basic"),
                server: None,
            });
        };
        let auth = authenticator_for(scheme, self)?;
        *self.chosen.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth.clone());
        tracing::debug!(scheme, "auth = auto: using the server's strongest offered scheme");
        let mut delegate = auth.begin(RequestInfo { method: &self.method, uri: &self.uri });
        // NTLM and Basic start on their own; Digest answers the challenge in hand.
        let step = match delegate.next(None).await? {
            AuthStep::Send(None) => delegate.next(Some(challenge)).await?,
            other => other,
        };
        self.delegate = Some(delegate);
        Ok(step)
    }

    fn finish(&mut self, headers: &reqwest::header::HeaderMap) -> Result<(), ClientError> {
        match &mut self.delegate {
            Some(d) => d.finish(headers),
            None => Ok(()),
        }
    }

    fn mechanism(&self) -> Option<&'static str> {
        self.delegate.as_ref().and_then(|d| d.mechanism())
    }
}
