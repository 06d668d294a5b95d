//! HTTP authentication as a layer every request goes through.
//!
//! The API accepts NTLM, Negotiate, Digest and Basic (spec §1). They differ in shape:
//! Basic is one header on the first request; Digest answers the server's 401 challenge
//! (and can reuse its nonce afterwards); NTLM and Negotiate are multi-leg handshakes bound
//! to one keep-alive connection. So the request code does not know any scheme: for each
//! request it asks the [`Authenticator`] for an [`AuthExchange`], and loops
//!
//! 1. `exchange.next(None)` → the `Authorization` value (if any) for the first leg;
//! 2. on a 401, it reads the body to the end (so the connection can be reused), then
//!    `exchange.next(Some(&challenge))` → the value for the next leg, or give up;
//! 3. on any other status, `exchange.finish(&headers)` (Digest `Authentication-Info`,
//!    Negotiate mutual authentication) and the response is handled as usual.
//!
//! How each scheme fits (none of them changes `super::requests`):
//! - **Digest**: an authenticator holding the credentials and a `Mutex` with the last
//!   nonce/realm/opaque and nonce count. `next(None)` answers pre-emptively if a nonce is
//!   cached, else sends nothing; `next(Some(401))` parses `WWW-Authenticate: Digest …`,
//!   hashes method + [`RequestInfo::uri`] ([`crate::authproto::digest`]) and retries; a second
//!   401 gives up unless the challenge says `stale=true`. (`super::digest`)
//! - **NTLM**: `next(None)` sends the type-1 message, `next(Some(401))` decodes the type-2
//!   challenge from `WWW-Authenticate: NTLM …` and sends type 3 ([`crate::authproto::ntlm`]); a 401
//!   to type 3 gives up, unless it came on another connection than the challenge (then the handshake
//!   starts over, [`Challenge::connection_changed`]) (`super::ntlm`). [`Authenticator::connection_bound`] returns true, so the client keeps one
//!   idle connection per host and the three legs share it (the client is HTTP/1.1 only).
//! - **Kerberos**: `next(None)` sends nothing until the server once took a ticket, then the
//!   AP-REQ at once (from the job's kept ticket while it is good); `finish` checks the
//!   server's AP-REP (`super::kerberos`).
//! - **Negotiate**: Kerberos, or NTLM inside SPNEGO when no realm or KDC is to be had, or
//!   when the server takes no ticket and offers NTLM (`super::negotiate`).
//! - **Auto**: an authenticator that sends nothing first, then picks the strongest scheme the
//!   401's challenges offer and delegates to that scheme's exchange (`super::auto`).

use std::fmt;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use super::config::{AuthScheme, Credentials, KerberosSettings};
use super::error::ClientError;

/// The scheme name used in errors when no credentials are configured.
pub const NO_AUTH: &str = "none";

/// The request an exchange authenticates (Digest hashes method and URI).
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    /// Path and query, as sent on the request line: `/netwrix/api/v1/activity_records/enum?format=json`.
    pub uri: &'a str,
}

/// The server's answer that asked for (more) authentication.
#[derive(Debug, Clone, Copy)]
pub struct Challenge<'a> {
    pub status: StatusCode,
    /// All response headers; the `WWW-Authenticate` values are the challenges.
    pub headers: &'a HeaderMap,
    /// This answer came on another connection than the previous leg's answer (told by
    /// the local address; false when either is unknown). A connection-bound handshake
    /// whose last leg was refused on a new connection was not refused for its credentials.
    pub connection_changed: bool,
}

impl Challenge<'_> {
    /// The `WWW-Authenticate` values that are valid text.
    pub fn www_authenticate(&self) -> impl Iterator<Item = &str> {
        self.headers.get_all(reqwest::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok())
    }
}

/// What an exchange wants done next.
#[derive(Debug, Clone)]
pub enum AuthStep {
    /// Send the request (again) with this `Authorization` value, or without one.
    Send(Option<HeaderValue>),
    /// Stop: the last 401 is the answer.
    GiveUp,
}

/// A source of authentication for every request of a client.
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// The scheme's name for errors and logs (`Basic`, `Digest`, `NTLM`, `Negotiate`).
    fn scheme(&self) -> &'static str;

    /// Whether the legs of one exchange must share one connection (NTLM, Negotiate).
    fn connection_bound(&self) -> bool {
        false
    }

    /// Starts the authentication of one request.
    fn begin(&self, request: RequestInfo<'_>) -> Box<dyn AuthExchange>;
}

/// The authentication state of one request, across its legs.
#[async_trait::async_trait]
pub trait AuthExchange: Send {
    /// The next leg: `challenge` is `None` before the first one, else the 401 that answered
    /// the previous leg. Async so a scheme may wait on something (a Kerberos ticket).
    async fn next(&mut self, challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError>;

    /// Sees the headers of the final non-401 response (Digest `Authentication-Info`,
    /// Negotiate mutual authentication). The default ignores them.
    fn finish(&mut self, _headers: &HeaderMap) -> Result<(), ClientError> {
        Ok(())
    }

    /// The mechanism this exchange used, when its scheme's name does not say it (Negotiate:
    /// `Kerberos` or `NTLM`).
    fn mechanism(&self) -> Option<&'static str> {
        None
    }
}

/// Builds the authenticator for a configuration; `host` (the URL's) names the Kerberos service.
pub(crate) fn authenticator(
    scheme: AuthScheme,
    credentials: Option<&Credentials>,
    kerberos: &KerberosSettings,
    host: &str,
) -> Result<std::sync::Arc<dyn Authenticator>, ClientError> {
    let Some(credentials) = credentials else {
        return Ok(std::sync::Arc::new(NoAuth));
    };
    match scheme {
        AuthScheme::Basic => Ok(std::sync::Arc::new(Basic::new(credentials)?)),
        AuthScheme::Digest => Ok(std::sync::Arc::new(super::digest::Digest::new(credentials))),
        AuthScheme::Ntlm => Ok(std::sync::Arc::new(super::ntlm::Ntlm::new(credentials, false))),
        AuthScheme::Negotiate => Ok(std::sync::Arc::new(super::negotiate::Negotiate::new(credentials, kerberos, host))),
        AuthScheme::Kerberos => Ok(std::sync::Arc::new(super::kerberos::Kerberos::new(credentials, kerberos, host))),
        AuthScheme::Auto => Ok(std::sync::Arc::new(super::auto::Auto::new(credentials, kerberos, host))),
    }
}

/// No credentials: requests go out bare, and a 401 is final.
#[derive(Debug)]
pub struct NoAuth;

impl Authenticator for NoAuth {
    fn scheme(&self) -> &'static str {
        NO_AUTH
    }

    fn begin(&self, _request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        Box::new(OneShot { header: None, sent: false })
    }
}

/// Basic authentication (RFC 7617), sent pre-emptively on the first leg. `DOMAIN\user` is
/// sent as it is; user and password are encoded as UTF-8.
pub struct Basic {
    header: HeaderValue,
}

impl Basic {
    /// Prepares the header; a user name with `:` cannot be expressed in Basic and is refused.
    pub fn new(credentials: &Credentials) -> Result<Self, ClientError> {
        if credentials.user.contains(':') {
            return Err(ClientError::Config("a Basic user name cannot contain ':'".into()));
        }
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", credentials.user, credentials.password));
        let mut header = HeaderValue::try_from(format!("Basic {token}"))
            .map_err(|_| ClientError::Config("the credentials do not make a valid header".into()))?;
        header.set_sensitive(true);
        Ok(Basic { header })
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Basic(<redacted>)")
    }
}

impl Authenticator for Basic {
    fn scheme(&self) -> &'static str {
        "Basic"
    }

    fn begin(&self, _request: RequestInfo<'_>) -> Box<dyn AuthExchange> {
        Box::new(OneShot { header: Some(self.header.clone()), sent: false })
    }
}

/// An exchange of one leg: send `header` once, give up on a 401.
struct OneShot {
    header: Option<HeaderValue>,
    sent: bool,
}

#[async_trait::async_trait]
impl AuthExchange for OneShot {
    async fn next(&mut self, _challenge: Option<Challenge<'_>>) -> Result<AuthStep, ClientError> {
        if std::mem::replace(&mut self.sent, true) {
            Ok(AuthStep::GiveUp)
        } else {
            Ok(AuthStep::Send(self.header.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RequestInfo<'static> {
        static GET: Method = Method::GET;
        RequestInfo { method: &GET, uri: "/netwrix/api/v1/activity_records/enum" }
    }

    #[tokio::test]
    async fn basic_sends_domain_user_as_is_then_gives_up() {
        let auth =
            authenticator(AuthScheme::Basic, Some(&Credentials::new(r"CORP\jdoe", "pä:ss")), &Default::default(), "h")
                .unwrap();
        assert_eq!(auth.scheme(), "Basic");
        assert!(!format!("{auth:?}").contains("pä"));
        let mut exchange = auth.begin(info());
        let AuthStep::Send(Some(header)) = exchange.next(None).await.unwrap() else { panic!("no header") };
        assert!(header.is_sensitive());
        let token = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(token).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), r"CORP\jdoe:pä:ss");
        let headers = HeaderMap::new();
        let challenge = Challenge { status: StatusCode::UNAUTHORIZED, headers: &headers, connection_changed: false };
        assert!(matches!(exchange.next(Some(challenge)).await.unwrap(), AuthStep::GiveUp));
    }

    #[tokio::test]
    async fn no_credentials_send_nothing() {
        let auth = authenticator(AuthScheme::Basic, None, &Default::default(), "h").unwrap();
        assert_eq!(auth.scheme(), NO_AUTH);
        let mut exchange = auth.begin(info());
        assert!(matches!(exchange.next(None).await.unwrap(), AuthStep::Send(None)));
    }

    #[test]
    fn a_colon_in_a_basic_user_is_a_config_error() {
        let err = Basic::new(&Credentials::new("a:b", "x")).unwrap_err();
        assert!(matches!(err, ClientError::Config(_)));
    }
}
