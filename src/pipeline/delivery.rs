//! One delivery loop per sink: it reads the spool forward from the sink's own cursor
//! and moves that cursor only after the sink reports that its peer acknowledged the
//! batch. A sink that is down only delays itself; the spool keeps its records.
//!
//! Every sink goes through the same two steps: a batch is [submitted](Sink::submit),
//! which gives a [`Ticket`], and later [settled](Sink::settle), which returns once the
//! peer acknowledged it. [`InFlight`] holds the tickets and decides when the next batch
//! may go out: at once for a [pipelined](Sink::pipelined) sink (Kafka; HEC with `ack`),
//! whose peer acknowledges late, else only after the previous one is settled. Batches
//! are settled, and the cursor moved, strictly in the order they were read.
//!
//! The cursor's commit for one batch runs while the next batch is read and settled
//! (it waits behind page commits on the one writing connection); it is itself settled
//! before the next one starts. So after a crash at most two batches are in doubt
//! (delivered, their cursor not yet committed) and are delivered again, with the same
//! record ids; a pipelined sink adds the one submitted ahead.

use super::inflight::{InFlight, Submitted};
use super::loader::Loader;
use super::shared::{Shared, SinkCounters};
use super::store::StoreHandle;
use crate::backoff::Backoff;
use crate::shutdown::Shutdown;
use sinks::{Event, Sink, SinkError, Ticket};
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
    /// [`Sink::open`] with the value stored beside the cursor.
    Open(Option<&'a [u8]>),
    /// [`Sink::settle`] of a submitted batch.
    Settle(&'a Ticket, &'a [Event]),
}

/// How a call retried through transient errors ended, when it did not fail for good.
enum Retried<T> {
    /// It succeeded with this.
    Done(T),
    /// The shutdown came while waiting to retry.
    ShutDown,
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
            Retried::ShutDown => return Ok(()),
            Retried::Done(None) => {}
            Retried::Done(Some(initial)) => {
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
        let mut in_flight = InFlight::new(self.sink.pipelined());
        // The acknowledgement of the batch settled last, committing while the next one
        // is read and settled; settled itself before the next is committed, before waiting
        // for new rows and before leaving, so acks commit in order.
        let mut pending: Option<PendingAck> = None;
        let result = loop {
            if self.shutdown.is_triggered() {
                break Ok(());
            }
            // Submit while there is room: a pipelined sink's next batch goes out before
            // the one before it is settled.
            if in_flight.has_room() {
                // Marked before reading, so a page spooled after the read wakes the wait below.
                spooled.mark_unchanged();
                let loaded = match loader.load(in_flight.read_after(after)).await {
                    Ok(loaded) => loaded,
                    Err(e) => break Err(self.state_err(e)),
                };
                if let Some(last) = loaded.last {
                    let ticket = match loaded.events.is_empty() {
                        true => None,
                        false => Some(self.submit(&loaded.events).await),
                    };
                    in_flight.push(Submitted { last, events: loaded.events, ticket });
                    continue;
                }
            }
            let Some(oldest) = in_flight.oldest() else {
                // Nothing in flight and nothing new: settle the last ack, then wait.
                if let Some(ack) = pending.take() {
                    if let Err(e) = self.settle_ack(ack, &counters).await {
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
            if let Some(ticket) = &oldest.ticket {
                match self.retry_transient(Op::Settle(ticket, &oldest.events), after).await {
                    Ok(Retried::Done(v)) => value = v,
                    Ok(Retried::ShutDown) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
            let Some(done) = in_flight.settled() else { continue };
            if let Some(ack) = pending.take() {
                if let Err(e) = self.settle_ack(ack, &counters).await {
                    break Err(e);
                }
            }
            let (last, delivered) = (done.last, done.events.len() as u64);
            let (store, name, v) = (self.store.clone(), self.name.clone(), value.clone());
            let commit =
                tokio::spawn(async move { store.call(move |s| s.ack(&name, last, v.as_deref(), delivered)).await });
            pending = Some(PendingAck { commit, last, delivered });
            after = last;
        };
        // Whatever happened, the ack already under way is committed and counted.
        if let Some(ack) = pending.take() {
            let settled = self.settle_ack(ack, &counters).await;
            if result.is_ok() {
                settled?;
            }
        }
        result
    }

    /// Submits `batch`; what did not go out is sent when it is settled.
    async fn submit(&mut self, batch: &[Event]) -> Ticket {
        let ticket = self.sink.submit(batch).await;
        if let Some(e) = ticket.error() {
            tracing::info!(sink = %self.name, "submitting ahead failed, the batch goes when it is settled: {}", e.report());
        }
        ticket
    }

    /// Waits for an acknowledgement's commit; then the cursor has moved and everyone is told.
    async fn settle_ack(&mut self, ack: PendingAck, counters: &SinkCounters) -> Result<(), SinkFailed> {
        let committed = ack.commit.await.unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        committed.map_err(|e| self.state_err(e))?;
        counters.delivered.fetch_add(ack.delivered, Relaxed);
        self.shared.acked(&self.name, ack.last);
        Ok(())
    }

    /// Runs `op` until it succeeds, retrying transient errors with backoff.
    async fn retry_transient(&mut self, op: Op<'_>, cursor: u64) -> Result<Retried<Option<Vec<u8>>>, SinkFailed> {
        self.backoff.reset();
        let started = std::time::Instant::now();
        loop {
            let result = match op {
                Op::Open(value) => self.sink.open(value).await,
                Op::Settle(ticket, batch) => self.sink.settle(ticket, batch).await,
            };
            match result {
                Ok(v) => {
                    if self.backoff.attempts() > 0 {
                        let name = self.name.clone();
                        let _ = self.store.call(move |s| s.record_sink_error(&name, None)).await;
                        tracing::info!(sink = %self.name, "sink {:?} is delivering again", self.name);
                    }
                    return Ok(Retried::Done(v));
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
                        return Ok(Retried::ShutDown);
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

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// One call on a [`Recorder`]: which, the last seq of its batch, and how many batches
    /// were submitted and not yet settled after it.
    type Call = (&'static str, u64, usize);

    /// A pipelined sink that writes seqs to a wire (each once) and notes its calls; with
    /// `fail_second`, its second `submit` puts half the batch on the wire and fails.
    #[derive(Default)]
    struct Recorder {
        wire: Arc<Mutex<Vec<u64>>>,
        calls: Arc<Mutex<Vec<Call>>>,
        fail_second: bool,
        submits: usize,
        open: usize,
    }

    impl Recorder {
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
    impl Sink for Recorder {
        async fn open(&mut self, _: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
            Ok(None)
        }
        fn pipelined(&self) -> bool {
            true
        }
        async fn submit(&mut self, batch: &[Event]) -> Ticket {
            self.submits += 1;
            self.open += 1;
            self.calls.lock().unwrap().push(("submit", batch[batch.len() - 1].seq, self.open));
            if self.fail_second && self.submits == 2 {
                self.put(&batch[..batch.len() / 2]);
                return Ticket::partly(batch, SinkError::transient("the peer went away mid-batch"));
            }
            self.put(batch);
            Ticket::whole(batch)
        }
        async fn settle(&mut self, ticket: &Ticket, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
            assert_eq!(ticket.seqs(), batch[0].seq..=batch[batch.len() - 1].seq, "the ticket names its batch");
            // What did not go at `submit` goes now.
            self.put(batch);
            self.open -= 1;
            self.calls.lock().unwrap().push(("settle", *ticket.seqs().end(), self.open));
            Ok(Some(ticket.seqs().end().to_string().into_bytes()))
        }
        async fn deliver(&mut self, _: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
            unreachable!("the pipeline settles what it submitted")
        }
    }

    /// A delivery loop of 10-record batches to `sink` over a spool holding seqs 1..=50, its
    /// store, and the trigger of its shutdown (the loop ends by itself: `once`).
    fn fifty_rows_to(sink: Box<dyn Sink>) -> (Delivery, StoreHandle, crate::shutdown::ShutdownTrigger) {
        let mut store = state::Store::open_in_memory().unwrap();
        let payloads: Vec<Vec<u8>> = netwrix::generate::generate(50, 7).iter().map(netwrix::compact::to_vec).collect();
        let rows: Vec<state::NewRecord<'_>> = payloads
            .iter()
            .map(|p| state::NewRecord { id: netwrix::RecordId::of_compact(p).0, order: 0, payload: p })
            .collect();
        let last = store.commit_page("corp", &rows, None, 0).unwrap().last_seq;
        assert_eq!(last, 50);
        let start = store.register_sink("wire", state::Start::Oldest).unwrap();
        let (trigger, shutdown) = crate::shutdown::channel();
        let store = StoreHandle::new(store);
        let delivery = Delivery {
            name: "wire".into(),
            sink,
            start,
            jobs: None,
            filter: None,
            store: store.clone(),
            shared: Shared::new(&[], &[("wire".into(), 0)], last),
            batch_records: 10,
            batch_bytes: 1 << 20,
            backoff: Backoff::new(std::time::Duration::from_millis(1), std::time::Duration::from_millis(10)),
            once: true,
            give_up_after: None,
            shutdown,
        };
        (delivery, store, trigger)
    }

    #[tokio::test]
    async fn after_a_failed_send_ahead_the_peer_still_gets_records_in_spool_order() {
        let wire = Arc::new(Mutex::new(Vec::new()));
        let sink = Recorder { wire: wire.clone(), fail_second: true, ..Recorder::default() };
        let (delivery, _store, _trigger) = fifty_rows_to(Box::new(sink));
        delivery.run().await.unwrap();
        let wire = wire.lock().unwrap().clone();
        assert_eq!(wire, (1..=50).collect::<Vec<u64>>(), "every record once, in spool order");
    }

    #[tokio::test]
    async fn a_pipelined_sink_has_two_batches_out_at_most_and_they_settle_in_order() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = Recorder { calls: calls.clone(), ..Recorder::default() };
        let (delivery, store, _trigger) = fifty_rows_to(Box::new(sink));
        delivery.run().await.unwrap();
        let calls = calls.lock().unwrap().clone();
        let expected = vec![
            ("submit", 10, 1),
            ("submit", 20, 2),
            ("settle", 10, 1),
            ("submit", 30, 2),
            ("settle", 20, 1),
            ("submit", 40, 2),
            ("settle", 30, 1),
            ("submit", 50, 2),
            ("settle", 40, 1),
            ("settle", 50, 0),
        ];
        assert_eq!(calls, expected);
        let cursor = store.call(|s| s.cursor("wire")).await.unwrap().unwrap();
        assert_eq!(cursor.seq, 50, "the cursor reached the last batch settled");
        assert_eq!(cursor.value.as_deref(), Some(&b"50"[..]), "with the value its settle returned");
    }
}
