//! `auditbridge demo`: the whole path with no setup. An in-process emulator serves
//! generated records over HTTPS; a job exports them into file sinks under the output
//! folder (JSON lines, CEF in both profiles, LEEF), and into an in-process Splunk HEC
//! receiver with indexer acknowledgement, into a signed compliance archive (and, with
//! `--sentinel`, into an in-process Logs Ingestion stand-in with its Entra ID token
//! endpoint), while a progress bar runs; a summary closes, with the archive verified and
//! the `archive verify` command to check it again.

use crate::config;
use crate::pipeline::{self, RunOptions};
use crate::shutdown;
use indicatif::{ProgressBar, ProgressStyle};
use netwrix::emulator::{Emulator, EmulatorConfig};
use sinks::hec::receiver::{Receiver, ReceiverConfig};
use sinks::sentinel::receiver as sentinel;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const USER: &str = "CORP\\demo";
const PASSWORD: &str = "demo-password";
/// The token the demo's in-process Splunk HEC receiver accepts.
const HEC_TOKEN: &str = "5a3b6c1e-0d2f-4e8a-9b7c-1f2e3d4c5b6a";
/// The tenant of the demo's Sentinel stand-in.
const SENTINEL_TENANT: &str = "00000000-0000-4000-8000-000000000d30";

pub async fn demo(records: usize, out: &Path, with_sentinel: bool) -> anyhow::Result<ExitCode> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| anyhow::anyhow!("cannot empty {}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(out)?;
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        tls: true,
        ..EmulatorConfig::default()
    });
    let generated = Instant::now();
    emulator.add_records(netwrix::generate::generate(records, 2024));
    let running = emulator.serve("127.0.0.1:0".parse()?).await?;
    let fingerprint = running.fingerprint.clone().unwrap_or_default();
    println!(
        "emulator: {records} generated records in {:.1}s, serving {} (certificate {}…)",
        generated.elapsed().as_secs_f64(),
        running.base_url,
        &fingerprint[..fingerprint.len().min(16)]
    );

    let hec = Receiver::new(ReceiverConfig {
        ack: true,
        keep_events: false,
        output: Some(out.join("splunk-hec.jsonl")),
        ..ReceiverConfig::new(HEC_TOKEN)
    })?;
    let hec_running = hec.serve("127.0.0.1:0".parse()?).await?;
    println!("splunk hec receiver: {} (indexer acknowledgement on)", hec_running.base_url);
    let mut toml = demo_config(out, &running.base_url, &fingerprint);
    toml.push_str(&splunk_sink(&hec_running.base_url));
    let sentinel = if with_sentinel {
        let receiver = sentinel::Receiver::new(sentinel::ReceiverConfig {
            output: Some(out.join("sentinel.jsonl")),
            ..sentinel::ReceiverConfig::new(SENTINEL_TENANT, "demo-client", "demo-secret", "dcr-demo")
        })?;
        let running = receiver.serve("127.0.0.1:0".parse()?).await?;
        let ca = out.join("sentinel-ca.pem");
        std::fs::write(&ca, running.cert_pem.as_deref().unwrap_or_default())?;
        println!("sentinel stand-in: {} (Logs Ingestion API and Entra ID token endpoint)", running.base_url);
        toml.push_str(&sentinel_sink(&running.base_url, &ca));
        Some((receiver, running))
    } else {
        None
    };
    toml.push_str(&archive_sink(out)?);
    std::fs::write(out.join("demo.toml"), &toml)?;
    let config = config::parse(&toml, "demo.toml")?;
    let store = pipeline::open_handle(&config)?;

    let bar = ProgressBar::new(records as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} delivered {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (_trigger, shutdown) = shutdown::channel();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = Instant::now();
    let run = pipeline::run_with(&config, RunOptions { once: true }, shutdown, store, Some(tx));
    let watch = async {
        if let Ok(shared) = rx.await {
            loop {
                let delivered = shared.sinks.get("file").map_or(0, |c| c.delivered.load(Relaxed));
                let spooled = shared.jobs.get("demo").map_or(0, |c| c.spooled.load(Relaxed));
                bar.set_position(delivered);
                bar.set_message(progress_message(delivered, spooled, started.elapsed()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let report = tokio::select! {
        r = run => r?,
        () = watch => unreachable!("the progress loop never ends"),
    };
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    running.shutdown().await;
    hec_running.shutdown().await;
    let sentinel = match sentinel {
        Some((receiver, running)) => {
            running.shutdown().await;
            Some(receiver)
        }
        None => None,
    };

    let store = pipeline::open_store(&config)?;
    let jobs = store.jobs()?;
    let sinks = store.sinks()?;
    let job = jobs.iter().find(|j| j.name == "demo");
    let fetched = job.map_or(0, |j| j.spooled_total + j.duplicates_total);
    println!("fetched:   {fetched}");
    println!("spooled:   {}", job.map_or(0, |j| j.spooled_total));
    for s in &sinks {
        println!("delivered: {} to sink {:?}", s.delivered_total, s.name);
    }
    println!("splunk:    {} events indexed by the HEC receiver", hec.indexed_count());
    if let Some(receiver) = &sentinel {
        let stats = receiver.stats();
        println!(
            "sentinel:  {} rows taken in {} gzip calls (largest {} KB of JSON), {} token(s) -> {}",
            stats.rows,
            stats.calls,
            stats.largest_json / 1000,
            stats.tokens,
            out.join("sentinel.jsonl").display()
        );
    }
    println!("seconds:   {seconds:.1}");
    println!("rate:      {:.0} records/s", fetched as f64 / seconds.max(1e-9));
    println!("output:    {}", out.join("records.jsonl").display());
    for (file, what) in [
        ("records.cef", "CEF, as ArcSight reads it"),
        ("records.netwrix.cef", "CEF, Netwrix's CEF Export line: profile = \"netwrix\""),
        ("records.leef", "LEEF 2.0, as QRadar reads it"),
    ] {
        println!("           {} ({what})", out.join(file).display());
    }
    println!("           {} (the events the Splunk HEC receiver indexed)", out.join("splunk-hec.jsonl").display());
    println!("config:    {} (the config it ran with)", out.join("demo.toml").display());
    println!("state:     {} (marks, spool and cursors)", config.state.path.display());
    println!("next:      auditbridge status --config {} shows where it stands", out.join("demo.toml").display());
    let archive_intact = verify_archive(out)?;
    if !report.failures.is_empty() || !archive_intact {
        for f in &report.failures {
            eprintln!("failed: {f}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The progress bar's text after its count. The spooled count is read a moment after
/// the delivered one and a page's counters are bumped just after its commit, so it can
/// trail: nothing is delivered before it is spooled, so show at least the delivered count.
fn progress_message(delivered: u64, spooled: u64, elapsed: Duration) -> String {
    let rate = delivered as f64 / elapsed.as_secs_f64().max(1e-3);
    format!("({rate:.0} records/s) {} spooled", spooled.max(delivered))
}

fn demo_config(out: &Path, url: &str, fingerprint: &str) -> String {
    let out = out.display().to_string().replace('\\', "\\\\");
    format!(
        r#"# Written by `auditbridge demo`: the config it ran with.
[state]
path = "{out}/state.db"

[[job]]
name = "demo"
url = "{url}"
user = 'CORP\demo'
password = "{PASSWORD}"
format = "xml"
count = 1000
[job.tls]
fingerprint = "{fingerprint}"

[[sink]]
name = "file"
type = "file"
path = "{out}/records.jsonl"

[[sink]]
name = "cef-file"
type = "file"
path = "{out}/records.cef"
format = "cef"

[[sink]]
name = "netwrix-cef-file"
type = "file"
path = "{out}/records.netwrix.cef"
format = "cef"
[sink.cef]
profile = "netwrix"

[[sink]]
name = "leef-file"
type = "file"
path = "{out}/records.leef"
format = "leef"
"#
    )
}

/// The demo's `archive` sink into `out/archive`, signed with a new key pair written to
/// `out/archive.key` and `out/archive.pub` (as `auditbridge archive keygen` would).
fn archive_sink(out: &Path) -> anyhow::Result<String> {
    let key = sinks::archive::SigningKey::generate()?;
    std::fs::write(out.join("archive.key"), key.to_text())?;
    std::fs::write(out.join("archive.pub"), key.public().to_text())?;
    let out = out.display().to_string().replace('\\', "\\\\");
    Ok(format!(
        r#"
[[sink]]
name = "archive"
type = "archive"
path = "{out}/archive"
signing_key = "${{file:{out}/archive.key}}"
"#
    ))
}

/// Verifies the demo's archive as an auditor would, and prints the command that does it.
fn verify_archive(out: &Path) -> anyhow::Result<bool> {
    let dir = out.join("archive");
    let public = out.join("archive.pub");
    let key = sinks::archive::PublicKey::parse(&std::fs::read_to_string(&public)?)?;
    let to = chrono::Utc::now();
    let window = sinks::archive::verify::Window { from: None, to: Some(to) };
    let report = sinks::archive::verify::verify(&dir, &key, window)?;
    for finding in &report.findings {
        eprintln!("archive: {finding}");
    }
    let state = if report.findings.is_empty() { "verified intact" } else { "NOT INTACT" };
    println!(
        "archive:   {} ({state}: {} segments, {} digests, {} records, signed by key {})",
        dir.display(),
        report.segments,
        report.digests,
        report.records,
        key.id()
    );
    println!(
        "           check it again: auditbridge archive verify {} --public-key {} --to {}",
        dir.display(),
        public.display(),
        to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(report.findings.is_empty())
}

/// The demo's `splunk_hec` sink, with indexer acknowledgement, into the in-process receiver.
fn splunk_sink(url: &str) -> String {
    format!(
        r#"
[[sink]]
name = "splunk"
type = "splunk_hec"
url = "{url}"
token = "{HEC_TOKEN}"
ack = true
"#
    )
}

/// The demo's `sentinel` sink into the in-process stand-in, trusting its certificate.
fn sentinel_sink(url: &str, ca: &Path) -> String {
    let ca = ca.display().to_string().replace('\\', "\\\\");
    format!(
        r#"
[[sink]]
name = "sentinel"
type = "sentinel"
endpoint = "{url}"
authority_host = "{url}"
dcr_immutable_id = "dcr-demo"
tenant_id = "{SENTINEL_TENANT}"
client_id = "demo-client"
client_secret = "demo-secret"
[sink.tls]
ca_file = "{ca}"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_never_shows_more_delivered_than_spooled_and_rounds_the_rate() {
        let text = progress_message(5_000, 4_000, Duration::from_millis(3_000));
        assert_eq!(text, "(1667 records/s) 5000 spooled");
        assert_eq!(progress_message(0, 0, Duration::ZERO), "(0 records/s) 0 spooled");
    }
}
