//! The Sentinel stand-in answers Microsoft's own client as Azure does: `azure-identity` logs
//! in at its token endpoint (through MSAL's OpenID metadata) and `azure-monitor-ingestion`
//! uploads rows, which the stand-in takes exactly as it takes the sink's; its refusals
//! (a wrong secret, no role on the DCR) reach that client as Azure's errors, and its
//! throttling is waited out by azure-core's retry policy as long as `Retry-After` says;
//! MSAL's certificate credential (a PS256 client assertion) is taken as the sink's is.
//! The peer: scripts/peers/azure-ingestion.sh; the client script: tests/fixtures/sentinel_upload.py.

use netwrix::generate::generate;
use sinks::sentinel::receiver::{Fault, Receiver, ReceiverConfig, RunningReceiver};
use sinks::sentinel::{SentinelConfig, SentinelSink};
use sinks::{Event, Sink};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "0e3b2c1d-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const SECRET: &str = "s3cr~et.value";
const DCR: &str = "dcr-00112233445566778899aabbccddeeff";
const STREAM: &str = "Custom-NetwrixAuditor_CL";

fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/venv/bin/python");
    let installed = std::process::Command::new(&python)
        .args(["-c", "import azure.identity, azure.monitor.ingestion"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(installed, "azure-monitor-ingestion is not installed in .peers/venv: run scripts/peers/azure-ingestion.sh");
    python
}

fn events(n: usize) -> Vec<Event> {
    generate(n, 7)
        .into_iter()
        .enumerate()
        .map(|(i, record)| Event { seq: i as u64 + 1, id: record.id(), job: "corp".into(), replay: false, record })
        .collect()
}

/// The rows our sink writes for `events`, as one JSON array.
fn rows_json(events: &[Event]) -> String {
    let mut out = b"[".to_vec();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        sinks::format::sentinel::encode(e, sinks::format::sentinel::MAX_VALUE, &mut out);
    }
    out.push(b']');
    String::from_utf8(out).unwrap()
}

struct StandIn {
    receiver: Receiver,
    running: RunningReceiver,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

async fn stand_in(config: ReceiverConfig) -> StandIn {
    let receiver = Receiver::new(ReceiverConfig { keep_rows: true, ..config }).unwrap();
    let running = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, running.cert_pem.as_deref().unwrap()).unwrap();
    StandIn { receiver, running, dir, ca }
}

/// Runs the client script; returns whether it succeeded and what it printed on stderr.
async fn upload(s: &StandIn, secret: &str, rows: &str) -> (bool, String) {
    let python = python();
    let file = s.dir.path().join("rows.json");
    std::fs::write(&file, rows).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentinel_upload.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .args([&s.running.base_url, TENANT, CLIENT, secret, DCR, STREAM])
        .arg(&file)
        .env("REQUESTS_CA_BUNDLE", &s.ca)
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn microsofts_client_uploads_our_rows_and_they_land_as_the_sinks_do() {
    let s = stand_in(ReceiverConfig::new(TENANT, CLIENT, SECRET, DCR)).await;
    let batch = events(3000);
    let (ok, stderr) = upload(&s, SECRET, &rows_json(&batch)).await;
    assert!(ok, "{stderr}");
    let stats = s.receiver.stats();
    assert_eq!(stats.rows, 3000, "{stats:?}");
    assert!(stats.calls >= 2, "about 2 MB of rows go in calls of about 1 MiB: {stats:?}");
    assert_eq!(stats.answers.keys().copied().collect::<Vec<_>>(), vec![204], "{stats:?}");
    assert_eq!((stats.plain_calls, stats.tokens), (0, 1), "gzip calls, one token: {stats:?}");
    assert_eq!((stats.undeclared_columns, stats.mistyped_values, stats.truncated_values), (0, 0, 0));
    let ids: Vec<String> = batch.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(s.receiver.ids(), ids);

    // The sink's own calls for the same records land as the same rows.
    let ours = stand_in(ReceiverConfig::new(TENANT, CLIENT, SECRET, DCR)).await;
    let url = &ours.running.base_url;
    let config: SentinelConfig = serde_json::from_value(serde_json::json!({
        "endpoint": url, "authority_host": url, "dcr_immutable_id": DCR, "tenant_id": TENANT,
        "client_id": CLIENT, "client_secret": SECRET, "tls": { "ca_file": ours.ca },
    }))
    .unwrap();
    let mut sink = SentinelSink::new("sentinel", config);
    sink.open(None).await.unwrap();
    sink.deliver(&batch).await.unwrap();
    assert_eq!(ours.receiver.rows(), s.receiver.rows(), "the same rows, whoever sent them");
    assert_eq!(ours.receiver.stats().plain_calls, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn microsofts_client_waits_out_throttling_as_retry_after_says() {
    let s = stand_in(ReceiverConfig::new(TENANT, CLIENT, SECRET, DCR)).await;
    s.receiver.inject(Fault::Throttle { status: 429, duration: Duration::from_secs(3), retry_after: 1 });
    let (ok, stderr) = upload(&s, SECRET, &rows_json(&events(100))).await;
    assert!(ok, "{stderr}");
    let stats = s.receiver.stats();
    assert_eq!(stats.rows, 100);
    assert!(stats.answers.get(&429).copied().unwrap_or(0) >= 2, "{stats:?}");
    assert_eq!(stats.early_calls, 0, "azure-core waited as told: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn microsofts_client_gets_entra_and_azure_monitor_errors() {
    let s = stand_in(ReceiverConfig::new(TENANT, CLIENT, SECRET, DCR)).await;
    let rows = rows_json(&events(5));
    let (ok, stderr) = upload(&s, "wrong-secret", &rows).await;
    assert!(!ok);
    assert!(stderr.contains("ClientAuthenticationError") && stderr.contains("AADSTS7000215"), "{stderr}");

    s.receiver.set_role(false);
    let (ok, stderr) = upload(&s, SECRET, &rows).await;
    assert!(!ok);
    assert!(stderr.contains("OperationFailed") && stderr.contains("does not have access to ingest data"), "{stderr}");
    assert_eq!(s.receiver.row_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn microsofts_client_logs_in_with_a_certificate_as_the_sink_does() {
    let pem = Path::new(env!("CARGO_MANIFEST_DIR")).join("sinks/src/sentinel/testdata/app.pem");
    let der = sinks::sentinel::receiver::certificate_der(&std::fs::read_to_string(&pem).unwrap()).unwrap();
    let config = ReceiverConfig { client_certificate: Some(der), ..ReceiverConfig::new(TENANT, CLIENT, SECRET, DCR) };
    let s = stand_in(config).await;
    let (ok, stderr) = upload(&s, &format!("cert:{}", pem.display()), &rows_json(&events(10))).await;
    assert!(ok, "{stderr}");
    let stats = s.receiver.stats();
    assert_eq!((stats.rows, stats.tokens), (10, 1), "{stats:?}");
}
