//! The configuration file: what to fetch (`[[job]]`), where to deliver (`[[sink]]`),
//! and where progress lives (`[state]`).
//!
//! Every key is documented in `config/auditbridge.example.toml`. Loading checks
//! everything it can without touching the network, and every error names the key,
//! the line and the column.

mod filters;
mod load;

pub use filters::{search_filters, FilterError, FilterTable, JobMode};
pub use load::{load, load_deferring, parse, warnings, ConfigError};
pub use sinks::{Duration, Secret, SinkKind};

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
    /// `[metrics]`: where Prometheus metrics and health checks are served; absent = nowhere.
    pub metrics: Option<MetricsConfig>,
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
    /// Fetching also pauses while the state file is larger than this many bytes
    /// (and a sink still has records to take); absent = no limit.
    pub max_bytes: Option<u64>,
    /// A sink whose oldest unacknowledged record was fetched longer ago than this is
    /// reported as lagging in `status`, `/metrics` and the log (its records are kept).
    #[serde(default = "default_max_lag")]
    pub max_lag: Duration,
    /// How long the ids of spooled records are remembered after their rows are pruned,
    /// so a record the server serves again is recognised (per job) and not delivered twice.
    #[serde(default = "default_dedup_window")]
    pub dedup_window: Duration,
    /// At most this many ids are remembered (about 100 bytes each on disk), the newest kept.
    #[serde(default = "default_dedup_max_ids")]
    pub dedup_max_ids: u64,
}

fn default_dedup_window() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_dedup_max_ids() -> u64 {
    5_000_000
}

fn default_max_lag() -> Duration {
    Duration::from_secs(3600)
}

/// `[metrics]`: Prometheus `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address to serve on, e.g. `127.0.0.1:9898`.
    pub listen: Spanned<String>,
    /// `/readyz` fails for a job whose mark has not moved for this long while its server
    /// has records after the latest one spooled; absent = never.
    pub stale_after: Option<Duration>,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            max_records: default_max_records(),
            prune_interval: default_prune_interval(),
            max_bytes: None,
            max_lag: default_max_lag(),
            dedup_window: default_dedup_window(),
            dedup_max_ids: default_dedup_max_ids(),
        }
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
    /// With `run --once`, a job or sink that has kept failing for this long is given up
    /// and the run exits non-zero naming it. (A long-running `run` never gives up.)
    #[serde(default = "default_give_up_after")]
    pub give_up_after: Duration,
}

fn default_give_up_after() -> Duration {
    Duration::from_secs(300)
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_delay: default_initial_delay(),
            max_delay: default_max_delay(),
            give_up_after: default_give_up_after(),
        }
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
    /// How long to wait after reaching the end of data before asking again (default
    /// 5m). Not together with `schedule`.
    #[serde(alias = "poll_interval")]
    pub interval: Option<Duration>,
    /// When to ask again after reaching the end of data, as a cron expression: five
    /// fields, or six with seconds first (`0 */15 * * * *`). Not together with `interval`.
    pub schedule: Option<Spanned<String>>,
    /// Whole-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Most bytes one response may have; a larger page is refused and the job stops.
    #[serde(default = "default_max_page_bytes")]
    pub max_page_bytes: u64,
    /// Most bytes one value of a record may have; a page with a larger one is refused.
    #[serde(default = "default_max_field_bytes")]
    pub max_field_bytes: u64,
    #[serde(default)]
    pub tls: TlsConfig,
    /// `[job.kerberos]`: realm, KDC and SPN for `auth = "kerberos"` / `"negotiate"`.
    #[serde(default)]
    pub kerberos: KerberosConfig,
    /// `enum` (every record, the default) or `search` (only records matching `filters`).
    #[serde(default)]
    pub mode: JobMode,
    /// The search filters of `mode = "search"`: `filters.DataSource = ["Active Directory"]`.
    #[serde(default)]
    pub filters: FilterTable,
    /// Where the job's first run starts, instead of the beginning of the audit data: a
    /// time, or how far back from that first run (see `pipeline::starting_search`).
    pub start_at: Option<Spanned<String>>,
    pub initial_lookback: Option<Duration>,
}

impl JobConfig {
    /// The wait between runs when no `schedule` is set.
    pub fn interval(&self) -> std::time::Duration {
        self.interval.map_or(std::time::Duration::from_secs(300), |d| d.0)
    }
}
fn default_max_page_bytes() -> u64 {
    netwrix::client::ClientConfig::DEFAULT_MAX_PAGE_BYTES as u64
}
fn default_max_field_bytes() -> u64 {
    netwrix::client::ClientConfig::DEFAULT_MAX_FIELD_BYTES as u64
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
    Digest,
    Ntlm,
    Negotiate,
    /// Kerberos only (under the `Negotiate` scheme), for domains that restrict NTLM.
    Kerberos,
    /// Taken from the server's `WWW-Authenticate` challenges, strongest first.
    Auto,
}

/// `[job.kerberos]`: every key optional (realm from `user@REALM`, KDC from krb5.conf, SPN
/// `HTTP/<host of url>`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KerberosConfig {
    /// The realm, for a user given without one.
    pub realm: Option<String>,
    /// `host`, `host:port` or `tcp://host:port`.
    pub kdc: Option<String>,
    /// The service principal, when the server is reached by another name than its SPN's.
    pub spn: Option<String>,
    /// A keytab with the user's key, instead of the password.
    pub keytab: Option<PathBuf>,
}

/// `[job.tls]`: how the job trusts the server's certificate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust instead of the system roots.
    pub ca_file: Option<Spanned<PathBuf>>,
    /// The SHA-256 fingerprint of the server's own certificate (hex, colons allowed).
    #[serde(alias = "fingerprint_sha256")]
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
    /// Only records matching this filter (on top of `jobs`).
    pub filter: Option<RouteFilter>,
    /// `type` and the type's own keys, each type's in its folder of the `sinks` crate.
    #[serde(flatten)]
    pub kind: SinkKind,
}

fn default_batch_records() -> usize {
    1000
}

/// `filter = { DataSource = [...], Action = [...], ObjectType = [...], MonitoringPlan = [...] }`:
/// a record passes when, for every key given, its value equals one of the listed
/// values (ignoring case). MonitoringPlan matches the plan's name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFilter {
    #[serde(rename = "DataSource")]
    pub data_source: Option<Vec<String>>,
    #[serde(rename = "Action")]
    pub action: Option<Vec<String>>,
    #[serde(rename = "ObjectType")]
    pub object_type: Option<Vec<String>>,
    #[serde(rename = "MonitoringPlan")]
    pub monitoring_plan: Option<Vec<String>>,
}

impl RouteFilter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &netwrix::ActivityRecord) -> bool {
        fn one_of(allowed: &Option<Vec<String>>, value: Option<&str>) -> bool {
            allowed.as_ref().is_none_or(|list| value.is_some_and(|v| list.iter().any(|a| a.eq_ignore_ascii_case(v))))
        }
        let plan = record.monitoring_plan.as_ref().and_then(|p| p.name.as_deref());
        one_of(&self.data_source, record.data_source.as_deref())
            && one_of(&self.action, Some(&record.action))
            && one_of(&self.object_type, Some(&record.object_type))
            && one_of(&self.monitoring_plan, plan)
    }
}

/// Where a new sink's cursor starts.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    #[default]
    Oldest,
    Now,
}

impl SinkConfig {
    /// Whether this sink takes records of `job`.
    pub fn takes(&self, job: &str) -> bool {
        self.jobs.as_ref().is_none_or(|jobs| jobs.iter().any(|j| j == job))
    }

    /// Builds the sink this config describes (nothing connected yet).
    pub fn build(&self) -> Box<dyn sinks::Sink> {
        let every_record = self.jobs.is_none() && self.filter.is_none();
        self.kind.build(sinks::SinkContext { name: &self.name, every_record })
    }
}
