//! The Kafka sink end to end: the emulator → the pipeline → a real Kafka-protocol broker
//! (tansu) or librdkafka's mock cluster, read back by explicit partition assignment.

use crate::harness::*;
use crate::kafka_peer::*;
use auditbridge::pipeline::Shared;
use rdkafka::mocking::MockCluster;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the pipeline with `--once` semantics on `text`, calling `during` with the shared
/// counters once the run has started. Returns the run's failures.
async fn run_once<F, Fut>(text: &str, during: F) -> Vec<String>
where
    F: FnOnce(Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run_once_watching(text, Duration::from_secs(150), during).await.0.failures
}

/// Checks that `read` holds exactly the `n` generated records, each once, with key, the
/// four headers and a JSON value that carries the same id.
fn assert_every_record_once(read: &[Read], n: usize) {
    let expected = expected_ids(n);
    assert_eq!(read.len(), n, "{n} messages in the topic");
    let keys: HashSet<&str> = read.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), n, "no record twice");
    assert!(expected.iter().all(|id| keys.contains(id.as_str())), "every record there");
    let mut seqs: Vec<u64> = read.iter().map(Read::seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());
    for r in read {
        assert_eq!(r.headers["auditbridge-id"], r.key, "key = id");
        assert_eq!(r.headers["netwrix-job"], "corp");
        assert!(r.headers.contains_key("netwrix-datasource"));
        let v: serde_json::Value = serde_json::from_slice(&r.value).expect("JSON value");
        assert_eq!(v["auditbridge_id"], r.key.as_str());
        assert_eq!(v["DataSource"].as_str().unwrap_or(""), r.headers["netwrix-datasource"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_thousand_records_reach_tansu_exactly_once_with_key_and_headers() {
    const N: usize = 100_000;
    let tansu = Tansu::start();
    tansu.create_topic("netwrix-audit", 3).await;
    let (_emu, running) = emulator(N).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = kafka_sink(&tansu.bootstrap, "netwrix-audit", "batch_records = 5000\ncompression = \"lz4\"");
    let text = config_text(dir.path(), &running.base_url, "", &sink);
    let failures = run_once(&text, |_| async {}).await;
    assert!(failures.is_empty(), "{failures:?}");

    let bootstrap = tansu.bootstrap.clone();
    let read = tokio::task::spawn_blocking(move || read_all(&bootstrap, "netwrix-audit")).await.unwrap();
    assert_every_record_once(&read, N);
    let partitions: HashSet<i32> = read.iter().map(|r| r.partition).collect();
    assert_eq!(partitions.len(), 3, "spread over the topic's partitions");
}

#[tokio::test(flavor = "multi_thread")]
async fn templated_topics_on_tansu_take_the_data_source() {
    const N: usize = 3000;
    let tansu = Tansu::start();
    let (_emu, running) = emulator(N).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = kafka_sink(&tansu.bootstrap, "netwrix.{DataSource}", "compression = \"zstd\"");
    let text = config_text(dir.path(), &running.base_url, "", &sink);
    let failures = run_once(&text, |_| async {}).await;
    assert!(failures.is_empty(), "{failures:?}");

    let records = netwrix::generate::generate(N, 7);
    let mut want: HashMap<String, usize> = HashMap::new();
    for r in &records {
        let source = r.data_source.clone().unwrap_or_default();
        let topic = format!("netwrix.{}", source.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        *want.entry(topic).or_default() += 1;
    }
    assert!(want.len() > 3, "the generated records span several data sources");
    let bootstrap = tansu.bootstrap.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        for (topic, n) in &want {
            let read = read_all(&bootstrap, topic);
            assert_eq!(read.len(), *n, "{topic}");
            all.extend(read);
        }
        all
    })
    .await
    .unwrap();
    assert_every_record_once(&read, N);
}

/// tansu's only storage in this build is memory (a restarted broker is empty), so a
/// stopped-and-restarted broker is played by librdkafka's mock cluster, whose brokers go
/// down (connections refused) and come back with their data.
#[tokio::test(flavor = "multi_thread")]
async fn broker_down_through_retries_the_sink_waits_resumes_and_loses_nothing() {
    // The mock keeps at most 5 MB a partition (it drops the oldest beyond that), so the
    // records are compressed and spread over 6 partitions.
    const N: usize = 20_000;
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("netwrix-audit", 6, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let (_emu, running) = emulator(N).await;
    let dir = tempfile::tempdir().unwrap();
    let sink =
        kafka_sink(&bootstrap, "netwrix-audit", "batch_records = 500\nack_timeout = \"2s\"\ncompression = \"lz4\"");
    let text = config_text(dir.path(), &running.base_url, "", &sink);

    let down_at = std::sync::Mutex::new(0u64);
    let (cluster_ref, down_ref) = (&cluster, &down_at);
    let failures = run_once(&text, |shared: Arc<Shared>| async move {
        let delivered = || shared.sinks["kafka"].delivered.load(Relaxed);
        let retries = || shared.sinks["kafka"].retries.load(Relaxed);
        wait_until("2,000 records delivered", Duration::from_secs(60), || delivered() >= 2000).await;
        cluster_ref.broker_down(1).unwrap();
        *down_ref.lock().unwrap() = delivered();
        let start = Instant::now();
        // Down through several failed attempts (each waits out `ack_timeout`), not a fixed time.
        let before = retries();
        wait_until("the sink retried 3 times", Duration::from_secs(60), || retries() >= before + 3).await;
        let during = delivered() - *down_ref.lock().unwrap();
        // At most the batches in flight when the broker went down: Kafka is a pipelined
        // sink (`Sink::pipelined`), handed the next batch before the previous one's reports,
        // so two batches of 500 may have reached the broker and be acknowledged after.
        assert!(during <= 1000, "{during} records acknowledged while the broker was down");
        assert!(shared.sinks["kafka"].retries.load(Relaxed) > 0, "the sink noticed");
        eprintln!("broker down for {:?}", start.elapsed());
        cluster_ref.broker_up(1).unwrap();
    })
    .await;
    assert!(failures.is_empty(), "{failures:?}");
    let down_at = *down_at.lock().unwrap();
    assert!(down_at < N as u64, "the broker went down in the middle of the run");

    let read = tokio::task::spawn_blocking(move || read_all(&bootstrap, "netwrix-audit")).await.unwrap();
    assert_every_record_once(&read, N);
}

/// The same outage against the real broker: tansu frozen (SIGSTOP) through several of the
/// sink's retries keeps its data but answers nothing; the sink waits and resumes once thawed.
#[tokio::test(flavor = "multi_thread")]
async fn tansu_frozen_through_retries_the_sink_waits_resumes_and_loses_nothing() {
    const N: usize = 20_000;
    let tansu = Tansu::start();
    tansu.create_topic("netwrix-audit", 3).await;
    let (_emu, running) = emulator(N).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = kafka_sink(&tansu.bootstrap, "netwrix-audit", "batch_records = 500\nack_timeout = \"2s\"");
    let text = config_text(dir.path(), &running.base_url, "", &sink);

    let tansu_ref = &tansu;
    let failures = run_once(&text, |shared: Arc<Shared>| async move {
        let delivered = || shared.sinks["kafka"].delivered.load(Relaxed);
        let retries = || shared.sinks["kafka"].retries.load(Relaxed);
        wait_until("2,000 records delivered", Duration::from_secs(60), || delivered() >= 2000).await;
        tansu_ref.freeze();
        let at = delivered();
        let before = retries();
        wait_until("the sink retried 3 times", Duration::from_secs(60), || retries() >= before + 3).await;
        // The two pipelined batches in flight at the freeze may be acknowledged after it.
        let during = delivered() - at;
        assert!(during <= 1000, "{during} acknowledged while frozen: more than the batches in flight");
        assert!(delivered() < N as u64);
        tansu_ref.thaw();
    })
    .await;
    assert!(failures.is_empty(), "{failures:?}");

    let bootstrap = tansu.bootstrap.clone();
    let read = tokio::task::spawn_blocking(move || read_all(&bootstrap, "netwrix-audit")).await.unwrap();
    assert_every_record_once(&read, N);
}
