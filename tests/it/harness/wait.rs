//! Waiting on a condition with a deadline: the only way a test here waits. A fixed sleep
//! either wastes time on a fast machine or fails on a loaded one; a poll of what the
//! test is waiting for does neither.

use std::time::{Duration, Instant};

/// How often a condition is polled: often enough not to add latency a person would
/// notice, seldom enough not to load the shared 2-core machine.
const POLL: Duration = Duration::from_millis(20);

/// Polls `done` until it holds, failing the test naming `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(POLL).await;
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
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Calls the async `probe` until it returns a value, failing the test naming `what` after
/// `limit`: for conditions read over the network (an HTTP endpoint, a port).
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(POLL).await;
    }
}
