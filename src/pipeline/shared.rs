//! What the fetchers and delivery loops tell each other: new rows were spooled,
//! a sink acknowledged, the fetchers are done; and the counters the demo, status
//! and metrics read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
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
    /// When the last page was fetched and committed (Unix ms; 0 = never in this run).
    pub last_success_ms: AtomicI64,
    /// How long a page request took, from request to decoded page.
    pub page_latency: Histogram,
    /// When the job's mark last changed (Unix ms; 0 = not known), for `/metrics` and `/readyz`.
    pub mark_moved_ms: AtomicI64,
    /// When the last page with records was committed (Unix ms; 0 = not known).
    pub records_ms: AtomicI64,
    /// The latest `When` spooled (Unix ms; 0 = none known): where the stale probe searches from.
    pub last_when_ms: AtomicI64,
    /// When these three were last saved to the state file (Unix ms).
    pub progress_saved_ms: AtomicI64,
    /// Why the job's mark is stale (see `pipeline::health`), or `None`.
    pub stale: std::sync::Mutex<Option<String>>,
}

impl JobCounters {
    /// The progress as the state file keeps it (0 = not known).
    pub fn progress(&self) -> state::JobProgress {
        let known = |v: &AtomicI64| Some(v.load(Relaxed)).filter(|v| *v != 0);
        state::JobProgress {
            mark_moved_ms: known(&self.mark_moved_ms),
            records_ms: known(&self.records_ms),
            last_when_ms: known(&self.last_when_ms),
        }
    }

    /// Takes the progress saved by an earlier run.
    pub fn restore(&self, p: &state::JobProgress) {
        self.mark_moved_ms.store(p.mark_moved_ms.unwrap_or(0), Relaxed);
        self.records_ms.store(p.records_ms.unwrap_or(0), Relaxed);
        self.last_when_ms.store(p.last_when_ms.unwrap_or(0), Relaxed);
    }
}

/// A fixed-bucket histogram of seconds, cheap enough to update on every page.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Counts per bucket of [`Histogram::BOUNDS`], plus one for +Inf.
    buckets: [AtomicU64; 12],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Upper bounds of the buckets, in seconds.
    pub const BOUNDS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        let i = Self::BOUNDS.iter().position(|b| secs <= *b).unwrap_or(Self::BOUNDS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    /// Cumulative counts per bound (the last is +Inf = the total), and the sum in seconds.
    pub fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self.buckets.iter().map(|b| {
            total += b.load(Relaxed);
            total
        });
        (cumulative.collect(), self.sum_micros.load(Relaxed) as f64 / 1e6)
    }
}

/// Counters and position of one sink.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub delivered: AtomicU64,
    /// Delivery attempts that failed (each is retried, or stops the sink when fatal).
    pub failures: AtomicU64,
    pub retries: AtomicU64,
    /// The acknowledged seq (the cursor).
    pub cursor: AtomicU64,
    pub failed: AtomicBool,
    /// How long ago its oldest unacknowledged record was fetched (ms), as of the last prune.
    pub lag_ms: AtomicU64,
}

/// State shared by every task of one run.
pub struct Shared {
    pub jobs: HashMap<String, Arc<JobCounters>>,
    pub sinks: HashMap<String, Arc<SinkCounters>>,
    /// The highest spooled seq; delivery loops wait on its changes.
    spooled: watch::Sender<u64>,
    acked: Notify,
    fetchers_running: AtomicUsize,
    /// Bytes the state file uses (pages in use), as of the last prune.
    spool_bytes: AtomicU64,
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
            spool_bytes: AtomicU64::new(0),
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

    pub fn set_spool_bytes(&self, bytes: u64) {
        self.spool_bytes.store(bytes, Relaxed);
    }

    pub fn spool_bytes(&self) -> u64 {
        self.spool_bytes.load(Relaxed)
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
