//! The bridge under every kind of `--fault` the emulator injects, each through the real
//! pipeline with a 100,000-record export: 503 storms, 500 with and without an ErrorList,
//! slow pages, malformed pages, connections dropped mid-body. Each export finishes with
//! every record spooled exactly once (no duplicates, no gaps) and delivered once, in order.
//! A mark the server stops accepting (400) stops the job cleanly with its mark kept; a
//! second run then finishes the export, still with every record once.

use crate::harness::*;
use auditbridge::pipeline;
use netwrix::emulator::{Emulator, EmulatorConfig, FaultSpec, RunningEmulator};
use netwrix::ActivityRecord;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const RECORDS: usize = 100_000;

async fn serve(records: &[ActivityRecord], faults: &[&str]) -> (Emulator, RunningEmulator) {
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        ..EmulatorConfig::default()
    });
    emulator.add_records(records.iter().cloned());
    for spec in faults {
        emulator.apply(&FaultSpec::parse(spec).unwrap());
    }
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emulator, running)
}

/// One `run --once` of the pipeline against `url`, with state and output in `dir`.
async fn run_once(dir: &Path, url: &str, json: bool) -> pipeline::RunReport {
    let mut text = config_text(dir, url, "", &file_sink(dir));
    if json {
        text = text.replace("timeout = \"10s\"", "timeout = \"10s\"\nformat = \"json\"");
    }
    run_once_in_process(&text, Duration::from_secs(300)).await.0
}

fn job_state(dir: &Path) -> state::JobState {
    let store = state::Store::open(&dir.join("state.db"), state::StoreOptions::default()).unwrap();
    store.jobs().unwrap().into_iter().find(|j| j.name == "corp").expect("job corp")
}

/// One fault case: a 100,000-record export under `faults`, checked record by record.
async fn export_under(
    faults: &'static [&'static str],
    json: bool,
    records: Arc<Vec<ActivityRecord>>,
    expected: Arc<Vec<String>>,
) {
    let started = std::time::Instant::now();
    let (emulator, running) = serve(&records, faults).await;
    let dir = tempfile::tempdir().unwrap();
    let report = run_once(dir.path(), &running.base_url, json).await;
    assert!(report.failures.is_empty(), "{faults:?}: {:?}", report.failures);
    let job = job_state(dir.path());
    assert_eq!(job.spooled_total, RECORDS as u64, "{faults:?}");
    assert_eq!(job.duplicates_total, 0, "{faults:?}: no page was committed twice");
    assert_eq!(job.last_error, None, "{faults:?}");
    if !faults[0].starts_with("delay") {
        assert!(emulator.requests() > 101, "{faults:?}: the faults struck ({} requests)", emulator.requests());
    }
    let got = ids_in(&dir.path().join("out/records.jsonl"));
    assert!(got == *expected, "{faults:?}: {} lines delivered, not each record once in order", got.len());
    eprintln!("{faults:?}: {} requests, {:.1}s", emulator.requests(), started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_kind_still_spools_each_of_100k_records_exactly_once() {
    let records = Arc::new(netwrix::generate::generate(RECORDS, 7));
    let expected = Arc::new(expected_ids(RECORDS));
    let cases: [(&'static [&'static str], bool); 9] = [
        (&["503x3"], false),
        (&["every=7:503"], true),
        (&["every=9:500-empty"], false),
        (&["every=11:500-error", "random=0.05:500-error"], true),
        (&["every=13:503x4"], false),
        (&["delay=2s", "every=25:delay=200ms"], true),
        (&["every=10:malformed"], false),
        (&["every=10:reset"], true),
        (&["every=6:reset", "every=7:malformed", "every=11:503"], false),
    ];
    // The cases are independent (own emulator, state and output), so they run side by side.
    let mut tasks = tokio::task::JoinSet::new();
    for (faults, json) in cases {
        tasks.spawn(export_under(faults, json, records.clone(), expected.clone()));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mark_the_server_stops_accepting_stops_the_job_then_a_new_run_finishes() {
    let records = netwrix::generate::generate(RECORDS, 7);
    let dir = tempfile::tempdir().unwrap();
    // Request 40 carries the mark after 39 pages; the server refuses it.
    let (_emulator, running) = serve(&records, &["every=40:bad-mark"]).await;
    let report = run_once(dir.path(), &running.base_url, false).await;
    let failure = report.failures.join("\n");
    assert!(
        failure.contains("job \"corp\"")
            && failure.contains("HTTP 400")
            && failure.contains("InputError: Invalid continuation mark"),
        "{failure}"
    );
    let job = job_state(dir.path());
    assert_eq!(job.spooled_total, 39_000);
    assert!(job.mark.is_some() && job.last_error.unwrap().contains("400"));
    drop(running);

    // The server accepts marks again: the export resumes from the kept mark.
    let (_emulator, running) = serve(&records, &[]).await;
    let report = run_once(dir.path(), &running.base_url, false).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let job = job_state(dir.path());
    assert_eq!((job.spooled_total, job.duplicates_total), (RECORDS as u64, 0));
    assert!(ids_in(&dir.path().join("out/records.jsonl")) == expected_ids(RECORDS));
}
