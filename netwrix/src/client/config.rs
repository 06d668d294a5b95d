//! What a [`Client`](super::Client) is built from: where the server is, which wire format
//! and batch size to ask for, who to log in as, and how to trust the server's certificate.
//!
//! Kept apart from the client itself so the bridge's configuration loader can build it
//! without pulling in any of the HTTP machinery.

use std::fmt;
use std::time::Duration;

use crate::format::Format;

use super::trust::Trust;

/// Everything [`Client::new`](super::Client::new) needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Scheme, host and port, e.g. `https://auditor.corp.example:9699`. The client appends
    /// `/netwrix/api/v1/activity_records/...`; a URL that already ends in
    /// `/netwrix/api/v1` or `/netwrix/api/v1/activity_records` is accepted too.
    pub base_url: String,
    /// XML (the API's default) or JSON (`?format=json`).
    pub format: Format,
    /// Records per page (`?count=N`); `None` sends no count, so the server's default (1,000) applies.
    pub count: Option<usize>,
    /// Who to log in as; `None` sends requests without credentials (the server answers 401).
    pub credentials: Option<Credentials>,
    /// The HTTP authentication scheme to use with the credentials.
    pub auth: AuthScheme,
    /// Realm, KDC and SPN for Kerberos (`Kerberos`, and `Negotiate`/`Auto` preferring it).
    pub kerberos: KerberosSettings,
    /// How to decide whether the server's TLS certificate is the right one (`https` only).
    pub trust: Trust,
    /// Limit for one whole request: connecting, every authentication leg, and reading the body.
    pub timeout: Duration,
    /// Limit for establishing one TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Most bytes one response body may have; a larger one is refused with
    /// [`ClientError::PageTooLarge`](super::ClientError::PageTooLarge) as soon as it passes
    /// the limit, so a server can never make the client hold more than this.
    pub max_page_bytes: usize,
    /// Most bytes one value of a record may have (a page with a larger one is refused).
    pub max_field_bytes: usize,
}

impl ClientConfig {
    /// The default whole-request timeout: a page of 1,000 records from a busy SQL server can take a while.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    /// The default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default body limit: a real page of 1,000 records is 1–3 MiB in XML, so this
    /// leaves room for pages ten times heavier than usual.
    pub const DEFAULT_MAX_PAGE_BYTES: usize = 32 << 20;
    /// The default value limit: Netwrix's own CEF export carries up to 16,000 characters
    /// of details; a value of megabytes is no audit record.
    pub const DEFAULT_MAX_FIELD_BYTES: usize = 4 << 20;

    /// A configuration with the defaults for everything but the URL.
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig { base_url: base_url.into(), ..Default::default() }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: "https://localhost:9699".into(),
            format: Format::Xml,
            count: None,
            credentials: None,
            auth: AuthScheme::Basic,
            kerberos: KerberosSettings::default(),
            trust: Trust::System,
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            max_page_bytes: Self::DEFAULT_MAX_PAGE_BYTES,
            max_field_bytes: Self::DEFAULT_MAX_FIELD_BYTES,
        }
    }
}

/// A user name and password. The user may be `DOMAIN\user`, a UPN or a local name, and is
/// sent as given. `Debug` never shows the password, so a logged configuration is safe.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { user: user.into(), password: password.into() }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

/// Where Kerberos finds its realm, KDC and service principal. Every field may stay unset:
/// the realm then comes from a `user@REALM` user name, the KDC from `krb5.conf`
/// (`KRB5_CONFIG`, `/etc/krb5.conf`: the realm's first `kdc =`), and the SPN from the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KerberosSettings {
    /// The realm, for a user name without one (`svc-auditbridge`, `CORP\svc-auditbridge`).
    pub realm: Option<String>,
    /// The KDC: `host`, `host:port` or `tcp://host:port` (Kerberos over TCP).
    pub kdc: Option<String>,
    /// The service principal; `HTTP/<host of the URL>` when unset (what Windows asks for).
    pub spn: Option<String>,
    /// A keytab file with the user's key, used instead of the password.
    pub keytab: Option<std::path::PathBuf>,
}

/// The HTTP authentication scheme. The API accepts NTLM, Negotiate, Digest and Basic
/// (spec §1); each is an [`Authenticator`](super::auth::Authenticator), and `Auto` takes
/// the strongest one the server's 401 offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: Basic base64(user:password)`, sent with the first request. Only safe over HTTPS.
    #[default]
    Basic,
    /// RFC 7616 Digest (`qop=auth`, SHA-256 preferred over MD5): the password never travels.
    Digest,
    /// NTLMv2, connection-bound (Netwrix's recommended scheme).
    Ntlm,
    /// Negotiate: Kerberos when a ticket can be had, else NTLMv2 inside SPNEGO (logged), as
    /// Windows does.
    Negotiate,
    /// Kerberos only, under the `Negotiate` scheme: for domains that restrict NTLM.
    Kerberos,
    /// Whatever the server's `WWW-Authenticate` challenges offer, strongest first
    /// (Negotiate, NTLM, Digest, Basic).
    Auto,
}

impl AuthScheme {
    /// The scheme's name as it appears in `WWW-Authenticate` and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            AuthScheme::Basic => "Basic",
            AuthScheme::Digest => "Digest",
            AuthScheme::Ntlm => "NTLM",
            AuthScheme::Negotiate => "Negotiate",
            AuthScheme::Kerberos => "Kerberos",
            AuthScheme::Auto => "auto",
        }
    }
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_redacts_the_password() {
        let c = Credentials::new(r"CORP\svc-export", "S3cret!pw");
        let shown = format!("{c:?}");
        assert!(!shown.contains("S3cret"), "{shown}");
        assert!(shown.contains(r"CORP\\svc-export"), "{shown}");
        let config = ClientConfig { credentials: Some(c), ..ClientConfig::new("https://h:9699") };
        assert!(!format!("{config:?}").contains("S3cret"));
    }

    #[test]
    fn defaults_match_the_brief() {
        let c = ClientConfig::default();
        assert_eq!(c.format, Format::Xml);
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.auth, AuthScheme::Basic);
        assert!(c.count.is_none());
    }
}
