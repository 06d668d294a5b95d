//! `auditbridge validate`: checks a config and prints what it would run, secrets
//! redacted; with `--check`, also asks every job's API and every sink's peer whether
//! they answer and accept us.

use crate::config::{self, SinkKind};
use std::path::Path;
use std::process::ExitCode;

pub async fn validate(path: &Path, check: bool) -> anyhow::Result<ExitCode> {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}: OK", path.display());
    println!("state: {}", config.state.path.display());
    for job in &config.jobs {
        let user = job.user.as_deref().unwrap_or("(none)");
        let password = if job.password.is_some() { "***" } else { "(none)" };
        println!(
            "job {}: {} as {user} (password {password}), {:?}, poll every {:?}",
            job.name.get_ref(),
            job.url.get_ref(),
            job.format,
            job.poll_interval
        );
    }
    for sink in &config.sinks {
        let jobs = sink.jobs.as_ref().map_or_else(|| "every job".to_owned(), |j| j.join(", "));
        let detail = match &sink.kind {
            SinkKind::File { path, .. } => format!(" -> {}", path.display()),
            SinkKind::Stdout {} => String::new(),
        };
        println!("sink {} ({}){detail}: takes {jobs}", sink.name, sink.kind.type_name());
    }
    if check && !check_peers(&config).await {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks each job's API for one record and each sink's peer for a sign of life.
/// Returns whether every one answered.
async fn check_peers(config: &config::Config) -> bool {
    let mut all_good = true;
    for job in &config.jobs {
        let result = match crate::pipeline::client_for_with_count(job, Some(1)) {
            Ok(client) => client.first_page().await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:#}")),
        };
        match result {
            Ok(()) => println!("check job {}: the API answered", job.name.get_ref()),
            Err(e) => {
                all_good = false;
                println!("check job {}: FAILED: {e}", job.name.get_ref());
            }
        }
    }
    for sink in &config.sinks {
        match crate::pipeline::sink_for(sink).check().await {
            Ok(what) => println!("check sink {}: {what}", sink.name),
            Err(e) => {
                all_good = false;
                println!("check sink {}: FAILED: {e}", sink.name);
            }
        }
    }
    all_good
}
