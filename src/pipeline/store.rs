//! The state store as the async pipeline uses it: one SQLite connection for writes
//! behind a mutex, optionally a second one for the sinks' reads, every call run on the
//! blocking pool so a page commit's fsync never stalls the runtime.
//!
//! The second connection exists for throughput: in WAL mode a reader sees the last
//! committed snapshot without waiting for a writer, so the sinks read their next batch
//! while a fetcher commits a page, instead of queueing behind it on one mutex.

use state::{StateError, Store};
use std::sync::{Arc, Mutex};

/// A cloneable handle to the store: the writing connection and the reading one
/// (the same connection when only one was given).
#[derive(Clone)]
pub struct StoreHandle {
    writer: Arc<Mutex<Store>>,
    reader: Arc<Mutex<Store>>,
}

impl StoreHandle {
    /// One connection for everything (in-memory stores, tests).
    pub fn new(store: Store) -> Self {
        let writer = Arc::new(Mutex::new(store));
        StoreHandle { reader: writer.clone(), writer }
    }

    /// `writer` for every call, `reader` for [`StoreHandle::read`]; both must be
    /// connections to the same file.
    pub fn with_reader(writer: Store, reader: Store) -> Self {
        StoreHandle { writer: Arc::new(Mutex::new(writer)), reader: Arc::new(Mutex::new(reader)) }
    }

    /// Runs `f` with the writing connection on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StateError>
    where
        F: FnOnce(&mut Store) -> Result<R, StateError> + Send + 'static,
        R: Send + 'static,
    {
        run_locked(self.writer.clone(), f).await
    }

    /// Runs `f`, which only reads, with the reading connection on the blocking pool.
    /// It sees every transaction committed before it starts.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StateError>
    where
        F: FnOnce(&Store) -> Result<R, StateError> + Send + 'static,
        R: Send + 'static,
    {
        run_locked(self.reader.clone(), move |s| f(s)).await
    }
}

async fn run_locked<R, F>(store: Arc<Mutex<Store>>, f: F) -> Result<R, StateError>
where
    F: FnOnce(&mut Store) -> Result<R, StateError> + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        // A panic while holding the lock cannot leave SQLite half-written (the
        // transaction rolls back), so a poisoned lock is safe to take over.
        let mut guard = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    })
    .await
    .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
}
