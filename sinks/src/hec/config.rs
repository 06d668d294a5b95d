//! What a person chooses about a Splunk HEC sink: the `[[sink]]` keys of `type = "splunk_hec"`.
//!
//! Everything that can be checked without the network is checked while the config
//! loads (the URL's scheme, non-zero limits), so `auditbridge validate` names the key.

use crate::{Duration, Secret};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// Settings of one [`HecSink`](super::HecSink). Every key is documented in
/// `docs/splunk.md` and `config/auditbridge.example.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HecConfig {
    /// The collector's base URL, `https://splunk.corp.example:8088` (paths are added).
    #[serde(deserialize_with = "base_url")]
    pub url: String,
    /// The HEC token (a GUID), usually `${SPLUNK_HEC_TOKEN}` or `${file:/etc/…}`.
    pub token: Secret,
    /// `index`; absent = the token's default index.
    #[serde(default)]
    pub index: Option<String>,
    /// `source`; empty = the token's default.
    #[serde(default = "default_source")]
    pub source: String,
    /// `sourcetype`; default `netwrix`, the sourcetype of Netwrix's Splunk add-on. Empty =
    /// the token's default.
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// `host`; absent = each record's `Where`.
    #[serde(default)]
    pub host: Option<String>,
    /// At most this many events in one HTTP request.
    #[serde(default = "default_batch_events", deserialize_with = "at_least_one")]
    pub batch_events: usize,
    /// At most this many bytes of (uncompressed) envelopes in one HTTP request; a single
    /// larger event goes alone.
    #[serde(default = "default_batch_bytes", deserialize_with = "at_least_one")]
    pub batch_bytes: usize,
    /// Compress request bodies with gzip (`Content-Encoding: gzip`).
    #[serde(default = "default_true")]
    pub gzip: bool,
    /// Indexer acknowledgement: a batch counts as delivered only once Splunk reports it
    /// indexed. The token must have "Enable indexer acknowledgement" on.
    #[serde(default)]
    pub ack: bool,
    /// The longest wait between two acknowledgement polls (polls start fast and slow down).
    #[serde(default = "default_ack_poll_interval")]
    pub ack_poll_interval: Duration,
    /// A request not acknowledged this long after it was accepted is sent again.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout: Duration,
    /// Whole-request timeout of each HTTP request.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How the sink trusts the collector's certificate.
    #[serde(default)]
    pub tls: HecTls,
}

/// `[sink.tls]` of a HEC sink.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HecTls {
    /// A PEM file of CA certificates to trust instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The SHA-256 fingerprint of the collector's own certificate (hex, colons allowed):
    /// only that certificate is accepted, whatever its name, issuer or dates. For
    /// Splunk's default certificate, which is not issued to the host's name.
    #[serde(default, alias = "fingerprint_sha256")]
    pub fingerprint: Option<String>,
    /// Accept any certificate. Logs a warning at every start.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl HecConfig {
    /// A config for `url` and `token` with every default (ack off).
    pub fn new(url: impl Into<String>, token: Secret) -> Self {
        HecConfig {
            url: url.into(),
            token,
            index: None,
            source: default_source(),
            sourcetype: default_sourcetype(),
            host: None,
            batch_events: default_batch_events(),
            batch_bytes: default_batch_bytes(),
            gzip: true,
            ack: false,
            ack_poll_interval: default_ack_poll_interval(),
            ack_timeout: default_ack_timeout(),
            timeout: default_timeout(),
            tls: HecTls::default(),
        }
    }
}

fn default_source() -> String {
    "auditbridge".into()
}
fn default_sourcetype() -> String {
    "netwrix".into()
}
fn default_batch_events() -> usize {
    500
}
fn default_batch_bytes() -> usize {
    1 << 20
}
fn default_true() -> bool {
    true
}
fn default_ack_poll_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_ack_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// An `http://` or `https://` URL with a host, without a trailing `/`.
fn base_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| serde::de::Error::custom(format!("invalid URL {text:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(serde::de::Error::custom(format!(
            "invalid URL {text:?}: write it like \"https://splunk.example.com:8088\""
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

impl crate::SinkType for HecConfig {
    fn build(&self, context: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(super::HecSink::new(context.name, self.clone()))
    }

    fn describe(&self) -> String {
        format!(
            " -> {} (index {}, sourcetype {}, ack {})",
            self.url,
            self.index.as_deref().unwrap_or("the token's default"),
            self.sourcetype,
            if self.ack { "on" } else { "off" }
        )
    }
}
