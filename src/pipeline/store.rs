//! The state store as the async pipeline uses it: one SQLite connection behind a
//! mutex, every call run on the blocking pool so a page commit's fsync never stalls
//! the runtime.

use state::{StateError, Store};
use std::sync::{Arc, Mutex};

/// A cloneable handle to the one [`Store`].
#[derive(Clone)]
pub struct StoreHandle(Arc<Mutex<Store>>);

impl StoreHandle {
    pub fn new(store: Store) -> Self {
        StoreHandle(Arc::new(Mutex::new(store)))
    }

    /// Runs `f` with the store on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StateError>
    where
        F: FnOnce(&mut Store) -> Result<R, StateError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written (the
            // transaction rolls back), so a poisoned lock is safe to take over.
            let mut guard = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }
}
