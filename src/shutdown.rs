//! Graceful shutdown as a type.
//!
//! One [`ShutdownTrigger`] is held by whoever decides to stop (the signal handler,
//! a test); every task holds a cheap clone of [`Shutdown`] and checks it between
//! units of work, so in-flight batches finish and cursors never move past what a
//! peer acknowledged.

use tokio::sync::watch;

/// Fires the shutdown.
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Observes the shutdown.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and observer.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Asks every task to stop after its current unit of work.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether the shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the shutdown is asked for (or the trigger is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Sleeps for `d`, or less if the shutdown comes first; returns whether it came.
    pub async fn sleep(&mut self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => self.is_triggered(),
            _ = self.wait() => true,
        }
    }
}
