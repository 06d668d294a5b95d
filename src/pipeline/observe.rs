//! What a run shows the outside while it runs: the `/metrics` server and the jobs'
//! stale-mark probes (`[metrics]`).
//!
//! Started before any fetcher, so a port already taken fails the run at once rather
//! than after records moved; stopped and waited for at the end, so its port is free
//! again when a reload (SIGHUP) starts the next run in the same process. A backfill
//! runs beside the live bridge and starts neither: that bridge serves the metrics.

use super::Shared;
use crate::config::{Config, JobConfig};
use crate::shutdown::Shutdown;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The metrics server and probes of one run.
#[derive(Default)]
pub(super) struct Observers {
    server: Option<JoinHandle<()>>,
    probes: Vec<JoinHandle<()>>,
}

impl Observers {
    /// Serves `/metrics` if the config asks for it and, outside `--once`, starts a
    /// stale-mark probe for each of `jobs` when `stale_after` is set.
    pub async fn start(
        config: &Config,
        jobs: &[&JobConfig],
        once: bool,
        shared: &Arc<Shared>,
        shutdown: &Shutdown,
    ) -> anyhow::Result<Observers> {
        let mut observers = Observers::default();
        let Some(metrics) = &config.metrics else { return Ok(observers) };
        let addr: std::net::SocketAddr = metrics.listen.get_ref().parse()?;
        let readiness = crate::metrics::Readiness {
            jobs: config.jobs.iter().map(|j| (j.name.get_ref().clone(), readiness_window(j))).collect(),
        };
        let (addr, task) = crate::metrics::serve(addr, shared.clone(), readiness)
            .await
            .with_context(|| format!("serving metrics on {addr}"))?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        observers.server = Some(task);
        if let Some(stale_after) = metrics.stale_after.filter(|_| !once) {
            for job in jobs {
                let probe = super::health::Probe::new(job)?;
                observers.probes.push(tokio::spawn(probe.watch(shared.clone(), stale_after.0, shutdown.clone())));
            }
        }
        Ok(observers)
    }

    /// Stops the probes and the server, and waits until the server's port is closed.
    pub async fn stop(self) {
        self.probes.iter().for_each(JoinHandle::abort);
        if let Some(server) = self.server {
            server.abort();
            let _ = server.await;
        }
    }
}

/// How long a job may go without a successful fetch and still count as ready:
/// its wait between runs, plus one request's timeout, plus a minute of slack.
fn readiness_window(job: &JobConfig) -> Duration {
    let between = job.schedule.as_ref().and_then(|e| crate::schedule::period(e.get_ref())).unwrap_or(job.interval());
    between + job.timeout.0 + Duration::from_secs(60)
}
