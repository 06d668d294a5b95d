//! The Kafka test peer and a reader for what the Kafka sink wrote.
//!
//! [`Tansu`] starts the tansu broker (installed by `scripts/peers/tansu.sh` into
//! `.peers/bin/tansu`) on a free loopback port with in-memory storage and stops it when
//! dropped. [`read_all`] reads a topic back by explicit partition assignment (no
//! consumer group, so no join delay).

#![allow(dead_code)]

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tansu broker, killed on drop.
pub struct Tansu {
    child: Child,
    pub bootstrap: String,
    _log_dir: tempfile::TempDir,
}

impl Tansu {
    /// Starts tansu on a free port and waits until it accepts connections.
    pub fn start() -> Tansu {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".peers/bin/tansu");
        assert!(
            bin.exists(),
            "the Kafka test peer tansu is not installed at {}: run scripts/peers/tansu.sh (or scripts/test.sh)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log_dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(log_dir.path().join("tansu.log")).unwrap();
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let bootstrap = format!("127.0.0.1:{port}");
        crate::harness::wait_until_blocking(&format!("tansu listens on {bootstrap}"), Duration::from_secs(10), || {
            TcpStream::connect(&bootstrap).is_ok()
        });
        Tansu { child, bootstrap, _log_dir: log_dir }
    }

    /// Creates `topic` with `partitions` partitions.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &self.bootstrap).create().unwrap();
        let result = admin
            .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
            .await
            .unwrap();
        for r in result {
            r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
        }
    }

    /// Freezes the broker (SIGSTOP): it keeps its data and its port but answers nothing.
    pub fn freeze(&self) {
        signal(self.child.id(), "-STOP");
    }

    /// Lets a frozen broker run again (SIGCONT).
    pub fn thaw(&self) {
        signal(self.child.id(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill").arg(sig).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message as read back.
#[derive(Debug, Clone)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub value: Vec<u8>,
    pub headers: HashMap<String, String>,
}

impl Read {
    pub fn seq(&self) -> u64 {
        self.headers["auditbridge-seq"].parse().unwrap()
    }
}

/// Every message of `topic` on `bootstrap`, read from the start of every partition to
/// its end.
pub fn read_all(bootstrap: &str, topic: &str) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "auditbridge-test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let meta = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let parts = meta.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len()) as i32;
    assert!(parts > 0, "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        let (low, _) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).unwrap();
        assert_eq!(low, 0, "the broker dropped the start of {topic}/{p}: the read-back would be incomplete");
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let (mut eof, mut out) = (std::collections::HashSet::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    while eof.len() < parts as usize {
        assert!(Instant::now() < deadline, "reading {topic} back took more than 120 s");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Read {
                partition: m.partition(),
                offset: m.offset(),
                key: String::from_utf8(m.key().expect("a key").to_vec()).unwrap(),
                value: m.payload().unwrap_or_default().to_vec(),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), String::from_utf8_lossy(h.value.unwrap_or_default()).into()))
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic} back: {e}"),
            None => {}
        }
    }
    out
}

/// A `[[sink]]` table for a Kafka sink named `kafka`.
pub fn kafka_sink(bootstrap: &str, topic: &str, extra: &str) -> String {
    format!("[[sink]]\nname = \"kafka\"\ntype = \"kafka\"\nbrokers = [\"{bootstrap}\"]\ntopic = \"{topic}\"\n{extra}\n")
}
