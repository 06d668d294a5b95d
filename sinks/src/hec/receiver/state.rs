//! The receiver's memory: the token, the scripted faults, the channels with their
//! pending acks, and what was indexed. One mutex guards it; no lock is held across an await.

use super::{Fault, Indexed, ReceiverConfig, Stats};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

/// What the next event request is answered with instead of being processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scripted {
    Status(u16),
    Disconnect,
    Pass,
    Invalid(usize),
}

/// One data channel: its next ack id and the acks not yet reported true.
#[derive(Debug, Default)]
struct Channel {
    next_id: u64,
    /// id → when it turns true (`None`: never, a dropped ack).
    pending: BTreeMap<u64, Option<Instant>>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) token: String,
    pub(crate) max_content_length: usize,
    busy_until: Option<Instant>,
    scripted: VecDeque<Scripted>,
    drop_acks: usize,
    channels: HashMap<String, Channel>,
    pub(crate) indexed: Vec<Indexed>,
    keep_events: bool,
    output: Option<BufWriter<File>>,
    pub(crate) stats: Stats,
}

impl State {
    pub(crate) fn new(config: &ReceiverConfig) -> std::io::Result<State> {
        let output = match &config.output {
            Some(path) => Some(BufWriter::new(File::options().create(true).append(true).open(path)?)),
            None => None,
        };
        Ok(State {
            token: config.token.clone(),
            max_content_length: config.max_content_length,
            busy_until: None,
            scripted: VecDeque::new(),
            drop_acks: 0,
            channels: HashMap::new(),
            indexed: Vec::new(),
            keep_events: config.keep_events,
            output,
            stats: Stats::default(),
        })
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        match fault {
            Fault::Busy(d) => self.busy_until = Some(Instant::now() + d),
            Fault::Status(s) => self.scripted.push_back(Scripted::Status(s)),
            Fault::Disconnect => self.scripted.push_back(Scripted::Disconnect),
            Fault::Pass => self.scripted.push_back(Scripted::Pass),
            Fault::InvalidEvent(n) => self.scripted.push_back(Scripted::Invalid(n)),
            Fault::DropAcks(n) => self.drop_acks += n,
        }
    }

    pub(crate) fn busy(&self) -> bool {
        self.busy_until.is_some_and(|t| Instant::now() < t)
    }

    /// Counts an event request and returns its number and what is scripted for it.
    pub(crate) fn begin_event_request(&mut self) -> (u64, Option<Scripted>) {
        self.stats.event_requests += 1;
        (self.stats.event_requests, self.scripted.pop_front())
    }

    pub(crate) fn answered(&mut self, status: u16) {
        *self.stats.answers.entry(status).or_default() += 1;
        if status == 200 {
            self.stats.accepted_requests += 1;
        }
    }

    /// Indexes envelopes (raw text, id) of request `request`.
    pub(crate) fn index(&mut self, request: u64, channel: Option<&str>, events: Vec<(String, Option<String>)>) {
        self.stats.indexed += events.len() as u64;
        if let Some(out) = &mut self.output {
            let mut result = Ok(());
            for (raw, _) in &events {
                result = result.and_then(|()| out.write_all(raw.as_bytes())).and_then(|()| out.write_all(b"\n"));
            }
            if let Err(e) = result.and_then(|()| out.flush()) {
                tracing::error!("hec receiver: writing the output file: {e}");
            }
        }
        if self.keep_events {
            self.indexed.extend(events.into_iter().map(|(raw, id)| Indexed {
                request,
                channel: channel.map(str::to_owned),
                raw,
                id,
            }));
        }
    }

    /// A new ack id on `channel` for an accepted request.
    pub(crate) fn new_ack(&mut self, channel: &str, delay: Duration) -> u64 {
        let ready = if self.drop_acks > 0 {
            self.drop_acks -= 1;
            None
        } else {
            Some(Instant::now() + delay)
        };
        let ch = self.channels.entry(channel.to_owned()).or_default();
        let id = ch.next_id;
        ch.next_id += 1;
        ch.pending.insert(id, ready);
        id
    }

    /// Whether each id is indexed; ids reported true are forgotten.
    pub(crate) fn query_acks(&mut self, channel: &str, ids: &[u64]) -> Vec<(u64, bool)> {
        self.stats.ack_polls += 1;
        let now = Instant::now();
        let ch = self.channels.entry(channel.to_owned()).or_default();
        let answers: Vec<(u64, bool)> = ids
            .iter()
            .map(|&id| {
                let ready = matches!(ch.pending.get(&id), Some(Some(t)) if *t <= now);
                if ready {
                    ch.pending.remove(&id);
                }
                (id, ready)
            })
            .collect();
        self.stats.acks_reported += answers.iter().filter(|(_, ok)| *ok).count() as u64;
        answers
    }
}
