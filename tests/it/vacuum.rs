//! `auditbridge vacuum`: after a backlog is delivered the state file shrinks back, the
//! export carries on exactly where it stood, and a running bridge is never vacuumed under.

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bridge(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn vacuum_gives_the_space_back_and_the_export_carries_on() {
    let (emu, running) = emulator(20_000).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())));
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &cfg)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let before = state::file_bytes(&dir.path().join("state.db"));

    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || bridge(&["vacuum"], &cfg)).await.unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("0 kept") && said.contains("page size 16384 -> 16384"), "{said}");
    let after = state::file_bytes(&dir.path().join("state.db"));
    assert!(after * 4 < before, "the file shrank: {before} -> {after} bytes; {said}");

    // The export carries on from its mark: only the new records, each once.
    emu.add_records(netwrix::generate::generate_iter(77).take(500).collect::<Vec<_>>());
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &cfg)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids = ids_in(&dir.path().join("out/records.jsonl"));
    assert_eq!(ids.len(), 20_500);
    assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 20_500, "no record twice");
    assert_eq!(ids[..20_000], expected_ids(20_000)[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn vacuum_refuses_while_a_bridge_runs() {
    let (_emu, running) = emulator(100).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())));
    let mut run = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Once the run has delivered, it holds the state lock.
    let out = dir.path().join("out/records.jsonl");
    wait_until("the run delivered", Duration::from_secs(60), || ids_in(&out).len() >= 100).await;
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || bridge(&["vacuum"], &cfg)).await.unwrap();
    let _ = run.kill();
    let _ = run.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "vacuum ran beside a running bridge");
    assert!(err.contains("another auditbridge is already running"), "{err}");
}
