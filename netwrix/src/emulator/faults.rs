//! Injected faults: the failures a real server shows (errors, garbage, slowness), on
//! demand, so the client's retry and error paths can be tested.

use crate::errorlist::ErrorList;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// One failure to inject. Faults are queued; each enum or search request takes the
/// next one (write requests never do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Answer with this status and this ErrorList, in the request's format.
    Errors(u16, ErrorList),
    /// Answer 200 with the page that would have been served, cut off in the middle of an element.
    MalformedBody,
    /// Wait this long, then serve the request normally.
    Delay(Duration),
}

/// The queue of faults waiting for a request.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: Mutex<VecDeque<Fault>>,
}

impl FaultQueue {
    pub(crate) fn push(&self, fault: Fault) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push_back(fault);
    }

    pub(crate) fn take(&self) -> Option<Fault> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }
}

/// Cuts an encoded page inside an element: a few bytes after the last `<` (XML) or
/// inside the last string (JSON) before the middle of the body, so no decoder can accept it.
pub(crate) fn truncate_mid_element(body: &mut Vec<u8>) {
    let half = body.len() / 2;
    let cut = body[..half]
        .iter()
        .rposition(|&b| b == b'<' || b == b'"')
        .map(|i| (i + 3).min(body.len().saturating_sub(1)))
        .unwrap_or(half);
    let mut cut = cut.max(1).min(body.len().saturating_sub(1));
    // Stay on a character boundary: the body is still valid UTF-8, only incomplete.
    while cut > 0 && (body[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    body.truncate(cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_cuts_inside_a_tag() {
        let mut b =
            b"<?xml version=\"1.0\"?><List><ContinuationMark>abc</ContinuationMark><R><Who>\xc3\xbc</Who></R></List>"
                .to_vec();
        let len = b.len();
        truncate_mid_element(&mut b);
        assert!(b.len() < len && !b.is_empty());
        assert!(std::str::from_utf8(&b).is_ok());
        let q = FaultQueue::default();
        q.push(Fault::Status(503));
        q.push(Fault::MalformedBody);
        assert_eq!(q.take(), Some(Fault::Status(503)));
        assert_eq!(q.take(), Some(Fault::MalformedBody));
        assert_eq!(q.take(), None);
    }
}
