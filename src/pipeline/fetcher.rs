//! One fetcher per job: it pages through the Netwrix API from the job's saved
//! continuation mark and commits every page together with the mark that follows it.
//!
//! Because a page and its mark land in one SQLite transaction, a crash at any instant
//! re-fetches at most the page in flight; a record is never skipped.

use super::shared::{JobCounters, Shared};
use super::store::StoreHandle;
use crate::backoff::Backoff;
use crate::schedule::Wait;
use crate::shutdown::Shutdown;
use netwrix::client::{Client, ClientError};
use netwrix::Page;
use state::NewRecord;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Why a job stopped before it was told to.
#[derive(Debug, thiserror::Error)]
pub enum JobFailed {
    #[error("job {job:?}: {error}; the job is stopped and its continuation mark stays where it was")]
    Api { job: String, error: ClientError },
    #[error("job {job:?}: state store: {error}")]
    State { job: String, error: state::StateError },
    #[error("job {job:?}: gave up after failing for {seconds}s: {last}")]
    GaveUp { job: String, seconds: u64, last: String },
    #[error(
        "job {job:?}: the server sent the same page {times} times in a row under different continuation \
         marks: it is not moving forward, so the job stops (its records were spooled once); check the server, \
         then restart"
    )]
    Repeating { job: String, times: usize },
}

/// How many times in a row the same non-empty page may arrive before the job stops.
const MAX_SAME_PAGE: usize = 3;

/// Recognises a server that keeps sending the same page under marks that change.
#[derive(Default)]
struct Repeats {
    last: Option<u64>,
    times: usize,
}

impl Repeats {
    /// Notes `page`; `Some(times)` once the same page has come [`MAX_SAME_PAGE`] times in a row.
    fn see(&mut self, page: &Page) -> Option<usize> {
        if page.records.is_empty() {
            *self = Repeats::default();
            return None;
        }
        let mut hasher = std::hash::DefaultHasher::new();
        // A few fields tell records apart well enough (RID alone does on a real server)
        // without hashing whole pages.
        for record in &page.records {
            for value in [record.rid.as_deref().unwrap_or(""), &record.when, &record.who, &record.what] {
                std::hash::Hash::hash(value, &mut hasher);
            }
        }
        let this = std::hash::Hasher::finish(&hasher);
        self.times = if self.last == Some(this) { self.times + 1 } else { 1 };
        self.last = Some(this);
        (self.times >= MAX_SAME_PAGE).then_some(self.times)
    }
}

/// How often at most a job's progress times are written to the state file.
const PROGRESS_SAVE_EVERY_MS: i64 = 10_000;

/// The settings one fetcher runs with.
pub struct Fetcher {
    pub job: String,
    pub client: Client,
    /// `mode = "search"`: the filters, sent with the stored mark on every page; `None` = enum.
    pub search: Option<netwrix::SearchRequest>,
    pub store: StoreHandle,
    pub shared: Arc<Shared>,
    /// How to wait between runs (after the end of data).
    pub wait: Wait,
    pub backoff: Backoff,
    /// Stop at the end of data instead of polling again.
    pub once: bool,
    /// With `run --once`: give up after failing this long without a success.
    pub give_up_after: Option<Duration>,
    pub max_backlog: u64,
    /// Also pause while the state file uses more than this many bytes.
    pub max_bytes: Option<u64>,
    pub shutdown: Shutdown,
}

impl Fetcher {
    /// Runs until shutdown, the end of data in `once` mode, or a permanent error.
    pub async fn run(mut self) -> Result<(), JobFailed> {
        let result = self.fetch_loop().await;
        self.shared.fetcher_done();
        result
    }

    async fn fetch_loop(&mut self) -> Result<(), JobFailed> {
        let counters = self.shared.jobs.get(&self.job).cloned().unwrap_or_default();
        let mut failing_since: Option<std::time::Instant> = None;
        let job = self.job.clone();
        // The committed mark, kept in memory after each commit (this fetcher is the
        // only writer of its job's mark), so the next request can go out while the
        // page before it commits.
        let mut mark = self.store.call(move |s| s.mark(&job)).await.map_err(|e| self.state_err(e))?;
        // The next page, requested while the previous one committed; not yet committed.
        let mut prefetched: Option<Result<Page, ClientError>> = None;
        let mut repeats = Repeats::default();
        while !self.shutdown.is_triggered() {
            if !self.wait_for_room().await {
                break;
            }
            let result = match prefetched.take() {
                Some(result) => result,
                // A request in flight at shutdown is abandoned: its page was not committed,
                // so the mark still points at it and the next start asks again.
                None => match self.request(mark.clone(), &counters).await {
                    Some(result) => result,
                    None => break,
                },
            };
            match result {
                Ok(page) => {
                    self.backoff.reset();
                    failing_since = None;
                    // `mark` is what this page was asked for with: the same mark back, with
                    // records, means the next request would ask for this page again.
                    if !page.records.is_empty() && page.mark.is_some() && page.mark == mark {
                        return Err(self.stop(ClientError::StuckMark { records: page.records.len() }).await);
                    }
                    if let Some(times) = repeats.see(&page) {
                        return Err(self.stop_repeating(times).await);
                    }
                    let at_end = page.records.is_empty() || page.mark.is_none();
                    if page.mark.is_none() && !page.records.is_empty() {
                        tracing::warn!(job = %self.job, "the server sent a page without a continuation mark; treating it as the end of data");
                    }
                    let next_mark = page.mark.clone().or_else(|| mark.clone());
                    // The next page is requested early only if the spool takes this
                    // page and that one too.
                    if at_end || !self.has_room(2 * page.records.len() as u64) {
                        self.commit(page, mark.as_deref(), &counters).await?;
                        mark = next_mark;
                    } else {
                        // Page k commits while page k+1 is requested with the mark that
                        // follows page k. Commits stay in order: page k+1 is committed
                        // only after page k's transaction, by the next turn of this loop.
                        let (committed, next) = tokio::join!(
                            self.commit(page, mark.as_deref(), &counters),
                            self.request(next_mark.clone(), &counters)
                        );
                        committed?;
                        mark = next_mark;
                        match next {
                            Some(result) => prefetched = Some(result),
                            None => break,
                        }
                        continue;
                    }
                    if at_end {
                        if self.once {
                            break;
                        }
                        if !self.wait_for_next_run().await {
                            break;
                        }
                    }
                }
                Err(error) if error.is_transient() => {
                    let failing_since = *failing_since.get_or_insert_with(std::time::Instant::now);
                    if let Some(limit) = self.give_up_after.filter(|l| failing_since.elapsed() >= *l) {
                        let failed = JobFailed::GaveUp {
                            job: self.job.clone(),
                            seconds: limit.as_secs(),
                            last: error.to_string(),
                        };
                        tracing::error!(job = %self.job, "{failed}");
                        self.record_error(Some(failed.to_string())).await?;
                        return Err(failed);
                    }
                    counters.retries.fetch_add(1, Relaxed);
                    let delay = self.backoff.next_delay();
                    let message = format!("{error} (retry {} in {:.1}s)", self.backoff.attempts(), delay.as_secs_f64());
                    tracing::warn!(job = %self.job, status = error.status(), "job {:?}: {message}", self.job);
                    self.record_error(Some(message)).await?;
                    if self.shutdown.sleep(delay).await {
                        break;
                    }
                }
                Err(error) => return Err(self.stop(error).await),
            }
        }
        Ok(())
    }

    /// Requests the page after `mark` (the first page when `None`); `None` if the
    /// shutdown came first.
    async fn request(&self, mark: Option<String>, counters: &JobCounters) -> Option<Result<Page, ClientError>> {
        let started = std::time::Instant::now();
        let request = async {
            match (&self.search, mark) {
                // A search job's mark is stored like an enum mark, and sent inside the search.
                (Some(search), mark) => {
                    let request = netwrix::SearchRequest { mark, ..search.clone() };
                    self.client.search(&request).await
                }
                (None, None) => self.client.first_page().await,
                (None, Some(mark)) => self.client.next_page(&mark).await,
            }
        };
        let mut shutdown = self.shutdown.clone();
        let result = tokio::select! {
            result = request => result,
            () = shutdown.wait() => return None,
        };
        if let Ok(page) = &result {
            counters.page_latency.observe(started.elapsed());
            tracing::debug!(job = %self.job, records = page.records.len(), ms = started.elapsed().as_millis() as u64, "page fetched");
        }
        Some(result)
    }

    /// Whether the spool takes `extra` more records: the slowest sink's backlog plus
    /// them stays within `max_backlog`, and the state file is within `max_bytes` (or no
    /// sink has anything left to take, so waiting would not shrink it).
    fn has_room(&self, extra: u64) -> bool {
        let backlog = self.shared.backlog();
        let over_bytes = self.max_bytes.is_some_and(|max| self.shared.spool_bytes() > max) && backlog > 0;
        backlog.saturating_add(extra) <= self.max_backlog && !over_bytes
    }

    /// Commits `page` and its mark in one transaction. `before` is the job's committed
    /// mark, which this fetcher holds in memory (it is the only writer of it), so the
    /// transaction need not read it back to tell whether the mark moved.
    async fn commit(&self, page: Page, before: Option<&str>, counters: &Arc<JobCounters>) -> Result<(), JobFailed> {
        let job = self.job.clone();
        let moved = page.mark.is_some() && page.mark.as_deref() != before;
        let fetched = page.records.len() as u64;
        let now = chrono::Utc::now().timestamp_millis();
        // The compact forms and ids are computed before the store is locked, so the
        // sinks' acks and other jobs' commits are not held up by them.
        let prepared = tokio::task::spawn_blocking(move || {
            let rows: Vec<(netwrix::RecordId, i64, Vec<u8>)> = page
                .records
                .iter()
                .map(|record| {
                    let payload = netwrix::compact::to_vec(record);
                    (netwrix::RecordId::of_compact(&payload), netwrix::compact::order_key(&payload), payload)
                })
                .collect();
            let last_when = page.records.iter().filter_map(|r| r.when_utc()).map(|t| t.timestamp_millis()).max();
            (rows, page.mark, last_when)
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        let outcome = self
            .store
            .call(move |s| {
                let (rows, mark, last_when) = prepared;
                let rows: Vec<NewRecord<'_>> =
                    rows.iter().map(|(id, order, payload)| NewRecord { id: id.0, order: *order, payload }).collect();
                let outcome = s.commit_page(&job, &rows, mark.as_deref(), now)?;
                s.record_job_error(&job, None)?;
                Ok((outcome, last_when))
            })
            .await
            .map_err(|e| self.state_err(e))?;
        let (outcome, last_when) = outcome;
        self.note_progress(counters, now, moved, outcome.inserted + outcome.duplicates > 0, last_when).await?;
        counters.pages.fetch_add(1, Relaxed);
        counters.last_success_ms.store(now, Relaxed);
        counters.fetched.fetch_add(fetched, Relaxed);
        counters.spooled.fetch_add(outcome.inserted, Relaxed);
        counters.duplicates.fetch_add(outcome.duplicates, Relaxed);
        if outcome.duplicates > 0 && outcome.inserted == 0 {
            tracing::warn!(
                job = %self.job,
                duplicates = outcome.duplicates,
                "every record of the page was one this job had already spooled (the server sent them again: \
                 a restored database, or a mark that stepped back); none is delivered again"
            );
        } else if outcome.duplicates > 0 {
            tracing::info!(job = %self.job, duplicates = outcome.duplicates, "records this job had already spooled were skipped");
        }
        self.shared.spooled(outcome.last_seq);
        Ok(())
    }

    /// Waits for the next interval or schedule tick; false if the shutdown came first.
    async fn wait_for_next_run(&mut self) -> bool {
        match self.wait.clone() {
            Wait::Interval(d) => !self.shutdown.sleep(d).await,
            Wait::Tick(wake) => tokio::select! {
                () = wake.notified() => !self.shutdown.is_triggered(),
                () = self.shutdown.wait() => false,
            },
        }
    }

    /// Waits while the slowest sink is more than `max_backlog` records behind.
    /// Returns false if the shutdown came first.
    async fn wait_for_room(&mut self) -> bool {
        let mut logged = false;
        loop {
            if self.has_room(0) {
                break;
            }
            if !logged {
                tracing::info!(
                    job = %self.job,
                    backlog = self.shared.backlog(),
                    max_records = self.max_backlog,
                    spool_bytes = self.shared.spool_bytes(),
                    "spool full: fetching paused until sinks catch up"
                );
                logged = true;
            }
            tokio::select! {
                _ = self.shared.next_ack() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = self.shutdown.wait() => return false,
            }
        }
        !self.shutdown.is_triggered()
    }

    /// Stops the job for `error`: logged, and recorded for `status`.
    async fn stop(&self, error: ClientError) -> JobFailed {
        self.fail(JobFailed::Api { job: self.job.clone(), error }).await
    }

    async fn stop_repeating(&self, times: usize) -> JobFailed {
        self.fail(JobFailed::Repeating { job: self.job.clone(), times }).await
    }

    async fn fail(&self, failed: JobFailed) -> JobFailed {
        tracing::error!(job = %self.job, "{failed}");
        match self.record_error(Some(failed.to_string())).await {
            Ok(()) => failed,
            Err(state) => state,
        }
    }

    /// Notes in `counters` when the mark moved and records came, and saves that to the
    /// state file at most every [`PROGRESS_SAVE_EVERY_MS`] (not a transaction per page).
    async fn note_progress(
        &self,
        counters: &JobCounters,
        now: i64,
        moved: bool,
        records: bool,
        last_when: Option<i64>,
    ) -> Result<(), JobFailed> {
        if moved {
            counters.mark_moved_ms.store(now, Relaxed);
        }
        if records {
            counters.records_ms.store(now, Relaxed);
        }
        if let Some(when) = last_when {
            counters.last_when_ms.fetch_max(when, Relaxed);
        }
        let due = now - counters.progress_saved_ms.load(Relaxed) >= PROGRESS_SAVE_EVERY_MS;
        if (moved || records) && due {
            counters.progress_saved_ms.store(now, Relaxed);
            let (job, progress) = (self.job.clone(), counters.progress());
            self.store.call(move |s| s.save_job_progress(&job, &progress)).await.map_err(|e| self.state_err(e))?;
        }
        Ok(())
    }

    async fn record_error(&self, message: Option<String>) -> Result<(), JobFailed> {
        let job = self.job.clone();
        self.store.call(move |s| s.record_job_error(&job, message.as_deref())).await.map_err(|e| self.state_err(e))
    }

    fn state_err(&self, error: state::StateError) -> JobFailed {
        JobFailed::State { job: self.job.clone(), error }
    }
}
