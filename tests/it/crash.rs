//! Exactly-once across crashes, with the real binary: export 200,000 records to the
//! file sink, SIGKILL the process at 5 random moments, restart it each time; at the
//! end the file holds every record once, in spool order.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const RECORDS: usize = 200_000;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_five_times_loses_and_duplicates_nothing() {
    let (_emu, running) = emulator(RECORDS).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("{}batch_records = 700\nrotate_bytes = 40000000\n", file_sink(dir.path()));
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));
    let out = dir.path().join("out");

    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id().into());
    for kill in 0..5 {
        let mut child = spawn_run(&config, false);
        // Kill at a random moment, but only once this run has made progress, so
        // every kill lands in the middle of the export rather than at its start.
        let before = count_lines(&out);
        wait_until("this run wrote lines", Duration::from_secs(180), || count_lines(&out) > before).await;
        // The instant of the kill is random: that is what is tested, not a wait.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        eprintln!("kill {}: {} lines on disk", kill + 1, count_lines(&out));
    }
    let mut last = spawn_run(&config, true);
    let status = tokio::task::spawn_blocking(move || last.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the final run --once exits 0");

    let ids = all_ids(&out);
    let expected = expected_ids(RECORDS);
    assert_eq!(ids.len(), RECORDS, "every record exactly once");
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), RECORDS, "no id twice");
    assert!(ids == expected, "in spool order");
}

/// Lines in every file of the output folder, oldest rotated file first.
fn all_ids(out: &std::path::Path) -> Vec<String> {
    files(out).iter().flat_map(|p| ids_in(p)).collect()
}

fn count_lines(out: &std::path::Path) -> usize {
    files(out).iter().map(|p| std::fs::read(p).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())).sum()
}

/// The output files: rotated ones in generation order, then the active one.
fn files(out: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else { return Vec::new() };
    let mut rotated: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "records.jsonl"))
        .collect();
    rotated.sort();
    rotated.push(out.join("records.jsonl"));
    rotated
}
