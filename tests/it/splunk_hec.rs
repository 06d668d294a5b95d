//! The `splunk_hec` sink end to end: the emulator's records through the whole pipeline
//! into the HEC receiver (formats.md §4), with indexer acknowledgement, while the
//! receiver fails in scripted ways.

use crate::harness::*;
use auditbridge::pipeline;
use sinks::hec::receiver::{Fault, Receiver, ReceiverConfig, RunningReceiver};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const TOKEN: &str = "7f3c2a9e-5b1d-4c8e-a6f0-2d9b8e7c6a51";

async fn receiver() -> (Receiver, RunningReceiver) {
    let receiver = Receiver::new(ReceiverConfig { ack: true, ..ReceiverConfig::new(TOKEN) }).unwrap();
    let running = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (receiver, running)
}

/// A `splunk_hec` sink named `splunk` with ack on; `extra` adds keys.
fn hec_sink(url: &str, token: &str, extra: &str) -> String {
    format!(
        "[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"{url}\"\ntoken = \"{token}\"\nack = true\n\
         ack_poll_interval = \"50ms\"\nindex = \"audit\"\n{extra}\n"
    )
}

struct Run {
    report: pipeline::RunReport,
    store: state::Store,
    dir: tempfile::TempDir,
}

async fn run_once(text_for: impl FnOnce(&Path) -> String) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let text = text_for(dir.path());
    write_config(dir.path(), &text);
    // A guard against a hang, not a speed check.
    let (report, store) = run_once_in_process(&text, Duration::from_secs(300)).await;
    Run { report, store, dir }
}

/// How many times each id was indexed.
fn counts(ids: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_thousand_records_with_ack_are_indexed_exactly_once() {
    let (_emu, emulator) = emulator(100_000).await;
    let (receiver, hec) = receiver().await;
    let run = run_once(|dir| config_text(dir, &emulator.base_url, "", &hec_sink(&hec.base_url, TOKEN, ""))).await;
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    let got = receiver.ids();
    assert_eq!(got.len(), 100_000);
    assert_eq!(got, expected_ids(100_000), "every record once, in spool order");
    let sink = run.store.sinks().unwrap().into_iter().find(|s| s.name == "splunk").unwrap();
    assert_eq!((sink.delivered_total, sink.backlog), (100_000, 0));
    let stats = receiver.stats();
    assert_eq!(stats.acks_reported, stats.accepted_requests, "every accepted request was acknowledged");
    // The envelope: the record under `event`, the id as an indexed field, the index asked for.
    let first: serde_json::Value = serde_json::from_str(&receiver.indexed()[0].raw).unwrap();
    let record = &netwrix::generate::generate(1, 7)[0];
    assert_eq!(first["event"], serde_json::to_value(record).unwrap());
    assert_eq!(first["fields"]["auditbridge_id"], record.id().to_string());
    assert_eq!(first["fields"]["auditbridge_job"], "corp");
    assert_eq!((first["index"].as_str(), first["sourcetype"].as_str()), (Some("audit"), Some("netwrix")));
    assert_eq!(first["host"].as_str(), Some(record.where_.as_str()));
    let when = record.when_utc().unwrap().timestamp_millis() as f64 / 1000.0;
    assert!((first["time"].as_f64().unwrap() - when).abs() < 0.0005);
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_for_ten_seconds_and_dropped_acks_lose_nothing() {
    let n = 20_000;
    let (_emu, emulator) = emulator(n).await;
    let (receiver, hec) = receiver().await;
    let dropped = 3;
    receiver.inject(Fault::DropAcks(dropped));
    // Once delivery is under way, the receiver answers 503 for 10 s.
    let busy = {
        let receiver = receiver.clone();
        tokio::spawn(async move {
            wait_until("3,000 events indexed", Duration::from_secs(300), || receiver.indexed_count() >= 3000).await;
            receiver.inject(Fault::Busy(Duration::from_secs(10)));
            std::time::Instant::now()
        })
    };
    let sink = hec_sink(&hec.base_url, TOKEN, "ack_timeout = \"1s\"");
    let run = run_once(|dir| config_text(dir, &emulator.base_url, "", &sink)).await;
    let busy_since = tokio::time::timeout(Duration::from_secs(5), busy).await.expect("the busy spell started").unwrap();
    assert!(busy_since.elapsed() >= Duration::from_secs(10), "the run outlasted the busy spell");
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert!(receiver.stats().answers.get(&503).copied().unwrap_or(0) > 0, "{:?}", receiver.stats());

    let got = receiver.ids();
    let counts = counts(&got);
    let expected = expected_ids(n);
    assert!(expected.iter().all(|id| counts.contains_key(id.as_str())), "nothing lost");
    assert_eq!(counts.len(), n, "nothing but the expected records");
    // A repeat is the same envelope, same record id, byte for byte.
    let mut first_raw: HashMap<&str, &str> = HashMap::new();
    let indexed = receiver.indexed();
    for e in &indexed {
        let id = e.id.as_deref().unwrap();
        assert_eq!(*first_raw.entry(id).or_insert(&e.raw), e.raw.as_str(), "repeat of {id} differs");
    }
    // The 503s cost no repeat; each dropped ack repeats one request (500 events).
    let repeats = got.len() - n;
    assert!(repeats > 0 && repeats <= dropped * 500, "{repeats} repeats for {dropped} dropped acks");
    let sink = run.store.sinks().unwrap().into_iter().find(|s| s.name == "splunk").unwrap();
    assert_eq!(sink.backlog, 0);
    assert_eq!(sink.last_error, None, "the 503 error clears once batches go through");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_event_number_resends_only_the_tail() {
    let (_emu, emulator) = emulator(3000).await;
    let (receiver, hec) = receiver().await;
    // Request 1 is open's token check, request 2 goes through, request 3 has its
    // event 123 refused.
    receiver.inject(Fault::Pass);
    receiver.inject(Fault::Pass);
    receiver.inject(Fault::InvalidEvent(123));
    let run = run_once(|dir| config_text(dir, &emulator.base_url, "", &hec_sink(&hec.base_url, TOKEN, ""))).await;
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert_eq!(receiver.ids(), expected_ids(3000), "each record once, in order: nothing before the bad event again");
    let mut sizes: Vec<(u64, usize)> = Vec::new();
    for e in receiver.indexed() {
        match sizes.last_mut() {
            Some((r, n)) if *r == e.request => *n += 1,
            _ => sizes.push((e.request, 1)),
        }
    }
    assert_eq!(&sizes[..3], &[(2, 500), (3, 123), (4, 377)], "request 4 carries only the tail");
    assert_eq!(receiver.stats().answers.get(&400), Some(&2), "the token check's No data, and the refusal");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_stops_that_sink_while_the_other_delivers_everything() {
    let (_emu, emulator) = emulator(2500).await;
    let (receiver, hec) = receiver().await;
    let run = run_once(|dir| {
        let sinks = format!("{}\n{}", hec_sink(&hec.base_url, "wrong-token", ""), file_sink(dir));
        config_text(dir, &emulator.base_url, "", &sinks)
    })
    .await;
    assert_eq!(run.report.failures.len(), 1, "{:?}", run.report.failures);
    let failure = &run.report.failures[0];
    assert!(
        failure.contains("sink \"splunk\"")
            && failure.contains("HTTP 403 Forbidden: \"Invalid token\" (code 4)")
            && failure.contains("check the sink's `token`"),
        "{failure}"
    );
    assert_eq!(ids_in(&run.dir.path().join("out/records.jsonl")), expected_ids(2500), "the file sink has all");
    assert_eq!(receiver.indexed_count(), 0);
    let splunk = run.store.sinks().unwrap().into_iter().find(|s| s.name == "splunk").unwrap();
    assert!(splunk.last_error.as_deref().unwrap_or("").contains("Invalid token"), "{:?}", splunk.last_error);

    // `auditbridge status` shows it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["status", "--config"])
        .arg(run.dir.path().join("auditbridge.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("splunk ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("splunk_hec") && line.contains("\"Invalid token\" (code 4)"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_check_asks_health_token_and_ack() {
    let (_emu, emulator) = emulator(10).await;
    let (receiver, hec) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!(
        "{}\n{}",
        hec_sink(&hec.base_url, TOKEN, ""),
        hec_sink(&hec.base_url, "wrong-token", "").replace("name = \"splunk\"", "name = \"bad\"")
    );
    let path = write_config(dir.path(), &config_text(dir.path(), &emulator.base_url, "", &sinks));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["validate", "--check", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "one sink fails its check");
    assert!(stdout.contains("check job corp: the API answered"), "{stdout}");
    assert!(
        stdout.contains("check sink splunk: HEC is healthy, the token is accepted, indexer acknowledgement is on"),
        "{stdout}"
    );
    assert!(stdout.contains("check sink bad: FAILED:") && stdout.contains("Invalid token"), "{stdout}");
    assert!(!stdout.contains(TOKEN), "the token is never printed: {stdout}");
    assert_eq!(receiver.indexed_count(), 0, "checking indexes nothing");
}
