//! A Splunk HTTP Event Collector receiver, for the tests and for people trying their
//! pipeline before pointing it at Splunk (`auditbridge hec-receiver`).
//!
//! No Splunk can run where the tests run (test-peers.md §3), so this stands in for one. It
//! follows the documented protocol (formats.md §4): `POST /services/collector/event`
//! (also `/services/collector` and `/event/1.0`) with concatenated envelopes, gzip or
//! not; `Authorization: Splunk <token>` checked before anything else (missing → 401 code
//! 2, malformed → 401 code 3, unknown → 403 code 4); with acknowledgement on, a data
//! channel GUID on every request (missing → 400 code 10, not a GUID → code 11), an
//! `ackId` per accepted request counting from 0 per channel, and
//! `POST /services/collector/ack` answering `{"acks":{"0":true}}` once (an id reported
//! true is forgotten); without it, `/ack` → 400 code 14. The first bad envelope gets 400
//! code 6 (or 12, 13, 15, 7) with `invalid-event-number`, the envelopes before it being
//! indexed; an empty body is 400 code 5; a body over `max_content_length` is 413; a
//! `Content-Encoding` other than gzip is 415. `GET /services/collector/health` is 200
//! code 17, or 503 code 18 while busy.
//!
//! Tests script failures with [`Fault`]s and read back what was indexed ([`Indexed`],
//! with the request each came in) and what was answered ([`Stats`]).

mod envelope;
mod protocol;
pub(crate) mod server;
mod state;
#[cfg(test)]
mod tests;

pub use server::RunningReceiver;

use state::State;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How a receiver behaves.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// The one token accepted.
    pub token: String,
    /// Indexer acknowledgement on (the token's `useACK`).
    pub ack: bool,
    /// Serve HTTPS with a self-signed certificate made at start.
    pub tls: bool,
    /// Larger bodies get 413 (Splunk's default is 800 MiB).
    pub max_content_length: usize,
    /// An accepted request's ack turns true only this long after it was accepted.
    pub ack_delay: Duration,
    /// Keep every indexed envelope in memory (for [`Receiver::indexed`]); counts are kept always.
    pub keep_events: bool,
    /// Append every indexed envelope, one a line, to this file.
    pub output: Option<PathBuf>,
}

impl ReceiverConfig {
    /// A receiver accepting `token`, acknowledgement off, keeping events in memory.
    pub fn new(token: impl Into<String>) -> Self {
        ReceiverConfig {
            token: token.into(),
            ack: false,
            tls: false,
            max_content_length: 800 << 20,
            ack_delay: Duration::ZERO,
            keep_events: true,
            output: None,
        }
    }
}

/// A failure to play, scripted by a test.
///
/// `Status`, `Disconnect`, `Pass` and `InvalidEvent` wait in one queue and are taken one
/// per event request, in order, whatever the request (an empty token-check `POST` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// For this long from now, answer every event request 503 "Server is busy" (code 9)
    /// and health 503 (code 18).
    Busy(Duration),
    /// Answer the next event request with this status (Splunk's body for 500 and 503,
    /// a proxy's plain text for the others) and index nothing.
    Status(u16),
    /// Close the connection of the next event request without answering.
    Disconnect,
    /// Serve the next event request normally (so that a fault after it hits a later one).
    Pass,
    /// Refuse event `n` (zero-based; the last one if the request has fewer) of the next
    /// event request as invalid (400 code 6): the events before it are indexed.
    InvalidEvent(usize),
    /// Index the next `n` accepted requests but never report their acks true.
    DropAcks(usize),
}

/// One envelope the receiver indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    /// The number of the event request it came in (from 1, counting every event request).
    pub request: u64,
    /// The request's data channel, if it had one.
    pub channel: Option<String>,
    /// The envelope's JSON text as received.
    pub raw: String,
    /// `fields.auditbridge_id`, if present.
    pub id: Option<String>,
}

/// What the receiver has answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests to the event endpoints.
    pub event_requests: u64,
    /// Event requests answered 200.
    pub accepted_requests: u64,
    /// Event requests by the HTTP status they got (unanswered ones are not counted).
    pub answers: BTreeMap<u16, u64>,
    /// Envelopes indexed.
    pub indexed: u64,
    /// Requests to `/ack`.
    pub ack_polls: u64,
    /// Ack ids reported true.
    pub acks_reported: u64,
}

/// A HEC receiver; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ReceiverConfig,
    pub(crate) state: Mutex<State>,
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Receiver {
    /// A receiver with `config`; fails only if the output file cannot be opened.
    pub fn new(config: ReceiverConfig) -> std::io::Result<Receiver> {
        let state = State::new(&config)?;
        Ok(Receiver { inner: Arc::new(Inner { config, state: Mutex::new(state) }) })
    }

    /// Binds `addr` and serves until the returned handle is shut down or dropped.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<RunningReceiver> {
        let inner = self.inner.clone();
        let tls = inner.config.tls;
        let handler: server::Handler = Arc::new(move |req| Box::pin(protocol::handle(inner.clone(), req)));
        server::start(handler, tls, addr).await
    }

    /// Scripts a failure.
    pub fn inject(&self, fault: Fault) {
        self.inner.state().inject(fault);
    }

    /// Accepts `token` from now on instead.
    pub fn set_token(&self, token: impl Into<String>) {
        self.inner.state().token = token.into();
    }

    /// Answers 413 to bodies larger than `bytes` from now on.
    pub fn set_max_content_length(&self, bytes: usize) {
        self.inner.state().max_content_length = bytes;
    }

    /// Every envelope indexed so far (empty unless `keep_events`).
    pub fn indexed(&self) -> Vec<Indexed> {
        self.inner.state().indexed.clone()
    }

    /// The `auditbridge_id` of every envelope indexed so far, in order.
    pub fn ids(&self) -> Vec<String> {
        self.inner.state().indexed.iter().map(|e| e.id.clone().unwrap_or_default()).collect()
    }

    /// How many envelopes were indexed.
    pub fn indexed_count(&self) -> u64 {
        self.inner.state().stats.indexed
    }

    /// What was answered so far.
    pub fn stats(&self) -> Stats {
        self.inner.state().stats.clone()
    }
}
