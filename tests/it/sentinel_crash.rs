//! The Sentinel sink across crashes, with the real binary: export 200,000 records to the
//! Logs Ingestion stand-in, SIGKILL the process at 3 random moments, restart it each time; at
//! the end every record arrived, and only rows of batches in doubt at a kill (being sent, or
//! taken by the API but not yet acknowledged in the state file) twice, with the same id and
//! the same content.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use sinks::sentinel::receiver::{Receiver, ReceiverConfig};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::BufRead;
use std::time::Duration;

const RECORDS: usize = 200_000;
const BATCH: usize = 1000;
const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_three_times_during_200_000_records_loses_nothing() {
    let (_emu, running) = emulator(RECORDS).await;
    let dir = tempfile::tempdir().unwrap();
    let accepted = dir.path().join("accepted.jsonl");
    let config = ReceiverConfig { output: Some(accepted.clone()), ..ReceiverConfig::new("t", "c", "s", "dcr-1") };
    let receiver = Receiver::new(config).unwrap();
    let stand_in = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, stand_in.cert_pem.as_deref().unwrap()).unwrap();
    let url = &stand_in.base_url;
    let sink = format!(
        "[[sink]]\nname = \"sentinel\"\ntype = \"sentinel\"\nendpoint = \"{url}\"\nauthority_host = \"{url}\"\n\
         dcr_immutable_id = \"dcr-1\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
         batch_records = {BATCH}\n[sink.tls]\nca_file = \"{}\"\n",
        ca.display()
    );
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));

    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id().into());
    for kill in 0..KILLS {
        let mut child = spawn_run(&config, false);
        // Spread over the export: at a random moment past a quarter, a half, three quarters.
        let target = (kill as u64 + 1) * RECORDS as u64 / 4;
        wait_until("the receiver holds the target rows", Duration::from_secs(180), || receiver.row_count() >= target)
            .await;
        // The instant of the kill is random: that is what is tested, not a wait.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..500))).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        eprintln!("kill {}: {} rows accepted", kill + 1, receiver.row_count());
    }
    let mut last = spawn_run(&config, true);
    let status = tokio::task::spawn_blocking(move || last.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the final run --once exits 0");

    let ids = receiver.ids();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let expected = expected_ids(RECORDS);
    let missing = expected.iter().filter(|id| !counts.contains_key(id.as_str())).count();
    assert_eq!(missing, 0, "{missing} records never arrived");
    assert_eq!(counts.len(), RECORDS, "no id that was not exported");
    // At a kill, at most two batches are in doubt: one taken whose cursor commit had not
    // landed, and the one being sent.
    let repeats = ids.len() - RECORDS;
    assert!(repeats <= KILLS * 2 * BATCH, "{repeats} repeats after {KILLS} kills");
    // A repeat is the same row: same id, same content.
    let mut seen: HashMap<String, u64> = HashMap::new();
    let file = std::io::BufReader::new(std::fs::File::open(&accepted).unwrap());
    for line in file.lines() {
        let line = line.unwrap();
        let row: serde_json::Value = serde_json::from_str(&line).unwrap();
        let id = row["AuditbridgeId"].as_str().unwrap().to_owned();
        let mut h = DefaultHasher::new();
        line.hash(&mut h);
        let hash = h.finish();
        if let Some(first) = seen.insert(id.clone(), hash) {
            assert_eq!(first, hash, "row {id} came again with other content");
        }
    }
    assert_eq!(seen.len(), RECORDS);
    eprintln!("{} rows accepted for {RECORDS} records ({repeats} repeats, each the same row)", ids.len());
}
