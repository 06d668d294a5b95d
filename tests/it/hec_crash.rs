//! The HEC sink across crashes, with the real binary: export 100,000 records to the HEC
//! receiver with indexer acknowledgement reported late (so two batches are in flight
//! most of the time) from an API that delays 30 % of its answers by 400 ms, with the
//! receiver losing the acknowledgements of two requests once (as a restarted receiver
//! does); SIGKILL the process at 20 random moments, restart it each time. At the end
//! Splunk holds every record, and only records of batches in doubt twice: at most three
//! batches a kill (docs/splunk.md says why) and the two whose acks were lost.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use sinks::hec::receiver::{Receiver, ReceiverConfig};
use std::collections::HashMap;
use std::time::Duration;

const RECORDS: usize = 100_000;
const BATCH: usize = 1000;
const KILLS: usize = 20;
const TOKEN: &str = "5d1f3b7a-9c2e-4f60-8a1b-3e5d7c9f0a24";

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_with_two_batches_in_flight_loses_nothing() {
    let (emu, running) = emulator(RECORDS).await;
    emu.apply(&netwrix::emulator::FaultSpec::parse("random=0.3:delay=400ms").unwrap());
    let receiver =
        Receiver::new(ReceiverConfig { ack: true, ack_delay: Duration::from_millis(30), ..ReceiverConfig::new(TOKEN) })
            .unwrap();
    let hec = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"\nack = true\n\
         ack_timeout = \"3s\"\nbatch_records = {BATCH}\n",
        hec.base_url
    );
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));

    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id().into());
    for kill in 0..KILLS {
        if kill == KILLS / 2 {
            receiver.inject(sinks::hec::receiver::Fault::DropAcks(2));
        }
        let mut child = spawn_run(&config, false);
        // Kill at a random moment once this run has made progress.
        let before = receiver.indexed_count();
        wait_until("this run indexed events", Duration::from_secs(180), || receiver.indexed_count() > before).await;
        // The instant of the kill is random: that is what is tested, not a wait.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        eprintln!("kill {}: {} events indexed", kill + 1, receiver.indexed_count());
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
    let missing: Vec<&String> = expected.iter().filter(|id| !counts.contains_key(id.as_str())).collect();
    assert!(missing.is_empty(), "{} records never reached Splunk, the first {:?}", missing.len(), missing.first());
    assert_eq!(counts.len(), RECORDS, "no id that was not exported");
    // At a kill, at most three batches are in doubt: one acknowledged whose cursor commit
    // had not landed, one waiting for its acknowledgement, one sent ahead; and the two
    // requests whose acknowledgements the receiver lost are sent again once.
    let repeats = ids.len() - RECORDS;
    assert!(repeats <= (KILLS * 3 + 2) * BATCH, "{repeats} repeats after {KILLS} kills");
    eprintln!("{} events indexed for {RECORDS} records ({repeats} repeats, all with the same ids)", ids.len());
}
