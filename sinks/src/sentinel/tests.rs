//! The sink against the stand-in, in process: progress across retries, token renewal, and
//! the answers that stop it.

use super::receiver::{Fault, Receiver, ReceiverConfig, RunningReceiver};
use super::*;
use netwrix::{ActivityRecord, RecordId};

const DCR: &str = "dcr-1";

async fn stand_in(config: ReceiverConfig) -> (Receiver, RunningReceiver, tempfile::TempDir) {
    let receiver = Receiver::new(config).unwrap();
    let running = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), running.cert_pem.as_deref().unwrap()).unwrap();
    (receiver, running, dir)
}

fn sink(running: &RunningReceiver, dir: &tempfile::TempDir, extra: serde_json::Value) -> SentinelSink {
    let mut config = serde_json::json!({
        "endpoint": running.base_url, "authority_host": running.base_url, "dcr_immutable_id": DCR,
        "tenant_id": "t", "client_id": "c", "client_secret": "s", "max_request_bytes": 16384,
        "tls": { "ca_file": dir.path().join("ca.pem") },
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    SentinelSink::new("sentinel", serde_json::from_value(config).unwrap())
}

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            seq: i as u64 + 1,
            id: RecordId([i as u8; 16]),
            job: "corp".into(),
            replay: false,
            record: ActivityRecord {
                who: format!("CORP\\user{i}").into(),
                what: "x".repeat(300).into(),
                when: "2024-03-01T10:00:00Z".into(),
                ..Default::default()
            },
        })
        .collect()
}

fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.to_string()).collect()
}

#[tokio::test]
async fn a_retry_sends_only_the_calls_not_yet_taken() {
    let (receiver, running, dir) = stand_in(ReceiverConfig::new("t", "c", "s", DCR)).await;
    let mut sink = sink(&running, &dir, serde_json::json!({}));
    sink.open(None).await.unwrap();
    let batch = events(200);
    receiver.inject(Fault::Pass);
    receiver.inject(Fault::Status(500));
    assert!(sink.deliver(&batch).await.is_err_and(|e| e.is_transient()));
    let taken = receiver.row_count();
    assert!(taken > 0 && taken < 200, "the first call was taken: {taken}");
    sink.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch), "each row once, in order");
    let stats = receiver.stats();
    assert!(stats.largest_json <= 16384, "{stats:?}");
    assert_eq!(stats.answers.get(&500), Some(&1));
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_call_sent_again() {
    let (receiver, running, dir) = stand_in(ReceiverConfig::new("t", "c", "s", DCR)).await;
    let mut sink = sink(&running, &dir, serde_json::json!({}));
    sink.open(None).await.unwrap();
    receiver.revoke_tokens();
    let batch = events(10);
    sink.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch));
    let stats = receiver.stats();
    assert_eq!((stats.tokens, stats.answers.get(&401).copied()), (2, Some(1)), "{stats:?}");
}

#[tokio::test]
async fn a_new_token_refused_stops_the_sink_naming_what_to_check() {
    // The stand-in wants tokens for another audience than the sink asks for.
    let config = ReceiverConfig {
        scope: "https://monitor.azure.us//.default".into(),
        ..ReceiverConfig::new("t", "c", "s", DCR)
    };
    let (receiver, running, dir) = stand_in(config).await;
    let mut sink = sink(&running, &dir, serde_json::json!({}));
    sink.open(None).await.unwrap();
    let m = crate::error::fatal_report(&sink.deliver(&events(3)).await.unwrap_err());
    assert!(m.contains("HTTP 401 Unauthorized: InvalidToken") && m.contains("check tenant_id"), "{m}");
    assert_eq!(receiver.row_count(), 0);
}

#[tokio::test]
async fn a_wrong_dcr_or_stream_stops_the_sink() {
    let (_receiver, running, dir) = stand_in(ReceiverConfig::new("t", "c", "s", DCR)).await;
    let mut wrong_dcr = sink(&running, &dir, serde_json::json!({ "dcr_immutable_id": "dcr-2" }));
    let m = crate::error::fatal_report(&wrong_dcr.deliver(&events(1)).await.unwrap_err());
    assert!(m.contains("HTTP 404 Not Found") && m.contains("check endpoint, dcr_immutable_id and stream"), "{m}");
    let mut wrong_stream = sink(&running, &dir, serde_json::json!({ "stream": "Custom-Other_CL" }));
    let m = crate::error::fatal_report(&wrong_stream.deliver(&events(1)).await.unwrap_err());
    assert!(m.contains("HTTP 400 Bad Request: InvalidStream"), "{m}");
}

#[tokio::test]
async fn check_asks_for_a_token() {
    let (_receiver, running, dir) = stand_in(ReceiverConfig::new("t", "c", "s", DCR)).await;
    let said = sink(&running, &dir, serde_json::json!({})).check().await.unwrap();
    assert!(said.starts_with("a token for https://monitor.azure.com//.default was granted"), "{said}");
    let err = sink(&running, &dir, serde_json::json!({ "tenant_id": "other" })).check().await.unwrap_err();
    assert!(err.to_string().contains("AADSTS90002") && err.to_string().contains("check tenant_id"), "{err}");
}

#[tokio::test]
async fn a_record_larger_than_a_call_is_cut_with_a_marker_and_delivered() {
    let config = ReceiverConfig { keep_rows: true, ..ReceiverConfig::new("t", "c", "s", DCR) };
    let (receiver, running, dir) = stand_in(config).await;
    let mut sink = sink(&running, &dir, serde_json::json!({ "max_request_bytes": 1_000_000 }));
    let mut batch = events(3);
    batch[1].record.what = "\u{2}".repeat(3 << 20).into();
    sink.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch), "nothing dropped");
    let rows = receiver.rows();
    let what = rows[1]["What"].as_str().unwrap();
    assert!(what.ends_with(&format!(" [auditbridge: cut, {} bytes in all]", 3 << 20)), "{}", &what[what.len() - 60..]);
    let stats = receiver.stats();
    assert_eq!(stats.truncated_values, 0, "nothing left for Azure to truncate");
    assert!(stats.largest_json < 1_000_000);
}

#[tokio::test]
async fn a_certificate_signs_the_token_request_instead_of_a_secret() {
    let keys = tempfile::tempdir().unwrap();
    let (pem, der) = super::cert::tests::rsa_pem(keys.path(), false);
    let config = ReceiverConfig { client_certificate: Some(der.to_vec()), ..ReceiverConfig::new("t", "c", "s", DCR) };
    let (receiver, running, dir) = stand_in(config).await;
    let with_cert = serde_json::json!({ "client_secret": null, "client_certificate": pem });
    let mut signed = sink(&running, &dir, with_cert);
    signed.open(None).await.unwrap();
    let batch = events(5);
    signed.deliver(&batch).await.unwrap();
    assert_eq!(receiver.ids(), ids(&batch));
    assert_eq!(receiver.stats().tokens, 1);

    // A certificate the app does not know.
    let other = tempfile::tempdir().unwrap();
    let (other_pem, _) = super::cert::tests::rsa_pem(other.path(), true);
    let mut stranger =
        sink(&running, &dir, serde_json::json!({ "client_secret": null, "client_certificate": other_pem }));
    let m = crate::error::fatal_report(&stranger.open(None).await.unwrap_err());
    assert!(m.contains("AADSTS700027") && m.contains("check client_certificate"), "{m}");
}
