//! The HTTP side of the HEC sink: one keep-alive client that posts bodies it is given,
//! polls acknowledgements and asks for health. It knows nothing of envelopes or batches;
//! it returns the status and body of each answer, or why there was none.

use super::config::HecConfig;
use super::tls;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use std::time::Duration;

/// The largest answer body read; Splunk's are a few dozen bytes.
const MAX_REPLY: usize = 64 << 10;

/// A status and (the start of) a body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One collector, one channel.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    event_url: String,
    ack_url: String,
    health_url: String,
}

impl Transport {
    /// Builds the client; fails (for a person to fix) on an unusable TLS setting or token.
    pub fn new(config: &HecConfig, channel: &str) -> Result<Transport, String> {
        let https = config.url.starts_with("https:");
        let tls = tls::client_config(tls::Trust::of(&config.tls, https)?)?;
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Splunk {}", config.token.expose()))
            .map_err(|_| "the token holds characters an HTTP header cannot carry".to_owned())?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers
            .insert("X-Splunk-Request-Channel", HeaderValue::from_str(channel).map_err(|_| "bad channel".to_owned())?);
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(Duration::from_secs(10).min(config.timeout.0))
            .timeout(config.timeout.0)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .user_agent(concat!("auditbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let base = &config.url;
        Ok(Transport {
            http,
            event_url: format!("{base}/services/collector/event"),
            ack_url: format!("{base}/services/collector/ack?channel={channel}"),
            health_url: format!("{base}/services/collector/health"),
        })
    }

    /// What [`post_events`](Self::post_events) posts to, for messages.
    pub fn event_url(&self) -> &str {
        &self.event_url
    }
    pub fn ack_url(&self) -> &str {
        &self.ack_url
    }
    pub fn health_url(&self) -> &str {
        &self.health_url
    }

    /// `POST /services/collector/event` with `body` (already gzipped when `gzip`).
    pub async fn post_events(&self, body: Vec<u8>, gzip: bool) -> Result<Answer, String> {
        let mut request = self.http.post(&self.event_url).header(CONTENT_TYPE, "application/json");
        if gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        send(request.body(body), &self.event_url).await
    }

    /// `POST /services/collector/ack?channel=…` with `{"acks":[…]}`.
    pub async fn poll_acks(&self, ids: &[u64]) -> Result<Answer, String> {
        let body = serde_json::json!({ "acks": ids }).to_string();
        let request = self.http.post(&self.ack_url).header(CONTENT_TYPE, "application/json").body(body);
        send(request, &self.ack_url).await
    }

    /// `GET /services/collector/health`.
    pub async fn health(&self) -> Result<Answer, String> {
        send(self.http.get(&self.health_url), &self.health_url).await
    }
}

/// Sends and reads the answer (at most [`MAX_REPLY`] bytes of it).
async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<Answer, String> {
    let mut response = request.send().await.map_err(|e| format!("{url}: {}", chain(&e)))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_REPLY - body.len())]);
                if body.len() >= MAX_REPLY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(format!("{url}: reading the answer to HTTP {status}: {}", chain(&e))),
        }
    }
    Ok(Answer { status, body })
}

/// An error and its causes on one line ("error sending request: connection refused"); a
/// pinned certificate that did not match says so with both fingerprints.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(mismatch) = netwrix::client::trust::find_mismatch(e) {
        return format!("TLS handshake failed: {mismatch}");
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
