//! An emulator of the Netwrix Auditor Integration API (spec §1–§6), so the bridge can be
//! developed and tested without a Netwrix server.
//!
//! It serves the enum, search and write endpoints over HTTP/1.1 or HTTPS with the
//! documented status codes and bodies, hands out continuation marks shaped like the real
//! ones, evaluates every search filter, and can be told to misbehave ([`Fault`]).
//! Records live in memory; a million is fine, and serving pages is never the bottleneck
//! of a benchmark.
//!
//! Layout: `server` accepts connections; `routes` answers requests; `auth` checks
//! credentials in every scheme; `store` keeps records and normalises written ones; `marks`
//! makes and reads continuation marks; `faults` queues and schedules injected failures
//! (and parses the `--fault` grammar); `tls` makes the self-signed certificate.

mod auth;
mod faults;
mod marks;
mod routes;
mod server;
mod store;
mod tls;

pub use auth::ServerScheme;
pub use faults::{Fault, FaultSpec, FaultSpecError, Schedule, FAULT_GRAMMAR};
pub use server::RunningEmulator;

/// The continuation mark of the emulator's enum endpoint that resumes at store position
/// `pos` (the first record it returns is record `pos`). `auditbridge bench` uses it to
/// fetch the same pages with curl, without parsing each page for the next mark.
pub fn enum_mark_at(pos: usize) -> String {
    marks::encode(marks::MarkKind::Enum, pos)
}

use crate::model::ActivityRecord;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// How an emulator behaves: authentication, transport, limits and AD groups.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The account (`DOMAIN\user`) and password; `None` means no authentication is required.
    /// The user name matches case-insensitively (as Windows accounts do), the password exactly.
    pub credentials: Option<(String, String)>,
    /// The schemes accepted with `credentials`, in the order the 401 offers them
    /// (empty = Basic only).
    pub schemes: Vec<ServerScheme>,
    /// Serve HTTPS with a self-signed certificate made at start.
    pub tls: bool,
    /// An optional cap on `count`: larger values are silently lowered to it.
    pub max_count: Option<usize>,
    /// Request bodies larger than this get 413 (default 50 MiB, Netwrix's recommended limit).
    pub write_limit_bytes: usize,
    /// Group → members (accounts or other groups), for the `InGroup`/`NotInGroup` operators.
    pub groups: HashMap<String, Vec<String>>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            credentials: None,
            schemes: vec![ServerScheme::Basic],
            tls: false,
            max_count: None,
            write_limit_bytes: 50 * 1024 * 1024,
            groups: HashMap::new(),
        }
    }
}

/// A Netwrix Auditor server in memory. Cheap to clone: clones share the records, the
/// fault queue and the request counter, so a test can keep a handle while serving.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

/// The state every request handler sees.
pub(crate) struct Inner {
    pub(crate) config: EmulatorConfig,
    pub(crate) store: store::Store,
    pub(crate) faults: faults::FaultQueue,
    /// The credentials check, when credentials are configured.
    pub(crate) auth: Option<auth::Checker>,
    /// Enum and search requests that got past authentication and routing.
    pub(crate) requests: AtomicU64,
    /// The size of the last encoded page, to pre-size the next one's buffer.
    pub(crate) page_hint: AtomicUsize,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("records", &self.len())
            .field("requests", &self.requests())
            .field("tls", &self.inner.config.tls)
            .finish()
    }
}

impl Emulator {
    /// An emulator with no records.
    pub fn new(config: EmulatorConfig) -> Self {
        Emulator {
            inner: Arc::new(Inner {
                auth: config
                    .credentials
                    .clone()
                    .map(|(user, password)| auth::Checker::new(config.schemes.clone(), user, password)),
                config,
                store: store::Store::default(),
                faults: faults::FaultQueue::default(),
                requests: AtomicU64::new(0),
                page_hint: AtomicUsize::new(64 * 1024),
            }),
        }
    }

    /// Adds records exactly as given (RID, DataSource and all), after those already held.
    pub fn add_records(&self, records: impl IntoIterator<Item = ActivityRecord>) {
        self.inner.store.append(records);
    }

    /// Adds records as the write endpoint stores them: new RID, DataSource `Netwrix API`,
    /// Item typed `Integration`, plan ID assigned, `When` in UTC, no Detail messages.
    pub fn write(&self, records: Vec<ActivityRecord>) {
        self.inner.store.write(records);
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.inner.store.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a fault; each later enum or search request takes the next queued one.
    pub fn inject(&self, fault: Fault) {
        self.inner.faults.push(fault);
    }

    /// Applies one `--fault` specification: queued now, or scheduled for the whole run
    /// (queued faults are served first; then the schedules, in the order applied).
    pub fn apply(&self, spec: &FaultSpec) {
        self.inner.faults.apply(spec);
    }

    /// How many enum and search requests were answered (faults and errors included;
    /// requests refused by authentication or routing are not counted).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Starts serving on `addr` (port 0 picks a free port). The server stops when the
    /// returned handle is shut down or dropped; the records stay with this emulator.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
        server::start(self.inner.clone(), addr).await
    }
}
