//! `auditbridge status`: per job and per sink, where the export stands, read from the
//! state file (works while `run` is running).

use crate::config;
use crate::pipeline::open_store;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

pub fn status(path: &Path, as_json: bool) -> anyhow::Result<ExitCode> {
    // Secrets are not needed to read the state file: an operator's shell may not have them.
    let (config, _unresolved_secrets) = config::load_deferring(path)?;
    let store = open_store(&config)?;
    let jobs = store.jobs()?;
    let sinks = store.sinks()?;
    let spooled = store.spool_rows()?;
    let max_seq = store.max_seq()?;
    let now = chrono::Utc::now().timestamp_millis();
    // How long ago each sink's oldest unacknowledged record was fetched.
    let mut lag = std::collections::HashMap::new();
    for s in &sinks {
        if let Some(row) = store.read_batch(s.cursor, 1, 0)?.into_iter().next() {
            lag.insert(s.name.clone(), (now - row.fetched_at_ms).max(0) as u64 / 1000);
        }
    }
    let max_lag = config.spool.max_lag.0.as_secs();
    let lag_text = |name: &str| match lag.get(name) {
        None => "-".to_owned(),
        Some(l) if *l > max_lag => format!("{l}s LAGGING"),
        Some(l) => format!("{l}s"),
    };
    // When each job's mark last moved and its last records came (saved by `run`).
    let progress: std::collections::HashMap<String, state::JobProgress> =
        jobs.iter().map(|j| Ok((j.name.clone(), store.job_progress(&j.name)?))).collect::<anyhow::Result<_>>()?;
    let ago = |ms: i64| (now - ms).max(0) / 1000;
    let ago_text = |name: &str, pick: fn(&state::JobProgress) -> Option<i64>| {
        progress.get(name).and_then(pick).map_or("-".to_owned(), |ms| format!("{}s ago", ago(ms)))
    };
    let configured_job = |name: &str| config.jobs.iter().any(|j| j.name.get_ref() == name);
    let configured_sink = |name: &str| config.sinks.iter().find(|s| s.name == name);

    if as_json {
        let doc = json!({
            "state": config.state.path.display().to_string(),
            "spool_rows": spooled,
            "max_seq": max_seq,
            "jobs": jobs.iter().map(|j| json!({
                "name": j.name, "configured": configured_job(&j.name), "mark_held": j.mark.is_some(),
                "last_fetch_ms": j.last_fetch_ms, "pages": j.pages_total, "spooled": j.spooled_total,
                "duplicates": j.duplicates_total, "last_error": j.last_error,
                "mark_moved_seconds_ago": progress.get(&j.name).and_then(|p| p.mark_moved_ms).map(ago),
                "records_seconds_ago": progress.get(&j.name).and_then(|p| p.records_ms).map(ago),
            })).collect::<Vec<_>>(),
            "sinks": sinks.iter().map(|s| json!({
                "name": s.name, "type": configured_sink(&s.name).map(|c| c.kind.type_name()),
                "cursor": s.cursor, "backlog": s.backlog, "delivered": s.delivered_total,
                "lag_seconds": lag.get(&s.name).copied().unwrap_or(0),
                "lagging": lag.get(&s.name).is_some_and(|l| *l > max_lag),
                "last_ack_ms": s.last_ack_ms, "last_error": s.last_error,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }

    println!("state {}: {spooled} records spooled, highest seq {max_seq}", config.state.path.display());
    println!();
    println!(
        "{:<20} {:<5} {:>12} {:>12} {:<20} {:>10} {:>10} {:>10}  LAST ERROR",
        "JOB", "MARK", "MARK MOVED", "LAST RECORDS", "LAST FETCH", "PAGES", "SPOOLED", "DUPLICATES"
    );
    for job in &config.jobs {
        let name = job.name.get_ref();
        match jobs.iter().find(|j| &j.name == name) {
            Some(j) => println!(
                "{:<20} {:<5} {:>12} {:>12} {:<20} {:>10} {:>10} {:>10}  {}",
                j.name,
                if j.mark.is_some() { "held" } else { "none" },
                ago_text(&j.name, |p| p.mark_moved_ms),
                ago_text(&j.name, |p| p.records_ms),
                j.last_fetch_ms.map_or("never".into(), time),
                j.pages_total,
                j.spooled_total,
                j.duplicates_total,
                j.last_error.as_deref().unwrap_or("-")
            ),
            None => {
                println!(
                    "{name:<20} {:<5} {:>12} {:>12} {:<20} {:>10} {:>10} {:>10}  -",
                    "none", "-", "-", "never", 0, 0, 0
                )
            }
        }
    }
    for j in jobs.iter().filter(|j| j.routing.is_some()) {
        println!(
            "backfill {}: {} pages, {} spooled, {} already spooled, last fetch {}{}",
            j.name,
            j.pages_total,
            j.spooled_total,
            j.duplicates_total,
            j.last_fetch_ms.map_or("never".into(), time),
            j.last_error.as_deref().map(|e| format!(", last error: {e}")).unwrap_or_default()
        );
    }
    println!();
    println!(
        "{:<20} {:<10} {:>10} {:>10} {:>10} {:>14} {:<20}  LAST ERROR",
        "SINK", "TYPE", "CURSOR", "BACKLOG", "DELIVERED", "LAG", "LAST ACK"
    );
    for sink in &config.sinks {
        match sinks.iter().find(|s| s.name == sink.name) {
            Some(s) => println!(
                "{:<20} {:<10} {:>10} {:>10} {:>10} {:>14} {:<20}  {}",
                s.name,
                sink.kind.type_name(),
                s.cursor,
                s.backlog,
                s.delivered_total,
                lag_text(&s.name),
                s.last_ack_ms.map_or("never".into(), time),
                s.last_error.as_deref().unwrap_or("-")
            ),
            None => println!(
                "{:<20} {:<10} {:>10} {:>10} {:>10} {:>14} {:<20}  -",
                sink.name,
                sink.kind.type_name(),
                "-",
                "-",
                0,
                "-",
                "never"
            ),
        }
    }
    println!();
    println!("{LEGEND}");
    Ok(ExitCode::SUCCESS)
}

/// What the columns mean, printed under the tables (not with --json).
const LEGEND: &str = "\
MARK     held: the job has a continuation mark and its next run resumes after it;
         none: it has none yet, so its first run starts from the beginning of the audit data.
MARK MOVED, LAST RECORDS: how long ago the mark last changed and a page with records came
         (saved by run every 10s at most); - when not known yet.
PAGES, SPOOLED, DUPLICATES: since the state file was created; duplicates were already spooled.
CURSOR   the sequence number of the last record the sink's peer acknowledged.
BACKLOG  records spooled for the sink and not yet acknowledged.
LAG      how long ago its oldest unacknowledged record was fetched; - when it has none
         (lag_seconds 0 in --json), LAGGING past [spool] max_lag.";

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
}
