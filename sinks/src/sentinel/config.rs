//! What a person chooses about a Sentinel sink: the `[[sink]]` keys of `type = "sentinel"`.
//! Every key is documented in `config/sentinel.toml` and docs/sentinel.md.

use crate::hec::HecTls;
use crate::{Duration, Secret};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// The Logs Ingestion API's limit on one call, which every request stays under.
pub const MAX_CALL_BYTES: usize = 1 << 20;

/// Settings of one [`SentinelSink`](super::SentinelSink): its [keys](SentinelKeys), checked
/// together (exactly one credential) while the config loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "SentinelKeys")]
pub struct SentinelConfig(SentinelKeys);

impl TryFrom<SentinelKeys> for SentinelConfig {
    type Error = String;

    fn try_from(keys: SentinelKeys) -> Result<Self, String> {
        match (&keys.client_secret, &keys.client_certificate) {
            (Some(_), None) | (None, Some(_)) => Ok(SentinelConfig(keys)),
            _ => Err("set one of client_secret and client_certificate (the app's credential)".into()),
        }
    }
}

impl std::ops::Deref for SentinelConfig {
    type Target = SentinelKeys;

    fn deref(&self) -> &SentinelKeys {
        &self.0
    }
}

/// The `[[sink]]` keys of `type = "sentinel"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelKeys {
    /// The data collection endpoint's (or the DCR's own) logs ingestion URL,
    /// `https://my-dce-a1b2.westeurope-1.ingest.monitor.azure.com`.
    #[serde(deserialize_with = "https_base")]
    pub endpoint: String,
    /// The DCR's immutable id, `dcr-…` (its JSON view, or `az monitor data-collection rule show`).
    pub dcr_immutable_id: String,
    /// The DCR's input stream, `Custom-NetwrixAuditor_CL` in `config/sentinel/dcr.json`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// The Entra ID tenant (directory) id of the app registration.
    pub tenant_id: String,
    /// The app registration's application (client) id.
    pub client_id: String,
    /// The app's client secret, usually `${SENTINEL_CLIENT_SECRET}` or `${file:/etc/…}`.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// Or a PEM file holding the certificate registered with the app and its RSA private key:
    /// the sink then signs a client assertion instead of sending a secret.
    #[serde(default)]
    pub client_certificate: Option<PathBuf>,
    /// Where tokens come from: `{authority_host}/{tenant_id}/oauth2/v2.0/token`. Another
    /// cloud's host for a sovereign cloud (`https://login.microsoftonline.us`).
    #[serde(default = "default_authority_host", deserialize_with = "https_base")]
    pub authority_host: String,
    /// The token's scope (`https://monitor.azure.us//.default` in Azure Government).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// At most this many bytes of (uncompressed) JSON in one call; at most 1 MiB, the API's limit.
    #[serde(default = "default_max_request_bytes", deserialize_with = "request_bytes")]
    pub max_request_bytes: usize,
    /// Whole-request timeout of each HTTP request (token requests too).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How long a batch may keep being throttled (429 or 503 with `Retry-After`, each wait
    /// as long as the API asks) before the sink reports the failure and the pipeline's
    /// retry takes over.
    #[serde(default = "default_max_throttle")]
    pub max_throttle: Duration,
    /// How the sink trusts the endpoint's and the authority's certificates: the same keys
    /// as the HEC sink's (`ca_file`, `fingerprint`, `insecure_skip_verify`).
    #[serde(default)]
    pub tls: HecTls,
}

impl SentinelKeys {
    /// The ingestion URL of this sink's DCR and stream.
    pub fn ingestion_url(&self) -> String {
        format!(
            "{}/dataCollectionRules/{}/streams/{}?api-version=2023-01-01",
            self.endpoint, self.dcr_immutable_id, self.stream
        )
    }

    /// Where tokens are asked for.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority_host, self.tenant_id)
    }
}

fn default_stream() -> String {
    "Custom-NetwrixAuditor_CL".into()
}
fn default_authority_host() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_scope() -> String {
    "https://monitor.azure.com//.default".into()
}
fn default_max_request_bytes() -> usize {
    1_000_000
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_throttle() -> Duration {
    Duration::from_secs(600)
}

/// An `https://` URL (or `http://`, for a local stand-in) with a host, without a trailing `/`.
fn https_base<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| serde::de::Error::custom(format!("invalid URL {text:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.query().is_some() {
        return Err(serde::de::Error::custom(format!(
            "invalid URL {text:?}: write it like \"https://my-dce.westeurope-1.ingest.monitor.azure.com\""
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn request_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if !(16 << 10..=MAX_CALL_BYTES).contains(&n) {
        return Err(serde::de::Error::custom(format!(
            "must be between 16384 and {MAX_CALL_BYTES} (the Logs Ingestion API takes at most 1 MiB a call)"
        )));
    }
    Ok(n)
}

impl crate::SinkType for SentinelConfig {
    fn build(&self, context: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(super::SentinelSink::new(context.name, self.clone()))
    }

    fn describe(&self) -> String {
        format!(
            " -> {} (DCR {}, stream {}, tenant {})",
            self.endpoint, self.dcr_immutable_id, self.stream, self.tenant_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SentinelConfig, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    const MIN: &str = r#""endpoint":"https://dce.example/","dcr_immutable_id":"dcr-1","tenant_id":"t","client_id":"c","client_secret":"s""#;

    #[test]
    fn defaults_and_urls() {
        let c = parse(&format!("{{{MIN}}}")).unwrap();
        assert_eq!(c.stream, "Custom-NetwrixAuditor_CL");
        assert_eq!(c.scope, "https://monitor.azure.com//.default");
        assert_eq!(c.max_request_bytes, 1_000_000);
        assert_eq!(
            c.ingestion_url(),
            "https://dce.example/dataCollectionRules/dcr-1/streams/Custom-NetwrixAuditor_CL?api-version=2023-01-01"
        );
        assert_eq!(c.token_url(), "https://login.microsoftonline.com/t/oauth2/v2.0/token");
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse(&format!(r#"{{{MIN},"max_request_bytes":2000000}}"#)).unwrap_err();
        assert!(e.contains("at most 1 MiB"), "{e}");
        let e = parse(&format!(r#"{{{MIN},"authority_host":"login.example"}}"#)).unwrap_err();
        assert!(e.contains("invalid URL"), "{e}");
        let e = parse(&format!(r#"{{{MIN},"colour":"red"}}"#)).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        let e =
            parse(r#"{"endpoint":"https://d","dcr_immutable_id":"x","tenant_id":"t","client_id":"c"}"#).unwrap_err();
        assert!(e.contains("client_secret"), "{e}");
    }
}
