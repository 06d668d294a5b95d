//! `auditbridge preview`: the bytes it prints for a sink's next records are the bytes
//! that sink's peer then receives, and nothing moves in the state file meanwhile.
//! Peers: the file sink's file, a raw TCP listener for syslog (octet counting), and
//! the built-in HEC receiver.

use crate::harness::*;
use sinks::hec::receiver::{Receiver, ReceiverConfig};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

const TOKEN: &str = "0b7f3c2a-5b1d-4c8e-a6f0-2d9b8e7c6a51";

/// Everything written to a TCP listener, over every connection.
async fn raw_tcp_peer() -> (std::net::SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (addr, got)
}

/// What moves when a bridge runs: every job's mark, every sink's cursor, the spool.
fn state_snapshot(dir: &Path) -> String {
    let store = state::Store::open(&dir.join("state.db"), state::StoreOptions::default()).unwrap();
    format!(
        "{:?} {:?} {} {}",
        store.jobs().unwrap(),
        store.sinks().unwrap(),
        store.max_seq().unwrap(),
        store.spool_rows().unwrap()
    )
}

fn preview(config: &Path, sink: &str) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["preview", "--sink", sink, "-n", "5", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5 records") && stderr.contains("no mark or cursor moved"), "{stderr}");
    out.stdout
}

fn run_once(config: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["run", "--once", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_prints_what_each_peer_then_receives_and_moves_nothing() {
    let (emu, running) = emulator(1_000).await;
    let (syslog_addr, syslog_got) = raw_tcp_peer().await;
    let receiver =
        Receiver::new(ReceiverConfig { ack: true, keep_events: true, ..ReceiverConfig::new(TOKEN) }).unwrap();
    let hec = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!(
        "{}\n[[sink]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"{syslog_addr}\"\nformat = \"cef\"\n\n\
         [[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"\nack = true\n\
         ack_poll_interval = \"50ms\"\n",
        file_sink(dir.path()),
        hec.base_url
    );
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sinks));

    // Records 1-1,000 delivered; then 500 more wait at the API, none spooled yet.
    let first = config.clone();
    tokio::task::spawn_blocking(move || run_once(&first)).await.unwrap();
    emu.add_records(netwrix::generate::generate_iter(31).take(500).collect::<Vec<_>>());
    let received = |file: &Path| std::fs::read(file).unwrap_or_default();
    let file = dir.path().join("out/records.jsonl");
    let (file_before, syslog_before, hec_before) =
        (received(&file).len(), syslog_got.lock().unwrap().len(), receiver.indexed().len());
    assert_eq!(hec_before, 1_000);

    let before = state_snapshot(dir.path());
    let cfg = config.clone();
    let previews =
        tokio::task::spawn_blocking(move || ["archive", "siem", "splunk"].map(|s| preview(&cfg, s))).await.unwrap();
    assert_eq!(state_snapshot(dir.path()), before, "no mark, cursor or spool row moved");
    assert!(previews.iter().all(|p| !p.is_empty()));

    let again = config.clone();
    tokio::task::spawn_blocking(move || run_once(&again)).await.unwrap();
    wait_until("the syslog peer got the previewed bytes", Duration::from_secs(30), || {
        syslog_got.lock().unwrap().len() > syslog_before + previews[1].len()
    })
    .await;
    let file_now = received(&file);
    assert_eq!(&file_now[file_before..file_before + previews[0].len()], previews[0], "file sink");
    let syslog_now = syslog_got.lock().unwrap().clone();
    assert_eq!(
        String::from_utf8_lossy(&syslog_now[syslog_before..syslog_before + previews[1].len()]),
        String::from_utf8_lossy(&previews[1]),
        "syslog sink: header and octet-counting framing included"
    );
    let hec_now: String =
        receiver.indexed()[hec_before..hec_before + 5].iter().map(|e| format!("{}\n", e.raw)).collect();
    assert_eq!(hec_now, String::from_utf8_lossy(&previews[2]), "HEC envelopes");
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_reads_the_spool_after_the_cursor_of_a_sink_that_fell_behind() {
    let (_emu, running) = emulator(300).await;
    // The HEC receiver is down for the first run: its records wait in the spool.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!(
        "{}\n[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"http://{addr}\"\ntoken = \"{TOKEN}\"\nack = true\n\
         ack_poll_interval = \"50ms\"\n",
        file_sink(dir.path())
    );
    let text = config_text(dir.path(), &running.base_url, "", &sinks)
        .replace("max_delay = \"200ms\"\n", "max_delay = \"200ms\"\ngive_up_after = \"2s\"\n");
    let config = write_config(dir.path(), &text);
    let c = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(["run", "--once", "--config"]).arg(&c).output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success(), "the HEC sink gave up");

    let before = state_snapshot(dir.path());
    let c = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_auditbridge"))
            .args(["preview", "--sink", "splunk", "-n", "5", "--config"])
            .arg(&c)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("5 from the spool after its cursor and 0 from the API"),
        "{stderr}"
    );
    assert_eq!(state_snapshot(dir.path()), before, "nothing moved");

    let receiver =
        Receiver::new(ReceiverConfig { ack: true, keep_events: true, ..ReceiverConfig::new(TOKEN) }).unwrap();
    let _hec = receiver.serve(addr).await.unwrap();
    let c = config.clone();
    tokio::task::spawn_blocking(move || run_once(&c)).await.unwrap();
    let first: String = receiver.indexed()[..5].iter().map(|e| format!("{}\n", e.raw)).collect();
    assert_eq!(first, String::from_utf8_lossy(&out.stdout), "the first records the receiver got");
}
