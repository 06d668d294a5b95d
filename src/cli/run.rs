//! `auditbridge run`: the long-running export, stopped cleanly by SIGTERM or SIGINT.

use crate::pipeline::{self, RunOptions};
use crate::shutdown;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config_path: &Path, once: bool) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(config_path)?;
    let (trigger, shutdown) = shutdown::channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing in-flight batches");
        trigger.trigger();
    });
    tracing::info!(jobs = config.jobs.len(), sinks = config.sinks.len(), state = %config.state.path.display(), "auditbridge starting");
    let report = pipeline::run(&config, RunOptions { once }, shutdown).await?;
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
