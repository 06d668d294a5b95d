//! Backpressure with the real binary: a stdout sink whose reader stops reading blocks
//! delivery; with `spool.max_records = 5000` fetching stops near 5,000 records and the
//! process's memory stays flat; once the reader reads again, everything arrives.

use crate::harness::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const RECORDS: usize = 30_000;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn spooled(config: &std::path::Path) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["status", "--json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["jobs"][0]["spooled"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_sink_stops_fetching_near_the_limit_and_memory_stays_flat() {
    let (_emu, running) = emulator(RECORDS).await;
    let dir = tempfile::tempdir().unwrap();
    let sinks = "[[sink]]\nname = \"console\"\ntype = \"stdout\"\nbatch_records = 100\n";
    let text = config_text(dir.path(), &running.base_url, "[spool]\nmax_records = 5000\n", sinks);
    let config = write_config(dir.path(), &text);
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["run", "--once", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Nobody reads stdout: the pipe fills, the sink blocks and fetching runs up to the limit.
    wait_until("fetching reached the spool limit", Duration::from_secs(60), || spooled(&config) >= 5_000).await;
    // What is tested is that nothing moves for a while: these two sleeps are the time
    // windows observed (the page in flight at the limit settles in the first), not waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = (spooled(&config), rss_kib(child.id()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = (spooled(&config), rss_kib(child.id()));
    eprintln!("blocked: spooled {} then {}; RSS {} KiB then {} KiB", first.0, second.0, first.1, second.1);
    assert_eq!(first.0, second.0, "fetching has stopped");
    assert!((5_000..=7_000).contains(&second.0), "stopped near max_records, at {}", second.0);
    assert!(second.1 <= first.1 + 2048, "memory stays flat: {} KiB then {} KiB", first.1, second.1);

    // Unblock: read everything.
    let stdout = child.stdout.take().unwrap();
    let lines =
        tokio::task::spawn_blocking(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let lines = lines.await.unwrap();
    assert!(status.success());
    let ids: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["auditbridge_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected_ids(RECORDS), "everything delivered, once, in order");
}
