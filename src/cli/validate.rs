//! `auditbridge validate`: checks a config and prints what it would run, secrets
//! redacted; with `--check`, also asks every job's API and every sink's peer whether
//! they answer and accept us.

use crate::config;
use std::path::Path;
use std::process::ExitCode;

pub async fn validate(path: &Path, check: bool) -> anyhow::Result<ExitCode> {
    let config = match config::load_deferring(path) {
        Ok((c, unresolved)) if unresolved.is_empty() => c,
        Ok((_, unresolved)) => {
            for e in unresolved {
                eprintln!("error: {e}");
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}: OK", path.display());
    for warning in config::warnings(&config) {
        eprintln!("warning: {warning}");
    }
    println!("state: {}", config.state.path.display());
    for job in &config.jobs {
        let user = job.user.as_deref().unwrap_or("(none)");
        let password = if job.password.is_some() { "***" } else { "(none)" };
        println!(
            "job {}: {} as {user} (password {password}, auth {:?}), {:?} {:?}, poll every {:?}",
            job.name.get_ref(),
            job.url.get_ref(),
            job.auth,
            job.mode,
            job.format,
            job.interval()
        );
    }
    for sink in &config.sinks {
        let jobs = sink.jobs.as_ref().map_or_else(|| "every job".to_owned(), |j| j.join(", "));
        let detail = sink.kind.describe();
        println!("sink {} ({}){detail}: takes {jobs}", sink.name, sink.kind.type_name());
    }
    if check && !check_peers(&config).await {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `" (server offers Negotiate, NTLM; used Negotiate (Kerberos))"`: what the login saw.
/// Without a 401 (Basic is sent at once) the server's offer is unknown and not shown.
fn auth_line(seen: &netwrix::client::AuthSeen) -> String {
    let offered = (!seen.offered.is_empty()).then(|| format!("server offers: {}", seen.offered.join(", ")));
    let used = seen.used.as_ref().map(|u| format!("used: {u}"));
    let parts: Vec<String> = offered.into_iter().chain(used).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// Asks each job's API for one record and each sink's peer for a sign of life.
/// Returns whether every one answered.
async fn check_peers(config: &config::Config) -> bool {
    let mut all_good = true;
    for job in &config.jobs {
        let mut seen = None;
        let result = match crate::pipeline::client_for_with_count(job, Some(1)) {
            // A search job asks its own search, so --check also shows whether the server takes the filters.
            Ok(client) => {
                let result = match job.search_request() {
                    Ok(Some(search)) => client.search(&search).await.map(|_| ()).map_err(|e| e.to_string()),
                    Ok(None) => client.first_page().await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                seen = Some(client.auth_seen());
                result
            }
            Err(e) => Err(super::error_chain(&e)),
        };
        let auth = seen.map(|s| auth_line(&s)).unwrap_or_default();
        match result {
            Ok(()) => println!("check job {}: the API answered{auth}", job.name.get_ref()),
            Err(e) => {
                all_good = false;
                println!("check job {}: FAILED: {e}{auth}", job.name.get_ref());
            }
        }
    }
    for sink in &config.sinks {
        match crate::pipeline::sink_for(sink).check().await {
            Ok(what) => println!("check sink {}: {what}", sink.name),
            Err(e) => {
                all_good = false;
                println!("check sink {}: FAILED: {}", sink.name, e.report());
            }
        }
    }
    all_good
}
