//! `auditbridge preview` of a Kafka sink: each message it prints (key, headers, value)
//! is the message the broker then holds (librdkafka's mock cluster).

use crate::harness::*;
use crate::kafka_peer::*;
use rdkafka::mocking::MockCluster;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn bridge(args: &[&str], config: &Path) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(args).arg("--config").arg(config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// (key, headers, value) of each message block the preview printed.
fn parse(preview: &str) -> Vec<(String, HashMap<String, String>, Vec<u8>)> {
    preview
        .split_terminator("\n\n")
        .map(|block| {
            let (mut key, mut headers, mut value) = (String::new(), HashMap::new(), Vec::new());
            for line in block.lines() {
                if let Some(k) = line.strip_prefix("key: ") {
                    key = k.to_owned();
                } else if let Some(h) = line.strip_prefix("header ") {
                    let (name, v) = h.split_once(": ").unwrap();
                    headers.insert(name.to_owned(), v.to_owned());
                } else if let Some(v) = line.strip_prefix("value: ") {
                    value = v.as_bytes().to_vec();
                }
            }
            (key, headers, value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_shows_the_messages_the_broker_then_holds() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("netwrix-audit", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let (emu, running) = emulator(200).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = kafka_sink(&bootstrap, "netwrix-audit", "");
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));
    let c = config.clone();
    tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &c)).await.unwrap();
    emu.add_records(netwrix::generate::generate_iter(5).take(50).collect::<Vec<_>>());

    let c = config.clone();
    let out =
        tokio::task::spawn_blocking(move || bridge(&["preview", "--sink", "kafka", "-n", "5"], &c)).await.unwrap();
    let preview = String::from_utf8(out.stdout).unwrap();
    assert!(preview.starts_with("topic: netwrix-audit\nkey: "), "{preview}");
    let shown = parse(&preview);
    assert_eq!(shown.len(), 5);

    let c = config.clone();
    tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &c)).await.unwrap();
    let b = bootstrap.clone();
    let mut read = tokio::task::spawn_blocking(move || read_all(&b, "netwrix-audit")).await.unwrap();
    read.sort_by_key(|r| r.offset);
    assert_eq!(read.len(), 250);
    for (i, (key, headers, value)) in shown.into_iter().enumerate() {
        let got = &read[200 + i];
        assert_eq!((&got.key, &got.headers), (&key, &headers), "message {i}: key and headers");
        assert!(got.value == value, "message {i}: value");
    }
}
