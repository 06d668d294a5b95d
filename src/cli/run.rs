//! `auditbridge run`: the long-running export, stopped cleanly by SIGTERM or SIGINT.

use crate::pipeline::{self, RunOptions, Shared};
use crate::shutdown;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

pub async fn run(config_path: &Path, once: bool) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(config_path)?;
    for warning in crate::config::warnings(&config) {
        tracing::warn!("{warning}");
    }
    let (trigger, shutdown) = shutdown::channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing in-flight batches");
        trigger.trigger();
    });
    tracing::info!(jobs = config.jobs.len(), sinks = config.sinks.len(), state = %config.state.path.display(), "auditbridge starting");
    let store = pipeline::open_handle(&config)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let report = pipeline::run_with(&config, RunOptions { once }, shutdown, store, Some(tx)).await?;
    // On standard error: standard output may be a stdout sink's data.
    if let (true, Ok(shared)) = (once, rx.await) {
        eprintln!("{}", summary(&shared));
    }
    if report.failures.is_empty() {
        tracing::info!("auditbridge stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &report.failures {
            eprintln!("failed: {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// What a `--once` run did, for the cron mail or the terminal: fetched per job, delivered per sink.
fn summary(shared: &Shared) -> String {
    let count = |c: &std::sync::atomic::AtomicU64| c.load(Relaxed);
    let mut jobs: Vec<_> = shared.jobs.iter().collect();
    jobs.sort_by_key(|(name, _)| name.as_str());
    let mut sinks: Vec<_> = shared.sinks.iter().collect();
    sinks.sort_by_key(|(name, _)| name.as_str());
    let fetched: u64 = jobs.iter().map(|(_, c)| count(&c.fetched)).sum();
    let spooled: u64 = jobs.iter().map(|(_, c)| count(&c.spooled)).sum();
    let per_sink: Vec<_> = sinks.iter().map(|(name, c)| format!("{} to {name}", count(&c.delivered))).collect();
    format!(
        "run --once: fetched {fetched} records ({spooled} new, {} already spooled), delivered {}",
        fetched.saturating_sub(spooled),
        if per_sink.is_empty() { "nothing".to_owned() } else { per_sink.join(", ") }
    )
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
