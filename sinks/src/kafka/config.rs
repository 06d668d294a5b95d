//! What a person chooses about a Kafka sink (`type = "kafka"`), and how those choices
//! become librdkafka properties.
//!
//! The reliability settings (`enable.idempotence`, `acks=all`, no message timeout) are
//! the sink's own and cannot be overridden: the exactly-once promise rests on them. Anything else librdkafka knows can be passed through the
//! `[sink.librdkafka]` table.

use super::topic::TopicTemplate;
use crate::format::cef::CefOptions;
use crate::format::leef::LeefOptions;
use crate::format::{Encoder, Format};
use crate::{Duration, Secret};
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Settings of one [`KafkaSink`](super::KafkaSink).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Keys")]
pub struct KafkaSinkConfig {
    /// Bootstrap brokers, `host:port` each (librdkafka's `bootstrap.servers`).
    pub brokers: Vec<String>,
    /// The topic: fixed (`netwrix-audit`) or a template filled from each record
    /// (`netwrix.{DataSource}`); see [`TopicTemplate`].
    pub topic: TopicTemplate,
    /// How a record becomes the message value: `json` (default), `cef` or `leef`, with
    /// the options of the `[sink.cef]` / `[sink.leef]` table.
    pub encoder: Encoder,
    /// Compression of produced batches.
    pub compression: Compression,
    /// How long one delivery waits for the broker's acknowledgements before it reports
    /// the batch as not yet delivered and is retried. The messages stay queued in the
    /// producer meanwhile (they never time out), so a retry waits for them rather than
    /// sending them again.
    pub ack_timeout: Duration,
    /// TLS to the brokers; present = on.
    pub tls: Option<KafkaTlsConfig>,
    /// SASL authentication; present = on.
    pub sasl: Option<KafkaSaslConfig>,
    /// Any other librdkafka property, passed as it is (values may be strings, numbers or
    /// booleans, and may use `${VAR}` / `${file:PATH}` like every secret). Properties the
    /// sink sets itself from the keys above, or for its guarantees, are refused.
    pub librdkafka: Passthrough,
}

/// The keys as written; checked together into a [`KafkaSinkConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    brokers: Vec<String>,
    topic: TopicTemplate,
    #[serde(default)]
    format: Format,
    cef: Option<CefOptions>,
    leef: Option<LeefOptions>,
    #[serde(default)]
    compression: Compression,
    #[serde(default = "default_ack_timeout")]
    ack_timeout: Duration,
    tls: Option<KafkaTlsConfig>,
    sasl: Option<KafkaSaslConfig>,
    #[serde(default)]
    librdkafka: Passthrough,
}

impl TryFrom<Keys> for KafkaSinkConfig {
    type Error = String;

    fn try_from(k: Keys) -> Result<Self, String> {
        if let Some(misfit) = k.format.misfit(k.cef.is_some(), k.leef.is_some()) {
            return Err(misfit);
        }
        if k.brokers.is_empty() || k.brokers.iter().any(|b| b.trim().is_empty()) {
            return Err("brokers: list at least one broker as \"host:port\"".into());
        }
        if k.ack_timeout.0.is_zero() {
            return Err("ack_timeout must be more than 0".into());
        }
        let config = KafkaSinkConfig {
            brokers: k.brokers,
            topic: k.topic,
            encoder: Encoder::new(k.format, k.cef.as_ref(), k.leef.as_ref()),
            compression: k.compression,
            ack_timeout: k.ack_timeout,
            tls: k.tls,
            sasl: k.sasl,
            librdkafka: k.librdkafka,
        };
        // librdkafka checks every property's name and value here, without connecting.
        config.producer().create_native_config().map_err(|e| describe(&e))?;
        Ok(config)
    }
}

/// A librdkafka error in words, never showing a property's value (it may be a secret).
pub fn describe(e: &KafkaError) -> String {
    match e {
        KafkaError::ClientConfig(_, desc, key, _) => format!("librdkafka refused property {key:?}: {desc}"),
        other => other.to_string(),
    }
}

fn default_ack_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Batch compression (librdkafka's `compression.type`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// `[sink.tls]`: TLS to the brokers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTlsConfig {
    /// PEM file of the CA certificates that sign the brokers' certificates. Absent: the
    /// system's CA store (librdkafka's `ssl.ca.location = probe`).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that require one (mutual TLS).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Password of an encrypted `key_file`.
    pub key_password: Option<Secret>,
    /// Check that the broker's certificate names the host connected to (default true).
    #[serde(default = "default_true")]
    pub verify_hostname: bool,
}

fn default_true() -> bool {
    true
}

/// `[sink.sasl]`: SASL authentication.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSaslConfig {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

/// The SASL mechanisms the sink supports.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum SaslMechanism {
    #[serde(rename = "plain", alias = "PLAIN")]
    Plain,
    #[serde(rename = "scram-sha-256", alias = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "scram-sha-512", alias = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// librdkafka properties that a config key or the sink's guarantees set; the
/// `[sink.librdkafka]` table may not override them.
const OWNED: &[(&str, &str)] = &[
    ("bootstrap.servers", "use `brokers`"),
    ("metadata.broker.list", "use `brokers`"),
    ("enable.idempotence", "the sink always produces idempotently"),
    ("acks", "the sink always uses acks=all"),
    ("request.required.acks", "the sink always uses acks=all"),
    ("message.timeout.ms", "the sink never lets a message time out (see `ack_timeout`)"),
    ("delivery.timeout.ms", "the sink never lets a message time out (see `ack_timeout`)"),
    ("transactional.id", "the sink does not use transactions"),
    ("compression.type", "use `compression`"),
    ("compression.codec", "use `compression`"),
    ("security.protocol", "set by `[sink.tls]` and `[sink.sasl]`"),
    ("sasl.mechanism", "use `[sink.sasl]`"),
    ("sasl.mechanisms", "use `[sink.sasl]`"),
    ("sasl.username", "use `[sink.sasl]`"),
    ("sasl.password", "use `[sink.sasl]`"),
    ("ssl.ca.location", "use `[sink.tls]`"),
    ("ssl.certificate.location", "use `[sink.tls]`"),
    ("ssl.key.location", "use `[sink.tls]`"),
    ("ssl.key.password", "use `[sink.tls]`"),
    ("ssl.endpoint.identification.algorithm", "use `[sink.tls] verify_hostname`"),
];

/// The `[sink.librdkafka]` table: property name → value. Values are [`Secret`]s, so
/// printing the config never shows them.
#[derive(Debug, Clone, Default)]
pub struct Passthrough(pub BTreeMap<String, Secret>);

impl<'de> Deserialize<'de> for Passthrough {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A TOML value librdkafka can take: every property is a string to it.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Value {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        let raw = BTreeMap::<String, Value>::deserialize(d)?;
        let mut out = BTreeMap::new();
        for (key, value) in raw {
            if let Some((_, why)) = OWNED.iter().find(|(owned, _)| *owned == key) {
                return Err(serde::de::Error::custom(format!(
                    "librdkafka property {key:?} cannot be set in [sink.librdkafka]: {why}"
                )));
            }
            let secret = match value {
                Value::Text(s) => Secret::resolve(&s)
                    .map_err(|e| serde::de::Error::custom(format!("librdkafka property {key:?}: {e}")))?,
                Value::Int(i) => Secret::resolve(&i.to_string()).map_err(serde::de::Error::custom)?,
                Value::Float(x) => Secret::resolve(&x.to_string()).map_err(serde::de::Error::custom)?,
                Value::Bool(b) => Secret::resolve(&b.to_string()).map_err(serde::de::Error::custom)?,
            };
            out.insert(key, secret);
        }
        Ok(Passthrough(out))
    }
}

impl KafkaSinkConfig {
    /// A config for `brokers` and `topic` with every default (JSON, no compression, no TLS,
    /// no SASL).
    pub fn new(brokers: impl Into<String>, topic: TopicTemplate) -> Self {
        Self {
            brokers: vec![brokers.into()],
            topic,
            encoder: Encoder::Json,
            compression: Compression::None,
            ack_timeout: default_ack_timeout(),
            tls: None,
            sasl: None,
            librdkafka: Passthrough::default(),
        }
    }

    /// The connection properties shared by the producer and the consumer that reads the
    /// partitions' tails: brokers, TLS, SASL and the pass-through table.
    pub fn connection(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.brokers.join(","));
        c.set("client.id", "auditbridge");
        let protocol = match (&self.tls, &self.sasl) {
            (None, None) => "plaintext",
            (Some(_), None) => "ssl",
            (None, Some(_)) => "sasl_plaintext",
            (Some(_), Some(_)) => "sasl_ssl",
        };
        c.set("security.protocol", protocol);
        if let Some(tls) = &self.tls {
            // The vendored OpenSSL has no default CA directory of its own.
            let ca = tls.ca_file.as_ref().map_or_else(|| "probe".to_owned(), |p| p.display().to_string());
            c.set("ssl.ca.location", ca);
            if let Some(cert) = &tls.cert_file {
                c.set("ssl.certificate.location", cert.display().to_string());
            }
            if let Some(key) = &tls.key_file {
                c.set("ssl.key.location", key.display().to_string());
            }
            if let Some(pw) = &tls.key_password {
                c.set("ssl.key.password", pw.expose());
            }
            c.set("ssl.endpoint.identification.algorithm", if tls.verify_hostname { "https" } else { "none" });
        }
        if let Some(sasl) = &self.sasl {
            c.set("sasl.mechanism", sasl.mechanism.as_str());
            c.set("sasl.username", &sasl.username);
            c.set("sasl.password", sasl.password.expose());
        }
        for (key, value) in &self.librdkafka.0 {
            c.set(key, value.expose());
        }
        c
    }

    /// The producer's properties: the connection, then the reliability settings the
    /// exactly-once promise rests on.
    pub fn producer(&self) -> ClientConfig {
        let mut c = self.connection();
        c.set("enable.idempotence", "true");
        c.set("acks", "all");
        // Never give up on a message: a retry waits for it instead of sending it again.
        c.set("message.timeout.ms", "0");
        c.set("compression.type", self.compression.as_str());
        c
    }
}

impl crate::SinkType for KafkaSinkConfig {
    fn build(&self, _: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(super::KafkaSink::new(self.clone()))
    }

    fn describe(&self) -> String {
        format!(" -> {} topic {} ({})", self.brokers.join(","), self.topic, self.encoder.format().name())
    }
}
