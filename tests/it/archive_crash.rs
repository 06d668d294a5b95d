//! The archive sink across crashes, with the real binary: export 200,000 records, SIGKILL
//! the process at 5 random moments, restart it each time; at the end `archive verify`
//! passes and the segments hold every record exactly once, in spool order.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const RECORDS: usize = 200_000;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_five_times_keeps_the_archive_intact_and_every_record_once() {
    let (_emu, running) = emulator(RECORDS).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("archive");
    let keygen = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["archive", "keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "keygen: {}", String::from_utf8_lossy(&keygen.stderr));
    let out = dir.path().join("archive-out");
    let sink = format!(
        "[[sink]]\nname = \"archive\"\ntype = \"archive\"\npath = \"{}\"\nsigning_key = \"${{file:{}.key}}\"\nbatch_records = 700\nsegment_bytes = 3000000\n",
        out.display(),
        key.display()
    );
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));

    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id().into());
    for kill in 0..5 {
        let mut child = spawn_run(&config, false);
        // Kill only once this run has written something, so every kill lands mid-export.
        let before = bytes_on_disk(&out);
        wait_until("this run wrote to the archive", Duration::from_secs(180), || bytes_on_disk(&out) > before).await;
        // The instant of the kill is random: that is what is tested, not a wait.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..1500))).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        eprintln!("kill {}: {} bytes on disk", kill + 1, bytes_on_disk(&out));
    }
    let mut last = spawn_run(&config, true);
    let status = tokio::task::spawn_blocking(move || last.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the final run --once exits 0");

    let to = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let verify = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["archive", "verify"])
        .arg(&out)
        .arg("--public-key")
        .arg(format!("{}.pub", key.display()))
        .args(["--to", &to])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify passes:\n{report}");
    assert!(report.contains(&format!("{RECORDS} records")), "verify counts every record: {report}");

    let ids = ids_in_segments(&out);
    assert_eq!(ids.len(), RECORDS, "every record exactly once");
    assert!(ids == expected_ids(RECORDS), "in spool order");
    assert!(!has_open_segment(&out), "a graceful stop closes the open segment");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    v.sort();
    v
}

fn bytes_on_disk(out: &Path) -> u64 {
    files(&out.join("segments"))
        .iter()
        .chain(files(out).iter())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn has_open_segment(out: &Path) -> bool {
    files(out).iter().any(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("active.")))
}

/// The ids of every line of the closed segments, in name (= seq) order.
fn ids_in_segments(out: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for f in files(&out.join("segments")) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut text).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.push(v["auditbridge_id"].as_str().unwrap().to_owned());
        }
    }
    ids
}
