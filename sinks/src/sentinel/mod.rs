//! The Microsoft Sentinel sink: the Azure Monitor Logs Ingestion API, direct, with no
//! forwarder (docs/sentinel.md).
//!
//! A batch is encoded once into table rows ([`format::sentinel`](crate::format::sentinel)),
//! cut into calls of at most `max_request_bytes` of JSON (1 MB at most, the API's limit;
//! every value is cut to 64 KB first, so a row always fits in a call), each a JSON array,
//! gzipped, and posted to
//! `{endpoint}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version=2023-01-01`
//! with `Authorization: Bearer` and an Entra ID token ([`token`]).
//!
//! `deliver` returns once every call of the batch was answered 204. Where each call stands
//! outlives a failed `deliver` (the HEC sink's `progress`), so the pipeline's retry sends only
//! the calls not yet taken: a failure repeats nothing the API acknowledged. The answers
//! ([`answer`]): 413 cuts the call in two; 429 and 503 with `Retry-After` are waited out here,
//! as long as told, for up to `max_throttle`; 401 renews the token once; 403, 404 and 400 stop
//! this sink only, with what to check, in the log and in `status`.
//!
//! The API has no de-duplication: a batch in flight at a crash is sent again at the next start,
//! its rows with the same `AuditbridgeId`, which a query can drop (docs/sentinel.md).

mod answer;
mod cert;
mod config;
pub mod receiver;
#[cfg(test)]
mod tests;
mod token;

pub use config::{SentinelConfig, SentinelKeys, MAX_CALL_BYTES};

use crate::format::sentinel as rows;
use crate::hec::progress::{BatchKey, Progress};
use crate::hec::request::{self, Encoded};
use crate::hec::tls;
use crate::hec::transport::chain;
use crate::{Event, Sink, SinkError};
use answer::{classify, Outcome};
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use std::time::{Duration, Instant};
use token::{TokenError, TokenSource};

/// Added to each `Retry-After` wait.
const RETRY_AFTER_MARGIN: Duration = Duration::from_millis(20);

/// Delivers events to a Log Analytics table through a DCR; see the [module documentation](self).
pub struct SentinelSink {
    name: String,
    config: SentinelConfig,
    url: String,
    http: Option<reqwest::Client>,
    tokens: TokenSource,
    /// The batch of a failed `deliver`, encoded, with the calls already taken.
    flight: Option<InFlight>,
    /// The row buffer of a delivered batch, kept for the next one.
    spare: Option<Encoded>,
}

struct InFlight {
    encoded: Encoded,
    progress: Progress,
}

impl SentinelSink {
    /// A sink named `name` (for its log lines). Nothing is contacted yet.
    pub fn new(name: impl Into<String>, config: SentinelConfig) -> SentinelSink {
        SentinelSink {
            name: name.into(),
            url: config.ingestion_url(),
            tokens: TokenSource::new(&config),
            config,
            http: None,
            flight: None,
            spare: None,
        }
    }

    fn http(&mut self) -> Result<reqwest::Client, SinkError> {
        if let Some(h) = &self.http {
            return Ok(h.clone());
        }
        let c = &self.config;
        let https = c.endpoint.starts_with("https:") || c.authority_host.starts_with("https:");
        let fatal = |e: String| SinkError::fatal(format!("sentinel {}", c.endpoint)).caused_by(e);
        let tls = tls::client_config(tls::Trust::of(&c.tls, https).map_err(fatal)?).map_err(fatal)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(Duration::from_secs(10).min(c.timeout.0))
            .timeout(c.timeout.0)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("auditbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fatal(format!("cannot build the HTTP client: {e}")))?;
        self.http = Some(http.clone());
        Ok(http)
    }

    async fn token(&mut self, http: &reqwest::Client) -> Result<token::Token, SinkError> {
        self.tokens.get(http).await.map_err(|e| match e {
            TokenError::Unavailable(m) => SinkError::transient(m),
            TokenError::Refused(m) => SinkError::fatal(m),
        })
    }

    /// The state of `batch`: the failed one kept if it is the same, else encoded now.
    fn in_flight(&mut self, batch: &[Event]) -> InFlight {
        let key = BatchKey::of(batch);
        if let Some(flight) = self.flight.take().filter(|f| f.progress.matches(&key)) {
            return flight;
        }
        let max_value = rows::value_limit(self.config.max_request_bytes - 2);
        let mut encoded = self.spare.take().unwrap_or_default();
        encoded.encode_with(batch, b',', |event, out| rows::encode(event, max_value, out));
        // A call is `[`, the rows with their commas less the last, and `]`: one byte more.
        let parts = encoded.plan(0..batch.len(), usize::MAX, self.config.max_request_bytes - 1);
        InFlight { encoded, progress: Progress::new(key, parts) }
    }

    /// Sends every call of the batch not yet taken.
    async fn drive(&mut self, http: &reqwest::Client, flight: &mut InFlight, batch: &[Event]) -> Result<(), SinkError> {
        let what = format!("POST {}", self.url);
        let mut throttled_since: Option<Instant> = None;
        while let Some(part) = flight.progress.next_unsent() {
            let range = flight.progress.range(part);
            let rows = flight.encoded.slice(range.clone());
            let mut json = Vec::with_capacity(rows.len() + 1);
            json.push(b'[');
            json.extend_from_slice(&rows[..rows.len() - 1]);
            json.push(b']');
            let body = request::body(&json, true);
            let token = self.token(http).await?;
            let response = http
                .post(&self.url)
                .header(AUTHORIZATION, format!("Bearer {}", token.value))
                .header(CONTENT_TYPE, "application/json")
                .header(CONTENT_ENCODING, "gzip")
                .body(body)
                .send()
                .await
                .map_err(|e| SinkError::transient(format!("{what}: {}", chain(&e))))?;
            let status = response.status().as_u16();
            let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let reply = response.bytes().await.unwrap_or_default();
            match classify(status, retry_after.as_deref(), &reply, &what) {
                Outcome::Accepted => {
                    flight.progress.accepted(part, None, Instant::now());
                    throttled_since = None;
                }
                Outcome::TooLarge(message) => {
                    if !flight.progress.split(part) {
                        let bad = &batch[range.start];
                        return Err(SinkError::fatal(format!(
                            "{message}: the row of record {} (seq {}) alone is {} bytes; lower max_request_bytes",
                            bad.id,
                            bad.seq,
                            json.len()
                        )));
                    }
                    tracing::warn!(sink = %self.name, "{message}: sending the {} rows in two calls", range.len());
                }
                Outcome::Throttled { wait, message } => {
                    let since = *throttled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() + wait > self.config.max_throttle.0 {
                        return Err(SinkError::transient(format!(
                            "{message} (throttled for {}s; the pipeline retries)",
                            since.elapsed().as_secs()
                        )));
                    }
                    tracing::warn!(sink = %self.name, "{message}: waiting {}s as Retry-After asks", wait.as_secs());
                    // A little over: the timer may fire up to a millisecond early, and the
                    // service counts from when it answered.
                    tokio::time::sleep(wait + RETRY_AFTER_MARGIN).await;
                }
                Outcome::Unauthorized(message) if token.fresh => {
                    return Err(SinkError::fatal(answer::unauthorized_hint(&message)))
                }
                Outcome::Unauthorized(message) => {
                    tracing::info!(sink = %self.name, "{message}: asking {} for a new token", self.tokens.url());
                    self.tokens.invalidate();
                }
                Outcome::Retry(message) => return Err(SinkError::transient(message)),
                Outcome::Fatal(message) => return Err(SinkError::fatal(message)),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for SentinelSink {
    async fn open(&mut self, _committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        if self.config.tls.insecure_skip_verify {
            tracing::warn!(
                sink = %self.name,
                "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read the \
                 token and the records; set tls.ca_file instead"
            );
        }
        let http = self.http()?;
        self.token(&http).await?;
        tracing::info!(sink = %self.name, "{}: token obtained from {}", self.url, self.tokens.url());
        Ok(None)
    }

    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        let http = self.http()?;
        let mut flight = self.in_flight(batch);
        let delivered = self.drive(&http, &mut flight, batch).await;
        match delivered {
            Ok(()) => {
                flight.encoded.release();
                self.spare = Some(flight.encoded);
            }
            Err(_) => self.flight = Some(flight),
        }
        delivered.map(|()| None)
    }

    async fn check(&mut self) -> Result<String, SinkError> {
        let http = self.http()?;
        self.token(&http).await?;
        Ok(format!(
            "a token for {} was granted by {} (the DCR's role assignment shows only when data is sent)",
            self.config.scope,
            self.tokens.url()
        ))
    }
}
