//! syslog-ng stopped in the middle of a run (through several of the sink's retries) and
//! started again: the `syslog` sink reconnects, the job goes on fetching meanwhile, and every record —
//! those acknowledged before the stop and those sent after the restart — is in
//! syslog-ng's output. (Real syslog-ng from Debian; scripts/peers/syslog-ng.sh.)

use crate::harness::*;
use crate::syslogng::{Ports, SyslogNg};
use auditbridge::pipeline::{self, RunOptions, StoreHandle};
use netwrix::emulator::{Emulator, EmulatorConfig};
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn syslog_ng_down_mid_run_loses_nothing() {
    let records = netwrix::generate::generate(12_000, 21);
    let (before, rest) = records.split_at(3_000);
    let (during, after) = rest.split_at(6_000);

    let dir = tempfile::tempdir().unwrap();
    let mut peer = SyslogNg::start(&dir.path().join("syslog-ng"), Ports::free(), None);
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        ..EmulatorConfig::default()
    });
    emulator.add_records(before.to_vec());
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let sink = format!(
        "[[sink]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"127.0.0.1:{}\"\nhostname = \"bridge01\"\nbatch_records = 200\n",
        peer.ports.tcp
    );
    let text = config_text(dir.path(), &running.base_url, "", &sink);
    let config = auditbridge::config::parse(&text, "auditbridge.toml").unwrap();
    let store = StoreHandle::new(pipeline::open_store(&config).unwrap());
    let (trigger, shutdown) = auditbridge::shutdown::channel();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = tokio::spawn(async move {
        let config = config;
        pipeline::run_with(&config, RunOptions::default(), shutdown, store, Some(tx)).await
    });
    let shared = rx.await.unwrap();
    let cursor = || shared.sinks.get("siem").map_or(0, |c| c.cursor.load(Relaxed));
    let spooled = || shared.jobs.get("corp").map_or(0, |c| c.spooled.load(Relaxed));
    let retries = || shared.sinks.get("siem").map_or(0, |c| c.retries.load(Relaxed));

    // Running: the first records are delivered and acknowledged.
    wait_until("the first 3,000 are acknowledged", Duration::from_secs(60), || cursor() == 3_000).await;
    assert_eq!(peer.wait_for(3_000, Duration::from_secs(30)), 3_000);

    // Stop syslog-ng; the job keeps fetching new records while it is down.
    peer.stop();
    let acked_before_stop = cursor();
    let retries_at = retries();
    let mut written = before.len() as u64;
    for chunk in during.chunks(1_000) {
        emulator.add_records(chunk.to_vec());
        written += chunk.len() as u64;
        wait_until("the job spools during the outage", Duration::from_secs(30), || spooled() == written).await;
    }
    // Down through several failed attempts to reconnect, not for a fixed time.
    wait_until("the sink retried 3 times", Duration::from_secs(60), || retries() >= retries_at + 3).await;
    assert!(cursor() == acked_before_stop, "nothing is acknowledged while the receiver is down");

    // Start it again: the sink reconnects on its own and the run goes on.
    peer.spawn();
    emulator.add_records(after.to_vec());
    wait_until("everything is acknowledged", Duration::from_secs(60), || cursor() == 12_000).await;
    peer.wait_for(12_000, Duration::from_secs(30));
    trigger.trigger();
    let report = run.await.unwrap().unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    running.shutdown().await;

    let got: Vec<String> =
        peer.parsed().iter().map(|m| m["cef"]["ext"]["externalId"].as_str().expect("externalId").to_owned()).collect();
    let distinct: HashSet<&String> = got.iter().collect();
    let want: Vec<String> = records.iter().map(|r| r.id().to_string()).collect();
    let missing: Vec<&String> = want.iter().filter(|id| !distinct.contains(id)).collect();
    eprintln!("{} messages, {} distinct records, {} repeated", got.len(), distinct.len(), got.len() - distinct.len());
    assert!(missing.is_empty(), "{} records missing, first {:?}", missing.len(), missing.first());
    assert_eq!(distinct.len(), want.len());
}
