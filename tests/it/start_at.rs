//! `start_at` / `initial_lookback` / `import-mark --since`: a job's first run starts at
//! a time, through `/search` with a `When` filter under the job's own mark, then follows
//! new records live. 90 days of records, 100 a day.

use crate::harness::*;
use netwrix::ActivityRecord;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const DAYS: i64 = 90;
const PER_DAY: i64 = 100;
const STEP_S: i64 = 86_400 / PER_DAY;

/// 90 days of records from `start`, each half a step off the step boundaries so
/// that a start at a whole day falls between two records.
fn ninety_days(start: chrono::DateTime<chrono::Utc>) -> Vec<ActivityRecord> {
    let mut records = netwrix::generate::generate((DAYS * PER_DAY) as usize, 7);
    for (i, r) in records.iter_mut().enumerate() {
        let at = start + chrono::Duration::seconds(i as i64 * STEP_S + STEP_S / 2);
        r.when = at.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
    }
    records
}

fn ids(records: &[ActivityRecord]) -> Vec<String> {
    records.iter().map(|r| r.id().to_string()).collect()
}

async fn serve(records: Vec<ActivityRecord>) -> (netwrix::emulator::Emulator, netwrix::emulator::RunningEmulator) {
    let emu = netwrix::emulator::Emulator::new(netwrix::emulator::EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        ..Default::default()
    });
    emu.add_records(records);
    let running = emu.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emu, running)
}

fn bridge(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(args).arg("--config").arg(config).output().unwrap()
}

fn config_with(dir: &Path, url: &str, job_keys: &str) -> std::path::PathBuf {
    let text = config_text(dir, url, "", &file_sink(dir))
        .replace("timeout = \"10s\"\n", &format!("timeout = \"10s\"\n{job_keys}"));
    write_config(dir, &text)
}

fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    wait_until_blocking(&format!("{n} lines in {}", path.display()), Duration::from_secs(60), || {
        ids_in(path).len() >= n
    });
    ids_in(path)
}

#[tokio::test(flavor = "multi_thread")]
async fn start_at_delivers_from_that_time_then_follows_live_and_keeps_its_start() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z").unwrap().to_utc();
    let records = ninety_days(start);
    let expected = ids(&records[6_000..]);
    let (emu, running) = serve(records).await;
    let dir = tempfile::tempdir().unwrap();
    // Day 60 of 90.
    let config = config_with(dir.path(), &running.base_url, "start_at = \"2026-09-30T00:00:00Z\"\n");
    let out_file = dir.path().join("out/records.jsonl");
    let mut child = spawn_run(&config, false);
    let got = tokio::task::spawn_blocking({
        let out_file = out_file.clone();
        move || wait_for_lines(&out_file, 3_000)
    })
    .await
    .unwrap();
    assert_eq!(got.len(), 3_000, "records from day 60 on, no more");
    assert!(got == expected, "exactly the records from start_at on, in order");

    // A record written now arrives while the bridge follows.
    let mut fresh = netwrix::generate::generate_iter(99).next().unwrap();
    fresh.when = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
    let fresh_id = fresh.id().to_string();
    emu.add_records([fresh]);
    let got = tokio::task::spawn_blocking({
        let out_file = out_file.clone();
        move || wait_for_lines(&out_file, 3_001)
    })
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got.len(), 3_001);
    assert_eq!(got.last(), Some(&fresh_id), "the new record arrived live");

    // start_at moved back after the first run: ignored, with a warning; nothing again.
    let config = config_with(dir.path(), &running.base_url, "start_at = \"2026-08-31T00:00:00Z\"\n");
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &config)).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("start_at changed after the first run"), "{stderr}");
    assert_eq!(ids_in(&out_file).len(), 3_001, "nothing fetched again");
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_lookback_and_import_since_start_where_they_say() {
    let now = chrono::Utc::now();
    let records = ninety_days(now - chrono::Duration::days(DAYS));
    // The last 30 days: records 6,000 on (each half a step from a day's boundary).
    let expected = ids(&records[6_000..]);
    let (_emu, running) = serve(records).await;

    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), &running.base_url, "initial_lookback = \"30d\"\n");
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], &config)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(ids_in(&dir.path().join("out/records.jsonl")) == expected, "the last 30 days exactly");

    // The timestamp-keeping add-ons: import-mark --since, no key in the config.
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), &running.base_url, "");
    let since = (now - chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        move || {
            let set = bridge(&["import-mark", "--job", "corp", "--since", &since], &config);
            (set, bridge(&["run", "--once"], &config))
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.0.stdout);
    assert!(
        out.0.status.success() && stdout.contains("starts from"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.0.stderr)
    );
    assert!(out.1.status.success(), "{}", String::from_utf8_lossy(&out.1.stderr));
    assert!(ids_in(&dir.path().join("out/records.jsonl")) == expected, "from --since exactly");
    let out = tokio::task::spawn_blocking(move || {
        bridge(&["import-mark", "--job", "corp", "--since", "2026-01-01"], &config)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("already has a mark"), "{stderr}");
}

#[test]
fn validate_refuses_a_start_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    for (keys, message) in [
        ("start_at = \"2026-11-01\"\ninitial_lookback = \"30d\"\n", "either start_at or initial_lookback"),
        ("start_at = \"last tuesday\"\n", "is not a time like 2024-03-01"),
        ("start_at = \"2026-11-01\"\nmode = \"search\"\nfilters.When = \"Today\"\n", "remove filters.When"),
    ] {
        let config = config_with(dir.path(), "http://127.0.0.1:1", keys);
        let out = bridge(&["validate"], &config);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.starts_with("error: ") && stderr.contains(message), "{keys}: {stderr}");
    }
    let config = config_with(dir.path(), "http://127.0.0.1:1", "initial_lookback = \"30d\"\n");
    assert!(bridge(&["validate"], &config).status.success());
}
