//! The pruner: deletes spool rows every configured sink has acknowledged, now and then
//! and once more at the end of a run.
//!
//! It is also the run's slow clock: it trims the de-duplication memory, refreshes the
//! spool's size (which the fetchers' backpressure reads) and each sink's lag, and syncs
//! the state file, which bounds what a power loss can undo of the acks and prunes that
//! were committed without an fsync of their own.

use super::{Shared, StoreHandle};
use crate::shutdown::Shutdown;
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// What the pruner keeps: its period, the lag it warns about, the de-duplication memory.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retention {
    every: Duration,
    max_lag: Duration,
    dedup_window: Duration,
    dedup_max_ids: u64,
}

impl Retention {
    pub(super) fn of(spool: &crate::config::SpoolConfig) -> Self {
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

/// The pruner of one run: the sinks whose cursors hold rows back.
#[derive(Clone)]
pub(super) struct Pruner {
    pub store: StoreHandle,
    pub shared: Arc<Shared>,
    /// Every sink this run delivers to; none when it only fetches (nothing is pruned).
    pub sinks: Vec<String>,
    pub retention: Retention,
}

impl Pruner {
    /// Prunes every `prune_interval` until `shutdown`, warning once about each sink that
    /// lags past `max_lag` and once more when it has caught up.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut lagging = HashSet::new();
        loop {
            if shutdown.sleep(self.retention.every).await {
                return;
            }
            match self.prune_and_measure().await {
                Ok((pruned, bytes, oldest)) => {
                    if pruned > 0 {
                        tracing::debug!(rows = pruned, "pruned acknowledged spool rows");
                    }
                    self.shared.set_spool_bytes(bytes);
                    self.report_lag(oldest, &mut lagging);
                }
                Err(e) => tracing::warn!("pruning the spool: {e}"),
            }
        }
    }

    /// The last prune of a run, after every task stopped: what was acknowledged last goes
    /// too, and the state file is synced.
    pub async fn finish(self) {
        let (names, retention) = (self.sinks, self.retention);
        let pruned = self.store.call(move |s| {
            s.prune(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
            retention.forget(s)?;
            s.sync()
        });
        if let Err(e) = pruned.await {
            tracing::warn!("pruning the spool: {e}");
        }
    }

    /// Prunes, then returns how many rows went, the bytes in use, and when each sink's
    /// oldest unacknowledged row was fetched.
    async fn prune_and_measure(&self) -> Result<(u64, u64, Vec<(String, Option<i64>)>), state::StateError> {
        let (names, retention) = (self.sinks.clone(), self.retention);
        let done = self
            .store
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
            .await?;
        // Acks and prunes are committed without their own fsync; this bounds how many a
        // power loss can undo to those of the last `prune_interval`. Through the reading
        // connection: the checkpoint that does it then runs beside page commits.
        self.store.read(|s| s.sync()).await?;
        Ok(done)
    }

    /// Publishes each sink's lag and logs the sinks that crossed `max_lag` either way.
    fn report_lag(&self, oldest: Vec<(String, Option<i64>)>, lagging: &mut HashSet<String>) {
        let max_lag = self.retention.max_lag;
        let now = chrono::Utc::now().timestamp_millis();
        for (sink, first) in oldest {
            let lag = first.map_or(Duration::ZERO, |t| Duration::from_millis(now.saturating_sub(t).max(0) as u64));
            if let Some(c) = self.shared.sinks.get(&sink) {
                c.lag_ms.store(lag.as_millis() as u64, Relaxed);
            }
            if lag > max_lag && lagging.insert(sink.clone()) {
                tracing::warn!(sink = %sink, lag_s = lag.as_secs(), "sink {sink:?} is lagging: its oldest unacknowledged record was fetched {}s ago (max_lag {}s); its records are kept", lag.as_secs(), max_lag.as_secs());
            } else if lag <= max_lag && lagging.remove(&sink) {
                tracing::info!(sink = %sink, "sink {sink:?} has caught up within max_lag");
            }
        }
    }
}
