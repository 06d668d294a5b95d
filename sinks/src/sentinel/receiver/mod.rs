//! A stand-in for the Azure Monitor Logs Ingestion API and the Entra ID token endpoint, for
//! the tests and for people trying a `sentinel` sink before Azure (`auditbridge
//! sentinel-receiver`).
//!
//! No Azure can run where the tests run, so this stands in for both ends the sink talks to,
//! following the documented protocols (docs/sentinel.md lists where it had to guess):
//!
//! - `POST /{tenant}/oauth2/v2.0/token`, the client credentials grant (form-encoded
//!   `grant_type`, `client_id`, `client_secret`, `scope` ending in `/.default`), answering
//!   `{"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":"…"}` or Entra's
//!   errors (`invalid_client` AADSTS7000215, `unauthorized_client` AADSTS700016,
//!   `invalid_request` AADSTS90002, `invalid_scope`, `unsupported_grant_type`), or with a
//!   client assertion signed by a registered certificate's key (AADSTS700027 when the
//!   signature or thumbprint is wrong, AADSTS700024 when out of its time range); and
//!   `GET /{tenant}/v2.0/.well-known/openid-configuration`, which MSAL reads first.
//! - `POST /dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`: a Bearer token
//!   it issued for the Azure Monitor audience and not expired (else 401), the app's role on the
//!   DCR (else 403), a known DCR (404) and stream (400), at most 1 MiB on the wire (413
//!   `ContentLengthLimitExceeded`), gzip or plain, a JSON array of objects (400); then 204.
//!   Throttling is 429 (or 503) with `Retry-After`. Error bodies are
//!   `{"error":{"code":…,"message":…}}`.
//!
//! Rows are checked against the stream's declared columns the way Log Analytics treats them:
//! an undeclared column is dropped, a value of the wrong type becomes null, a string over
//! 64 KB is truncated; the receiver takes such rows as Azure does and counts each case in
//! [`Stats`], so a test can assert that none happened.

mod protocol;

use crate::format::sentinel::{ColumnType, COLUMNS};
use crate::hec::receiver::server::{self, Handler};
pub use crate::hec::receiver::RunningReceiver;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::BufWriter;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a receiver behaves.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The DER of a certificate registered with the app: client assertions signed by its key
    /// are taken too (`private_key_jwt`).
    pub client_certificate: Option<Vec<u8>>,
    pub dcr_immutable_id: String,
    pub stream: String,
    /// The scope tokens must be asked for (their audience is it without `/.default`).
    pub scope: String,
    /// `expires_in` of every token; a token is refused (401) from then on.
    pub token_lifetime: Duration,
    /// Serve HTTPS with a self-signed certificate made at start (Microsoft's clients send
    /// bearer tokens over HTTPS only).
    pub tls: bool,
    /// Larger calls (as sent) get 413.
    pub max_call_bytes: usize,
    /// The stream's declared columns.
    pub columns: Vec<(String, ColumnType)>,
    /// Keep every accepted row in memory ([`Receiver::rows`]); ids and counts are kept always.
    pub keep_rows: bool,
    /// Append every accepted row, one JSON object a line, to this file.
    pub output: Option<PathBuf>,
}

impl ReceiverConfig {
    /// A receiver for these credentials and this DCR, the sink's default stream and scope.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: &str, dcr_immutable_id: &str) -> ReceiverConfig {
        ReceiverConfig {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            client_certificate: None,
            dcr_immutable_id: dcr_immutable_id.into(),
            stream: "Custom-NetwrixAuditor_CL".into(),
            scope: "https://monitor.azure.com//.default".into(),
            token_lifetime: Duration::from_secs(3599),
            tls: true,
            max_call_bytes: 1 << 20,
            columns: COLUMNS.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
            keep_rows: false,
            output: None,
        }
    }
}

/// The DER of the first certificate in `pem` (for [`ReceiverConfig::client_certificate`]).
pub fn certificate_der(pem: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::pem::PemObject;
    match rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).next() {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(e)) => Err(format!("not a PEM certificate: {e}")),
        None => Err("no CERTIFICATE in it".into()),
    }
}

/// A failure to play, scripted by a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// For this long from the next ingestion call on, answer every ingestion call `status`
    /// (429 or 503) with `Retry-After: retry_after` seconds.
    Throttle { status: u16, duration: Duration, retry_after: u64 },
    /// Answer the next ingestion call with this status and an error body, taking nothing.
    Status(u16),
    /// Serve the next ingestion call normally (so that a `Status` after it hits a later one).
    Pass,
}

/// What the receiver has answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ingestion calls.
    pub calls: u64,
    /// Ingestion calls by the status they got.
    pub answers: BTreeMap<u16, u64>,
    /// Rows accepted.
    pub rows: u64,
    /// Calls with a body not gzipped.
    pub plain_calls: u64,
    /// The largest call as sent, and the largest once decompressed.
    pub largest_call: usize,
    pub largest_json: usize,
    /// Tokens granted.
    pub tokens: u64,
    /// Calls refused because their token had expired.
    pub expired_tokens: u64,
    /// Calls that came while throttled, before the `Retry-After` given to the previous one
    /// had passed.
    pub early_calls: u64,
    /// Row values Log Analytics would have dropped, nulled or truncated (see the module doc).
    pub undeclared_columns: u64,
    pub mistyped_values: u64,
    pub truncated_values: u64,
}

/// A Logs Ingestion stand-in; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ReceiverConfig,
    pub(crate) state: Mutex<State>,
}

pub(crate) struct State {
    pub(crate) role: bool,
    /// Status, how long, Retry-After, and since when (the first call it answered).
    pub(crate) throttle: Option<(u16, Duration, u64, Option<Instant>)>,
    /// While throttled: no call should come before this.
    pub(crate) not_before: Option<Instant>,
    /// Per coming ingestion call: a status to answer instead, or `None` to serve it.
    pub(crate) scripted: VecDeque<Option<u16>>,
    /// Issued tokens: value → (audience, expiry).
    pub(crate) tokens: HashMap<String, (String, Instant)>,
    pub(crate) ids: Vec<String>,
    pub(crate) rows: Vec<serde_json::Value>,
    pub(crate) output: Option<BufWriter<File>>,
    pub(crate) stats: Stats,
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Receiver {
    /// A receiver with `config`; fails only if the output file cannot be opened.
    pub fn new(config: ReceiverConfig) -> std::io::Result<Receiver> {
        let output = match &config.output {
            Some(path) => Some(BufWriter::new(File::options().create(true).append(true).open(path)?)),
            None => None,
        };
        let state = State {
            role: true,
            throttle: None,
            not_before: None,
            scripted: VecDeque::new(),
            tokens: HashMap::new(),
            ids: Vec::new(),
            rows: Vec::new(),
            output,
            stats: Stats::default(),
        };
        Ok(Receiver { inner: Arc::new(Inner { config, state: Mutex::new(state) }) })
    }

    /// Binds `addr` and serves until the returned handle is shut down or dropped.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<RunningReceiver> {
        let inner = self.inner.clone();
        let tls = inner.config.tls;
        let handler: Handler = Arc::new(move |req| Box::pin(protocol::handle(inner.clone(), req)));
        server::start(handler, tls, addr).await
    }

    /// Scripts a failure.
    pub fn inject(&self, fault: Fault) {
        let mut state = self.inner.state();
        match fault {
            Fault::Throttle { status, duration, retry_after } => {
                state.throttle = Some((status, duration, retry_after, None))
            }
            Fault::Status(status) => state.scripted.push_back(Some(status)),
            Fault::Pass => state.scripted.push_back(None),
        }
    }

    /// Forgets every token granted so far: calls with them get 401, as after a key rollover.
    pub fn revoke_tokens(&self) {
        self.inner.state().tokens.clear();
    }

    /// Gives the app its role on the DCR (`true`, the default) or takes it away (403s).
    pub fn set_role(&self, granted: bool) {
        self.inner.state().role = granted;
    }

    /// The `AuditbridgeId` of every row accepted so far (`""` for a row without one), in order.
    pub fn ids(&self) -> Vec<String> {
        self.inner.state().ids.clone()
    }

    /// Every row accepted so far (empty unless `keep_rows`).
    pub fn rows(&self) -> Vec<serde_json::Value> {
        self.inner.state().rows.clone()
    }

    /// How many rows were accepted.
    pub fn row_count(&self) -> u64 {
        self.inner.state().stats.rows
    }

    /// What was answered so far.
    pub fn stats(&self) -> Stats {
        self.inner.state().stats.clone()
    }
}
