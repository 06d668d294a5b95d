//! After a restart: which records of the batches in doubt are already in the topics.
//!
//! At most three batches are in doubt after a crash (the pipeline commits a batch's cursor
//! while the next one is delivered, and hands the sink the batch after that before the
//! delivered one's reports are in; more after a power loss, see `docs/kafka.md`). The
//! sink returns a batch only once every message of it has its delivery report, a batch is
//! produced no earlier than the one two before it returned, and only after the batch
//! before it was handed to the producer whole (the delivery loop sends ahead only then;
//! `src/pipeline/delivery.rs`). So every message this writer left in a partition with a
//! seq at or above the first seq of the first batch after the restart (the *floor*) is
//! from a batch in doubt. Messages below the floor can still follow them: the batch
//! acknowledged last was delivered while the next one was already sent ahead, and a
//! message of it that the brokers refused was produced again by its retry, behind that
//! one. But every message below the first seq of the batch acknowledged last (the *stop*,
//! kept in the sink's committed value) was produced, retries and all, before the batch
//! after that one was sent, so it sits before every message in doubt in the partition (the
//! idempotent producer keeps a partition in produce order).
//!
//! The scan reads every partition of the given topics backwards from its end, in growing
//! windows (the last message, then 8, 64, … messages; all partitions at once), collecting
//! this writer's seqs at or above the floor, until a partition's window holds one of this
//! writer's messages below the stop, or reaches the partition's start, or [`MAX_SCAN`]
//! messages. Messages of other writers are passed over. The result is exact whatever order
//! or gaps the batches in doubt left; when the scan limit is hit, what it did not see is sent
//! again (a duplicate, never a loss). Once every partition is read, their ends are asked
//! again, and one that grew meanwhile (a request of the process before still being written
//! by the broker) is read again, up to [`RECHECKS`] times. What was read is logged per
//! partition.

use super::config::KafkaSinkConfig;
use super::context::LogContext;
use super::message::stamp;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How many messages of one partition the scan reads at most.
pub const MAX_SCAN: i64 = 100_000;

/// What to look for.
pub struct Scan<'a> {
    pub topics: &'a [String],
    /// The first seq of the first batch after the restart.
    pub floor: u64,
    /// A message of this writer below this seq ends the scan of its partition: the first
    /// seq of the batch acknowledged last, at most `floor` (see `KafkaSink::new_resync`).
    pub stop_below: u64,
    /// This sink's writer id, 32 hex digits.
    pub writer: &'a str,
    pub deadline: Instant,
}

/// One partition being read back.
struct Part {
    low: i64,
    high: i64,
    window: i64,
    done: bool,
    /// This writer's records found at or above the floor.
    found: usize,
    /// Why the scan of this partition stopped, for the log (`""` while it reads).
    stop: &'static str,
}

/// What a read-back found: the seqs, and a line per partition for the log.
pub struct Found {
    pub seqs: HashSet<u64>,
    /// `topic/partition offsets A..B: N found, stopped at …`, one per partition read.
    pub partitions: Vec<String>,
}

/// How many times the partitions' ends are asked again after a scan, in case messages
/// landed while it read (a request of the process before still being written).
const RECHECKS: usize = 3;

/// The seqs at or above the floor that this writer already put into `scan.topics`.
/// Blocking: run it off the async runtime.
pub fn present(config: &KafkaSinkConfig, scan: &Scan<'_>) -> Result<Found, String> {
    let mut c = config.connection();
    c.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        // Required by librdkafka for any consumer, though nothing is committed or joined.
        .set("group.id", "auditbridge-tail-reader");
    let consumer: BaseConsumer<LogContext> =
        c.create_with_context(LogContext).map_err(|e| format!("reading topics back: creating a consumer: {e}"))?;
    let mut parts = HashMap::new();
    for topic in scan.topics {
        let err = |what: &str, e: KafkaError| format!("reading the end of topic {topic:?} ({what}): {e}");
        let metadata = consumer
            .fetch_metadata(Some(topic), remaining(scan.deadline))
            .map_err(|e| err("asking for its partitions", e))?;
        let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else { continue };
        match meta.error().map(RDKafkaErrorCode::from) {
            None => {}
            // Nothing was ever written there.
            Some(RDKafkaErrorCode::UnknownTopicOrPartition) => continue,
            Some(code) => return Err(err("asking for its partitions", KafkaError::MetadataFetch(code))),
        }
        for p in meta.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), remaining(scan.deadline))
                .map_err(|e| err(&format!("partition {} offsets", p.id()), e))?;
            let stop = if high <= low { "empty" } else { "" };
            parts.insert((topic.clone(), p.id()), Part { low, high, window: 1, done: high <= low, found: 0, stop });
        }
    }
    let mut found = HashSet::new();
    for recheck in 0..=RECHECKS {
        while parts.values().any(|p| !p.done) {
            read_windows(&consumer, scan, &mut parts, &mut found)?;
        }
        if recheck == RECHECKS || !grown(&consumer, scan, &mut parts)? {
            break;
        }
    }
    let mut partitions: Vec<String> = parts
        .iter()
        .map(|((topic, partition), p)| {
            let start = (p.high - p.window).max(p.low);
            format!("{topic}/{partition} offsets {start}..{}: {} found, stopped at {}", p.high, p.found, p.stop)
        })
        .collect();
    partitions.sort();
    Ok(Found { seqs: found, partitions })
}

/// Asks every partition's end again; one that grew since it was read is read again, down
/// to where its last window started. Whether any did.
fn grown(
    consumer: &BaseConsumer<LogContext>,
    scan: &Scan<'_>,
    parts: &mut HashMap<(String, i32), Part>,
) -> Result<bool, String> {
    let mut any = false;
    for ((topic, partition), p) in parts.iter_mut() {
        let (_, high) = consumer
            .fetch_watermarks(topic, *partition, remaining(scan.deadline))
            .map_err(|e| format!("reading the end of topic {topic:?} (partition {partition} offsets): {e}"))?;
        if high > p.high {
            tracing::info!(
                topic,
                partition,
                was = p.high,
                now = high,
                "kafka sink: a partition grew while it was read back; reading it again"
            );
            p.window += high - p.high;
            p.high = high;
            p.done = false;
            any = true;
        }
    }
    Ok(any)
}

/// Reads the current window of every partition not done, then widens or finishes each.
fn read_windows(
    consumer: &BaseConsumer<LogContext>,
    scan: &Scan<'_>,
    parts: &mut HashMap<(String, i32), Part>,
    found: &mut HashSet<u64>,
) -> Result<(), String> {
    let err = |e: KafkaError| format!("reading topics back: {e}");
    let mut tpl = TopicPartitionList::new();
    // Per partition being read: (reached its end, saw one of ours below the stop, new seqs found).
    let mut reading: HashMap<(String, i32), (bool, bool, usize)> = HashMap::new();
    for ((topic, partition), p) in parts.iter().filter(|(_, p)| !p.done) {
        let start = (p.high - p.window).max(p.low);
        tpl.add_partition_offset(topic, *partition, Offset::Offset(start)).map_err(err)?;
        reading.insert((topic.clone(), *partition), (false, false, 0));
    }
    consumer.assign(&tpl).map_err(err)?;
    while reading.values().any(|(end, _, _)| !end) {
        if Instant::now() >= scan.deadline {
            return Err(err(KafkaError::MessageConsumption(RDKafkaErrorCode::OperationTimedOut)));
        }
        match consumer.poll(Duration::from_millis(20)) {
            Some(Ok(m)) => {
                let key = (m.topic().to_owned(), m.partition());
                let (Some(part), Some(state)) = (parts.get(&key), reading.get_mut(&key)) else { continue };
                let s = stamp(m.headers());
                if s.writer.as_deref() == Some(scan.writer) {
                    match s.seq {
                        Some(seq) if seq >= scan.floor && found.insert(seq) => state.2 += 1,
                        Some(seq) if seq < scan.stop_below => state.1 = true,
                        _ => {}
                    }
                }
                if m.offset() >= part.high - 1 {
                    state.0 = true;
                }
            }
            Some(Err(e)) => return Err(err(e)),
            // Nothing more came: a partition whose position passed its end is read (its
            // last offsets may hold no message, e.g. transaction markers).
            None => {
                let positions = consumer.position().map_err(err)?;
                for e in positions.elements() {
                    let key = (e.topic().to_owned(), e.partition());
                    if let (Some(part), Some(state), Offset::Offset(pos)) =
                        (parts.get(&key), reading.get_mut(&key), e.offset())
                    {
                        if pos >= part.high {
                            state.0 = true;
                        }
                    }
                }
            }
        }
    }
    for (key, (_, below_stop, new)) in reading {
        let Some(p) = parts.get_mut(&key) else { continue };
        p.found += new;
        let start = (p.high - p.window).max(p.low);
        if below_stop || start == p.low {
            p.done = true;
            p.stop = if below_stop { "one of its own below the stop" } else { "the partition's start" };
        } else if p.window >= MAX_SCAN {
            p.stop = "the scan limit";
            tracing::warn!(
                topic = key.0,
                partition = key.1,
                "read the last {MAX_SCAN} messages without reaching this sink's acknowledged ones; \
                 records in doubt further back will be sent again"
            );
            p.done = true;
        } else {
            p.window = (p.window * 8).min(MAX_SCAN);
        }
    }
    Ok(())
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}
