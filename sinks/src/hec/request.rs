//! Request building: a batch's envelopes, encoded once into one reused buffer, cut into
//! request bodies by count and by bytes, each optionally gzipped.
//!
//! A body is envelopes concatenated, each followed by `\n` (Splunk takes whitespace
//! between objects; it is not a JSON array), so any run of consecutive events is one
//! slice of the buffer and a request can be split or resent from any event on without
//! encoding again.

use crate::format::hec::{self, Meta};
use crate::Event;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::ops::Range;

/// A buffer larger than this is freed after the batch rather than kept.
const MAX_KEPT_BUFFER: usize = 16 << 20;

/// The envelopes of one batch.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    bytes: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is event `i`'s envelope and its `\n`.
    offsets: Vec<usize>,
}

impl Encoded {
    /// Encodes `batch`, replacing what was there.
    pub fn encode(&mut self, batch: &[Event], meta: &Meta<'_>) {
        self.encode_with(batch, b'\n', |event, out| hec::encode(event, meta, out));
    }

    /// Encodes `batch` with `encode`, each event followed by `separator`, replacing what
    /// was there (the Sentinel sink's objects are followed by `,`).
    pub fn encode_with(&mut self, batch: &[Event], separator: u8, mut encode: impl FnMut(&Event, &mut Vec<u8>)) {
        if self.bytes.capacity() > MAX_KEPT_BUFFER {
            self.bytes = Vec::new();
        }
        self.bytes.clear();
        self.offsets.clear();
        self.offsets.push(0);
        for event in batch {
            encode(event, &mut self.bytes);
            self.bytes.push(separator);
            self.offsets.push(self.bytes.len());
        }
    }

    /// How many events are encoded.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The body of events `range` (uncompressed).
    pub fn slice(&self, range: Range<usize>) -> &[u8] {
        &self.bytes[self.offsets[range.start]..self.offsets[range.end]]
    }

    /// Cuts `range` into consecutive requests of at most `max_events` events and at most
    /// `max_bytes` bytes (a single larger event goes alone).
    pub fn plan(&self, range: Range<usize>, max_events: usize, max_bytes: usize) -> Vec<Range<usize>> {
        let mut parts = Vec::new();
        let mut start = range.start;
        while start < range.end {
            let mut end = start + 1;
            while end < range.end
                && end - start < max_events
                && self.offsets[end + 1] - self.offsets[start] <= max_bytes
            {
                end += 1;
            }
            parts.push(start..end);
            start = end;
        }
        parts
    }

    /// Frees memory after an unusually large batch.
    pub fn release(&mut self) {
        if self.bytes.capacity() > MAX_KEPT_BUFFER {
            *self = Encoded::default();
        }
    }
}

/// The body to send for `data`: gzipped or as it is. Gzip runs at its fastest level:
/// audit JSON is repetitive enough that level 1 still shrinks it several times, at a
/// fraction of the default level's CPU (docs/performance.md), and the CPU is what the
/// exporter, not the network, runs short of on a loaded host.
pub(crate) fn body(data: &[u8], gzip: bool) -> Vec<u8> {
    if !gzip {
        return data.to_vec();
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::fast());
    // Writing into a `Vec` cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, RecordId};
    use std::io::Read;

    fn batch(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                seq: i as u64 + 1,
                id: RecordId([i as u8; 16]),
                job: "j".into(),
                replay: false,
                record: ActivityRecord { who: "x".repeat(i).into(), ..Default::default() },
            })
            .collect()
    }

    #[test]
    fn bodies_are_envelopes_each_followed_by_a_newline() {
        let events = batch(3);
        let mut encoded = Encoded::default();
        encoded.encode(&events, &Meta::default());
        assert_eq!(encoded.len(), 3);
        let mut want = Vec::new();
        for e in &events[1..3] {
            hec::encode(e, &Meta::default(), &mut want);
            want.push(b'\n');
        }
        assert_eq!(encoded.slice(1..3), want.as_slice());
    }

    #[test]
    fn plan_cuts_by_count_and_by_bytes() {
        let events = batch(10);
        let mut encoded = Encoded::default();
        encoded.encode(&events, &Meta::default());
        assert_eq!(encoded.plan(0..10, 4, usize::MAX), vec![0..4, 4..8, 8..10]);
        assert_eq!(encoded.plan(3..10, 100, usize::MAX), vec![3..10]);
        // Two events of this size fit, three do not.
        let two = encoded.slice(0..2).len();
        assert_eq!(encoded.plan(0..4, 100, two), vec![0..2, 2..3, 3..4]);
        // An event larger than the limit goes alone.
        assert_eq!(encoded.plan(0..3, 100, 1), vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn gzip_round_trips() {
        let data = b"{\"event\":\"x\"}\n".repeat(100);
        let gz = body(&data, true);
        assert!(gz.len() < data.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        assert_eq!(body(&data, false), data);
    }
}
