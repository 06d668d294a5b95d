//! The Splunk HTTP Event Collector sink (formats.md §4), with indexer acknowledgement.
//!
//! A batch from the pipeline is encoded once ([envelopes](crate::format::hec)), cut into
//! requests of at most `batch_events` events and `batch_bytes` bytes, gzipped, and posted
//! to `/services/collector/event` with `Authorization: Splunk <token>` and this sink's
//! channel (a random GUID per sink instance, `X-Splunk-Request-Channel`).
//!
//! `deliver` returns only when every event of the batch is accepted (`ack = false`: a 200)
//! or indexed (`ack = true`: each request's `ackId` reported `true` by
//! `/services/collector/ack`, polled fast at first and then every `ack_poll_interval`).
//! An ack not reported within `ack_timeout` is given up and its request sent again on the
//! same channel (Splunk forgets acks of data it lost), so a lost ack repeats one request.
//!
//! **Two batches at once** (with `ack = true`): the sink is [pipelined](crate::Sink::pipelined),
//! so the pipeline [submits](crate::Sink::submit) the next batch (encoded and posted) before
//! it [settles](crate::Sink::settle) the previous one, waiting for its acks; one ack poll asks for both
//! batches' ids. A busy indexer that takes a second to acknowledge then costs a second per
//! two batches, not per batch. The cursor still moves one acknowledged batch at a time.
//!
//! Answers (§4.4): 408, 429, 500, 502, 503, 504 and connection errors are transient: the
//! pipeline retries with backoff, and the sink resumes the batch where it stood (see
//! `progress`), so accepted requests are not sent again. `invalid-event-number` means
//! the events before it are indexed: the sink sends again from that event on; the same
//! event refused three times in a row stops the sink, naming the record. 413 halves the
//! request (and the sink sends smaller requests from then on). Every other 4xx is fatal
//! for this sink, with Splunk's code, text and what to do, in the log and in `status`.
//!
//! `open` (every start) and [`check`](crate::Sink::check) ask `/services/collector/health`,
//! then prove the token with an empty `POST` (Splunk checks the token first and answers
//! "No data", code 5, to a good one), and with `ack = true` poll an empty ack list, which a
//! token without acknowledgement refuses (code 14). Nothing is indexed by any of this.

mod config;
// Shared with the Sentinel sink (`crate::sentinel`): per-batch progress, request bodies,
// TLS trust, error chains.
pub(crate) mod progress;
pub mod receiver;
pub(crate) mod request;
mod response;
#[cfg(test)]
mod tests;
pub(crate) mod tls;
pub(crate) mod transport;

pub use config::{HecConfig, HecTls};

use crate::format::hec::Meta;
use crate::{Event, Sink, SinkError, Ticket};
use async_trait::async_trait;
use progress::{BatchKey, Progress};
use request::Encoded;
use response::{classify_event, classify_failure, EventOutcome, Failure, Reply};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use transport::Transport;

/// The wait before the second poll for acks (the first goes right after the batch is
/// accepted); it doubles up to `ack_poll_interval`. Short, because the sink waits for
/// these acks before taking its next batch: an indexer that acknowledges at once (a
/// lightly loaded one) then costs no wait at all, and one a little later a few ms a
/// batch, not tens. Polling costs one small request.
const FIRST_POLL: Duration = Duration::from_millis(4);

/// How many times in a row Splunk may refuse the same event before the sink stops.
const MAX_REFUSALS: u32 = 3;

/// Delivers events to a Splunk HEC; see the [module documentation](self).
pub struct HecSink {
    name: String,
    config: HecConfig,
    /// This instance's data channel (a random GUID).
    channel: String,
    transport: Option<Arc<Transport>>,
    /// The batches handed over and not yet delivered, in spool order: the one `deliver`
    /// works on and, with `ack`, the one [submitted](Sink::submit) after it.
    batches: VecDeque<InFlight>,
    /// An envelope buffer of a delivered batch, kept for the next one.
    spare: Option<Encoded>,
    /// Lowered after a 413: the most events a request has been accepted with.
    max_events: usize,
}

/// One batch on its way: its envelopes, encoded once, and where each request stands.
struct InFlight {
    encoded: Encoded,
    progress: Progress,
}

impl HecSink {
    /// A sink named `name` (for its log lines) with `config`. Nothing is contacted yet.
    pub fn new(name: impl Into<String>, config: HecConfig) -> HecSink {
        let max_events = config.batch_events;
        HecSink {
            name: name.into(),
            config,
            channel: uuid::Uuid::new_v4().to_string(),
            transport: None,
            batches: VecDeque::new(),
            spare: None,
            max_events,
        }
    }

    /// This instance's data channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    fn transport(&mut self) -> Result<Arc<Transport>, SinkError> {
        if let Some(t) = &self.transport {
            return Ok(t.clone());
        }
        let t = Arc::new(
            Transport::new(&self.config, &self.channel)
                .map_err(|e| SinkError::fatal(format!("splunk_hec {}", self.config.url)).caused_by(e))?,
        );
        self.transport = Some(t.clone());
        Ok(t)
    }

    /// Health, token and (with `ack`) acknowledgement, without indexing anything.
    async fn probe(&self, t: &Transport) -> Result<String, SinkError> {
        let health = t.health().await.map_err(SinkError::transient)?;
        let mut said = match health.status {
            200 => "HEC is healthy".to_owned(),
            404 => "no health endpoint (404), going on".to_owned(),
            status => {
                let what = format!("GET {}", t.health_url());
                return Err(failure(classify_failure(status, &Reply::parse(&health.body), &what)));
            }
        };
        let token = t.post_events(Vec::new(), false).await.map_err(SinkError::transient)?;
        let reply = Reply::parse(&token.body);
        match (token.status, reply.code) {
            (200..=299, _) | (400, Some(5)) => said.push_str(", the token is accepted"),
            (status, _) => {
                let what = format!("POST {} (token check, no data)", t.event_url());
                return Err(failure(classify_failure(status, &reply, &what)));
            }
        }
        if self.config.ack {
            let ack = t.poll_acks(&[]).await.map_err(SinkError::transient)?;
            if ack.status != 200 {
                let what = format!("POST {} (acknowledgement check)", t.ack_url());
                return Err(failure(classify_failure(ack.status, &Reply::parse(&ack.body), &what)));
            }
            said.push_str(", indexer acknowledgement is on");
        }
        Ok(said)
    }

    /// Sends every request of the batch not yet accepted.
    async fn send_unsent(&mut self, t: &Transport, flight: &mut InFlight, batch: &[Event]) -> Result<(), SinkError> {
        let what = format!("POST {}", t.event_url());
        let gzip = self.config.gzip;
        while let Some(part) = flight.progress.next_unsent() {
            let progress = &mut flight.progress;
            let range = progress.range(part);
            let body = request::body(flight.encoded.slice(range.clone()), gzip);
            let answer = t.post_events(body, gzip).await.map_err(SinkError::transient)?;
            match classify_event(answer.status, &answer.body, &what) {
                EventOutcome::Accepted(Some(id)) if self.config.ack => {
                    progress.accepted(part, Some(id), Instant::now())
                }
                EventOutcome::Accepted(None) if self.config.ack => {
                    return Err(SinkError::fatal(format!(
                        "{what}: Splunk accepted the events without an ackId: the token has indexer \
                         acknowledgement off; enable it on the token or set `ack = false` (this batch is \
                         sent again at the next start)"
                    )))
                }
                EventOutcome::Accepted(_) => progress.accepted(part, None, Instant::now()),
                EventOutcome::Invalid { index, message } => {
                    let (encoded, max_events, max_bytes) = (&flight.encoded, self.max_events, self.config.batch_bytes);
                    let times = progress.invalid(part, index, |r| encoded.plan(r, max_events, max_bytes));
                    let bad_index = (range.start + index).min(range.end - 1);
                    let bad = &batch[bad_index];
                    if times >= MAX_REFUSALS {
                        return Err(SinkError::fatal(format!(
                            "{message}: Splunk refused the event of record {} (seq {}) {times} times in a row; \
                             the sink stops so that nothing is skipped",
                            bad.id, bad.seq
                        )));
                    }
                    tracing::warn!(
                        sink = %self.name,
                        "{message}: the {} events before it were indexed; sending again from record {} (seq {})",
                        bad_index - range.start,
                        bad.id,
                        bad.seq
                    );
                }
                EventOutcome::TooLarge(message) => {
                    if !progress.split(part) {
                        let bad = &batch[range.start];
                        return Err(SinkError::fatal(format!(
                            "{message}: the event of record {} (seq {}) alone is {} bytes, over the collector's \
                             limit; raise max_content_length in limits.conf [http_input]",
                            bad.id,
                            bad.seq,
                            flight.encoded.slice(range).len()
                        )));
                    }
                    self.max_events = self.max_events.min(range.len() / 2).max(1);
                    tracing::warn!(
                        sink = %self.name,
                        "{message}: sending it in halves, and at most {} events a request from now on \
                         (lower batch_bytes or batch_events to avoid this)",
                        self.max_events
                    );
                }
                EventOutcome::Retry(message) => return Err(SinkError::transient(message)),
                EventOutcome::Fatal(message) => return Err(SinkError::fatal(message)),
            }
        }
        Ok(())
    }

    /// Polls the acks `flight` waits for, and in the same request those of the batch sent
    /// ahead; gives up `flight`'s older than `ack_timeout`.
    async fn poll(&mut self, t: &Transport, flight: &mut InFlight, batch: &[Event]) -> Result<(), SinkError> {
        let progress = &mut flight.progress;
        let mut ids = progress.awaiting();
        if ids.is_empty() {
            return Ok(());
        }
        for other in &self.batches {
            ids.extend(other.progress.awaiting());
        }
        let answer = t.poll_acks(&ids).await.map_err(SinkError::transient)?;
        let what = format!("POST {}", t.ack_url());
        if answer.status != 200 {
            return Err(failure(classify_failure(answer.status, &Reply::parse(&answer.body), &what)));
        }
        let acks = parse_acks(&answer.body).ok_or_else(|| {
            SinkError::transient(format!(
                "{what}: unexpected answer {:?}",
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
            ))
        })?;
        let indexed = |id| acks.get(&id).copied().unwrap_or(false);
        progress.acknowledged(indexed);
        for other in &mut self.batches {
            other.progress.acknowledged(indexed);
        }
        let timeout = self.config.ack_timeout.0;
        for (range, ack_id) in progress.expire(Instant::now(), timeout) {
            tracing::warn!(
                sink = %self.name,
                "no acknowledgement for ackId {ack_id} within {}: sending its {} events (seq {}..={}) again on \
                 channel {}",
                humantime::format_duration(timeout),
                range.len(),
                batch[range.start].seq,
                batch[range.end - 1].seq,
                self.channel
            );
        }
        Ok(())
    }

    /// The state of `batch`: taken from the batches handed over if it is one of them (those
    /// before it, of a batch given up on, are dropped), else encoded now.
    fn in_flight(&mut self, batch: &[Event]) -> InFlight {
        let key = BatchKey::of(batch);
        if let Some(at) = self.batches.iter().position(|f| f.progress.matches(&key)) {
            self.batches.drain(..at);
            if let Some(flight) = self.batches.pop_front() {
                return flight;
            }
        }
        let c = &self.config;
        let meta = Meta {
            host: c.host.as_deref(),
            source: Some(c.source.as_str()).filter(|s| !s.is_empty()),
            sourcetype: Some(c.sourcetype.as_str()).filter(|s| !s.is_empty()),
            index: c.index.as_deref(),
        };
        let mut encoded = self.spare.take().unwrap_or_default();
        encoded.encode(batch, &meta);
        let parts = encoded.plan(0..batch.len(), self.max_events, c.batch_bytes);
        InFlight { encoded, progress: Progress::new(key, parts) }
    }

    /// Sends what of `flight` is unsent and polls its acks until every request is done.
    async fn drive(&mut self, t: &Transport, flight: &mut InFlight, batch: &[Event]) -> Result<(), SinkError> {
        let mut wait = Duration::ZERO;
        loop {
            self.send_unsent(t, flight, batch).await?;
            if flight.progress.done() {
                return Ok(());
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            wait = (wait * 2).clamp(FIRST_POLL, self.config.ack_poll_interval.0.max(FIRST_POLL));
            self.poll(t, flight, batch).await?;
        }
    }
}

/// `{"acks":{"0":true,"1":false}}` → id → indexed.
fn parse_acks(body: &[u8]) -> Option<HashMap<u64, bool>> {
    #[derive(serde::Deserialize)]
    struct Acks {
        acks: HashMap<String, bool>,
    }
    let acks: Acks = serde_json::from_slice(body).ok()?;
    Some(acks.acks.into_iter().filter_map(|(k, v)| k.parse().ok().map(|k| (k, v))).collect())
}

fn failure(f: Failure) -> SinkError {
    match f {
        Failure::Retry(m) => SinkError::transient(m),
        Failure::Fatal(m) => SinkError::fatal(m),
    }
}

#[async_trait]
impl Sink for HecSink {
    /// The request bodies before gzip (`gzip = true` compresses each on the wire).
    fn preview(&mut self, _committed: Option<&[u8]>, batch: &[Event]) -> Option<Vec<u8>> {
        let flight = self.in_flight(batch);
        let bytes = flight.encoded.slice(0..batch.len()).to_vec();
        self.spare = Some(flight.encoded);
        Some(bytes)
    }

    async fn open(&mut self, _committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        if self.config.tls.insecure_skip_verify && self.config.url.starts_with("https:") {
            tracing::warn!(
                sink = %self.name,
                "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read the \
                 token and the records; set tls.ca_file instead"
            );
        }
        let t = self.transport()?;
        let said = self.probe(&t).await?;
        tracing::info!(sink = %self.name, channel = %self.channel, "{}: {said}", self.config.url);
        Ok(None)
    }

    /// With indexer acknowledgement on, the next batch is posted while the previous one
    /// waits for its acks (a busy indexer takes seconds to acknowledge).
    fn pipelined(&self) -> bool {
        self.config.ack
    }

    async fn submit(&mut self, batch: &[Event]) -> Ticket {
        let t = match self.transport() {
            Ok(t) => t,
            Err(e) => return Ticket::partly(batch, e),
        };
        let mut flight = self.in_flight(batch);
        let sent = self.send_unsent(&t, &mut flight, batch).await;
        // Kept whatever happened: `settle` goes on from where this stopped.
        self.batches.push_back(flight);
        Ticket::of(batch, sent)
    }

    /// Settles a submitted batch too: its requests are found among those handed over.
    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        let t = self.transport()?;
        let mut flight = self.in_flight(batch);
        let delivered = self.drive(&t, &mut flight, batch).await;
        match delivered {
            Ok(()) => {
                flight.encoded.release();
                self.spare = Some(flight.encoded);
            }
            // Kept for the retry of the same batch, in front of the one sent after it.
            Err(_) => self.batches.push_front(flight),
        }
        delivered.map(|()| None)
    }

    async fn check(&mut self) -> Result<String, SinkError> {
        let t = self.transport()?;
        let mut said = self.probe(&t).await?;
        if self.config.tls.insecure_skip_verify && self.config.url.starts_with("https:") {
            said.push_str(" (certificate NOT verified: insecure_skip_verify)");
        }
        Ok(said)
    }
}
