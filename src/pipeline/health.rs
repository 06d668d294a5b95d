//! Mark health: how long since each job's mark moved and its last records came
//! (`status`, `/metrics`), and whether a job is stuck while the server has data
//! (`/readyz`, with `[metrics] stale_after`).
//!
//! A mark that stops moving is normal when nothing new is audited; it is a problem when
//! the server holds records the job has not taken (a sink down filling the spool, a
//! job stopped on an error). So past `stale_after` without a move, the job's server is
//! asked, with a search for one record after the latest `When` spooled, whether there
//! is anything to take; only then is the job reported stale.

use super::{client_for_with_count, Shared, StoreHandle};
use crate::config::JobConfig;
use crate::shutdown::Shutdown;
use netwrix::{Filter, FilterValue, SearchRequest};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Loads what earlier runs saved of each job's progress into this run's counters.
pub(crate) async fn restore(store: &StoreHandle, shared: &Shared) -> Result<(), state::StateError> {
    for (job, counters) in &shared.jobs {
        let job = job.clone();
        let progress = store.read(move |s| s.job_progress(&job)).await?;
        counters.restore(&progress);
    }
    Ok(())
}

/// Saves every job's progress (at the end of a run: the fetchers save only now and then).
/// A backfill's own marks are not watched: the store keeps nothing of theirs.
pub(crate) async fn save(store: &StoreHandle, shared: &Shared) -> Result<(), state::StateError> {
    for (job, counters) in &shared.jobs {
        let (job, progress) = (job.clone(), counters.progress());
        store.call(move |s| s.save_job_progress(&job, &progress)).await?;
    }
    Ok(())
}

/// A job's stale-mark probe, ready to run as a task: [`Probe::watch`].
pub(crate) struct Probe {
    name: String,
    client: netwrix::client::Client,
    /// The job's own filters, without any `When`.
    search: SearchRequest,
}

impl Probe {
    pub(crate) fn new(job: &JobConfig) -> anyhow::Result<Probe> {
        let mut search = job.search_request().map_err(anyhow::Error::msg)?.unwrap_or_default();
        search.filters.retain(|f| !f.field.eq_ignore_ascii_case("When"));
        Ok(Probe { name: job.name.get_ref().clone(), client: client_for_with_count(job, Some(1))?, search })
    }

    /// Checks the job every so often until shutdown: past `stale_after` without a mark
    /// move, asks its server and sets or clears the job's stale reason.
    pub(crate) async fn watch(self, shared: Arc<Shared>, stale_after: Duration, mut shutdown: Shutdown) {
        let Some(counters) = shared.jobs.get(&self.name).cloned() else { return };
        let started = chrono::Utc::now().timestamp_millis();
        let every = (stale_after / 4).clamp(Duration::from_millis(200), Duration::from_secs(60));
        let name = &self.name;
        loop {
            if shutdown.sleep(every).await {
                return;
            }
            let now = chrono::Utc::now().timestamp_millis();
            let moved = Some(counters.mark_moved_ms.load(Relaxed)).filter(|m| *m != 0).unwrap_or(started);
            let still = Duration::from_millis((now - moved).max(0) as u64);
            let reason = if still <= stale_after {
                None
            } else {
                let after = counters.last_when_ms.load(Relaxed);
                match self.client.search(&self.after(after)).await {
                    Ok(page) if !page.records.is_empty() => Some(format!(
                        "job {name:?}: its mark has not moved for {}s while the server has records after {}",
                        still.as_secs(),
                        when_text(after)
                    )),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::debug!(job = %name, "stale-mark probe failed: {e}");
                        None
                    }
                }
            };
            if let Ok(mut stale) = counters.stale.lock() {
                if reason.is_some() && stale.is_none() {
                    tracing::warn!(job = %name, "{}", reason.as_deref().unwrap_or_default());
                }
                *stale = reason;
            }
        }
    }

    /// The job's own filters, and `When` after the latest one spooled (a second later:
    /// `From` is inclusive and `When` has whole seconds).
    fn after(&self, after_ms: i64) -> SearchRequest {
        let mut search = self.search.clone();
        search.filters.push(Filter {
            field: "When".into(),
            operator: None,
            value: FilterValue::Interval { from: Some(when_text(after_ms + 1000)), to: None },
        });
        search
    }
}

fn when_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms.max(0))
        .map_or_else(|| "1970-01-01T00:00:00Z".into(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}
