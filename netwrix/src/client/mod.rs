//! The Integration API client: reads activity records page by page (enum and search) and
//! writes records, over HTTP or HTTPS, with typed errors the export pipeline can act on.
//!
//! - [`config`]: what a client is built from ([`ClientConfig`], [`Credentials`], [`AuthScheme`]);
//! - [`trust`]: how the server's TLS certificate is checked ([`Trust`]);
//! - [`auth`]: the authentication layer every request goes through;
//! - [`error`]: every way a call can fail, [`ClientError`];
//! - `requests`: the four endpoints, and the one function that sends every request.
//!
//! Bodies are encoded and decoded only through [`Format`], so the client does not care
//! whether XML or JSON is on the wire.

pub mod auth;
mod auto;
pub mod config;
mod digest;
pub mod error;
pub mod kerberos;
mod negotiate;
mod ntlm;
mod peek;
mod requests;
pub mod trust;

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

pub use auth::{AuthExchange, AuthStep, Authenticator, Challenge, RequestInfo};
pub use config::{AuthScheme, ClientConfig, Credentials, KerberosSettings};
pub use kerberos::KerberosError;

pub use error::ClientError;
pub use peek::peek_certificates;
pub use requests::UNPARSED_CATEGORY;
pub use trust::{fingerprint_of, FingerprintMismatch, Trust};

use crate::format::Format;
use crate::API_PREFIX;

/// A client of one Netwrix Auditor server. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    format: Format,
    auth: Arc<dyn Authenticator>,
    timeout: Duration,
    max_page_bytes: usize,
    max_field_bytes: usize,
    /// `.../activity_records/enum?format=..&count=..`
    enum_url: Url,
    /// `.../activity_records/search?format=..&count=..`
    search_url: Url,
    /// `.../activity_records/?format=..`
    write_url: Url,
    /// The schemes the server's 401s offered and the one that got through, for `validate --check`.
    seen: std::sync::Mutex<AuthSeen>,
}

/// What the server offered and what the client used, as far as requests so far tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSeen {
    /// Scheme names of the last 401's `WWW-Authenticate` challenges, in order (empty
    /// when no request was challenged).
    pub offered: Vec<String>,
    /// The scheme of the last answered request, with its mechanism under Negotiate:
    /// `Negotiate (Kerberos)`, `Negotiate (NTLM)`, `Digest`…
    pub used: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("format", &self.inner.format)
            .field("auth", &self.inner.auth.scheme())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client. Fails with [`ClientError::Config`] on a bad URL, an unusable trust
    /// setting (unreadable CA file, malformed fingerprint) or bad limits; no request is sent.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let base = normalize_base_url(&config.base_url)?;
        let https = base.scheme() == "https";
        if config.count == Some(0) {
            return Err(ClientError::Config("count must be at least 1 (or unset for the server's default)".into()));
        }
        if config.max_page_bytes == 0 || config.max_field_bytes == 0 {
            return Err(ClientError::Config("max_page_bytes and max_field_bytes must be at least 1".into()));
        }
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(ClientError::Config("timeouts must be longer than zero".into()));
        }
        let host = base.host_str().unwrap_or_default().to_string();
        let auth = auth::authenticator(config.auth, config.credentials.as_ref(), &config.kerberos, &host)?;
        if config.trust == Trust::Insecure && https {
            tracing::warn!(
                base_url = %base,
                "TLS certificate checking is OFF (trust = insecure): anyone on the network path can read the \
                 credentials and records; pin the server's certificate fingerprint instead"
            );
        }
        if !https && config.credentials.is_some() && config.auth == AuthScheme::Basic {
            tracing::warn!(base_url = %base, "Basic authentication over plain HTTP sends the password in clear text");
        }
        // reqwest builds a TLS connector even for http:// URLs; give it one that trusts
        // nothing there, so a plain-HTTP setup never depends on the system's CA store.
        let tls = if https { trust::tls_config(&config.trust)? } else { trust::tls_config_refusing_all()? };
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("auditbridge-netwrix/", env!("CARGO_PKG_VERSION")));
        if auth.connection_bound() {
            builder = builder.pool_max_idle_per_host(1);
        }
        let http = builder.build().map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;

        let base_url = base.as_str().trim_end_matches('/').to_string();
        let format = config.format;
        let endpoint = |suffix: &str, with_count: bool| -> Result<Url, ClientError> {
            let mut url = Url::parse(&format!("{base_url}{API_PREFIX}/{suffix}"))
                .map_err(|e| ClientError::Config(format!("base URL {base_url:?}: {e}")))?;
            let mut query = Vec::new();
            if let Some(value) = format.query() {
                query.push(format!("format={value}"));
            }
            if let (true, Some(count)) = (with_count, config.count) {
                query.push(format!("count={count}"));
            }
            if !query.is_empty() {
                url.set_query(Some(&query.join("&")));
            }
            Ok(url)
        };
        let inner = Inner {
            enum_url: endpoint("enum", true)?,
            search_url: endpoint("search", true)?,
            write_url: endpoint("", false)?,
            seen: std::sync::Mutex::new(AuthSeen::default()),
            http,
            base_url,
            format,
            auth,
            timeout: config.timeout,
            max_page_bytes: config.max_page_bytes,
            max_field_bytes: config.max_field_bytes,
        };
        Ok(Client { inner: Arc::new(inner) })
    }

    /// The server's base URL, as configured (without a trailing `/` or API path).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Which schemes the server offered and which one was used, so far.
    pub fn auth_seen(&self) -> AuthSeen {
        self.inner.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn note_offered(&self, headers: &reqwest::header::HeaderMap) {
        let offered: Vec<String> = headers
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(crate::authproto::challenge::parse_all)
            .map(|c| c.scheme)
            .collect();
        if !offered.is_empty() {
            self.inner.seen.lock().unwrap_or_else(|e| e.into_inner()).offered = offered;
        }
    }

    fn note_used(&self, mechanism: Option<&'static str>) {
        let scheme = self.inner.auth.scheme();
        let used = match mechanism {
            Some(m) if m != scheme => format!("{scheme} ({m})"),
            _ => scheme.to_string(),
        };
        self.inner.seen.lock().unwrap_or_else(|e| e.into_inner()).used = Some(used);
    }

    /// The wire format this client speaks.
    pub fn format(&self) -> Format {
        self.inner.format
    }
}

/// Checks the configured URL and strips any API path the operator may have included.
fn normalize_base_url(text: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| ClientError::Config(format!("base URL {text:?} {why}"));
    let mut url = Url::parse(text.trim()).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with https:// or http://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the URL holds a password.
        return Err(ClientError::Config(
            "the base URL must not hold credentials; give them as the user and password settings".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    let mut path = url.path().trim_end_matches('/').to_string();
    for suffix in ["/activity_records", "/netwrix/api/v1"] {
        if let Some(stripped) = path.strip_suffix(suffix) {
            path = stripped.to_string();
        }
    }
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str, format: Format, count: Option<usize>) -> Client {
        Client::new(ClientConfig { format, count, ..ClientConfig::new(base) }).unwrap()
    }

    #[test]
    fn endpoints_carry_format_and_count() {
        let c = client("https://nx.corp.example:9699/", Format::Json, Some(250));
        assert_eq!(c.base_url(), "https://nx.corp.example:9699");
        assert_eq!(
            c.inner.enum_url.as_str(),
            "https://nx.corp.example:9699/netwrix/api/v1/activity_records/enum?format=json&count=250"
        );
        assert_eq!(
            c.inner.search_url.as_str(),
            "https://nx.corp.example:9699/netwrix/api/v1/activity_records/search?format=json&count=250"
        );
        assert_eq!(
            c.inner.write_url.as_str(),
            "https://nx.corp.example:9699/netwrix/api/v1/activity_records/?format=json"
        );

        let c = client("http://10.0.0.5:9699/netwrix/api/v1/", Format::Xml, None);
        assert_eq!(c.base_url(), "http://10.0.0.5:9699");
        assert_eq!(c.inner.enum_url.as_str(), "http://10.0.0.5:9699/netwrix/api/v1/activity_records/enum");
        assert_eq!(c.inner.write_url.as_str(), "http://10.0.0.5:9699/netwrix/api/v1/activity_records/");
    }

    #[test]
    fn bad_configurations_are_config_errors() {
        for base in ["ftp://h", "not a url", "https://h:9699/?x=1", "https://u:p@h:9699"] {
            let err = Client::new(ClientConfig::new(base)).unwrap_err();
            assert!(matches!(err, ClientError::Config(_)), "{base}: {err}");
        }
        let err = Client::new(ClientConfig { count: Some(0), ..ClientConfig::new("https://h") }).unwrap_err();
        assert!(matches!(err, ClientError::Config(_)));
        let err =
            Client::new(ClientConfig { trust: Trust::Fingerprint("12:34".into()), ..ClientConfig::new("https://h") })
                .unwrap_err();
        assert!(err.to_string().contains("fingerprint"), "{err}");
    }
}
