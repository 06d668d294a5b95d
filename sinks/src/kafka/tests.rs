//! The Kafka sink against librdkafka's mock cluster: message layout, faults (broker
//! down, request errors), and exactly once across a restart. The real broker (tansu)
//! is exercised by the application's end-to-end tests.

use super::*;
use crate::format::Encoder;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::HashMap;

/// Events with seqs `from..=to`, generated records (seed 11) so data sources vary.
fn events(from: u64, to: u64) -> Vec<Event> {
    let records = netwrix::generate::generate(to as usize, 11);
    (from..=to)
        .map(|seq| {
            let record = records[seq as usize - 1].clone();
            Event { seq, id: record.id(), job: "corp".into(), replay: false, record }
        })
        .collect()
}

fn config(bootstrap: &str, topic: &str) -> KafkaSinkConfig {
    let mut c = KafkaSinkConfig::new(bootstrap, TopicTemplate::parse(topic).unwrap());
    c.ack_timeout = crate::Duration::from_secs(2);
    c
}

/// One message as read back.
#[derive(Debug)]
struct Read {
    topic: String,
    key: String,
    value: String,
    headers: HashMap<String, String>,
}

/// Every message of `topic`, read by explicit assignment of every partition.
fn read_all(bootstrap: &str, topic: &str) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-reader")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let meta = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)).unwrap();
    let parts = meta.topics()[0].partitions().len();
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (mut eof, mut out) = (0, Vec::new());
    let deadline = Instant::now() + Duration::from_secs(20);
    while eof < parts && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Read {
                topic: m.topic().to_owned(),
                key: String::from_utf8(m.key().unwrap().to_vec()).unwrap(),
                value: String::from_utf8(m.payload().unwrap().to_vec()).unwrap(),
                headers: m
                    .headers()
                    .unwrap()
                    .iter()
                    .map(|h| (h.key.to_owned(), String::from_utf8(h.value.unwrap().to_vec()).unwrap()))
                    .collect(),
            }),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => eof += 1,
            Some(Err(e)) => panic!("reading back: {e}"),
            None => {}
        }
    }
    assert_eq!(eof, parts, "read every partition of {topic} to its end");
    out
}

fn seqs(read: &[Read]) -> Vec<u64> {
    let mut s: Vec<u64> = read.iter().map(|r| r.headers["auditbridge-seq"].parse().unwrap()).collect();
    s.sort_unstable();
    s
}

fn mock(brokers: i32) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    MockCluster::new(brokers).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_message_carries_key_headers_and_the_json_record() {
    let cluster = mock(3);
    cluster.create_topic("audit", 3, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let mut sink = KafkaSink::new(config(&bootstrap, "audit"));
    let value = sink.open(None).await.unwrap().expect("a new sink stores its writer id");
    let writer = Committed::decode(&value).unwrap().writer_hex();
    let batch = events(1, 300);
    let acked = Committed::decode(&sink.deliver(&batch).await.unwrap().unwrap()).unwrap();
    assert_eq!(acked.writer_hex(), writer, "the writer id stays beside the cursor");
    assert_eq!(acked.acked_first, Some(1), "with the first seq of the batch acknowledged");
    sink.close().await.unwrap();

    let read = read_all(&bootstrap, "audit");
    assert_eq!(read.len(), 300);
    let by_key: HashMap<&str, &Read> = read.iter().map(|r| (r.key.as_str(), r)).collect();
    assert_eq!(by_key.len(), 300, "every record once");
    for event in &batch {
        let key = event.id.to_string();
        let m = by_key[key.as_str()];
        let mut want = Vec::new();
        crate::format::json::encode(event, &mut want);
        assert_eq!(m.value.as_bytes(), want);
        assert_eq!(m.headers["auditbridge-id"], key);
        assert_eq!(m.headers["auditbridge-seq"], event.seq.to_string());
        assert_eq!(m.headers["netwrix-datasource"], event.record.data_source.clone().unwrap());
        assert_eq!(m.headers["netwrix-job"], "corp");
        assert_eq!(m.headers["auditbridge-writer"], writer);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_down_the_sink_waits_then_delivers_everything_once() {
    let cluster = mock(1);
    cluster.create_topic("audit", 2, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let mut sink = KafkaSink::new(config(&bootstrap, "audit"));
    sink.open(None).await.unwrap();
    sink.deliver(&events(1, 50)).await.unwrap();

    cluster.broker_down(1).unwrap();
    let batch = events(51, 200);
    let err = sink.deliver(&batch).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("not acknowledged"), "{err}");
    // Retried while still down: still waiting, nothing sent twice.
    assert!(sink.deliver(&batch).await.unwrap_err().is_transient());
    cluster.broker_up(1).unwrap();
    let mut result = sink.deliver(&batch).await;
    for _ in 0..10 {
        if result.is_ok() {
            break;
        }
        result = sink.deliver(&batch).await;
    }
    result.unwrap();
    assert_eq!(seqs(&read_all(&bootstrap, "audit")), (1..=200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_request_errors_are_retried_by_the_producer_without_duplicates() {
    let cluster = mock(1);
    cluster.create_topic("audit", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        ],
    );
    let mut sink = KafkaSink::new(config(&bootstrap, "audit"));
    sink.open(None).await.unwrap();
    let batch = events(1, 500);
    let mut result = sink.deliver(&batch).await;
    for _ in 0..5 {
        if result.is_ok() {
            break;
        }
        result = sink.deliver(&batch).await;
    }
    result.unwrap();
    assert_eq!(seqs(&read_all(&bootstrap, "audit")), (1..=500).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_message_fails_the_batch_and_the_retry_sends_only_what_failed() {
    let cluster = mock(1);
    cluster.create_topic("audit", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let mut sink = KafkaSink::new(config(&bootstrap, "audit"));
    sink.open(None).await.unwrap();
    sink.deliver(&events(1, 10)).await.unwrap();
    // The next produce request is refused for good.
    cluster.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    let batch = events(11, 40);
    let err = sink.deliver(&batch).await.unwrap_err();
    assert!(!err.is_transient(), "a message the broker refuses is not retried blindly: {err}");
    assert!(err.to_string().contains("record seq 1") && err.to_string().contains("topic \"audit\""), "{err}");
    // Once the cause is gone, the same batch goes through, and nothing is there twice.
    sink.deliver(&batch).await.unwrap();
    assert_eq!(seqs(&read_all(&bootstrap, "audit")), (1..=40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fatal_producer_error_replaces_the_producer_and_nothing_lands_twice() {
    let cluster = mock(1);
    cluster.create_topic("audit", 2, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let mut c = config(&bootstrap, "audit");
    // With the gapless guarantee, a refused produce request is a fatal producer error.
    c.librdkafka.0.insert("enable.gapless.guarantee".into(), crate::Secret::resolve("true").unwrap());
    let mut sink = KafkaSink::new(c);
    sink.open(None).await.unwrap();
    sink.deliver(&events(1, 10)).await.unwrap();
    cluster.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    let batch = events(11, 60);
    let mut errors = Vec::new();
    while let Err(e) = sink.deliver(&batch).await {
        errors.push(e.report().to_string());
        assert!(errors.len() < 5, "{errors:?}");
    }
    assert!(errors[0].contains("record seq") && errors[0].contains("too large"), "{errors:?}");
    assert_eq!(seqs(&read_all(&bootstrap, "audit")), (1..=60).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_what_the_batch_in_doubt_delivered_is_not_sent_again() {
    let cluster = mock(1);
    let topic = "netwrix.{DataSource}";
    let sources: Vec<String> = {
        let t = TopicTemplate::parse(topic).unwrap();
        let mut v: Vec<String> = events(1, 400).iter().map(|e| t.render(e)).collect();
        v.sort();
        v.dedup();
        v
    };
    assert!(sources.len() > 1, "records spread over several topics: {sources:?}");
    for t in &sources {
        cluster.create_topic(t, 3, 1).unwrap();
    }
    let bootstrap = cluster.bootstrap_servers();

    // First life: 1..=100 acknowledged, then 101..=200 delivered and 201..=250 sent ahead
    // (pipelined), but the process dies before the cursor moves past 100.
    let mut first = KafkaSink::new(config(&bootstrap, topic));
    let value = first.open(None).await.unwrap().unwrap();
    first.deliver(&events(1, 100)).await.unwrap();
    first.deliver(&events(101, 200)).await.unwrap();
    assert!(first.submit(&events(201, 250)).await.went_whole());
    // What was sent ahead lands (or not) while the process dies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    let landed: usize = sources.iter().map(|t| read_all(&bootstrap, t).len()).sum();
    assert_eq!(landed, 250, "the batch sent ahead is in the topics before the restart");

    // Someone else writes to the same topics meanwhile.
    let mut other = KafkaSink::new(config(&bootstrap, topic));
    other.open(None).await.unwrap();
    other.deliver(&events(1, 30)).await.unwrap();
    drop(other);

    // Second life: the cursor is at 100, the batch now reaches further.
    let mut second = KafkaSink::new(config(&bootstrap, topic));
    assert_eq!(second.open(Some(&value)).await.unwrap(), None, "a known writer keeps its value");
    second.deliver(&events(101, 300)).await.unwrap();
    second.deliver(&events(301, 400)).await.unwrap();

    let mut ours = Vec::new();
    let writer = Committed::decode(&value).unwrap().writer_hex();
    for t in &sources {
        for m in read_all(&bootstrap, t) {
            assert_eq!(&m.topic, t);
            if m.headers["auditbridge-writer"] == writer {
                ours.push(m.headers["auditbridge-seq"].parse::<u64>().unwrap());
            }
        }
    }
    ours.sort_unstable();
    assert_eq!(ours, (1..=400).collect::<Vec<_>>(), "every record of this writer exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_a_retried_message_behind_the_batch_sent_ahead_does_not_hide_it() {
    let cluster = mock(1);
    cluster.create_topic("audit", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();

    // First life, in the delivery loop's order: 1..=100 delivered; 101..=200 sent ahead and
    // refused; 201..=250 sent ahead; the retry of 101..=200 lands behind it and is
    // acknowledged (the value below is what the pipeline stores with its cursor, 200).
    let mut first = KafkaSink::new(config(&bootstrap, "audit"));
    first.open(None).await.unwrap();
    first.deliver(&events(1, 100)).await.unwrap();
    cluster.request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
    assert!(first.submit(&events(101, 200)).await.went_whole());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(first.submit(&events(201, 250)).await.went_whole());
    first.deliver(&events(101, 200)).await.unwrap_err();
    let value = first.deliver(&events(101, 200)).await.unwrap().unwrap();
    assert_eq!(Committed::decode(&value).unwrap().acked_first, Some(101));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    let layout: Vec<u64> =
        read_all(&bootstrap, "audit").iter().map(|r| r.headers["auditbridge-seq"].parse().unwrap()).collect();
    let expected: Vec<u64> = (1..=100).chain(201..=250).chain(101..=200).collect();
    assert_eq!(layout, expected, "the retried batch sits behind the one sent ahead");

    // Second life from cursor 200: the read-back goes past 200..101, this writer's
    // messages of the batch acknowledged last, and finds 201..=250.
    let mut second = KafkaSink::new(config(&bootstrap, "audit"));
    second.open(Some(&value)).await.unwrap();
    second.deliver(&events(201, 300)).await.unwrap();
    let mut ours = seqs(&read_all(&bootstrap, "audit"));
    ours.sort_unstable();
    assert_eq!(ours, (1..=300).collect::<Vec<_>>(), "every record exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_sent_ahead_land_once_and_in_order() {
    let cluster = mock(1);
    cluster.create_topic("audit", 1, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let mut sink = KafkaSink::new(config(&bootstrap, "audit"));
    sink.open(None).await.unwrap();
    assert!(sink.pipelined());
    // The pipeline's order: each batch is submitted before the previous one is settled.
    let batches = [events(1, 100), events(101, 250), events(251, 300)];
    let (one, two) = (sink.submit(&batches[0]).await, sink.submit(&batches[1]).await);
    assert!(one.went_whole() && two.went_whole());
    sink.settle(&one, &batches[0]).await.unwrap();
    let three = sink.submit(&batches[2]).await;
    assert!(three.went_whole());
    sink.settle(&two, &batches[1]).await.unwrap();
    sink.settle(&three, &batches[2]).await.unwrap();
    assert!(sink.inflight.is_empty(), "nothing left in flight after the last batch");
    let read = read_all(&bootstrap, "audit");
    let in_partition_order: Vec<u64> = read.iter().map(|r| r.headers["auditbridge-seq"].parse().unwrap()).collect();
    assert_eq!(in_partition_order, (1..=300).collect::<Vec<_>>(), "each record once, in spool order");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_sasl_settings_reach_librdkafka() {
    let cluster = mock(1);
    let bootstrap = cluster.bootstrap_servers();
    // SASL/SCRAM over TLS: librdkafka is built with both (vendored OpenSSL), so the
    // producer is created; the settings are the ones asked for.
    let mut c = config(&bootstrap, "audit");
    c.tls = Some(KafkaTlsConfig { verify_hostname: false, ..Default::default() });
    c.sasl = Some(KafkaSaslConfig {
        mechanism: SaslMechanism::ScramSha512,
        username: "bridge".into(),
        password: crate::Secret::resolve("pw").unwrap(),
    });
    let p = c.producer();
    assert_eq!(p.get("security.protocol"), Some("sasl_ssl"));
    assert_eq!(p.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
    assert_eq!(p.get("ssl.ca.location"), Some("probe"));
    assert_eq!(p.get("ssl.endpoint.identification.algorithm"), Some("none"));
    let mut sink = KafkaSink::new(c);
    sink.open(None).await.expect("a SASL_SSL + SCRAM-SHA-512 producer can be created");

    // A CA file that does not exist is refused by librdkafka when the producer is made.
    let mut c = config(&bootstrap, "audit");
    c.tls = Some(KafkaTlsConfig { ca_file: Some("/nonexistent/ca.pem".into()), ..Default::default() });
    let err = KafkaSink::new(c).open(None).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("ssl.ca.location"), "{err}");

    // PLAIN without TLS, against a broker that does not speak SASL: the batch is not
    // acknowledged (a transient failure), never reported delivered.
    let mut c = config(&bootstrap, "audit");
    c.ack_timeout = crate::Duration::from_secs(1);
    c.sasl = Some(KafkaSaslConfig {
        mechanism: SaslMechanism::Plain,
        username: "bridge".into(),
        password: crate::Secret::resolve("pw").unwrap(),
    });
    assert_eq!(c.producer().get("security.protocol"), Some("sasl_plaintext"));
    let mut sink = KafkaSink::new(c);
    sink.open(None).await.unwrap();
    let err = sink.deliver(&events(1, 3)).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[test]
fn config_keys_parse_and_refuse_what_they_must() {
    let ok: KafkaSinkConfig = serde_json::from_value(serde_json::json!({
        "brokers": ["k1:9092", "k2:9092"],
        "topic": "netwrix.{DataSource}",
        "format": "cef",
        "cef": {"vendor": "Netwrix"},
        "compression": "zstd",
        "ack_timeout": "45s",
        "librdkafka": {"linger.ms": 20, "socket.keepalive.enable": true, "client.rack": "r1"}
    }))
    .unwrap();
    assert!(matches!(ok.encoder, Encoder::Cef(_)));
    let p = ok.producer();
    assert_eq!(p.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
    assert_eq!(p.get("compression.type"), Some("zstd"));
    assert_eq!(p.get("linger.ms"), Some("20"));
    assert_eq!(p.get("socket.keepalive.enable"), Some("true"));
    assert_eq!(p.get("enable.idempotence"), Some("true"));
    assert_eq!(p.get("acks"), Some("all"));
    assert_eq!(p.get("security.protocol"), Some("plaintext"));
    assert_eq!(ok.ack_timeout.0, Duration::from_secs(45));

    let bad = [
        (serde_json::json!({"brokers": ["k:1"], "topic": "t", "librdkafka": {"acks": "1"}}), "\"acks\" cannot be set"),
        (
            serde_json::json!({"brokers": ["k:1"], "topic": "t", "librdkafka": {"enable.idempotence": false}}),
            "always produces idempotently",
        ),
        (serde_json::json!({"brokers": ["k:1"], "topic": "t", "format": "leef", "cef": {}}), "[sink.cef]"),
        (serde_json::json!({"brokers": [], "topic": "t"}), "at least one broker"),
        (serde_json::json!({"brokers": ["k:1"], "topic": "a b"}), "not allowed"),
        (serde_json::json!({"brokers": ["k:1"], "topic": "t", "colour": 1}), "unknown field `colour`"),
        (serde_json::json!({"brokers": ["k:1"], "topic": "t", "compression": "brotli"}), "unknown variant"),
        (
            serde_json::json!({"brokers": ["k:1"], "topic": "t", "librdkafka": {"no.such.property": "s3cret"}}),
            "librdkafka refused property \"no.such.property\": No such configuration property",
        ),
        (
            serde_json::json!({"brokers": ["k:1"], "topic": "t", "librdkafka": {"linger.ms": "soon"}}),
            "librdkafka refused property \"linger.ms\"",
        ),
    ];
    for (value, want) in bad {
        let err = serde_json::from_value::<KafkaSinkConfig>(value.clone()).unwrap_err().to_string();
        assert!(err.contains(want), "{value}: {err}");
        assert!(!err.contains("s3cret"), "a refused value is never shown: {err}");
    }
    // Pass-through values are secrets: printing the config does not show them.
    std::env::set_var("AUDITBRIDGE_KAFKA_TEST_SECRET", "hunter2");
    let c: KafkaSinkConfig = serde_json::from_value(serde_json::json!({
        "brokers": ["k:1"], "topic": "t",
        "librdkafka": {"ssl.keystore.password": "${AUDITBRIDGE_KAFKA_TEST_SECRET}"}
    }))
    .unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(c.producer().get("ssl.keystore.password"), Some("hunter2"));
}
