//! `[metrics]` during a real run: `/metrics` parses as Prometheus text and its
//! counters move; `/healthz` answers; `/readyz` turns ready once every job fetched.

use crate::harness::*;
use auditbridge::pipeline::{self, RunOptions, StoreHandle};
use auditbridge::{config, shutdown};
use std::collections::HashMap;
use std::time::Duration;

/// Parses the Prometheus text format strictly enough to catch malformed output:
/// every sample line is `name{label="value",…} number`, every sample's family has
/// HELP and TYPE lines before it. Returns sample → value.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad name: {line}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')).unwrap_or_else(|| panic!("{line}"));
            for pair in inner.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line}"));
                assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
                assert!(!v.trim_end_matches('"').contains('"') || v.contains("\\\""), "{line}");
            }
        }
        let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(typed.contains(name) || typed.contains(family), "sample before its TYPE: {line}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn get(url: &str) -> (u16, String) {
    let r = http_get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_and_move_during_a_run() {
    let (emu, running) = emulator(20_000).await;
    // Slow pages, so the run is still going when the first scrape comes.
    for _ in 0..20 {
        emu.inject(netwrix::emulator::Fault::Delay(Duration::from_millis(50)));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    let text = config_text(dir.path(), &running.base_url, &extra, &file_sink(dir.path()));
    let config = config::parse(&text, "t.toml").unwrap();
    let store = StoreHandle::new(pipeline::open_store(&config).unwrap());
    let (trigger, shutdown) = shutdown::channel();
    let run =
        tokio::spawn(async move { pipeline::run_with(&config, RunOptions::default(), shutdown, store, None).await });

    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/metrics");
    let first = wait_for("metrics served and counting", Duration::from_secs(30), || async {
        let text = http_get(&url).await.ok()?.text().await.ok()?;
        Some(parse_prometheus(&text))
            .filter(|m| m.get("auditbridge_records_fetched_total{job=\"corp\"}").is_some_and(|v| *v > 0.0))
    })
    .await;
    // Wait for the whole backlog to be delivered.
    let last = wait_for("the whole backlog delivered", Duration::from_secs(60), || async {
        let m = parse_prometheus(&get(&url).await.1);
        Some(m).filter(|m| m.get("auditbridge_records_delivered_total{sink=\"archive\"}") == Some(&20_000.0))
    })
    .await;
    for series in [
        "auditbridge_records_fetched_total{job=\"corp\"}",
        "auditbridge_records_spooled_total{job=\"corp\"}",
        "auditbridge_pages_total{job=\"corp\"}",
        "auditbridge_page_latency_seconds_count{job=\"corp\"}",
        "auditbridge_records_delivered_total{sink=\"archive\"}",
    ] {
        assert!(last[series] > first[series], "{series} moved: {} -> {}", first[series], last[series]);
    }
    assert_eq!(last["auditbridge_records_delivered_total{sink=\"archive\"}"], 20_000.0);
    assert_eq!(last["auditbridge_sink_backlog_records{sink=\"archive\"}"], 0.0);
    assert_eq!(last["auditbridge_sink_up{sink=\"archive\"}"], 1.0);
    assert!(last["auditbridge_last_successful_fetch_timestamp_seconds{job=\"corp\"}"] > 1.7e9);

    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    assert_eq!(get(&format!("{base}/readyz")).await, (200, "ready\n".into()));
    assert_eq!(get(&format!("{base}/nothing")).await.0, 404);

    trigger.trigger();
    let report = run.await.unwrap().unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}
