//! `auditbridge run`: the long-running export, stopped cleanly by SIGTERM or SIGINT.
//!
//! SIGHUP reloads the config: a config that loads and checks replaces the running one
//! the way a stop and a start would, within the process (in-flight batches finish,
//! every cursor and mark stays in the state file, then the pipeline starts again with
//! the new config); one that does not is refused in the log and the running one kept.

use crate::pipeline::{self, RunOptions, Shared};
use crate::shutdown;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

pub async fn run(config_path: &Path, once: bool) -> anyhow::Result<ExitCode> {
    let mut config = crate::config::load(config_path)?;
    let (signals_tx, mut signals) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(forward_signals(signals_tx));
    loop {
        for warning in crate::config::warnings(&config) {
            tracing::warn!("{warning}");
        }
        tracing::info!(jobs = config.jobs.len(), sinks = config.sinks.len(), state = %config.state.path.display(), "auditbridge starting");
        let (trigger, shutdown) = shutdown::channel();
        let store = pipeline::open_handle(&config)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (mut reloaded, mut stopping) = (None, false);
        let report = {
            let run = pipeline::run_with(&config, RunOptions { once }, shutdown, store, Some(tx));
            tokio::pin!(run);
            loop {
                tokio::select! {
                    report = &mut run => break report?,
                    Some(signal) = signals.recv() => match signal {
                        Signal::Stop => {
                            tracing::info!("stopping: finishing in-flight batches");
                            (reloaded, stopping) = (None, true);
                            trigger.trigger();
                        }
                        // A config that does not load is refused; the running one goes on.
                        Signal::Reload if stopping => {}
                        Signal::Reload => match crate::config::load(config_path) {
                            Ok(new) => {
                                tracing::info!("reloading the config: finishing in-flight batches, then restarting with it");
                                reloaded = Some(new);
                                trigger.trigger();
                            }
                            Err(e) => tracing::error!("reload refused, the running config is kept: {e}"),
                        },
                    },
                }
            }
        };
        // On standard error: standard output may be a stdout sink's data.
        if let (true, Ok(shared)) = (once, rx.await) {
            eprintln!("{}", summary(&shared));
        }
        if !report.failures.is_empty() {
            for f in &report.failures {
                eprintln!("failed: {f}");
            }
            return Ok(ExitCode::FAILURE);
        }
        match reloaded {
            Some(new) => config = new,
            None => {
                tracing::info!("auditbridge stopped");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

/// What the process is asked to do.
enum Signal {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP (`systemctl reload`): read the config again.
    Reload,
}

async fn forward_signals(to: tokio::sync::mpsc::UnboundedSender<Signal>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
            loop {
                let signal = tokio::select! {
                    _ = term.recv() => Signal::Stop,
                    _ = tokio::signal::ctrl_c() => Signal::Stop,
                    _ = hup.recv() => Signal::Reload,
                };
                if to.send(signal).is_err() {
                    return;
                }
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    let _ = to.send(Signal::Stop);
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
