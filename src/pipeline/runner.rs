//! [`Pipeline`]: one run's tasks, from start to the last prune.
//!
//! A run is built in steps that each do one thing: [`Pipeline::open`] takes the state
//! lock and registers the sinks' cursors (only when this run delivers), then
//! [`spawn_fetchers`](Pipeline::spawn_fetchers), [`spawn_deliveries`](Pipeline::spawn_deliveries)
//! and [`supervise`](Pipeline::supervise), which collects the tasks' failures and
//! enforces the shutdown grace, and [`finish`](Pipeline::finish). Whether a run
//! delivers is decided once, by its [`Role`].

use super::observe::Observers;
use super::pruner::{Pruner, Retention};
use super::{client_for, delivery, fetcher, health, sink_for, RunOptions, RunReport, Shared, StoreHandle};
use crate::backoff::Backoff;
use crate::config::{Config, JobConfig, SinkConfig, StartAt};
use crate::schedule::{Scheduler, Wait};
use crate::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};

/// How long in-flight batches may take to finish after a shutdown is asked for,
/// leaving time to close the database within the 10 seconds a service manager allows.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(7);

/// One fetcher to start: the job's config, the name its rows and mark go under, its
/// search (if any) and how it waits between runs.
pub(super) struct FetchPlan<'a> {
    pub name: String,
    pub job: &'a JobConfig,
    pub search: Option<netwrix::SearchRequest>,
    pub wait: Wait,
}

/// What a run does with what it fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Fetches and delivers, holding the state lock.
    Deliver,
    /// Only fetches: a backfill beside a running bridge, which holds the lock and delivers.
    FetchOnly,
}

/// A run's shared state and tasks; see the [module documentation](self).
pub(super) struct Pipeline<'a> {
    config: &'a Config,
    options: RunOptions,
    shutdown: Shutdown,
    store: StoreHandle,
    shared: Arc<Shared>,
    /// The sinks this run delivers to, with the cursor each starts from (none: fetch only).
    sinks: Vec<(&'a SinkConfig, state::Cursor)>,
    /// The state lock, held until the run ends; `None` for [`Role::FetchOnly`].
    lock: Option<std::fs::File>,
    tasks: JoinSet<Result<(), String>>,
    pruner: Option<JoinHandle<()>>,
    observers: Observers,
    scheduler: Option<Scheduler>,
}

impl<'a> Pipeline<'a> {
    /// Takes the lock and registers every sink's cursor if this run delivers, restores
    /// the jobs' saved progress, and hands the shared state to `shared_out` (the demo and
    /// `run` draw from it).
    pub async fn open(
        config: &'a Config,
        options: RunOptions,
        shutdown: Shutdown,
        store: StoreHandle,
        role: Role,
        jobs: &[String],
        shared_out: Option<tokio::sync::oneshot::Sender<Arc<Shared>>>,
    ) -> anyhow::Result<Pipeline<'a>> {
        let lock = match role {
            Role::Deliver => Some(super::lock_state(&config.state.path)?),
            Role::FetchOnly => None,
        };
        let mut sinks = Vec::new();
        for sink in config.sinks.iter().filter(|_| role == Role::Deliver) {
            let start = match sink.start {
                StartAt::Oldest => state::Start::Oldest,
                StartAt::Now => state::Start::Now,
            };
            let name = sink.name.clone();
            sinks.push((sink, store.call(move |s| s.register_sink(&name, start)).await?));
        }
        let max_seq = store.call(|s| s.max_seq()).await?;
        let positions: Vec<(String, u64)> = sinks.iter().map(|(s, c)| (s.name.clone(), c.seq)).collect();
        let shared = Shared::new(jobs, &positions, max_seq);
        health::restore(&store, &shared).await?;
        if let Some(tx) = shared_out {
            let _ = tx.send(shared.clone());
        }
        Ok(Pipeline {
            config,
            options,
            shutdown,
            store,
            shared,
            sinks,
            lock,
            tasks: JoinSet::new(),
            pruner: None,
            observers: Observers::default(),
            scheduler: None,
        })
    }

    /// Runs `plans` (and, if this run delivers, every sink) to the end: the metrics and
    /// probes first, then the tasks, supervised until they are all done.
    pub async fn run(mut self, plans: Vec<FetchPlan<'a>>, scheduler: Option<Scheduler>) -> anyhow::Result<RunReport> {
        self.scheduler = scheduler;
        // A backfill (a plan fetching under a name of its own) runs beside the live
        // bridge: it serves no metrics of its own.
        if plans.iter().all(|p| p.name == *p.job.name.get_ref()) {
            let jobs: Vec<&JobConfig> = plans.iter().map(|p| p.job).collect();
            self.observers =
                Observers::start(self.config, &jobs, self.options.once, &self.shared, &self.shutdown).await?;
        }
        if let Err(e) = self.spawn_fetchers(plans) {
            self.finish().await;
            return Err(e);
        }
        self.spawn_deliveries();
        self.spawn_pruner();
        let report = self.supervise().await;
        self.finish().await;
        Ok(report)
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.config.retry.initial_delay.0, self.config.retry.max_delay.0)
    }

    /// With `--once`, how long a job or sink may fail before it is given up.
    fn give_up_after(&self) -> Option<Duration> {
        self.options.once.then_some(self.config.retry.give_up_after.0)
    }

    /// One fetcher task per plan.
    fn spawn_fetchers(&mut self, plans: Vec<FetchPlan<'a>>) -> anyhow::Result<()> {
        for FetchPlan { name, job, search, wait } in plans {
            if job.tls.insecure_skip_verify {
                tracing::warn!(job = %job.name.get_ref(), "TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read and alter this job's data");
            }
            let fetcher = fetcher::Fetcher {
                job: name,
                client: client_for(job)?,
                search,
                store: self.store.clone(),
                shared: self.shared.clone(),
                wait,
                backoff: self.backoff(),
                once: self.options.once,
                give_up_after: self.give_up_after(),
                max_backlog: self.config.spool.max_records,
                max_bytes: self.config.spool.max_bytes,
                shutdown: self.shutdown.clone(),
            };
            self.tasks.spawn(async move { fetcher.run().await.map_err(|e| e.to_string()) });
        }
        Ok(())
    }

    /// One delivery task per sink this run delivers to.
    fn spawn_deliveries(&mut self) {
        for (sink, cursor) in std::mem::take(&mut self.sinks) {
            let delivery = delivery::Delivery {
                name: sink.name.clone(),
                sink: sink_for(sink),
                start: cursor,
                jobs: sink.jobs.clone(),
                filter: sink.filter.clone(),
                store: self.store.clone(),
                shared: self.shared.clone(),
                batch_records: sink.batch_records,
                batch_bytes: 8 << 20,
                backoff: self.backoff(),
                once: self.options.once,
                give_up_after: self.give_up_after(),
                shutdown: self.shutdown.clone(),
            };
            self.tasks.spawn(async move { delivery.run().await.map_err(|e| e.to_string()) });
        }
    }

    /// The pruner, for the sinks of the config when this run delivers (a fetch-only run
    /// leaves pruning to the process that delivers).
    fn pruner(&self) -> Pruner {
        let delivers = self.lock.is_some();
        Pruner {
            store: self.store.clone(),
            shared: self.shared.clone(),
            sinks: self.config.sinks.iter().filter(|_| delivers).map(|s| s.name.clone()).collect(),
            retention: Retention::of(&self.config.spool),
        }
    }

    fn spawn_pruner(&mut self) {
        if self.lock.is_some() {
            self.pruner = Some(tokio::spawn(self.pruner().run(self.shutdown.clone())));
        }
    }

    /// Waits for every task, collecting failures; after a shutdown is asked for, gives
    /// in-flight work [`SHUTDOWN_GRACE`] and then abandons it with its cursor unmoved
    /// (delivered again at the next start).
    async fn supervise(&mut self) -> RunReport {
        let mut report = RunReport::default();
        let mut shutdown = self.shutdown.clone();
        let mut deadline = None;
        loop {
            let joined = tokio::select! {
                joined = self.tasks.join_next() => joined,
                () = shutdown.wait(), if deadline.is_none() => {
                    deadline = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                    continue;
                }
                () = sleep_until(deadline) => {
                    tracing::warn!(tasks = self.tasks.len(), "shutdown: abandoning work still in flight after {SHUTDOWN_GRACE:?}");
                    self.tasks.abort_all();
                    deadline = None;
                    continue;
                }
            };
            match joined {
                None => return report,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(failure))) => report.failures.push(failure),
                Some(Err(e)) if e.is_cancelled() => {}
                Some(Err(panic)) => report.failures.push(format!("a task panicked: {panic}")),
            }
        }
    }

    /// Stops what runs beside the tasks, saves the jobs' progress times and prunes what
    /// was acknowledged last.
    async fn finish(mut self) {
        self.tasks.abort_all();
        if let Some(p) = self.pruner.take() {
            p.abort();
        }
        std::mem::take(&mut self.observers).stop().await;
        if let Err(e) = health::save(&self.store, &self.shared).await {
            tracing::warn!("saving the jobs' progress times: {e}");
        }
        if let Some(s) = self.scheduler.take() {
            s.stop().await;
        }
        self.pruner().finish().await;
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
