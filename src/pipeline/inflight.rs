//! The batches a delivery loop has submitted to its sink and not yet settled.
//!
//! This is the one place that decides when the next batch may go out, for every sink:
//! a sink that is not [pipelined](sinks::Sink::pipelined) has one batch at a time; a
//! pipelined one (Kafka, HEC with `ack`) two, the one being settled and the one submitted
//! after it. A batch goes out after another only when that one [went
//! whole](sinks::Ticket::went_whole): after a failed submit, that batch is settled before
//! anything after it is sent, so the peer gets records in spool order (the Kafka sink's
//! read-back after a restart relies on that). Batches are settled, and the cursor moved,
//! in the order they were read.

use sinks::{Event, Ticket};
use std::collections::VecDeque;

/// A batch read from the spool and handed to the sink.
pub(super) struct Submitted {
    /// The last seq the batch covers: the cursor moves there once it is settled.
    pub last: u64,
    /// The events of the batch this sink takes.
    pub events: Vec<Event>,
    /// `None` when the sink takes none of the batch's rows: there is nothing to settle,
    /// only the cursor to move.
    pub ticket: Option<Ticket>,
}

impl Submitted {
    fn went_whole(&self) -> bool {
        self.ticket.as_ref().is_none_or(Ticket::went_whole)
    }
}

/// The queue of [`Submitted`] batches, oldest first.
pub(super) struct InFlight {
    queue: VecDeque<Submitted>,
    window: usize,
}

impl InFlight {
    /// The most batches in flight: two for a pipelined sink, else one.
    pub fn new(pipelined: bool) -> InFlight {
        let window = if pipelined { 2 } else { 1 };
        InFlight { queue: VecDeque::with_capacity(window), window }
    }

    /// Where the next batch is read from: after the last one in flight, or `cursor`.
    pub fn read_after(&self, cursor: u64) -> u64 {
        self.queue.back().map_or(cursor, |s| s.last)
    }

    /// Whether another batch may be submitted before the oldest is settled.
    pub fn has_room(&self) -> bool {
        self.queue.len() < self.window && self.queue.back().is_none_or(Submitted::went_whole)
    }

    pub fn push(&mut self, submitted: Submitted) {
        self.queue.push_back(submitted);
    }

    /// The batch to settle next.
    pub fn oldest(&self) -> Option<&Submitted> {
        self.queue.front()
    }

    /// The oldest batch, settled: it leaves the queue.
    pub fn settled(&mut self) -> Option<Submitted> {
        self.queue.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submitted(last: u64, ticket: Option<Ticket>) -> Submitted {
        Submitted { last, events: Vec::new(), ticket }
    }

    #[test]
    fn a_pipelined_sink_gets_a_second_batch_only_after_a_whole_first() {
        let mut q = InFlight::new(true);
        assert!(q.has_room());
        assert_eq!(q.read_after(7), 7);
        q.push(submitted(10, Some(Ticket::whole(&[]))));
        assert!(q.has_room(), "the first went whole: the next may go");
        assert_eq!(q.read_after(7), 10);
        q.push(submitted(20, Some(Ticket::whole(&[]))));
        assert!(!q.has_room(), "two in flight is the most");
        assert_eq!(q.settled().map(|s| s.last), Some(10), "settled in the order submitted");
        q.push(submitted(30, Some(Ticket::deferred(&[]))));
        assert!(!q.has_room(), "after a batch that did not go whole nothing more is sent");
        assert_eq!(q.settled().map(|s| s.last), Some(20));
        assert!(!q.has_room(), "not until that batch is settled");
        assert_eq!(q.settled().map(|s| s.last), Some(30));
        assert!(q.has_room());
    }

    #[test]
    fn a_sink_that_is_not_pipelined_has_one_batch_at_a_time() {
        let mut q = InFlight::new(false);
        q.push(submitted(10, Some(Ticket::deferred(&[]))));
        assert!(!q.has_room());
        q.settled();
        // Rows it does not take are "settled" without the sink, still one at a time.
        q.push(submitted(20, None));
        assert!(!q.has_room());
    }
}
