//! The pipeline: fetch → spool → sinks.
//!
//! [`run`] and [`backfill`] say which jobs to fetch; a [`Pipeline`](runner::Pipeline)
//! does the rest: it takes the state lock and registers every sink's cursor, then starts
//! one [`fetcher`] per job and one [`delivery`] loop per sink, plus the [pruner](pruner)
//! that deletes spool rows every sink has acknowledged, and supervises them. Tasks talk
//! only through the store and the [`Shared`] notifications, so one job or sink failing
//! never stops the others.

pub mod delivery;
pub mod fetcher;
mod health;
mod inflight;
mod loader;
mod lock;
mod observe;
mod pruner;
mod runner;
mod shared;
pub mod start;
mod store;

pub use lock::lock_state;
pub use shared::{Histogram, JobCounters, Shared, SinkCounters};
pub use store::StoreHandle;

use crate::config::{AuthKind, Config, JobConfig, SinkConfig, Synchronous};
use crate::schedule::{Scheduler, Wait};
use crate::shutdown::Shutdown;
use anyhow::Context;
use netwrix::client::{AuthScheme, Client, ClientConfig, Credentials, KerberosSettings, Trust};
use runner::{FetchPlan, Pipeline, Role};
use std::sync::Arc;
use std::time::Duration;

/// How a run behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Drain every job to the end of data, deliver everything, then return.
    pub once: bool,
}

/// What went wrong in a run, if anything: one line per failed job or sink.
#[derive(Debug, Default)]
pub struct RunReport {
    pub failures: Vec<String>,
}

/// Opens the store a config names.
pub fn open_store(config: &Config) -> anyhow::Result<state::Store> {
    let synchronous = match config.state.synchronous {
        Synchronous::Full => state::Synchronous::Full,
        Synchronous::Normal => state::Synchronous::Normal,
    };
    state::Store::open(&config.state.path, state::StoreOptions { synchronous })
        .with_context(|| format!("opening the state file {}", config.state.path.display()))
}

/// Opens the store a config names as the pipeline uses it: a writing connection and a
/// second one for the sinks' reads.
pub fn open_handle(config: &Config) -> anyhow::Result<StoreHandle> {
    Ok(StoreHandle::with_reader(open_store(config)?, open_store(config)?))
}

/// Builds the API client of a job.
pub fn client_for(job: &JobConfig) -> anyhow::Result<Client> {
    client_for_with_count(job, job.count.as_ref().map(|c| *c.get_ref() as usize))
}

/// Builds the API client of a job, asking for `count` records a page.
pub fn client_for_with_count(job: &JobConfig, count: Option<usize>) -> anyhow::Result<Client> {
    let trust = if let Some(ca) = &job.tls.ca_file {
        Trust::CaFile(ca.get_ref().clone())
    } else if let Some(fp) = &job.tls.fingerprint {
        Trust::Fingerprint(fp.get_ref().clone())
    } else if job.tls.insecure_skip_verify {
        Trust::Insecure
    } else {
        Trust::System
    };
    let credentials = job.user.as_ref().map(|user| Credentials {
        user: user.clone(),
        password: job.password.as_ref().map(|p| p.get_ref().expose().to_owned()).unwrap_or_default(),
    });
    let auth = match job.auth {
        AuthKind::Basic => AuthScheme::Basic,
        AuthKind::Digest => AuthScheme::Digest,
        AuthKind::Ntlm => AuthScheme::Ntlm,
        AuthKind::Negotiate => AuthScheme::Negotiate,
        AuthKind::Kerberos => AuthScheme::Kerberos,
        AuthKind::Auto => AuthScheme::Auto,
    };
    Client::new(ClientConfig {
        base_url: job.url.get_ref().trim_end_matches('/').to_owned(),
        format: job.format,
        count,
        credentials,
        auth,
        kerberos: KerberosSettings {
            realm: job.kerberos.realm.clone(),
            kdc: job.kerberos.kdc.clone(),
            spn: job.kerberos.spn.clone(),
            keytab: job.kerberos.keytab.clone(),
        },
        trust,
        timeout: job.timeout.0,
        connect_timeout: Duration::from_secs(10),
        max_page_bytes: usize::try_from(job.max_page_bytes).unwrap_or(usize::MAX),
        max_field_bytes: usize::try_from(job.max_field_bytes).unwrap_or(usize::MAX),
    })
    .with_context(|| format!("job {:?}: building the API client", job.name.get_ref()))
}

/// Builds the sink a config describes.
pub fn sink_for(sink: &SinkConfig) -> Box<dyn sinks::Sink> {
    sink.build()
}

/// Runs the pipeline until `shutdown` (or, with `once`, until everything is delivered).
pub async fn run(config: &Config, options: RunOptions, shutdown: Shutdown) -> anyhow::Result<RunReport> {
    let store = open_handle(config)?;
    run_with(config, options, shutdown, store, None).await
}

/// [`run`] on an open store, optionally reporting into `shared_out` as soon as the
/// shared state exists (the demo draws its progress from it).
pub async fn run_with(
    config: &Config,
    options: RunOptions,
    shutdown: Shutdown,
    store: StoreHandle,
    shared_out: Option<tokio::sync::oneshot::Sender<Arc<Shared>>>,
) -> anyhow::Result<RunReport> {
    // Jobs with a cron schedule are woken by the scheduler; the others wait an interval.
    let mut plans = Vec::new();
    let mut ticks = Vec::new();
    for job in &config.jobs {
        let wait = match &job.schedule {
            Some(expr) => {
                let wake = Arc::new(tokio::sync::Notify::new());
                ticks.push((expr.get_ref().clone(), wake.clone()));
                Wait::Tick(wake)
            }
            None => Wait::Interval(job.interval()),
        };
        let search = job.search_request().map_err(|e| anyhow::anyhow!("job {:?}: {e}", job.name.get_ref()))?;
        let search = start::starting_search(&store, job, search, false).await?;
        plans.push(FetchPlan { name: job.name.get_ref().clone(), job, search, wait });
    }
    let jobs: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let pipeline = Pipeline::open(config, options, shutdown, store, Role::Deliver, &jobs, shared_out).await?;
    let scheduler = if ticks.is_empty() || options.once { None } else { Some(Scheduler::start(ticks).await?) };
    pipeline.run(plans, scheduler).await
}

/// What `auditbridge backfill` asks for.
#[derive(Debug, Clone)]
pub struct BackfillRequest {
    pub job: String,
    /// `When` bounds, as the API takes them (`YYYY-MM-DDTHH:MM:SSZ`).
    pub from: String,
    pub to: String,
    /// Only this sink gets the records; `None` = every sink that takes the job.
    pub sink: Option<String>,
}

/// Exports a time range of a job again through `/search`, under its own mark (the
/// job's live mark is not touched), and delivers it as a `--once` run does. If a
/// running bridge holds the state file, only fetches: that bridge delivers the rows.
pub async fn backfill(
    config: &Config,
    request: &BackfillRequest,
    shutdown: Shutdown,
    store: StoreHandle,
) -> anyhow::Result<RunReport> {
    let job = config
        .jobs
        .iter()
        .find(|j| j.name.get_ref() == &request.job)
        .ok_or_else(|| anyhow::anyhow!("no job is named {:?} in the config", request.job))?;
    if let Some(sink) = &request.sink {
        let s = config
            .sinks
            .iter()
            .find(|s| &s.name == sink)
            .ok_or_else(|| anyhow::anyhow!("no sink is named {sink:?}"))?;
        anyhow::ensure!(s.takes(&request.job), "sink {sink:?} does not take job {:?} (see its `jobs`)", request.job);
    }
    let mut search =
        job.search_request().map_err(|e| anyhow::anyhow!("job {:?}: {e}", request.job))?.unwrap_or_default();
    search.filters.retain(|f| !f.field.eq_ignore_ascii_case("When"));
    search.filters.push(netwrix::Filter {
        field: "When".into(),
        operator: None,
        value: netwrix::FilterValue::Interval { from: Some(request.from.clone()), to: Some(request.to.clone()) },
    });
    let name =
        crate::backfill::register(&store, &request.job, request.sink.as_deref(), &request.from, &request.to).await?;
    let plan = FetchPlan { name, job, search: Some(search), wait: Wait::Interval(job.interval()) };
    let role = match lock_state(&config.state.path) {
        Ok(_free) => Role::Deliver,
        Err(_) => {
            tracing::info!("a running auditbridge holds the state file: fetching only; it delivers the records");
            Role::FetchOnly
        }
    };
    let options = RunOptions { once: true };
    let pipeline =
        Pipeline::open(config, options, shutdown, store, role, std::slice::from_ref(&plan.name), None).await?;
    pipeline.run(vec![plan], None).await
}
