//! Operations, end to end: one sink down does not hold back the others
//! and catches up after; `run --once` exits 0 after draining, and non-zero naming a
//! sink that stays unreachable past `retry.give_up_after`.

use crate::harness::*;
use auditbridge::pipeline::{self, RunOptions, StoreHandle};
use auditbridge::{config, shutdown};
use sinks::hec::receiver::{Receiver, ReceiverConfig};
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const TOKEN: &str = "0b7f3c2a-5b1d-4c8e-a6f0-2d9b8e7c6a51";

fn hec_sink(url: &str) -> String {
    format!(
        "[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"{url}\"\ntoken = \"{TOKEN}\"\nack = true\n\
         ack_poll_interval = \"50ms\"\nbatch_records = 200\n"
    )
}

/// New records keep arriving while one sink's peer is down: the other sink takes each
/// round as it comes, the stopped one stays put while it retries, and catches up after.
#[tokio::test(flavor = "multi_thread")]
async fn one_sink_down_does_not_hold_back_the_others() {
    let (emu, running) = emulator(2_000).await;
    let receiver = Receiver::new(ReceiverConfig { ack: true, ..ReceiverConfig::new(TOKEN) }).unwrap();
    let hec = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let hec_addr = hec.addr;

    let dir = tempfile::tempdir().unwrap();
    let sinks = format!("{}\n{}", file_sink(dir.path()), hec_sink(&hec.base_url));
    let text = config_text(dir.path(), &running.base_url, "", &sinks);
    let config = config::parse(&text, "t.toml").unwrap();
    let store = StoreHandle::new(pipeline::open_store(&config).unwrap());
    let (trigger, shutdown) = shutdown::channel();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run =
        tokio::spawn(
            async move { pipeline::run_with(&config, RunOptions::default(), shutdown, store, Some(tx)).await },
        );
    let shared = rx.await.unwrap();
    let delivered = |sink: &str| shared.sinks[sink].delivered.load(Relaxed);
    let retries = |sink: &str| shared.sinks[sink].retries.load(Relaxed);
    let limit = Duration::from_secs(120);

    wait_until("both sinks took the backlog", limit, || delivered("archive") >= 2_000 && delivered("splunk") >= 2_000)
        .await;
    // The receiver goes away; new records arrive in rounds while it is down.
    hec.shutdown().await;
    let down_at = delivered("splunk");
    let retries_at = retries("splunk");
    let mut fresh = netwrix::generate::generate_iter(99);
    let mut archive_seen = vec![delivered("archive")];
    for _ in 0..6 {
        emu.add_records(fresh.by_ref().take(100).collect::<Vec<_>>());
        let total = emu.len() as u64;
        wait_until("the file sink took the new round", limit, || delivered("archive") >= total).await;
        archive_seen.push(delivered("archive"));
    }
    wait_until("the HEC sink retried 5 times", limit, || retries("splunk") >= retries_at + 5).await;
    eprintln!("while splunk was down: archive delivered {archive_seen:?}; splunk stayed at {}", delivered("splunk"));
    assert!(archive_seen.windows(2).all(|w| w[1] > w[0]), "the file sink kept delivering: {archive_seen:?}");
    assert!(delivered("splunk") <= down_at + 200, "nothing reached the stopped receiver");

    // Back on the same address: the lagging sink catches up, records still arriving.
    let _hec = receiver.serve(hec_addr).await.unwrap();
    emu.add_records(fresh.by_ref().take(100).collect::<Vec<_>>());
    let total = emu.len() as u64;
    wait_until("both sinks caught up", limit, || delivered("archive") >= total && delivered("splunk") >= total).await;
    trigger.trigger();
    let report = run.await.unwrap().unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    let archive = ids_in(&dir.path().join("out/records.jsonl"));
    assert_eq!(archive.len(), total as usize, "the file sink has every record once");
    let mut indexed = receiver.ids();
    indexed.sort();
    indexed.dedup();
    let mut expected = archive.clone();
    expected.sort();
    assert_eq!(indexed, expected, "the HEC receiver caught up with every record");
}

fn bridge_once(config: &std::path::Path) -> (std::process::ExitStatus, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["run", "--once", "--config"])
        .arg(config)
        .output()
        .unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn run_once_exits_zero_after_draining_and_non_zero_naming_an_unreachable_sink() {
    let (_emu, running) = emulator(3_000).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())));
    let (status, stderr) = tokio::task::spawn_blocking(move || bridge_once(&config)).await.unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(3_000));

    // A HEC sink whose peer never answers: nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!("{}\n{}", file_sink(dir.path()), hec_sink(&format!("http://{closed}")));
    let retry = "[retry]\ninitial_delay = \"10ms\"\nmax_delay = \"200ms\"\ngive_up_after = \"3s\"\n";
    let text = config_text(dir.path(), &running.base_url, "", &sinks)
        .replace("[retry]\ninitial_delay = \"10ms\"\nmax_delay = \"200ms\"\n", retry);
    let config = write_config(dir.path(), &text);
    let started = Instant::now();
    let (status, stderr) = tokio::task::spawn_blocking(move || bridge_once(&config)).await.unwrap();
    assert!(!status.success(), "an unreachable sink fails the run");
    assert!(stderr.contains("sink \"splunk\"") && stderr.contains("gave up after failing for 3s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(
        ids_in(&dir.path().join("out/records.jsonl")),
        expected_ids(3_000),
        "the other sink delivered everything"
    );
}

/// Audit data is private: the state directory and file, its lock and a file sink's
/// output are created 0700/0600 whatever the umask; `file_mode` loosens a sink's files.
#[tokio::test(flavor = "multi_thread")]
async fn files_holding_audit_data_are_private_unless_file_mode_says_otherwise() {
    use std::os::unix::fs::PermissionsExt;
    let (_emu, running) = emulator(100).await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), &running.base_url, "", &file_sink(dir.path()))
        .replace(&format!("{}/state.db", dir.path().display()), &format!("{}/state/state.db", dir.path().display()));
    let siem = format!(
        "[[sink]]\nname = \"siem\"\ntype = \"file\"\nfile_mode = \"0640\"\npath = \"{}/siem/records.jsonl\"\n",
        dir.path().display()
    );
    let config = write_config(dir.path(), &format!("{text}\n{siem}"));
    // The loosest umask: only the code's own modes keep the files private.
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask 000; exec '{}' run --once --config '{}'",
                env!("CARGO_BIN_EXE_auditbridge"),
                config.display()
            ))
            .output()
            .unwrap();
        (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
    })
    .await
    .unwrap();
    assert!(status.success(), "{stderr}");
    let mode = |p: &str| std::fs::metadata(dir.path().join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("state"), 0o700);
    for file in ["state/state.db", "state/state.db.lock", "out/records.jsonl"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    assert_eq!(mode("out"), 0o700);
    assert_eq!((mode("siem/records.jsonl"), mode("siem")), (0o640, 0o750));
    assert_eq!(ids_in(&dir.path().join("siem/records.jsonl")).len(), 100);
}
