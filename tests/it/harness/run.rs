//! Running the pipeline in this process, as `run --once` does, for tests that check its
//! report and the state it left rather than the binary's exit.

use auditbridge::pipeline::{self, RunOptions, RunReport, Shared, StoreHandle};
use auditbridge::{config, shutdown};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One `run --once` over the config `text`, then the store it left, reopened. `limit`
/// guards against a hang; it is not a speed check.
pub async fn run_once_in_process(text: &str, limit: Duration) -> (RunReport, state::Store) {
    run_once_watching(text, limit, |_| async {}).await
}

/// [`run_once_in_process`], calling `during` with the run's shared counters once it has
/// started (the run and `during` go on side by side).
pub async fn run_once_watching<F, Fut>(text: &str, limit: Duration, during: F) -> (RunReport, state::Store)
where
    F: FnOnce(Arc<Shared>) -> Fut,
    Fut: Future<Output = ()>,
{
    let config = config::parse(text, "test.toml").expect("the test's config parses");
    let store = StoreHandle::new(pipeline::open_store(&config).expect("the state opens"));
    let (_trigger, shutdown) = shutdown::channel();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = pipeline::run_with(&config, RunOptions { once: true }, shutdown, store, Some(tx));
    let watch = async move {
        if let Ok(shared) = rx.await {
            during(shared).await;
        }
    };
    let (report, ()) = tokio::time::timeout(limit, async { tokio::join!(run, watch) })
        .await
        .unwrap_or_else(|_| panic!("the run did not finish within {limit:?}"));
    let report = report.expect("the run started");
    (report, pipeline::open_store(&config).expect("the state reopens"))
}

/// The state of the job named `name`.
pub fn job_named(store: &state::Store, name: &str) -> state::JobState {
    store.jobs().expect("the jobs are readable").into_iter().find(|j| j.name == name).expect("the job is in the state")
}
