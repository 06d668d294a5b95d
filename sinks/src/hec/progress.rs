//! Where one batch stands with the collector: which of its requests are still to send,
//! which wait for an indexer acknowledgement, and which are done.
//!
//! It outlives a failed `deliver` call: the pipeline retries a batch by calling `deliver`
//! again with the same events, and the sink then sends only what is not yet accepted and
//! keeps polling the acks it already holds. So a 503 costs no repeat at all, a lost ack
//! repeats that one request, and an `invalid-event-number` repeats only the tail.

use std::ops::Range;
use std::time::{Duration, Instant};

/// What identifies a batch across `deliver` calls: the pipeline passes the same rows again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchKey {
    first_seq: u64,
    last_seq: u64,
    len: usize,
}

impl BatchKey {
    pub fn of(batch: &[crate::Event]) -> BatchKey {
        BatchKey {
            first_seq: batch.first().map_or(0, |e| e.seq),
            last_seq: batch.last().map_or(0, |e| e.seq),
            len: batch.len(),
        }
    }
}

/// Where one request of the batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Unsent,
    /// Accepted with this `ackId` at this instant; not yet reported indexed.
    Awaiting {
        ack_id: u64,
        since: Instant,
    },
    Done,
}

/// A run of consecutive events of the batch sent as one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub range: Range<usize>,
    pub state: State,
}

/// One batch's requests, in event order.
#[derive(Debug)]
pub(crate) struct Progress {
    key: BatchKey,
    parts: Vec<Part>,
    /// The event (index in the batch) last refused as invalid, and how many times in a row.
    rejected: Option<(usize, u32)>,
}

impl Progress {
    pub fn new(key: BatchKey, ranges: Vec<Range<usize>>) -> Progress {
        let parts = ranges.into_iter().map(|range| Part { range, state: State::Unsent }).collect();
        Progress { key, parts, rejected: None }
    }

    pub fn matches(&self, key: &BatchKey) -> bool {
        &self.key == key
    }

    /// The first request still to send.
    pub fn next_unsent(&self) -> Option<usize> {
        self.parts.iter().position(|p| p.state == State::Unsent)
    }

    pub fn range(&self, part: usize) -> Range<usize> {
        self.parts[part].range.clone()
    }

    /// Request `part` was accepted: done, or waiting for `ack_id`.
    pub fn accepted(&mut self, part: usize, ack_id: Option<u64>, now: Instant) {
        self.parts[part].state = match ack_id {
            Some(ack_id) => State::Awaiting { ack_id, since: now },
            None => State::Done,
        };
    }

    /// Event `index` (within request `part`) was refused: the events before it are done;
    /// it and the rest are to send again, cut by `plan`. Returns how many times in a row
    /// this same event has now been refused.
    pub fn invalid(&mut self, part: usize, index: usize, plan: impl FnOnce(Range<usize>) -> Vec<Range<usize>>) -> u32 {
        let range = self.range(part);
        let bad = (range.start + index).min(range.end - 1);
        let mut replacement = Vec::new();
        if bad > range.start {
            replacement.push(Part { range: range.start..bad, state: State::Done });
        }
        replacement.extend(plan(bad..range.end).into_iter().map(|range| Part { range, state: State::Unsent }));
        self.parts.splice(part..=part, replacement);
        let times = match self.rejected {
            Some((event, times)) if event == bad => times + 1,
            _ => 1,
        };
        self.rejected = Some((bad, times));
        times
    }

    /// Request `part` was too large: send it as two halves. `false` if it holds one event.
    pub fn split(&mut self, part: usize) -> bool {
        let range = self.range(part);
        if range.len() < 2 {
            return false;
        }
        let mid = range.start + range.len() / 2;
        let halves = [
            Part { range: range.start..mid, state: State::Unsent },
            Part { range: mid..range.end, state: State::Unsent },
        ];
        self.parts.splice(part..=part, halves);
        true
    }

    /// The ack ids still awaited.
    pub fn awaiting(&self) -> Vec<u64> {
        self.parts
            .iter()
            .filter_map(|p| match p.state {
                State::Awaiting { ack_id, .. } => Some(ack_id),
                _ => None,
            })
            .collect()
    }

    /// Marks done every awaited request whose id `indexed` says is indexed.
    pub fn acknowledged(&mut self, indexed: impl Fn(u64) -> bool) {
        for part in &mut self.parts {
            if let State::Awaiting { ack_id, .. } = part.state {
                if indexed(ack_id) {
                    part.state = State::Done;
                }
            }
        }
    }

    /// Requests awaited longer than `timeout` are to send again; returns them with their ids.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<(Range<usize>, u64)> {
        let mut expired = Vec::new();
        for part in &mut self.parts {
            if let State::Awaiting { ack_id, since } = part.state {
                if now.saturating_duration_since(since) >= timeout {
                    part.state = State::Unsent;
                    expired.push((part.range.clone(), ack_id));
                }
            }
        }
        expired
    }

    pub fn done(&self) -> bool {
        self.parts.iter().all(|p| p.state == State::Done)
    }

    #[cfg(test)]
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BatchKey {
        BatchKey { first_seq: 1, last_seq: 10, len: 10 }
    }

    #[test]
    fn acks_mark_requests_done_and_timeouts_send_them_again() {
        let t0 = Instant::now();
        let mut p = Progress::new(key(), vec![0..5, 5..10]);
        assert_eq!(p.next_unsent(), Some(0));
        p.accepted(0, Some(0), t0);
        p.accepted(1, Some(1), t0 + Duration::from_secs(5));
        assert_eq!(p.next_unsent(), None);
        assert_eq!(p.awaiting(), vec![0, 1]);
        p.acknowledged(|id| id == 1);
        assert_eq!(p.awaiting(), vec![0]);
        assert!(p.expire(t0 + Duration::from_secs(9), Duration::from_secs(10)).is_empty());
        assert_eq!(p.expire(t0 + Duration::from_secs(10), Duration::from_secs(10)), vec![(0..5, 0)]);
        assert_eq!(p.next_unsent(), Some(0));
        p.accepted(0, None, t0);
        assert!(p.done());
    }

    #[test]
    fn invalid_event_keeps_the_head_and_resends_from_that_event() {
        let mut p = Progress::new(key(), vec![0..6, 6..10]);
        let times = p.invalid(0, 2, |r| vec![r]);
        assert_eq!(times, 1);
        assert_eq!(
            p.parts(),
            &[
                Part { range: 0..2, state: State::Done },
                Part { range: 2..6, state: State::Unsent },
                Part { range: 6..10, state: State::Unsent },
            ]
        );
        // The same event refused again, as the first of its request.
        assert_eq!(p.invalid(1, 0, |r| vec![r]), 2);
        // Refused at the very first event: nothing is done.
        assert_eq!(p.parts()[1], Part { range: 2..6, state: State::Unsent });
        // Another event resets the count.
        assert_eq!(p.invalid(1, 1, |r| vec![r.start..r.start + 1, r.start + 1..r.end]), 1);
        assert_eq!(p.parts()[1..4].iter().map(|p| p.range.clone()).collect::<Vec<_>>(), vec![2..3, 3..4, 4..6]);
    }

    #[test]
    fn too_large_halves_until_one_event() {
        let mut p = Progress::new(key(), std::iter::once(0..3).collect());
        assert!(p.split(0));
        assert_eq!(p.range(0), 0..1);
        assert_eq!(p.range(1), 1..3);
        assert!(!p.split(0));
    }
}
