//! The bridge against a misbehaving API: 401, 400 with an ErrorList, a malformed
//! page, and 503 three times then success. Each stops or retries as documented,
//! names the job and the HTTP status, and never moves a mark on an error.

use crate::harness::*;
use auditbridge::pipeline::{self, RunOptions, StoreHandle};
use auditbridge::{config, shutdown};
use netwrix::emulator::Fault;
use netwrix::ErrorList;
use std::time::Duration;

struct Run {
    report: pipeline::RunReport,
    store: state::Store,
    dir: tempfile::TempDir,
}

async fn run_once(text_for: impl FnOnce(&std::path::Path) -> String) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let text = text_for(dir.path());
    // A guard against a hang, not a speed check.
    let (report, store) = run_once_in_process(&text, Duration::from_secs(60)).await;
    Run { report, store, dir }
}

fn job(store: &state::Store) -> state::JobState {
    job_named(store, "corp")
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_stops_the_job_with_401_and_no_mark() {
    let (_emu, running) = emulator(100).await;
    let run = run_once(|dir| config_text(dir, &running.base_url, "", &file_sink(dir)).replace(PASSWORD, "wrong")).await;
    assert_eq!(run.report.failures.len(), 1, "{:?}", run.report.failures);
    let failure = &run.report.failures[0];
    assert!(failure.contains("\"corp\"") && failure.contains("401"), "{failure}");
    let job = job(&run.store);
    assert_eq!(job.mark, None);
    assert!(job.last_error.unwrap().contains("401"));
    assert!(ids_in(&run.dir.path().join("out/records.jsonl")).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_request_stops_the_job_and_keeps_its_mark() {
    let (emu, running) = emulator(2500).await;
    // The first page goes through; the second request gets a 400 with an ErrorList.
    emu.inject(Fault::Delay(std::time::Duration::ZERO));
    emu.inject(Fault::Errors(400, ErrorList::one("InputError", "Invalid count parameter specified.")));
    let run = run_once(|dir| config_text(dir, &running.base_url, "", &file_sink(dir))).await;
    let failure = run.report.failures.join("\n");
    assert!(
        failure.contains("\"corp\"") && failure.contains("400") && failure.contains("InputError: Invalid count"),
        "{failure}"
    );
    let job = job(&run.store);
    assert_eq!(job.spooled_total, 1000, "only the first page was taken");
    assert!(job.mark.is_some(), "the mark after the first page is kept");
    assert_eq!(ids_in(&run.dir.path().join("out/records.jsonl")), expected_ids(2500)[..1000]);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_page_is_retried_without_moving_the_mark() {
    let (emu, running) = emulator(2500).await;
    emu.inject(Fault::Delay(std::time::Duration::ZERO));
    emu.inject(Fault::MalformedBody);
    let run = run_once(|dir| config_text(dir, &running.base_url, "", &file_sink(dir))).await;
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    let job = job(&run.store);
    assert_eq!(job.spooled_total, 2500);
    assert_eq!(job.duplicates_total, 0, "the malformed page was never half-committed");
    assert_eq!(ids_in(&run.dir.path().join("out/records.jsonl")), expected_ids(2500));
}

#[tokio::test(flavor = "multi_thread")]
async fn service_unavailable_three_times_then_success_loses_nothing() {
    let (emu, running) = emulator(2500).await;
    for _ in 0..3 {
        emu.inject(Fault::Status(503));
    }
    let run = run_once(|dir| config_text(dir, &running.base_url, "", &file_sink(dir))).await;
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    let job = job(&run.store);
    assert_eq!(job.spooled_total, 2500);
    assert_eq!(job.last_error, None, "the error clears once a page goes through");
    assert_eq!(ids_in(&run.dir.path().join("out/records.jsonl")), expected_ids(2500));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_503_is_logged_with_job_and_status() {
    // The retry message is what the log and `status` show while the API is down.
    let (emu, running) = emulator(10).await;
    for _ in 0..50 {
        emu.inject(Fault::Status(503));
    }
    let dir = tempfile::tempdir().unwrap();
    let config =
        config::parse(&config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())), "t.toml").unwrap();
    let store = StoreHandle::new(pipeline::open_store(&config).unwrap());
    let (trigger, shutdown) = shutdown::channel();
    let run =
        tokio::spawn(
            async move { pipeline::run_with(&config, RunOptions { once: true }, shutdown, store, None).await },
        );
    // The run retries until stopped; the error is in the state once the first 503 was seen.
    let db = dir.path().join("state.db");
    let recorded = || {
        state::Store::open(&db, state::StoreOptions::default())
            .ok()
            .and_then(|store| store.jobs().ok())
            .and_then(|jobs| jobs.into_iter().find(|j| j.name == "corp"))
            .is_some_and(|j| j.last_error.is_some_and(|e| e.contains("503")))
    };
    wait_until("the 503 is recorded as the job's error", Duration::from_secs(30), recorded).await;
    trigger.trigger();
    run.await.unwrap().unwrap();
    let config =
        config::parse(&config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())), "t.toml").unwrap();
    let job = job(&pipeline::open_store(&config).unwrap());
    let error = job.last_error.expect("an error is recorded while retrying");
    assert!(error.contains("503"), "{error}");
    assert_eq!(job.mark, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_state_file_is_refused() {
    let (_emu, running) = emulator(10).await;
    let dir = tempfile::tempdir().unwrap();
    let config =
        config::parse(&config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())), "t.toml").unwrap();
    let store = StoreHandle::new(pipeline::open_store(&config).unwrap());
    let (trigger, shutdown) = shutdown::channel();
    let first = {
        let config =
            config::parse(&config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())), "t.toml").unwrap();
        let (store, shutdown) = (store.clone(), shutdown.clone());
        tokio::spawn(async move { pipeline::run_with(&config, RunOptions::default(), shutdown, store, None).await })
    };
    // Once the first run has delivered, it holds the state lock.
    let out = dir.path().join("out/records.jsonl");
    wait_until("the first run delivered", Duration::from_secs(30), || ids_in(&out).len() == 10).await;
    let second = pipeline::run_with(&config, RunOptions::default(), shutdown, store, None).await;
    let error = format!("{:#}", second.unwrap_err());
    assert!(error.contains("another auditbridge is already running"), "{error}");
    trigger.trigger();
    first.await.unwrap().unwrap();
}
