//! `auditbridge backfill`: a time range exported again through /search reaches only the
//! sink asked for, flagged as a replay, and the job's live mark is not touched.

use crate::harness::*;
use std::process::Command;

fn bridge(args: &[&str], config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(args).arg("--config").arg(config).output().unwrap()
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_replays_a_range_to_one_sink_without_touching_the_live_mark() {
    let (emu, running) = emulator(5_000).await;
    let records = netwrix::generate::generate(5_000, 7);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let sinks = format!(
        "[[sink]]\nname = \"archive\"\ntype = \"file\"\npath = \"{d}/out/archive.jsonl\"\n\n\
         [[sink]]\nname = \"other\"\ntype = \"file\"\npath = \"{d}/out/other.jsonl\"\n"
    );
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sinks));
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &cfg)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let parsed = auditbridge::config::load(&config).unwrap();
    let live_mark = || {
        let store = auditbridge::pipeline::open_store(&parsed).unwrap();
        store.jobs().unwrap().into_iter().find(|j| j.name == "corp").unwrap().mark
    };
    let mark_before = live_mark();

    let (from, to) = (records[1_000].when.clone(), records[1_999].when.clone());
    let want: Vec<String> =
        records.iter().filter(|r| r.when >= from && r.when <= to).map(|r| r.id().to_string()).collect();
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        bridge(&["backfill", "--job", "corp", "--from", &from, "--to", &to, "--sink", "archive"], &cfg)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let archive = lines(&dir.path().join("out/archive.jsonl"));
    assert_eq!(archive.len(), 5_000 + want.len());
    let replayed: Vec<String> =
        archive[5_000..].iter().map(|v| v["auditbridge_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(replayed, want, "exactly the range, in order");
    assert!(archive[5_000..].iter().all(|v| v["auditbridge_replay"] == true && v["job"] == "corp"));
    assert!(archive[..5_000].iter().all(|v| v.get("auditbridge_replay").is_none()), "live records carry no flag");
    assert_eq!(lines(&dir.path().join("out/other.jsonl")).len(), 5_000, "the other sink got no replay");
    assert_eq!(live_mark(), mark_before, "the live mark is untouched");
    // The backfill's rows are routed by its job row's columns; the live job has none.
    let jobs = auditbridge::pipeline::open_store(&parsed).unwrap().jobs().unwrap();
    let routing: Vec<_> = jobs.iter().map(|j| j.routing.as_ref()).collect();
    assert_eq!(routing.len(), 2, "{jobs:?}");
    assert!(routing.contains(&None), "{jobs:?}");
    let backfill = routing.iter().flatten().next().unwrap();
    assert_eq!(
        (backfill.base_job.as_str(), backfill.only_sink.as_deref(), backfill.replay),
        ("corp", Some("archive"), true)
    );

    // The live job carries on from its own mark.
    emu.add_records(netwrix::generate::generate_iter(77).take(10).collect::<Vec<_>>());
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &cfg)).await.unwrap();
    assert!(out.status.success());
    assert_eq!(lines(&dir.path().join("out/other.jsonl")).len(), 5_010);
    assert_eq!(lines(&dir.path().join("out/archive.jsonl")).len(), 5_010 + want.len());
}
