//! The pipeline: fetch → spool → sinks.
//!
//! [`run`] opens the state store, registers every sink's cursor, then starts one
//! [`fetcher`] per job and one [`delivery`] loop per sink, plus a pruner that deletes
//! spool rows every sink has acknowledged. Tasks talk only through the store and the
//! [`Shared`] notifications, so one job or sink failing never stops the others.

pub mod delivery;
pub mod fetcher;
mod shared;
mod store;

pub use shared::{JobCounters, Shared, SinkCounters};
pub use store::StoreHandle;

use crate::backoff::Backoff;
use crate::config::{AuthKind, Config, JobConfig, SinkConfig, SinkKind, StartAt, Synchronous};
use crate::shutdown::Shutdown;
use anyhow::Context;
use netwrix::client::{AuthScheme, Client, ClientConfig, Credentials, Trust};
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

/// Builds the API client of a job.
pub fn client_for(job: &JobConfig) -> anyhow::Result<Client> {
    client_for_with_count(job, job.count.as_ref().map(|c| *c.get_ref() as usize))
}

/// Builds the API client of a job, asking for `count` records a page.
pub fn client_for_with_count(job: &JobConfig, count: Option<usize>) -> anyhow::Result<Client> {
    let trust = if let Some(ca) = &job.tls.ca_file {
        Trust::CaFile(ca.clone())
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
    };
    Client::new(ClientConfig {
        base_url: job.url.get_ref().trim_end_matches('/').to_owned(),
        format: job.format,
        count,
        credentials,
        auth,
        trust,
        timeout: job.timeout.0,
        connect_timeout: Duration::from_secs(10),
    })
    .with_context(|| format!("job {:?}: building the API client", job.name.get_ref()))
}

/// Builds the sink a config describes.
pub fn sink_for(sink: &SinkConfig) -> Box<dyn sinks::Sink> {
    match &sink.kind {
        SinkKind::File { path, rotate_bytes, fsync } => {
            Box::new(sinks::file::FileSink::new(sinks::file::FileSinkConfig {
                path: path.clone(),
                rotate_bytes: *rotate_bytes,
                fsync: *fsync,
            }))
        }
        SinkKind::Stdout {} => Box::new(sinks::stdout::StdoutSink::new()),
    }
}

/// Runs the pipeline until `shutdown` (or, with `once`, until everything is delivered).
pub async fn run(config: &Config, options: RunOptions, shutdown: Shutdown) -> anyhow::Result<RunReport> {
    let store = StoreHandle::new(open_store(config)?);
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
    let mut cursors = Vec::new();
    for sink in &config.sinks {
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
    let job_names: Vec<String> = config.jobs.iter().map(|j| j.name.get_ref().clone()).collect();
    let sink_positions: Vec<(String, u64)> =
        config.sinks.iter().zip(&cursors).map(|(s, c)| (s.name.clone(), c.seq)).collect();
    let shared = Shared::new(&job_names, &sink_positions, max_seq);
    if let Some(tx) = shared_out {
        let _ = tx.send(shared.clone());
    }
    let backoff = || Backoff::new(config.retry.initial_delay.0, config.retry.max_delay.0);

    let mut tasks = tokio::task::JoinSet::new();
    for job in &config.jobs {
        if job.tls.insecure_skip_verify {
            tracing::warn!(job = %job.name.get_ref(), "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read and alter this job's data");
        }
        let fetcher = fetcher::Fetcher {
            job: job.name.get_ref().clone(),
            client: client_for(job)?,
            store: store.clone(),
            shared: shared.clone(),
            poll_interval: job.poll_interval.0,
            backoff: backoff(),
            once: options.once,
            max_backlog: config.spool.max_records,
            shutdown: shutdown.clone(),
        };
        tasks.spawn(async move { fetcher.run().await.map_err(|e| e.to_string()) });
    }
    for (sink, cursor) in config.sinks.iter().zip(cursors) {
        let delivery = delivery::Delivery {
            name: sink.name.clone(),
            sink: sink_for(sink),
            start: cursor,
            jobs: sink.jobs.clone(),
            store: store.clone(),
            shared: shared.clone(),
            batch_records: sink.batch_records,
            batch_bytes: 8 << 20,
            backoff: backoff(),
            once: options.once,
            shutdown: shutdown.clone(),
        };
        tasks.spawn(async move { delivery.run().await.map_err(|e| e.to_string()) });
    }
    let pruner = tokio::spawn(prune_loop(
        store.clone(),
        config.sinks.iter().map(|s| s.name.clone()).collect(),
        config.spool.prune_interval.0,
        shutdown.clone(),
    ));

    let mut report = RunReport::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => report.failures.push(failure),
            Err(panic) => report.failures.push(format!("a task panicked: {panic}")),
        }
    }
    pruner.abort();
    let names: Vec<String> = config.sinks.iter().map(|s| s.name.clone()).collect();
    if let Err(e) = store.call(move |s| s.prune(&names.iter().map(String::as_str).collect::<Vec<_>>())).await {
        tracing::warn!("pruning the spool: {e}");
    }
    Ok(report)
}

/// Deletes acknowledged spool rows now and then.
async fn prune_loop(store: StoreHandle, sinks: Vec<String>, every: Duration, mut shutdown: Shutdown) {
    loop {
        if shutdown.sleep(every).await {
            return;
        }
        let names = sinks.clone();
        match store.call(move |s| s.prune(&names.iter().map(String::as_str).collect::<Vec<_>>())).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "pruned acknowledged spool rows"),
            Err(e) => tracing::warn!("pruning the spool: {e}"),
        }
    }
}
