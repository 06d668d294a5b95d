//! What the fetchers and delivery loops tell each other: new rows were spooled,
//! a sink acknowledged, the fetchers are done; and the counters the demo, status
//! and metrics read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// Counters of one job.
#[derive(Debug, Default)]
pub struct JobCounters {
    pub fetched: AtomicU64,
    pub spooled: AtomicU64,
    pub duplicates: AtomicU64,
    pub pages: AtomicU64,
    pub retries: AtomicU64,
}

/// Counters and position of one sink.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub delivered: AtomicU64,
    pub retries: AtomicU64,
    /// The acknowledged seq (the cursor).
    pub cursor: AtomicU64,
    pub failed: AtomicBool,
}

/// State shared by every task of one run.
pub struct Shared {
    pub jobs: HashMap<String, Arc<JobCounters>>,
    pub sinks: HashMap<String, Arc<SinkCounters>>,
    /// The highest spooled seq; delivery loops wait on its changes.
    spooled: watch::Sender<u64>,
    acked: Notify,
    fetchers_running: AtomicUsize,
}

impl Shared {
    pub fn new(jobs: &[String], sinks: &[(String, u64)], max_seq: u64) -> Arc<Self> {
        Arc::new(Shared {
            jobs: jobs.iter().map(|j| (j.clone(), Arc::default())).collect(),
            sinks: sinks
                .iter()
                .map(|(s, cursor)| {
                    (s.clone(), Arc::new(SinkCounters { cursor: AtomicU64::new(*cursor), ..Default::default() }))
                })
                .collect(),
            spooled: watch::Sender::new(max_seq),
            acked: Notify::new(),
            fetchers_running: AtomicUsize::new(jobs.len()),
        })
    }

    /// A page was committed; `max_seq` is now the highest seq in the spool.
    pub fn spooled(&self, max_seq: u64) {
        self.spooled.send_if_modified(|cur| {
            let grew = max_seq > *cur;
            *cur = (*cur).max(max_seq);
            grew
        });
    }

    pub fn max_seq(&self) -> u64 {
        *self.spooled.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.spooled.subscribe()
    }

    /// A sink acknowledged everything up to `seq`.
    pub fn acked(&self, sink: &str, seq: u64) {
        if let Some(c) = self.sinks.get(sink) {
            c.cursor.store(seq, Relaxed);
        }
        self.acked.notify_waiters();
    }

    /// Records not yet acknowledged by the slowest sink that has not failed for good.
    pub fn backlog(&self) -> u64 {
        let min = self.sinks.values().filter(|c| !c.failed.load(Relaxed)).map(|c| c.cursor.load(Relaxed)).min();
        min.map_or(0, |m| self.max_seq().saturating_sub(m))
    }

    /// Resolves at the next acknowledgement.
    pub async fn next_ack(&self) {
        self.acked.notified().await
    }

    /// A fetcher has finished (`run --once`, or stopped on an error).
    pub fn fetcher_done(&self) {
        self.fetchers_running.fetch_sub(1, Relaxed);
        // Wake idle delivery loops so they can see that nothing more will come.
        self.spooled.send_modify(|_| {});
    }

    pub fn fetchers_done(&self) -> bool {
        self.fetchers_running.load(Relaxed) == 0
    }
}
