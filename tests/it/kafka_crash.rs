//! Exactly once across crashes into Kafka, with the real binary and the real broker:
//! export 60,000 records to tansu, SIGKILL the bridge at 3 random moments, restart it
//! each time; at the end the topic holds every record exactly once.

use crate::harness::*;
use crate::kafka_peer::*;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

const RECORDS: usize = 60_000;
const TOPIC: &str = "netwrix-audit";

fn bridge(config: &std::path::Path, once: bool) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditbridge"));
    // The bridges' logs go beside the config, to show on a failure.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("bridge.log"))
        .expect("open bridge.log");
    cmd.args(["run", "--config"]).arg(config).stdout(Stdio::null()).stderr(log);
    if once {
        cmd.arg("--once");
    }
    cmd.spawn().expect("start auditbridge")
}

/// How many messages the topic holds (the sum of its partitions' high watermarks).
fn messages(consumer: &BaseConsumer) -> i64 {
    (0..3).map(|p| consumer.fetch_watermarks(TOPIC, p, Duration::from_secs(5)).map_or(0, |(_, high)| high)).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_three_times_during_a_kafka_export_leaves_every_record_once() {
    let tansu = Tansu::start();
    tansu.create_topic(TOPIC, 3).await;
    let (_emu, running) = emulator(RECORDS).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = kafka_sink(&tansu.bootstrap, TOPIC, "batch_records = 700");
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));
    let watcher: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &tansu.bootstrap).create().unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id().into());
    for kill in 0..3 {
        let mut child = bridge(&config, false);
        // Kill at a random moment, once this run has added to the topic, so that every
        // kill lands in the middle of the export.
        let before = messages(&watcher);
        wait_until("this run wrote to the topic", Duration::from_secs(180), || messages(&watcher) > before).await;
        // The instant of the kill is random: that is what is tested, not a wait.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        let now = messages(&watcher);
        eprintln!("kill {}: {now} messages in the topic", kill + 1);
        assert!(now < RECORDS as i64, "the kill came before the export ended");
    }
    let mut last = bridge(&config, true);
    let status = tokio::task::spawn_blocking(move || last.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the final run --once exits 0");

    let bootstrap = tansu.bootstrap.clone();
    let read = tokio::task::spawn_blocking(move || read_all(&bootstrap, TOPIC)).await.unwrap();
    let keys: HashSet<&str> = read.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), RECORDS, "every record is there");
    if read.len() != RECORDS {
        eprintln!("duplicated: {} copies too many", read.len() - keys.len());
        // Each partition as runs of ascending seqs, to show where a repeat or a step back sits.
        for p in 0..3 {
            let mut part: Vec<(i64, u64)> =
                read.iter().filter(|r| r.partition == p).map(|r| (r.offset, r.seq())).collect();
            part.sort_unstable();
            let mut runs: Vec<String> = Vec::new();
            let mut start = 0;
            for i in 1..=part.len() {
                if i == part.len() || part[i].1 <= part[i - 1].1 {
                    let (a, b) = (part[start], part[i - 1]);
                    runs.push(format!("offsets {}..={}: seqs {}..={} ({})", a.0, b.0, a.1, b.1, i - start));
                    start = i;
                }
            }
            eprintln!("partition {p}: {}", runs.join(" | "));
        }
        let log = std::fs::read_to_string(config.with_file_name("bridge.log")).unwrap_or_default();
        for line in log.lines().filter(|l| !l.contains(" INFO ") || l.contains("kafka")) {
            eprintln!("bridge: {line}");
        }
    }
    assert_eq!(read.len(), RECORDS, "and none twice");
    let expected = expected_ids(RECORDS);
    assert!(expected.iter().all(|id| keys.contains(id.as_str())));
    let writers: HashSet<&str> = read.iter().map(|r| r.headers["auditbridge-writer"].as_str()).collect();
    assert_eq!(writers.len(), 1, "one writer across the restarts");
}
