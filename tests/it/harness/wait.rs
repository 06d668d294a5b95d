//! Waiting on a condition with a deadline: the only way a test here waits. A fixed sleep
//! either wastes time on a fast machine or fails on a loaded one; a poll of what the
//! test is waiting for does neither.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled: after 10 ms at first, each pause half as long again
/// as the last, up to 200 ms. A condition met soon is seen at once; a long wait on one
/// that reads a large file (a sink's output) does not take a core from the bridge.
const FIRST_POLL: Duration = Duration::from_millis(10);
const MAX_POLL: Duration = Duration::from_millis(200);

/// The pause after `poll`.
fn next(poll: Duration) -> Duration {
    (poll * 3 / 2).min(MAX_POLL)
}

/// Polls `done` until it holds, failing the test naming `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    let mut poll = FIRST_POLL;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(poll).await;
        poll = next(poll);
    }
}

/// [`wait_until`] for a test (or a peer's start-up) that is not async.
pub fn wait_until_blocking(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    assert!(wait_until_ok(limit, done), "timed out after {limit:?} waiting until {what}");
}

/// Polls `done` until it holds or `limit` passes; whether it held. For callers that do
/// something other than fail when it does not (a peer's log in the message, a kill in a
/// `Drop`).
pub fn wait_until_ok(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    let mut poll = FIRST_POLL;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(poll);
        poll = next(poll);
    }
}

/// Calls the async `probe` until it returns a value, failing the test naming `what` after
/// `limit`: for conditions read over the network (an HTTP endpoint, a port).
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    let mut poll = FIRST_POLL;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(poll).await;
        poll = next(poll);
    }
}
