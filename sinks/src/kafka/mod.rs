//! The Kafka sink: each record one message, idempotent producer, exactly once across
//! restarts for a sink that is the only writer of its records.
//!
//! Each record becomes one message on a fixed topic or one taken from the record (see
//! [`TopicTemplate`]): key = the record id, value = the record in the chosen format,
//! headers as in [`message`]. The producer is idempotent with `acks=all` and never lets a
//! message time out; [`deliver`](Sink::deliver) hands the whole batch to it and returns
//! once every message has its delivery report, so the cursor moves only then.
//!
//! **Two batches at once.** The sink is [pipelined](Sink::pipelined): the pipeline
//! [submits](Sink::submit) the next batch before it [settles](Sink::settle) the previous
//! one, waiting for its reports, so the producer's linger and the brokers' round trip are spent reading and
//! encoding the next batch rather than waiting. Messages are keyed by seq while in flight,
//! so settling the next batch only waits for what `submit` handed over.
//!
//! **Retries.** A batch whose reports do not all arrive within `ack_timeout` is reported
//! as a transient failure; its messages stay queued in the producer, and the retry of
//! the same batch waits for them instead of sending them again. Messages whose report
//! is an error are sent again by the retry; those already acknowledged are not. A fatal
//! producer error (idempotence broken) replaces the producer, and the retry first reads
//! the topics back to find which messages of the batch did land.
//!
//! **Restarts.** The committed value names this sink as a writer (a random id kept in the
//! state file, see `committed.rs`), and where the batch acknowledged last began; every
//! message carries the writer id. After a restart the first
//! batches are the ones that may have been in doubt: before sending to a topic for the first
//! time in a process, the sink reads the end of each of its partitions (`tail.rs`) and
//! skips every record of its own already there. See `docs/kafka.md` for the single-writer
//! assumption and what happens when it does not hold.

mod committed;
mod config;
mod context;
pub mod message;
mod tail;
#[cfg(test)]
mod tests;
mod topic;

pub use config::{Compression, KafkaSaslConfig, KafkaSinkConfig, KafkaTlsConfig, Passthrough, SaslMechanism};
pub use topic::TopicTemplate;

use crate::{Event, Sink, SinkError, Ticket};
use async_trait::async_trait;
use committed::Committed;
use context::LogContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Headers as _;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long `check` and `close` wait on the brokers.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `close` lets queued messages go out. Whatever is left is part of a batch not
/// acknowledged, which the next start delivers (and reads back) anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A message of the current batch that was handed to the producer.
enum Flight {
    /// Waiting for its delivery report.
    Pending(DeliveryFuture),
    /// In the topic (acknowledged, or found there after a restart).
    Done,
}

/// What a restart leaves to find out: which records of the batches in doubt already landed.
struct Resync {
    /// The first seq of the first batch after the restart; see [`tail`].
    floor: u64,
    /// The read-back stops at a message of this writer below this seq: the first seq of
    /// the batch acknowledged last (the floor itself when that is not known).
    stop_below: u64,
    /// Topics already read back since.
    scanned: HashSet<String>,
    /// Seqs found in them.
    present: HashSet<u64>,
}

/// Delivers events to Kafka; see the [module documentation](self).
pub struct KafkaSink {
    config: KafkaSinkConfig,
    producer: Option<FutureProducer<LogContext>>,
    writer: Option<Committed>,
    /// The writer id as written in the headers.
    writer_hex: String,
    /// Set by `open` after a restart: the next batch is the first one, and sets the floor.
    resync_pending: bool,
    /// What is known of the topics' ends since a restart (or a fatal producer error).
    resync: Option<Resync>,
    /// Messages of the batch being delivered and of the one sent after it, by seq.
    inflight: HashMap<u64, Flight>,
    /// The value buffer, reused for every message.
    buf: Vec<u8>,
    topic_buf: String,
}

impl KafkaSink {
    /// A sink for `config`; nothing is contacted until [`open`](Sink::open).
    pub fn new(config: KafkaSinkConfig) -> Self {
        Self {
            config,
            producer: None,
            writer: None,
            writer_hex: String::new(),
            resync_pending: false,
            resync: None,
            inflight: HashMap::new(),
            buf: Vec::new(),
            topic_buf: String::new(),
        }
    }

    /// The settings this sink was built with.
    pub fn config(&self) -> &KafkaSinkConfig {
        &self.config
    }

    /// The producer, created if there is none (first use, or after a fatal error).
    fn producer(&mut self) -> Result<FutureProducer<LogContext>, SinkError> {
        if let Some(p) = &self.producer {
            return Ok(p.clone());
        }
        let p: FutureProducer<LogContext> =
            self.config.producer().create_with_context(LogContext).map_err(|e| {
                SinkError::fatal(format!("kafka sink: creating the producer: {}", config::describe(&e)))
            })?;
        self.producer = Some(p.clone());
        Ok(p)
    }

    /// Drops a producer that had a fatal error (idempotence can no longer be kept). Its
    /// messages may or may not have landed, so the topics are read back before the
    /// batch's unacknowledged messages are sent again by a new producer.
    ///
    /// The reports still due (those of the batch sent after this one) are awaited first: a
    /// producer in that state fails whatever it holds at once, and what is settled cannot
    /// land after the read-back.
    async fn replace_producer(&mut self, batch: &[Event], deadline: Instant) {
        if let Some((code, reason)) = self.producer.as_ref().and_then(|p| p.client().fatal_error()) {
            tracing::warn!("kafka sink: fatal producer error ({code}: {reason}); starting a new producer");
        }
        let pending: Vec<u64> =
            self.inflight.iter().filter(|(_, f)| matches!(f, Flight::Pending(_))).map(|(seq, _)| *seq).collect();
        for seq in pending {
            let Some(Flight::Pending(future)) = self.inflight.get_mut(&seq) else { continue };
            if let Ok(Ok(Ok(_delivery))) = tokio::time::timeout_at(deadline.into(), future).await {
                self.inflight.insert(seq, Flight::Done);
            }
        }
        self.producer = None;
        let floor = batch.first().map_or(0, |e| e.seq);
        self.resync = Some(self.new_resync(floor));
        self.inflight.retain(|_, f| matches!(f, Flight::Done));
    }

    /// The writer id to store beside the cursor; after a restart, the first batch handed
    /// over sets the floor of the read-back.
    fn begin(&mut self, batch: &[Event]) -> Result<Committed, SinkError> {
        let Some(writer) = self.writer else {
            return Err(SinkError::fatal("kafka sink: deliver before open"));
        };
        if let (true, Some(first)) = (self.resync_pending, batch.first()) {
            self.resync = Some(self.new_resync(first.seq));
            self.resync_pending = false;
        }
        Ok(writer)
    }

    /// What is to be read back for batches in doubt from seq `floor` on. Every message of
    /// this writer below the first seq of the batch acknowledged last was produced before
    /// any of them: that batch's own messages may follow them (a refused message is
    /// produced again by its batch's retry, after the batch sent ahead), the batches
    /// before it were done, retries and all, before the one after it was sent.
    fn new_resync(&self, floor: u64) -> Resync {
        let stop_below = self.writer.and_then(|w| w.acked_first).map_or(floor, |first| first.min(floor));
        Resync { floor, stop_below, scanned: HashSet::new(), present: HashSet::new() }
    }

    /// Reads back the topics of `batch` not read since the restart, if there was one.
    async fn resync_topics(&mut self, batch: &[Event]) -> Result<(), SinkError> {
        let Some(resync) = self.resync.as_ref() else { return Ok(()) };
        let mut topics = Vec::new();
        for event in batch {
            self.config.topic.render_into(event, &mut self.topic_buf);
            if !resync.scanned.contains(&self.topic_buf) && !topics.contains(&self.topic_buf) {
                topics.push(self.topic_buf.clone());
            }
        }
        if topics.is_empty() {
            return Ok(());
        }
        let (config, floor, stop_below, writer) =
            (self.config.clone(), resync.floor, resync.stop_below, self.writer_hex.clone());
        let deadline = Instant::now() + self.config.ack_timeout.0;
        let started = Instant::now();
        let (topics, found) = tokio::task::spawn_blocking(move || {
            let scan = tail::Scan { topics: &topics, floor, stop_below, writer: &writer, deadline };
            let found = tail::present(&config, &scan);
            (topics, found)
        })
        .await
        .map_err(|e| SinkError::transient("kafka sink: reading back failed").caused_by(e))?;
        let found = found.map_err(|e| SinkError::transient("kafka sink").caused_by(e))?;
        tracing::info!(
            ?topics,
            floor,
            stop_below,
            partitions = ?found.partitions,
            elapsed = ?started.elapsed(),
            "kafka sink: read the topics' ends back"
        );
        if !found.seqs.is_empty() {
            tracing::info!(
                records = found.seqs.len(),
                "kafka sink: records of the batches in doubt are already in Kafka and will not be sent again"
            );
        }
        if let Some(resync) = self.resync.as_mut() {
            resync.present.extend(found.seqs);
            resync.scanned.extend(topics);
        }
        Ok(())
    }

    /// Hands every event of `batch` not yet in flight, delivered or present to the producer.
    async fn send_batch(&mut self, batch: &[Event], deadline: Instant) -> Result<(), SinkError> {
        let producer = self.producer()?;
        self.resync_topics(batch).await?;
        for event in batch {
            if self.inflight.contains_key(&event.seq) {
                continue;
            }
            self.config.topic.render_into(event, &mut self.topic_buf);
            if self.resync.as_ref().is_some_and(|r| r.present.contains(&event.seq)) {
                self.inflight.insert(event.seq, Flight::Done);
                continue;
            }
            self.buf.clear();
            self.config.encoder.encode(event, &mut self.buf);
            let key = message::key(event);
            let mut record = FutureRecord::to(&self.topic_buf)
                .key(key.as_str())
                .payload(self.buf.as_slice())
                .headers(message::headers(event, &key, &self.writer_hex));
            loop {
                match producer.send_result(record) {
                    Ok(future) => {
                        self.inflight.insert(event.seq, Flight::Pending(future));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        if Instant::now() >= deadline {
                            return Err(SinkError::transient(
                                "kafka sink: the producer's queue stayed full (the brokers are not taking messages)",
                            ));
                        }
                        record = back;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err((e, _)) => return Err(classify(event, &self.topic_buf, e)),
                }
            }
        }
        Ok(())
    }

    /// Hands `batch` to the producer ahead of its settling (see [`Sink::submit`]).
    async fn submit_batch(&mut self, batch: &[Event]) -> Result<(), SinkError> {
        self.begin(batch)?;
        if self.producer.as_ref().is_some_and(|p| p.client().fatal_error().is_some()) {
            // Settling the batch before this one replaces the producer first; this batch
            // then goes when it is settled, before any after it.
            return Err(SinkError::transient("kafka sink: the producer is being replaced"));
        }
        self.send_batch(batch, Instant::now() + self.config.ack_timeout.0).await
    }

    /// Waits for the delivery report of every message of `batch` in flight.
    async fn await_reports(&mut self, batch: &[Event], deadline: Instant) -> Result<(), SinkError> {
        let mut first_failure: Option<SinkError> = None;
        let mut fatal = false;
        for event in batch {
            let waited = {
                let Some(Flight::Pending(future)) = self.inflight.get_mut(&event.seq) else { continue };
                tokio::time::timeout_at(deadline.into(), future).await
            };
            let Ok(report) = waited else {
                let waiting =
                    batch.iter().filter(|e| matches!(self.inflight.get(&e.seq), Some(Flight::Pending(_)))).count();
                return Err(SinkError::transient(format!(
                    "kafka sink: {waiting} of {} messages not acknowledged after {:?}; they stay queued and the retry waits for them",
                    batch.len(),
                    self.config.ack_timeout
                )));
            };
            match report {
                Ok(Ok(_delivery)) => {
                    self.inflight.insert(event.seq, Flight::Done);
                }
                Ok(Err((error, msg))) => {
                    self.inflight.remove(&event.seq);
                    fatal |= matches!(error, KafkaError::MessageProduction(RDKafkaErrorCode::Fatal));
                    if first_failure.is_none() {
                        first_failure = Some(classify(event, msg_topic(&msg), error));
                    }
                }
                Err(_canceled) => {
                    self.inflight.remove(&event.seq);
                    fatal = true;
                    if first_failure.is_none() {
                        first_failure = Some(SinkError::transient("kafka sink: the producer went away"));
                    }
                }
            }
        }
        if fatal || self.producer.as_ref().is_some_and(|p| p.client().fatal_error().is_some()) {
            self.replace_producer(batch, deadline).await;
        }
        match first_failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn msg_topic(msg: &rdkafka::message::OwnedMessage) -> &str {
    use rdkafka::Message;
    msg.topic()
}

/// Whether a failed message can succeed by retrying, with a message naming it.
fn classify(event: &Event, topic: &str, error: KafkaError) -> SinkError {
    let code = match &error {
        KafkaError::MessageProduction(code) => Some(*code),
        _ => None,
    };
    let context = format!("kafka sink: record seq {} (id {}) to topic {topic:?}", event.seq, event.id);
    use RDKafkaErrorCode as C;
    match code {
        Some(
            C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidMessage
            | C::InvalidRecord
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::UnsupportedForMessageFormat,
        ) => SinkError::fatal(context),
        _ => SinkError::transient(context),
    }
    .caused_by(error)
}

#[async_trait]
impl Sink for KafkaSink {
    /// Each message as topic, key, headers (`name: value` lines) and value, then a blank
    /// line; the writer id is the one stored beside the cursor (a new one for a new sink).
    fn preview(&mut self, committed: Option<&[u8]>, batch: &[Event]) -> Option<Vec<u8>> {
        let writer =
            committed.and_then(|c| Committed::decode(c).ok()).unwrap_or_else(Committed::new_writer).writer_hex();
        let mut out = Vec::new();
        let mut topic = String::new();
        for event in batch {
            self.config.topic.render_into(event, &mut topic);
            let key = message::key(event);
            out.extend_from_slice(format!("topic: {topic}\nkey: {key}\n").as_bytes());
            for header in message::headers(event, &key, &writer).iter() {
                out.extend_from_slice(format!("header {}: ", header.key).as_bytes());
                out.extend_from_slice(header.value.unwrap_or_default());
                out.push(b'\n');
            }
            out.extend_from_slice(b"value: ");
            self.config.encoder.encode(event, &mut out);
            out.extend_from_slice(b"\n\n");
        }
        Some(out)
    }

    async fn open(&mut self, committed: Option<&[u8]>) -> Result<Option<Vec<u8>>, SinkError> {
        let (writer, new) = match committed {
            Some(bytes) => (Committed::decode(bytes).map_err(|e| SinkError::fatal("kafka sink").caused_by(e))?, false),
            None => (Committed::new_writer(), true),
        };
        self.writer_hex = writer.writer_hex();
        self.writer = Some(writer);
        // A new writer has nothing in any topic yet; a known one may have left batches in doubt.
        self.resync_pending = !new;
        self.resync = None;
        self.inflight.clear();
        let _created = self.producer()?;
        Ok(new.then(|| writer.encode()))
    }

    fn pipelined(&self) -> bool {
        true
    }

    async fn submit(&mut self, batch: &[Event]) -> Ticket {
        let sent = self.submit_batch(batch).await;
        Ticket::of(batch, sent)
    }

    /// Settles a submitted batch too: messages already in flight are awaited, not sent again.
    async fn deliver(&mut self, batch: &[Event]) -> Result<Option<Vec<u8>>, SinkError> {
        // The pipeline stores what deliver returns: the writer id must stay.
        let writer = self.begin(batch)?;
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else { return Ok(Some(writer.encode())) };
        let (first, last) = (first.seq, last.seq);
        // Messages before this batch are of a batch given up on (not expected): forget them;
        // whatever of them lands is outside this batch's range anyway. Those after it were
        // sent ahead and stay in flight.
        self.inflight.retain(|seq, _| *seq >= first);
        if self.producer.as_ref().is_some_and(|p| p.client().fatal_error().is_some()) {
            self.replace_producer(batch, Instant::now() + self.config.ack_timeout.0).await;
        }
        self.send_batch(batch, Instant::now() + self.config.ack_timeout.0).await?;
        self.await_reports(batch, Instant::now() + self.config.ack_timeout.0).await?;
        self.inflight.retain(|seq, _| *seq > last);
        let acked = writer.acked(first);
        self.writer = Some(acked);
        Ok(Some(acked.encode()))
    }

    async fn check(&mut self) -> Result<String, SinkError> {
        let producer = self.producer()?;
        let topic = self.config.topic.fixed().map(str::to_owned);
        let summary = tokio::task::spawn_blocking(move || {
            // All topics: asking for one by name could make the brokers create it.
            let metadata = producer
                .client()
                .fetch_metadata(None, CHECK_TIMEOUT)
                .map_err(|e| SinkError::transient("kafka sink: the brokers did not answer").caused_by(e))?;
            let brokers = metadata.brokers().len();
            Ok::<_, SinkError>(match topic {
                Some(t) => match metadata.topics().iter().find(|m| m.name() == t) {
                    Some(m) => format!("{brokers} broker(s) answered; topic {t:?} has {} partition(s)", m.partitions().len()),
                    None => format!(
                        "{brokers} broker(s) answered; topic {t:?} does not exist yet (the first message creates it if the brokers auto-create topics)"
                    ),
                },
                None => format!("{brokers} broker(s) answered ({} topics)", metadata.topics().len()),
            })
        })
        .await
        .map_err(|e| SinkError::transient("kafka sink: check failed").caused_by(e))??;
        Ok(summary)
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let Some(producer) = self.producer.take() else { return Ok(()) };
        tokio::task::spawn_blocking(move || producer.flush(CLOSE_TIMEOUT))
            .await
            .map_err(|e| SinkError::transient("kafka sink: closing failed").caused_by(e))?
            .map_err(|e| SinkError::transient("kafka sink: flushing on close").caused_by(e))
    }
}
