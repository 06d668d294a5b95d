//! The pipelined-delivery contract's receipt: what `Sink::submit` hands back.

use crate::{Event, SinkError};

/// A batch [submitted](Sink::submit) to a sink and not yet [settled](Sink::settle): which
/// batch it is, and how much of it went to the peer.
///
/// The pipeline keeps the tickets of one sink in a queue, settles them in order and moves
/// the cursor after each; a ticket that did not go whole stops it submitting more until
/// it is settled.
#[derive(Debug)]
pub struct Ticket {
    first_seq: u64,
    last_seq: u64,
    sent: Sent,
}

/// How much of a submitted batch went to the peer.
#[derive(Debug)]
enum Sent {
    /// Nothing yet: `settle` sends it all (a sink that is not pipelined).
    Deferred,
    /// All of it; `settle` waits for the acknowledgement.
    Whole,
    /// Part of it, or none, before this error; `settle` sends the rest.
    Partly(SinkError),
}

impl Ticket {
    /// `batch` was not sent; `settle` sends it.
    pub fn deferred(batch: &[Event]) -> Ticket {
        Ticket::new(batch, Sent::Deferred)
    }

    /// All of `batch` is with the peer.
    pub fn whole(batch: &[Event]) -> Ticket {
        Ticket::new(batch, Sent::Whole)
    }

    /// `error` stopped `batch` part-way; `settle` sends the rest.
    pub fn partly(batch: &[Event], error: SinkError) -> Ticket {
        Ticket::new(batch, Sent::Partly(error))
    }

    /// `Ok(())` becomes [`whole`](Ticket::whole), an error [`partly`](Ticket::partly).
    pub fn of(batch: &[Event], sent: Result<(), SinkError>) -> Ticket {
        match sent {
            Ok(()) => Ticket::whole(batch),
            Err(error) => Ticket::partly(batch, error),
        }
    }

    fn new(batch: &[Event], sent: Sent) -> Ticket {
        Ticket { first_seq: batch.first().map_or(0, |e| e.seq), last_seq: batch.last().map_or(0, |e| e.seq), sent }
    }

    /// Whether the whole batch is with the peer, so the next may be submitted after it.
    pub fn went_whole(&self) -> bool {
        matches!(self.sent, Sent::Whole)
    }

    /// What stopped the batch part-way at `submit`, if anything did.
    pub fn error(&self) -> Option<&SinkError> {
        match &self.sent {
            Sent::Partly(error) => Some(error),
            Sent::Deferred | Sent::Whole => None,
        }
    }

    /// The seqs of the batch's first and last events.
    pub fn seqs(&self) -> std::ops::RangeInclusive<u64> {
        self.first_seq..=self.last_seq
    }
}
