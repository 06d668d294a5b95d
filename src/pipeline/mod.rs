//! The pipeline: fetch → spool → sinks.
//!
//! [`run`] opens the state store, registers every sink's cursor, then starts one
//! [`fetcher`] per job and one [`delivery`] loop per sink, plus a pruner that deletes
//! spool rows every sink has acknowledged. Tasks talk only through the store and the
//! [`Shared`] notifications, so one job or sink failing never stops the others.

pub mod delivery;
pub mod fetcher;
mod health;
mod shared;
pub mod start;
mod store;

pub use shared::{Histogram, JobCounters, Shared, SinkCounters};
pub use store::StoreHandle;

use crate::backoff::Backoff;
use crate::config::{AuthKind, Config, JobConfig, SinkConfig, StartAt, Synchronous};
use crate::schedule::{Scheduler, Wait};
use crate::shutdown::Shutdown;
use anyhow::Context;
use netwrix::client::{AuthScheme, Client, ClientConfig, Credentials, KerberosSettings, Trust};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Duration;

/// How a run behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Drain every job to the end of data, deliver everything, then return.
    pub once: bool,
}

/// One fetcher to start: the job's config, the name its rows and mark go under, its
/// search (if any) and how it waits between runs.
struct FetchPlan<'a> {
    name: String,
    job: &'a JobConfig,
    search: Option<netwrix::SearchRequest>,
    wait: Wait,
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
    let scheduler = if ticks.is_empty() || options.once { None } else { Some(Scheduler::start(ticks).await?) };
    run_plans(config, options, shutdown, store, shared_out, plans, true, scheduler).await
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
    let options = RunOptions { once: true };
    match lock_state(&config.state.path) {
        Ok(lock) => {
            drop(lock);
            run_plans(config, options, shutdown, store, None, vec![plan], true, None).await
        }
        Err(_) => {
            tracing::info!("a running auditbridge holds the state file: fetching only; it delivers the records");
            run_plans(config, options, shutdown, store, None, vec![plan], false, None).await
        }
    }
}

/// Starts the fetchers of `plans` and, if `deliver`, every sink's delivery loop.
#[allow(clippy::too_many_arguments)]
async fn run_plans(
    config: &Config,
    options: RunOptions,
    shutdown: Shutdown,
    store: StoreHandle,
    shared_out: Option<tokio::sync::oneshot::Sender<Arc<Shared>>>,
    plans: Vec<FetchPlan<'_>>,
    deliver: bool,
    scheduler: Option<Scheduler>,
) -> anyhow::Result<RunReport> {
    let _lock = if deliver { Some(lock_state(&config.state.path)?) } else { None };
    let mut cursors = Vec::new();
    for sink in config.sinks.iter().filter(|_| deliver) {
        let (name, start) = (
            sink.name.clone(),
            match sink.start {
                StartAt::Oldest => state::Start::Oldest,
                StartAt::Now => state::Start::Now,
            },
        );
        let cursor = store.call(move |s| s.register_sink(&name, start)).await?;
        cursors.push(cursor);
    }
    let max_seq = store.call(|s| s.max_seq()).await?;
    let job_names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let sink_positions: Vec<(String, u64)> =
        config.sinks.iter().zip(&cursors).map(|(s, c)| (s.name.clone(), c.seq)).collect();
    let shared = Shared::new(&job_names, &sink_positions, max_seq);
    health::restore(&store, &shared).await?;
    if let Some(tx) = shared_out {
        let _ = tx.send(shared.clone());
    }
    let backoff = || Backoff::new(config.retry.initial_delay.0, config.retry.max_delay.0);
    let give_up_after = options.once.then_some(config.retry.give_up_after.0);

    // A backfill (a plan fetching under a name of its own) runs beside the live bridge:
    // it serves no metrics of its own.
    let live = plans.iter().all(|p| p.name == *p.job.name.get_ref());
    let metrics = match config.metrics.as_ref().filter(|_| live) {
        Some(m) => {
            let addr: std::net::SocketAddr = m.listen.get_ref().parse()?;
            let readiness = crate::metrics::Readiness {
                jobs: config.jobs.iter().map(|j| (j.name.get_ref().clone(), readiness_window(j))).collect(),
            };
            let (addr, task) = crate::metrics::serve(addr, shared.clone(), readiness)
                .await
                .with_context(|| format!("serving metrics on {addr}"))?;
            tracing::info!(%addr, "metrics on http://{addr}/metrics");
            Some(task)
        }
        None => None,
    };

    let mut probes = Vec::new();
    if let Some(stale_after) = config.metrics.as_ref().and_then(|m| m.stale_after).filter(|_| live && !options.once) {
        for plan in &plans {
            let probe = health::Probe::new(plan.job)?;
            probes.push(tokio::spawn(probe.watch(shared.clone(), stale_after.0, shutdown.clone())));
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for FetchPlan { name, job, search, wait } in plans {
        if job.tls.insecure_skip_verify {
            tracing::warn!(job = %job.name.get_ref(), "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read and alter this job's data");
        }
        let fetcher = fetcher::Fetcher {
            job: name,
            client: client_for(job)?,
            search,
            store: store.clone(),
            shared: shared.clone(),
            wait,
            backoff: backoff(),
            once: options.once,
            give_up_after,
            max_backlog: config.spool.max_records,
            max_bytes: config.spool.max_bytes,
            shutdown: shutdown.clone(),
        };
        tasks.spawn(async move { fetcher.run().await.map_err(|e| e.to_string()) });
    }
    for (sink, cursor) in config.sinks.iter().filter(|_| deliver).zip(cursors) {
        let delivery = delivery::Delivery {
            name: sink.name.clone(),
            sink: sink_for(sink),
            start: cursor,
            jobs: sink.jobs.clone(),
            filter: sink.filter.clone(),
            store: store.clone(),
            shared: shared.clone(),
            batch_records: sink.batch_records,
            batch_bytes: 8 << 20,
            backoff: backoff(),
            once: options.once,
            give_up_after,
            shutdown: shutdown.clone(),
        };
        tasks.spawn(async move { delivery.run().await.map_err(|e| e.to_string()) });
    }
    let pruner = deliver.then(|| {
        tokio::spawn(prune_loop(
            store.clone(),
            shared.clone(),
            config.sinks.iter().map(|s| s.name.clone()).collect(),
            Retention::of(&config.spool),
            shutdown.clone(),
        ))
    });

    let mut report = RunReport::default();
    let mut watch_shutdown = shutdown.clone();
    let mut deadline = None;
    loop {
        let joined = tokio::select! {
            joined = tasks.join_next() => joined,
            () = watch_shutdown.wait(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                continue;
            }
            () = sleep_until(deadline) => {
                // In-flight batches had their chance; what is left is abandoned with
                // its cursor unmoved, and delivered again at the next start.
                tracing::warn!(tasks = tasks.len(), "shutdown: abandoning work still in flight after {SHUTDOWN_GRACE:?}");
                tasks.abort_all();
                deadline = None;
                continue;
            }
        };
        match joined {
            None => break,
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(failure))) => report.failures.push(failure),
            Some(Err(e)) if e.is_cancelled() => {}
            Some(Err(panic)) => report.failures.push(format!("a task panicked: {panic}")),
        }
    }
    if let Some(p) = pruner {
        p.abort();
    }
    probes.iter().for_each(|p| p.abort());
    if let Err(e) = health::save(&store, &shared).await {
        tracing::warn!("saving the jobs' progress times: {e}");
    }
    if let Some(m) = metrics {
        // Waited for, so its port is free again when a reload starts the next run.
        m.abort();
        let _ = m.await;
    }
    if let Some(s) = scheduler {
        s.stop().await;
    }
    let names: Vec<String> = config.sinks.iter().filter(|_| deliver).map(|s| s.name.clone()).collect();
    let retention = Retention::of(&config.spool);
    let pruned = store.call(move |s| {
        s.prune(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
        retention.forget(s)?;
        s.sync()
    });
    if let Err(e) = pruned.await {
        tracing::warn!("pruning the spool: {e}");
    }
    Ok(report)
}

/// Takes the exclusive lock beside the state file, held for the whole run: two
/// processes delivering through the same cursors would send records twice.
pub fn lock_state(state: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another auditbridge is already running with the state file {} (it holds {}); stop it first",
            state.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// How long in-flight batches may take to finish after a shutdown is asked for,
/// leaving time to close the database within the 10 seconds a service manager allows.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// How long a job may go without a successful fetch and still count as ready:
/// its wait between runs, plus one request's timeout, plus a minute of slack.
fn readiness_window(job: &JobConfig) -> Duration {
    let between = job.schedule.as_ref().and_then(|e| crate::schedule::period(e.get_ref())).unwrap_or(job.interval());
    between + job.timeout.0 + Duration::from_secs(60)
}

/// What the pruner keeps: its period, the lag it warns about, the de-duplication memory.
#[derive(Debug, Clone, Copy)]
struct Retention {
    every: Duration,
    max_lag: Duration,
    dedup_window: Duration,
    dedup_max_ids: u64,
}

impl Retention {
    fn of(spool: &crate::config::SpoolConfig) -> Self {
        Retention {
            every: spool.prune_interval.0,
            max_lag: spool.max_lag.0,
            dedup_window: spool.dedup_window.0,
            dedup_max_ids: spool.dedup_max_ids,
        }
    }

    /// Trims the de-duplication memory to the window (`Store::forget_seen`).
    fn forget(&self, store: &mut state::Store) -> Result<u64, state::StateError> {
        let now = chrono::Utc::now().timestamp_millis();
        let window = i64::try_from(self.dedup_window.as_millis()).unwrap_or(i64::MAX);
        store.forget_seen(now, window, self.dedup_max_ids)
    }
}

/// Deletes acknowledged spool rows now and then, trims the de-duplication memory, keeps
/// the spool's size current for backpressure, and reports sinks lagging past `max_lag`.
async fn prune_loop(
    store: StoreHandle,
    shared: Arc<Shared>,
    sinks: Vec<String>,
    retention: Retention,
    mut shutdown: Shutdown,
) {
    let (every, max_lag) = (retention.every, retention.max_lag);
    let mut lagging = std::collections::HashSet::new();
    loop {
        if shutdown.sleep(every).await {
            return;
        }
        let names = sinks.clone();
        let result = store
            .call(move |s| {
                let pruned = s.prune(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
                retention.forget(s)?;
                let mut oldest = Vec::new();
                for sink in s.sinks()? {
                    if !names.contains(&sink.name) {
                        continue;
                    }
                    let first = s.read_batch(sink.cursor, 1, 0)?.into_iter().next().map(|r| r.fetched_at_ms);
                    oldest.push((sink.name, first));
                }
                Ok((pruned, s.used_bytes()?, oldest))
            })
            .await;
        // Acks and prunes are committed without their own fsync; this bounds how many a
        // power loss can undo to those of the last `prune_interval`. Through the reading
        // connection: the checkpoint that does it then runs beside page commits.
        let result = match result {
            Ok(done) => store.read(|s| s.sync()).await.map(|()| done),
            Err(e) => Err(e),
        };
        match result {
            Ok((pruned, bytes, oldest)) => {
                if pruned > 0 {
                    tracing::debug!(rows = pruned, "pruned acknowledged spool rows");
                }
                shared.set_spool_bytes(bytes);
                let now = chrono::Utc::now().timestamp_millis();
                for (sink, first) in oldest {
                    let lag =
                        first.map_or(Duration::ZERO, |t| Duration::from_millis(now.saturating_sub(t).max(0) as u64));
                    if let Some(c) = shared.sinks.get(&sink) {
                        c.lag_ms.store(lag.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                    if lag > max_lag && lagging.insert(sink.clone()) {
                        tracing::warn!(sink = %sink, lag_s = lag.as_secs(), "sink {sink:?} is lagging: its oldest unacknowledged record was fetched {}s ago (max_lag {}s); its records are kept", lag.as_secs(), max_lag.as_secs());
                    } else if lag <= max_lag && lagging.remove(&sink) {
                        tracing::info!(sink = %sink, "sink {sink:?} has caught up within max_lag");
                    }
                }
            }
            Err(e) => tracing::warn!("pruning the spool: {e}"),
        }
    }
}
