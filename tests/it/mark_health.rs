//! Mark health: `status` and `/metrics` show how long since each job's mark moved and
//! its last records came; `/readyz` fails once a mark has not moved for `stale_after`
//! while the server has records the job has not taken, and not when there are none.

use crate::harness::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

async fn get(url: &str) -> Option<(u16, String)> {
    let r = http_get(url).await.ok()?;
    Some((r.status().as_u16(), r.text().await.ok()?))
}

fn status(config: &Path) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(["status", "--config"]).arg(config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A config whose job pages by 100, with metrics on `port` and `stale_after`.
fn config(dir: &Path, url: &str, port: u16, spool: &str, sinks: &str) -> std::path::PathBuf {
    let extra = format!("{spool}[metrics]\nlisten = \"127.0.0.1:{port}\"\nstale_after = \"2s\"\n");
    let text = config_text(dir, url, &extra, sinks).replace("timeout = \"10s\"\n", "timeout = \"10s\"\ncount = 100\n");
    write_config(dir, &text)
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_fails_when_the_mark_stops_while_the_server_has_records() {
    let (_emu, running) = emulator(2_000).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A HEC sink nobody answers: the spool fills at 300 records and fetching stops.
    let hec = format!("[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"http://{closed}\"\ntoken = \"t\"\n");
    let sinks = format!("{}\n{hec}", file_sink(dir.path()));
    let config = config(dir.path(), &running.base_url, port, "[spool]\nmax_records = 300\n", &sinks);
    let mut child = spawn_run(&config, false);

    let base = format!("http://127.0.0.1:{port}");
    let readyz = format!("{base}/readyz");
    let last = wait_for("/readyz says the mark has not moved", Duration::from_secs(60), || async {
        get(&readyz).await.filter(|(code, body)| *code == 503 && body.contains("mark has not moved"))
    })
    .await;
    let metrics = get(&format!("{base}/metrics")).await.map(|m| m.1).unwrap_or_default();
    let shown = status(&config);
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, body) = last;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("job \"corp\": its mark has not moved for") && body.contains("records after"), "{body}");
    let unmoved = metrics.lines().find(|l| l.starts_with("auditbridge_mark_unmoved_seconds{job=\"corp\"}"));
    let seconds: f64 = unmoved.and_then(|l| l.split(' ').nth(1)).and_then(|v| v.parse().ok()).unwrap_or(-1.0);
    assert!(seconds >= 2.0, "{metrics}");
    assert!(metrics.contains("auditbridge_since_records_seconds{job=\"corp\"}"), "{metrics}");
    let corp = shown.lines().find(|l| l.starts_with("corp ")).unwrap_or_default();
    assert!(corp.contains("held") && corp.matches("s ago").count() == 2, "{shown}");
    assert!(shown.contains("MARK MOVED") && shown.contains("LAST RECORDS"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mark_that_rests_at_the_end_of_data_stays_ready() {
    let (_emu, running) = emulator(1_000).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &running.base_url, port, "", &file_sink(dir.path()));
    let mut child = spawn_run(&config, false);
    let base = format!("http://127.0.0.1:{port}");
    wait_until("every record is delivered", Duration::from_secs(60), || {
        ids_in(&dir.path().join("out/records.jsonl")).len() >= 1_000
    })
    .await;
    // Past stale_after (2s) several probes run; nothing is left to fetch, so still ready.
    // The 5 s window and the probes' pace are what is tested, not a wait.
    let watched = Instant::now();
    let mut answers = Vec::new();
    while watched.elapsed() < Duration::from_secs(5) {
        answers.push(get(&format!("{base}/readyz")).await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answers.iter().all(|a| a.as_ref().is_some_and(|(code, _)| *code == 200)), "{answers:?}");
}
