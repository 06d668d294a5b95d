//! The `sentinel` sink end to end: the emulator's records through the whole pipeline into
//! the Logs Ingestion stand-in (`sinks::sentinel::receiver`), over HTTPS with a token from
//! its Entra ID stand-in, while it expires tokens, throttles, or refuses the app.

use crate::harness::*;
use auditbridge::pipeline;
use sinks::sentinel::receiver::{Fault, Receiver, ReceiverConfig, RunningReceiver};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "0e3b2c1d-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const SECRET: &str = "s3cr~et.value";
const DCR: &str = "dcr-00112233445566778899aabbccddeeff";

async fn receiver(config: ReceiverConfig) -> (Receiver, RunningReceiver) {
    let receiver = Receiver::new(config).unwrap();
    let running = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (receiver, running)
}

fn receiver_config() -> ReceiverConfig {
    ReceiverConfig::new(TENANT, CLIENT, SECRET, DCR)
}

/// A `sentinel` sink named `sentinel` against `running`, trusting its certificate.
fn sentinel_sink(dir: &Path, running: &RunningReceiver, extra: &str) -> String {
    let ca = dir.join("receiver-ca.pem");
    std::fs::write(&ca, running.cert_pem.as_deref().unwrap()).unwrap();
    let url = &running.base_url;
    format!(
        "[[sink]]\nname = \"sentinel\"\ntype = \"sentinel\"\nendpoint = \"{url}\"\nauthority_host = \"{url}\"\n\
         dcr_immutable_id = \"{DCR}\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n\
         client_secret = \"{SECRET}\"\n{extra}\n[sink.tls]\nca_file = \"{}\"\n",
        ca.display()
    )
}

struct Run {
    report: pipeline::RunReport,
    store: state::Store,
    _dir: tempfile::TempDir,
}

async fn run_once(text_for: impl FnOnce(&Path) -> String) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let text = text_for(dir.path());
    write_config(dir.path(), &text);
    // A guard against a hang, not a speed check.
    let (report, store) = run_once_in_process(&text, Duration::from_secs(300)).await;
    Run { report, store, _dir: dir }
}

fn assert_each_once(ids: &[String], n: usize) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let expected = expected_ids(n);
    let missing = expected.iter().filter(|id| !counts.contains_key(id.as_str())).count();
    assert_eq!(missing, 0, "{missing} records never arrived");
    assert_eq!(counts.len(), n, "no id that was not exported");
    assert_eq!(ids.len(), n, "no record twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_thousand_records_arrive_once_in_gzip_calls_under_1_mb_while_tokens_last_5_s() {
    let (_emu, emulator) = emulator(100_000).await;
    let (receiver, running) =
        receiver(ReceiverConfig { token_lifetime: Duration::from_secs(5), ..receiver_config() }).await;
    let started = Instant::now();
    let run = run_once(|dir| config_text(dir, &emulator.base_url, "", &sentinel_sink(dir, &running, ""))).await;
    let took = started.elapsed();
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert_each_once(&receiver.ids(), 100_000);
    let stats = receiver.stats();
    assert_eq!(stats.plain_calls, 0, "every call gzip");
    assert!(stats.largest_json < 1_000_000 && stats.largest_call < 1_000_000, "{stats:?}");
    assert_eq!(stats.answers.keys().copied().collect::<Vec<_>>(), vec![204], "every call taken at once: {stats:?}");
    assert_eq!(stats.expired_tokens, 0, "no call with an expired token");
    // A token lives 5 s and is renewed at half its life.
    let lifetimes = (took.as_secs_f64() / 5.0).floor() as u64;
    assert!(stats.tokens >= 2 && stats.tokens > lifetimes, "{} tokens in {took:?}", stats.tokens);
    assert_eq!((stats.undeclared_columns, stats.mistyped_values, stats.truncated_values), (0, 0, 0));
    eprintln!(
        "100,000 rows in {} calls, {took:?}, {} tokens, largest call {} bytes of JSON",
        stats.calls, stats.tokens, stats.largest_json
    );
    let sink = run.store.sinks().unwrap().into_iter().find(|s| s.name == "sentinel").unwrap();
    assert_eq!(sink.last_error, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_for_ten_seconds_the_sink_waits_as_told_and_delivers_everything() {
    let (_emu, emulator) = emulator(20_000).await;
    let (receiver, running) = receiver(receiver_config()).await;
    receiver.inject(Fault::Throttle { status: 429, duration: Duration::from_secs(10), retry_after: 2 });
    let started = Instant::now();
    let run = run_once(|dir| config_text(dir, &emulator.base_url, "", &sentinel_sink(dir, &running, ""))).await;
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert!(started.elapsed() >= Duration::from_secs(10));
    assert_each_once(&receiver.ids(), 20_000);
    let stats = receiver.stats();
    assert_eq!(stats.early_calls, 0, "no call before its Retry-After: {stats:?}");
    // One call every 2 s for 10 s.
    let throttled = stats.answers.get(&429).copied().unwrap_or(0);
    assert!((4..=6).contains(&throttled), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_large_calls_are_split_and_every_row_arrives_once() {
    let (_emu, emulator) = emulator(3000).await;
    // A stand-in whose limit is far under ours: every full call is refused as too large.
    let (receiver, running) = receiver(ReceiverConfig { max_call_bytes: 40_000, ..receiver_config() }).await;
    let run = run_once(|dir| config_text(dir, &emulator.base_url, "", &sentinel_sink(dir, &running, ""))).await;
    assert!(run.report.failures.is_empty(), "{:?}", run.report.failures);
    assert_each_once(&receiver.ids(), 3000);
    assert!(receiver.stats().answers.get(&413).copied().unwrap_or(0) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_stops_only_this_sink_with_its_message_in_the_log_and_in_status() {
    let (_emu, emulator) = emulator(2500).await;
    let (receiver, running) = receiver(receiver_config()).await;
    receiver.set_role(false);
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!("{}\n{}", sentinel_sink(dir.path(), &running, ""), file_sink(dir.path()));
    let config = write_config(dir.path(), &config_text(dir.path(), &emulator.base_url, "", &sinks));
    let out = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
                .args(["run", "--once", "--config"])
                .arg(&config)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "run --once names the failed sink: {log}");
    let want = "HTTP 403 Forbidden: OperationFailed: The authentication token provided does not have access to ingest \
                data for the data collection rule";
    assert!(log.contains(want) && log.contains("\"Monitoring Metrics Publisher\" role"), "{log}");
    assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(2500), "the file sink has all");
    assert_eq!(receiver.row_count(), 0);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&status.stdout);
    let line = stdout.lines().find(|l| l.starts_with("sentinel ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("HTTP 403 Forbidden: OperationFailed"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_stops_the_sink_naming_it() {
    let (_emu, emulator) = emulator(10).await;
    let (receiver, running) = receiver(receiver_config()).await;
    let run = run_once(|dir| {
        let sink = sentinel_sink(dir, &running, "").replace(SECRET, "not-the-secret");
        config_text(dir, &emulator.base_url, "", &sink)
    })
    .await;
    assert_eq!(run.report.failures.len(), 1, "{:?}", run.report.failures);
    let failure = &run.report.failures[0];
    assert!(failure.contains("AADSTS7000215") && failure.contains("check client_secret"), "{failure}");
    assert_eq!(receiver.stats().calls, 0);
}

#[test]
fn the_shipped_dcr_and_table_declare_exactly_the_columns_the_sink_writes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sentinel/netwrix-auditor.json");
    let template: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let want: Vec<(String, String)> =
        sinks::format::sentinel::COLUMNS.iter().map(|(n, t)| ((*n).to_owned(), t.name().to_owned())).collect();
    let columns = |list: &serde_json::Value| -> Vec<(String, String)> {
        let list = list.as_array().unwrap();
        list.iter().map(|c| (c["name"].as_str().unwrap().to_owned(), c["type"].as_str().unwrap().to_owned())).collect()
    };
    let resources = template["resources"].as_array().unwrap();
    let of = |kind: &str| resources.iter().find(|r| r["type"] == kind).unwrap();
    let table = of("Microsoft.OperationalInsights/workspaces/tables");
    assert_eq!(columns(&table["properties"]["schema"]["columns"]), want);
    let dcr = of("Microsoft.Insights/dataCollectionRules");
    assert_eq!(columns(&dcr["properties"]["streamDeclarations"]["Custom-NetwrixAuditor_CL"]["columns"]), want);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sentinel_receiver_command_serves_and_validate_check_gets_a_token_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ca = dir.path().join("ca.pem");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["sentinel-receiver", "--listen", &format!("127.0.0.1:{port}"), "--tenant-id", TENANT])
        .args(["--client-id", CLIENT, "--client-secret", SECRET, "--dcr-immutable-id", DCR, "--cert-out"])
        .arg(&ca)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _stop = KillOnDrop(child);
    wait_until("the receiver wrote its CA", Duration::from_secs(30), || ca.exists()).await;
    let url = format!("https://127.0.0.1:{port}");
    let sink = format!(
        "[[sink]]\nname = \"sentinel\"\ntype = \"sentinel\"\nendpoint = \"{url}\"\nauthority_host = \"{url}\"\n\
         dcr_immutable_id = \"{DCR}\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\n\
         client_secret = \"${{SENTINEL_SECRET}}\"\n[sink.tls]\nca_file = \"{}\"\n",
        ca.display()
    );
    let config = write_config(dir.path(), &config_text(dir.path(), "http://127.0.0.1:9", "", &sink));
    let validate = |secret: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
            .args(["validate", "--config"])
            .arg(&config)
            .env("SENTINEL_SECRET", secret)
            .output()
            .unwrap()
    };
    let out = validate(SECRET);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("sink sentinel (sentinel) -> {url} (DCR {DCR}, stream Custom-NetwrixAuditor_CL")),
        "{stdout}"
    );
    assert!(!stdout.contains(SECRET), "{stdout}");
    let check = move |secret: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"))
            .args(["validate", "--check", "--config"])
            .arg(&config)
            .env("SENTINEL_SECRET", secret)
            .output()
            .unwrap()
    };
    let (good, bad) = tokio::task::spawn_blocking(move || (check(SECRET), check("wrong"))).await.unwrap();
    let (good, bad) =
        (String::from_utf8_lossy(&good.stdout).into_owned(), String::from_utf8_lossy(&bad.stdout).into_owned());
    assert!(
        good.contains("check sink sentinel: a token for https://monitor.azure.com//.default was granted"),
        "{good}"
    );
    assert!(bad.contains("check sink sentinel: FAILED") && bad.contains("AADSTS7000215"), "{bad}");
}

/// Kills (by its own pid) and reaps the child when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
