//! One delivery loop per sink: it reads the spool forward from the sink's own cursor
//! and moves that cursor only after the sink reports that its peer acknowledged the
//! batch. A sink that is down only delays itself; the spool keeps its records.
//!
//! The cursor's commit for one batch runs while the next batch is read and delivered
//! (it waits behind page commits on the one writing connection); it is settled before
//! the next one starts. So after a crash at most two batches are in doubt (delivered,
//! their cursor not yet committed) and are delivered again, with the same record ids.
//!
//! A [pipelined](Sink::pipelined) sink (Kafka; HEC with `ack`) is handed the next batch before it waits for
//! the previous one's acknowledgement, so one more batch can be in doubt: sent, not
//! acknowledged. The cursor still moves one acknowledged batch at a time, in order. A
//! batch is sent ahead only when the one before it went out whole: after a failed
//! [`send`](Sink::send), that batch is delivered before anything after it is sent, so the
//! peer receives records in spool order.

use super::shared::{Shared, SinkCounters};
use super::store::StoreHandle;
use crate::backoff::Backoff;
use crate::shutdown::Shutdown;
use sinks::{Event, Sink, SinkError};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Why a sink stopped before it was told to.
#[derive(Debug, thiserror::Error)]
pub enum SinkFailed {
    #[error("sink {sink:?}: {}; the sink is stopped and its cursor stays at seq {cursor}", .error.report())]
    Sink {
        sink: String,
        cursor: u64,
        #[source]
        error: SinkError,
    },
    #[error("sink {sink:?}: state store: {error}")]
    State { sink: String, error: state::StateError },
    #[error("sink {sink:?}: gave up after failing for {seconds}s: {last}; its cursor stays at seq {cursor}")]
    GaveUp { sink: String, seconds: u64, last: String, cursor: u64 },
}

/// An acknowledgement on its way into the state file: the cursor moves to `last` once
/// `commit` is done.
struct PendingAck {
    commit: tokio::task::JoinHandle<Result<(), state::StateError>>,
    last: u64,
    delivered: u64,
}

/// One call on the sink that may need retrying.
#[derive(Clone, Copy)]
enum Op<'a> {
    Open(Option<&'a [u8]>),
    Deliver(&'a [Event]),
}

/// The settings one delivery loop runs with.
pub struct Delivery {
    pub name: String,
    pub sink: Box<dyn Sink>,
    /// The cursor as registered at start.
    pub start: state::Cursor,
    /// The jobs this sink takes; `None` = every job.
    pub jobs: Option<Vec<String>>,
    /// Which of those records it takes.
    pub filter: Option<crate::config::RouteFilter>,
    pub store: StoreHandle,
    pub shared: Arc<Shared>,
    pub batch_records: usize,
    pub batch_bytes: usize,
    pub backoff: Backoff,
    /// Stop once every fetcher is done and everything spooled is acknowledged.
    pub once: bool,
    /// With `run --once`: give up after failing this long without a success.
    pub give_up_after: Option<std::time::Duration>,
    pub shutdown: Shutdown,
}

impl Delivery {
    /// Runs until shutdown, the end of a `once` run, or a permanent sink error.
    pub async fn run(mut self) -> Result<(), SinkFailed> {
        let result = self.deliver_loop().await;
        if let Err(e) = &result {
            if let Some(c) = self.shared.sinks.get(&self.name) {
                c.failed.store(true, Relaxed);
            }
            tracing::error!(sink = %self.name, "{e}");
            let (name, msg) = (self.name.clone(), e.to_string());
            let _ = self.store.call(move |s| s.record_sink_error(&name, Some(&msg))).await;
            // Wake fetchers that wait for this sink: it no longer holds them back.
            self.shared.acked(&self.name, self.cursor());
        }
        if let Err(e) = self.sink.close().await {
            tracing::warn!(sink = %self.name, "closing: {}", e.report());
        }
        result
    }

    fn cursor(&self) -> u64 {
        self.shared.sinks.get(&self.name).map_or(0, |c| c.cursor.load(Relaxed))
    }

    async fn deliver_loop(&mut self) -> Result<(), SinkFailed> {
        let mut after = self.start.seq;
        let mut value = self.start.value.take();
        match self.retry_transient(Op::Open(value.as_deref()), after).await? {
            None => return Ok(()),
            Some(None) => {}
            Some(Some(initial)) => {
                // Stored before the first batch, so a crash right after it can be undone.
                let (name, v) = (self.name.clone(), initial.clone());
                self.store.call(move |s| s.ack(&name, after, Some(&v), 0)).await.map_err(|e| self.state_err(e))?;
                value = Some(initial);
            }
        }
        let mut spooled = self.shared.subscribe();
        let counters = self.shared.sinks.get(&self.name).cloned().unwrap_or_default();
        let mut loader = Loader {
            store: self.store.clone(),
            name: self.name.clone(),
            jobs: self.jobs.clone(),
            filter: self.filter.clone(),
            limit: self.batch_records,
            bytes: self.batch_bytes,
            routes: Default::default(),
        };
        // The acknowledgement of the batch delivered last, committing while the next one
        // is read and delivered; settled before the next is committed, before waiting
        // for new rows and before leaving, so acks commit in order.
        let mut pending: Option<PendingAck> = None;
        // A pipelined sink's batch that was sent (whole or in part) and is delivered next.
        let mut ahead: Option<Loaded> = None;
        let result = loop {
            if self.shutdown.is_triggered() {
                break Ok(());
            }
            // Marked before reading, so a page spooled after the read wakes the wait below.
            spooled.mark_unchanged();
            let loaded = match self.next_batch(&mut loader, &mut ahead, after).await {
                Ok(Some(loaded)) => loaded,
                Ok(None) => continue,
                Err(e) => break Err(self.state_err(e)),
            };
            let Some(last) = loaded.last else {
                if let Some(ack) = pending.take() {
                    if let Err(e) = self.settle(ack, &counters).await {
                        break Err(e);
                    }
                }
                if self.once && self.shared.fetchers_done() && after >= self.shared.max_seq() {
                    break Ok(());
                }
                tokio::select! {
                    _ = spooled.changed() => {}
                    _ = self.shutdown.wait() => break Ok(()),
                    // A fetcher can finish between our read and our wait; look again now and then.
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
                continue;
            };
            let delivered = loaded.events.len() as u64;
            if !loaded.events.is_empty() {
                match self.retry_transient(Op::Deliver(&loaded.events), after).await {
                    Ok(Some(v)) => value = v,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
            if let Some(ack) = pending.take() {
                if let Err(e) = self.settle(ack, &counters).await {
                    break Err(e);
                }
            }
            let (store, name, v) = (self.store.clone(), self.name.clone(), value.clone());
            let commit =
                tokio::spawn(async move { store.call(move |s| s.ack(&name, last, v.as_deref(), delivered)).await });
            pending = Some(PendingAck { commit, last, delivered });
            after = last;
        };
        // Whatever happened, the ack already under way is committed and counted.
        if let Some(ack) = pending.take() {
            let settled = self.settle(ack, &counters).await;
            if result.is_ok() {
                settled?;
            }
        }
        result
    }

    /// The batch to deliver next, after seq `after`; `None` when the one just read was only
    /// handed ahead (a pipelined sink's first). A batch sent ahead only in part comes first,
    /// without reading on: `deliver` sends its rest before anything after it is sent, so
    /// the peer gets records in spool order (the Kafka sink's read-back after a restart
    /// relies on that). Otherwise the next batch is read; a pipelined sink is handed it
    /// ahead and gets the one handed before delivered, or, with nothing new, that one.
    async fn next_batch(
        &mut self,
        loader: &mut Loader,
        ahead: &mut Option<Loaded>,
        after: u64,
    ) -> Result<Option<Loaded>, state::StateError> {
        if let Some(partial) = ahead.take_if(|a| !a.sent) {
            return Ok(Some(partial));
        }
        let from = ahead.as_ref().and_then(|a| a.last).unwrap_or(after);
        let mut loaded = loader.load(from).await?;
        if !self.sink.pipelined() || loaded.last.is_none() {
            return Ok(Some(ahead.take().unwrap_or(loaded)));
        }
        loaded.sent = loaded.events.is_empty()
            || match self.sink.send(&loaded.events).await {
                Ok(()) => true,
                // `deliver` sends what did not go and reports.
                Err(e) => {
                    tracing::info!(sink = %self.name, "sending ahead failed, the batch goes when it is delivered: {}", e.report());
                    false
                }
            };
        Ok(ahead.replace(loaded))
    }

    /// Waits for an acknowledgement's commit; then the cursor has moved and everyone is told.
    async fn settle(&mut self, ack: PendingAck, counters: &SinkCounters) -> Result<(), SinkFailed> {
        let committed = ack.commit.await.unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        committed.map_err(|e| self.state_err(e))?;
        counters.delivered.fetch_add(ack.delivered, Relaxed);
        self.shared.acked(&self.name, ack.last);
        Ok(())
    }

    /// Runs `op` until it succeeds, retrying transient errors with backoff.
    /// `Ok(None)` means the shutdown came while waiting to retry.
    async fn retry_transient(&mut self, op: Op<'_>, cursor: u64) -> Result<Option<Option<Vec<u8>>>, SinkFailed> {
        self.backoff.reset();
        let started = std::time::Instant::now();
        loop {
            let result = match op {
                Op::Open(value) => self.sink.open(value).await,
                Op::Deliver(batch) => self.sink.deliver(batch).await,
            };
            match result {
                Ok(v) => {
                    if self.backoff.attempts() > 0 {
                        let name = self.name.clone();
                        let _ = self.store.call(move |s| s.record_sink_error(&name, None)).await;
                        tracing::info!(sink = %self.name, "sink {:?} is delivering again", self.name);
                    }
                    return Ok(Some(v));
                }
                Err(error) if error.is_transient() => {
                    if let Some(c) = self.shared.sinks.get(&self.name) {
                        c.retries.fetch_add(1, Relaxed);
                        c.failures.fetch_add(1, Relaxed);
                    }
                    if let Some(limit) = self.give_up_after.filter(|l| started.elapsed() >= *l) {
                        return Err(SinkFailed::GaveUp {
                            sink: self.name.clone(),
                            seconds: limit.as_secs(),
                            last: error.report().to_string(),
                            cursor,
                        });
                    }
                    let delay = self.backoff.next_delay();
                    let message = format!(
                        "{} (retry {} in {:.1}s)",
                        error.report(),
                        self.backoff.attempts(),
                        delay.as_secs_f64()
                    );
                    tracing::warn!(sink = %self.name, "sink {:?}: {message}", self.name);
                    let name = self.name.clone();
                    let _ = self.store.call(move |s| s.record_sink_error(&name, Some(&message))).await;
                    if self.shutdown.sleep(delay).await {
                        return Ok(None);
                    }
                }
                Err(error) => {
                    if let Some(c) = self.shared.sinks.get(&self.name) {
                        c.failures.fetch_add(1, Relaxed);
                    }
                    return Err(SinkFailed::Sink { sink: self.name.clone(), cursor, error });
                }
            }
        }
    }

    fn state_err(&self, error: state::StateError) -> SinkFailed {
        SinkFailed::State { sink: self.name.clone(), error }
    }
}

/// A batch read from the spool: the last seq it covers (`None`: nothing after the
/// cursor yet) and the events among its rows that this sink takes.
struct Loaded {
    last: Option<u64>,
    events: Vec<Event>,
    /// A pipelined sink took all of it ahead ([`Sink::send`] succeeded).
    sent: bool,
}

/// Reads a sink's batches from the spool and turns the rows it takes into events.
/// Apart from [`Delivery`] because that holds the sink, which is `Send` but not `Sync`:
/// a `&Delivery` held across the read's await would make the delivery task not `Send`.
struct Loader {
    store: StoreHandle,
    name: String,
    jobs: Option<Vec<String>>,
    filter: Option<crate::config::RouteFilter>,
    limit: usize,
    bytes: usize,
    routes: crate::backfill::Routes,
}

impl Loader {
    /// The rows after seq `after`, as events for this sink.
    async fn load(&mut self, after: u64) -> Result<Loaded, state::StateError> {
        let (limit, bytes) = (self.limit, self.bytes);
        let rows = self.store.read(move |s| s.read_batch(after, limit, bytes)).await?;
        let last = rows.last().map(|r| r.seq);
        self.routes.learn(&self.store, &rows).await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let route = self.routes.route(&row.job);
            if !self.jobs.as_ref().is_none_or(|jobs| jobs.iter().any(|j| j == route.job))
                || route.only_sink.is_some_and(|only| only != self.name)
            {
                continue;
            }
            match netwrix::compact::decode_shared(netwrix::TextBuf::new(row.payload)) {
                Ok(record) if self.filter.as_ref().is_some_and(|f| !f.matches(&record)) => {}
                Ok(record) => events.push(Event {
                    seq: row.seq,
                    id: netwrix::RecordId(row.id),
                    job: route.job.to_owned(),
                    replay: route.replay,
                    record,
                }),
                Err(e) => {
                    tracing::error!(sink = %self.name, seq = row.seq, "spool row cannot be read and is skipped: {e}")
                }
            }
        }
        Ok(Loaded { last, events, sent: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// A pipelined sink that writes seqs to a wire; its first `send` puts half the batch
    /// on the wire and fails.
    struct Wire {
        wire: Arc<Mutex<Vec<u64>>>,
        sends: usize,
    }

    impl Wire {
        fn put(&self, batch: &[Event]) {
            let mut wire = self.wire.lock().unwrap();
            for e in batch {
                if !wire.contains(&e.seq) {
                    wire.push(e.seq);
                }
            }
        }
    }

    #[async_trait]
    impl Sink for Wire {
        async fn open(&mut self, _: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
            Ok(None)
        }
        fn pipelined(&self) -> bool {
            true
        }
        async fn send(&mut self, batch: &[Event]) -> Result<(), SinkError> {
            self.sends += 1;
            if self.sends == 2 {
                self.put(&batch[..batch.len() / 2]);
                return Err(SinkError::transient("the peer went away mid-batch"));
            }
            self.put(batch);
            Ok(())
        }
        async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
            self.put(batch);
            Ok(None)
        }
    }

    #[tokio::test]
    async fn after_a_failed_send_ahead_the_peer_still_gets_records_in_spool_order() {
        let mut store = state::Store::open_in_memory().unwrap();
        let payloads: Vec<Vec<u8>> = netwrix::generate::generate(50, 7).iter().map(netwrix::compact::to_vec).collect();
        let rows: Vec<state::NewRecord<'_>> = payloads
            .iter()
            .map(|p| state::NewRecord { id: netwrix::RecordId::of_compact(p).0, order: 0, payload: p })
            .collect();
        let last = store.commit_page("corp", &rows, None, 0).unwrap().last_seq;
        assert_eq!(last, 50);
        let start = store.register_sink("wire", state::Start::Oldest).unwrap();
        let wire = Arc::new(Mutex::new(Vec::new()));
        let (_trigger, shutdown) = crate::shutdown::channel();
        let delivery = Delivery {
            name: "wire".into(),
            sink: Box::new(Wire { wire: wire.clone(), sends: 0 }),
            start,
            jobs: None,
            filter: None,
            store: StoreHandle::new(store),
            shared: Shared::new(&[], &[("wire".into(), 0)], last),
            batch_records: 10,
            batch_bytes: 1 << 20,
            backoff: Backoff::new(std::time::Duration::from_millis(1), std::time::Duration::from_millis(10)),
            once: true,
            give_up_after: None,
            shutdown,
        };
        delivery.run().await.unwrap();
        let wire = wire.lock().unwrap().clone();
        assert_eq!(wire, (1..=50).collect::<Vec<u64>>(), "every record once, in spool order");
    }
}
