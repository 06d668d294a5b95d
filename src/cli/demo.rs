//! `auditbridge demo`: the whole path with no setup. An in-process emulator serves
//! generated records over HTTPS; a job exports them into the file sink under the
//! output folder while a progress bar runs; a summary closes.

use crate::config;
use crate::pipeline::{self, RunOptions, StoreHandle};
use crate::shutdown;
use indicatif::{ProgressBar, ProgressStyle};
use netwrix::emulator::{Emulator, EmulatorConfig};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const USER: &str = "CORP\\demo";
const PASSWORD: &str = "demo-password";

pub async fn demo(records: usize, out: &Path) -> anyhow::Result<ExitCode> {
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

    let toml = demo_config(out, &running.base_url, &fingerprint);
    std::fs::write(out.join("demo.toml"), &toml)?;
    let config = config::parse(&toml, "demo.toml")?;
    let store = StoreHandle::new(pipeline::open_store(&config)?);

    let bar = ProgressBar::new(records as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} delivered ({per_sec}) {msg}")
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
                bar.set_message(format!("{spooled} spooled"));
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
    println!("seconds:   {seconds:.1}");
    println!("rate:      {:.0} records/s", fetched as f64 / seconds.max(1e-9));
    println!("output:    {}", out.join("records.jsonl").display());
    if !report.failures.is_empty() {
        for f in &report.failures {
            eprintln!("failed: {f}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
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
"#
    )
}
