//! `auditbridge validate`: checks a config and prints what it would run, secrets redacted.

use crate::config::{self, SinkKind};
use std::path::Path;
use std::process::ExitCode;

pub fn validate(path: &Path) -> anyhow::Result<ExitCode> {
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
    Ok(ExitCode::SUCCESS)
}
