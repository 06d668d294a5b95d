//! The configuration file: what to fetch (`[[job]]`), where to deliver (`[[sink]]`),
//! and where progress lives (`[state]`).
//!
//! Every key is documented in `config/auditbridge.example.toml`. Loading checks
//! everything it can without touching the network, and every error names the key,
//! the line and the column.

mod load;

pub use load::{load, parse, ConfigError};
pub use sinks::{Duration, Secret};

use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub spool: SpoolConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(rename = "job", default)]
    pub jobs: Vec<JobConfig>,
    #[serde(rename = "sink", default)]
    pub sinks: Vec<SinkConfig>,
}

/// `[state]`: the SQLite file holding marks, the spool and the cursors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    #[serde(default = "default_state_path")]
    pub path: PathBuf,
    /// `full` (default: a committed page survives power loss) or `normal`.
    #[serde(default)]
    pub synchronous: Synchronous,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig { path: default_state_path(), synchronous: Synchronous::Full }
    }
}

fn default_state_path() -> PathBuf {
    PathBuf::from("auditbridge.db")
}

/// How hard SQLite syncs a page commit.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

/// `[spool]`: how much may wait on disk for a slow sink.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Fetching pauses while more records than this are unacknowledged by some sink.
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    /// How often acknowledged rows are pruned.
    #[serde(default = "default_prune_interval")]
    pub prune_interval: Duration,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig { max_records: default_max_records(), prune_interval: default_prune_interval() }
    }
}

fn default_max_records() -> u64 {
    1_000_000
}
fn default_prune_interval() -> Duration {
    Duration::from_secs(10)
}

/// `[retry]`: backoff for transient failures of jobs and sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(default = "default_initial_delay")]
    pub initial_delay: Duration,
    #[serde(default = "default_max_delay")]
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { initial_delay: default_initial_delay(), max_delay: default_max_delay() }
    }
}

fn default_initial_delay() -> Duration {
    Duration::from_millis(500)
}
fn default_max_delay() -> Duration {
    Duration::from_secs(300)
}

/// `[[job]]`: one Netwrix Auditor server (or one search on it) to export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    pub name: Spanned<String>,
    /// `https://host:9699` (the API path is added by the client).
    pub url: Spanned<String>,
    pub user: Option<String>,
    pub password: Option<Spanned<Secret>>,
    #[serde(default)]
    pub auth: AuthKind,
    #[serde(default)]
    pub format: netwrix::Format,
    /// Records per page; absent = the server's default (1,000).
    pub count: Option<Spanned<u64>>,
    /// How long to wait after reaching the end of data before polling again.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Duration,
    /// Whole-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    #[serde(default)]
    pub tls: TlsConfig,
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(300)
}
fn default_timeout() -> Duration {
    Duration::from_secs(120)
}

/// The authentication scheme a job uses.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    #[default]
    Basic,
}

/// `[job.tls]`: how the job trusts the server's certificate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// The SHA-256 fingerprint of the server's own certificate (hex, colons allowed).
    pub fingerprint: Option<Spanned<String>>,
    /// Accept any certificate. Logs a warning at every start.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// `[[sink]]`: one destination, with the keys every sink has and its type's own.
#[derive(Debug, Deserialize)]
pub struct SinkConfig {
    pub name: String,
    /// The jobs whose records this sink takes; absent = every job.
    pub jobs: Option<Vec<String>>,
    /// Records per delivered batch.
    #[serde(default = "default_batch_records")]
    pub batch_records: usize,
    /// Where a sink new to the state file starts: `oldest` still spooled, or `now`.
    #[serde(default)]
    pub start: StartAt,
    #[serde(flatten)]
    pub kind: SinkKind,
}

fn default_batch_records() -> usize {
    1000
}

/// Where a new sink's cursor starts.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    #[default]
    Oldest,
    Now,
}

/// The sink types and their own keys. A sink type whose options live in the `sinks`
/// crate is a newtype variant over that crate's config struct (which denies unknown keys).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkKind {
    /// JSON lines in a local file, fsynced before acknowledging.
    File {
        path: PathBuf,
        /// Rotate the file once it reaches this many bytes.
        rotate_bytes: Option<u64>,
        #[serde(default = "default_true")]
        fsync: bool,
    },
    /// JSON lines on standard output.
    Stdout {},
}

fn default_true() -> bool {
    true
}

impl SinkKind {
    /// The `type` value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkKind::File { .. } => "file",
            SinkKind::Stdout {} => "stdout",
        }
    }
}

impl SinkConfig {
    /// Whether this sink takes records of `job`.
    pub fn takes(&self, job: &str) -> bool {
        self.jobs.as_ref().is_none_or(|jobs| jobs.iter().any(|j| j == job))
    }
}
