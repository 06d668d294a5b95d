//! Entra ID access tokens by the client credentials grant, cached and renewed before they
//! expire.
//!
//! `POST {authority_host}/{tenant_id}/oauth2/v2.0/token` with `grant_type=client_credentials`,
//! `client_id`, `scope` and `client_secret` (or a signed client assertion, [`cert`](super::cert)),
//! form-encoded, as the Microsoft identity platform documents; the answer's `access_token` is sent as `Authorization: Bearer` and
//! kept until half its lifetime or five minutes before its end (whichever comes first) so
//! that a batch never goes out with a token about to lapse. A token the API refuses (401)
//! is dropped and a new one asked for.

use super::cert::{ClientCertificate, ASSERTION_TYPE};
use super::config::SentinelConfig;
use crate::hec::transport::chain;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A token and when to stop using it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    renew_at: Instant,
    /// Obtained by this very call (a refusal of it is not a lapse).
    pub fresh: bool,
}

/// What went wrong asking for a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// The authority did not answer, or answered 5xx/429: worth asking again.
    #[error("{0}")]
    Unavailable(String),
    /// The authority refused the credentials: a person must act.
    #[error("{0}")]
    Refused(String),
}

/// How the app proves itself.
#[derive(Debug)]
enum Credential {
    Secret(crate::Secret),
    /// The PEM file, read at the first token request.
    Certificate(PathBuf, Option<ClientCertificate>),
    Missing,
}

/// Asks for tokens and keeps the current one.
#[derive(Debug)]
pub(crate) struct TokenSource {
    url: String,
    client_id: String,
    scope: String,
    credential: Credential,
    cached: Option<Token>,
}

impl TokenSource {
    pub fn new(config: &SentinelConfig) -> TokenSource {
        let credential = match (&config.client_secret, &config.client_certificate) {
            (_, Some(path)) => Credential::Certificate(path.clone(), None),
            (Some(secret), None) => Credential::Secret(secret.clone()),
            // The config refuses this at load.
            (None, None) => Credential::Missing,
        };
        TokenSource {
            url: config.token_url(),
            client_id: config.client_id.clone(),
            scope: config.scope.clone(),
            credential,
            cached: None,
        }
    }

    /// The form of a token request: a new assertion each time with a certificate.
    fn form(&mut self) -> Result<String, TokenError> {
        let mut pairs = vec![("grant_type", "client_credentials".to_owned()), ("client_id", self.client_id.clone())];
        match &mut self.credential {
            Credential::Secret(secret) => pairs.push(("client_secret", secret.expose().to_owned())),
            Credential::Missing => {
                return Err(TokenError::Refused("set one of client_secret and client_certificate".into()))
            }
            Credential::Certificate(path, loaded) => {
                if loaded.is_none() {
                    *loaded = Some(ClientCertificate::load(path).map_err(TokenError::Refused)?);
                }
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                let cert =
                    loaded.as_ref().ok_or_else(|| TokenError::Refused("client_certificate not loaded".into()))?;
                let assertion =
                    cert.assertion(&self.client_id, &self.url, now.as_secs()).map_err(TokenError::Refused)?;
                pairs.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
                pairs.push(("client_assertion", assertion));
            }
        }
        pairs.push(("scope", self.scope.clone()));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(form(&pairs))
    }

    /// The config key that holds the credential, for messages.
    fn credential_key(&self) -> &'static str {
        match self.credential {
            Credential::Secret(_) | Credential::Missing => "client_secret",
            Credential::Certificate(..) => "client_certificate",
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cached token while it is good, else a new one.
    pub async fn get(&mut self, http: &reqwest::Client) -> Result<Token, TokenError> {
        if let Some(t) = &self.cached {
            if Instant::now() < t.renew_at {
                return Ok(Token { fresh: false, ..t.clone() });
            }
        }
        let token = self.fetch(http).await?;
        self.cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token (the API refused it).
    pub fn invalidate(&mut self) {
        self.cached = None;
    }

    async fn fetch(&mut self, http: &reqwest::Client) -> Result<Token, TokenError> {
        let what = format!("POST {}", self.url);
        let form = self.form()?;
        let response = http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(format!("{what}: {}", chain(&e))))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| TokenError::Unavailable(format!("{what}: reading the answer: {}", chain(&e))))?;
        parse(status, &body, &what, Instant::now(), self.credential_key())
    }
}

/// The token endpoint's answer: a token, or an error for a person or for a retry.
/// `credential` names the key of the credential sent, for the hint.
pub(crate) fn parse(status: u16, body: &[u8], what: &str, now: Instant, credential: &str) -> Result<Token, TokenError> {
    #[derive(serde::Deserialize)]
    struct Granted {
        access_token: String,
        expires_in: serde_json::Value,
    }
    #[derive(serde::Deserialize, Default)]
    struct Refused {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
    }
    if status == 200 {
        let granted: Granted = serde_json::from_slice(body)
            .map_err(|e| TokenError::Unavailable(format!("{what}: HTTP 200 but no token in the answer: {e}")))?;
        // `expires_in` is a number of seconds, sent as a number (v2.0) or a string (v1.0).
        let seconds = match &granted.expires_in {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(0);
        let lifetime = Duration::from_secs(seconds);
        let early = (lifetime / 2).min(Duration::from_secs(300));
        return Ok(Token { value: granted.access_token, renew_at: now + lifetime - early, fresh: true });
    }
    let refused: Refused = serde_json::from_slice(body).unwrap_or_default();
    let mut message = format!("{what}: HTTP {status}");
    if !refused.error.is_empty() {
        message.push_str(&format!(": {}: {}", refused.error, refused.error_description.lines().next().unwrap_or("")));
    }
    if status == 429 || status >= 500 {
        return Err(TokenError::Unavailable(message));
    }
    let hint = match refused.error.as_str() {
        "invalid_client" if credential == "client_certificate" => {
            "check client_certificate: the certificate uploaded to the app registration, with its private key, not expired"
        }
        "invalid_client" => "check client_secret: it must be the secret's value, not its id, and not expired",
        "unauthorized_client" => "check client_id: no such application in this tenant",
        "invalid_scope" => "check scope: it must be the Azure Monitor resource with /.default",
        _ if refused.error_description.contains("AADSTS90002") || status == 404 => {
            "check tenant_id and authority_host: no such tenant there"
        }
        _ => "check tenant_id, client_id and client_secret",
    };
    Err(TokenError::Refused(format!("{message}; {hint}")))
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (n, (k, v)) in pairs.iter().enumerate() {
        if n > 0 {
            out.push('&');
        }
        encode(&mut out, k);
        out.push('=');
        encode(&mut out, v);
    }
    out
}

fn encode(out: &mut String, text: &str) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_url_encoded() {
        assert_eq!(
            form(&[("scope", "https://monitor.azure.com//.default"), ("client_secret", "a b+c~")]),
            "scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default&client_secret=a+b%2Bc%7E"
        );
    }

    #[test]
    fn a_token_is_renewed_before_it_lapses() {
        let now = Instant::now();
        let t =
            parse(200, br#"{"token_type":"Bearer","expires_in":3599,"access_token":"x"}"#, "w", now, "client_secret")
                .unwrap();
        assert_eq!((t.value.as_str(), t.renew_at), ("x", now + Duration::from_secs(3299)));
        let t = parse(200, br#"{"expires_in":"5","access_token":"y"}"#, "w", now, "client_secret").unwrap();
        assert_eq!(t.renew_at, now + Duration::from_millis(2500));
    }

    #[test]
    fn refusals_name_what_to_check() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"}"#;
        let Err(TokenError::Refused(m)) = parse(401, body, "POST u", Instant::now(), "client_secret") else { panic!() };
        assert_eq!(
            m,
            "POST u: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided.; check client_secret: \
             it must be the secret's value, not its id, and not expired"
        );
        let body = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#;
        let Err(TokenError::Refused(m)) = parse(400, body, "POST u", Instant::now(), "client_secret") else { panic!() };
        assert!(m.ends_with("check tenant_id and authority_host: no such tenant there"), "{m}");
        assert!(matches!(parse(503, b"", "POST u", Instant::now(), "client_secret"), Err(TokenError::Unavailable(_))));
    }
}
