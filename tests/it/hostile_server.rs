//! A server that misbehaves on purpose, against the real binary: a page of a gigabyte, a
//! value of 300 MB, a continuation mark that never moves, records served again after the
//! bridge pruned them. Each must end in a named error (or, for the last, in nothing
//! delivered twice), with the bridge's peak memory under the documented ceiling.

use crate::harness::{ids_in, wait_until_ok};
use netwrix::{ActivityRecord, Format, Page};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The documented ceiling (README, ARCHITECTURE.md): 64 MiB, plus the page cap.
const CEILING: u64 = (64 << 20) + (32 << 20);

/// What the server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Streams a page of 1 GiB, with no Content-Length, until the client hangs up.
    GigabytePage,
    /// One record with a 300 MB `What`, Content-Length declared.
    HugeField,
    /// One record with a 5 MiB `What`: under the page cap, over the field cap.
    LongField,
    /// Ten new records with every answer, and always the mark it was sent.
    SameMark,
    /// Ten records, then the end; asked again, the same ten under a new mark.
    Reserve,
}

struct Hostile {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn serve(behaviour: Behaviour) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let records = Arc::new(Mutex::new(netwrix::generate::generate_iter(11)));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (count, records) = (count.clone(), records.clone());
            tokio::spawn(async move {
                let _ = answer(stream, behaviour, &count, &records).await;
            });
        }
    });
    Hostile { url, requests }
}

/// Reads one request (head and Content-Length body) and answers it, closing the connection.
async fn answer(
    mut stream: TcpStream,
    behaviour: Behaviour,
    count: &AtomicUsize,
    records: &Mutex<netwrix::generate::Generator>,
) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    while request.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&request[head_end..]).into_owned();
    // The mark sent, as the JSON string literal the client posts; none for the first GET.
    let sent: Option<String> = serde_json::from_str(&body).ok();
    let n = count.fetch_add(1, Ordering::SeqCst);
    let take = |k: usize| -> Vec<ActivityRecord> { records.lock().unwrap().by_ref().take(k).collect() };
    let page = |records: Vec<ActivityRecord>, mark: &str| {
        let mut out = Vec::new();
        Format::Json.encode_page(&Page { records, mark: Some(mark.to_owned()) }, &mut out);
        out
    };
    match behaviour {
        Behaviour::GigabytePage => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n").await?;
            stream.write_all(b"{\"ContinuationMark\":\"m1\",\"ActivityRecordList\":[").await?;
            let mut chunk = Vec::new();
            for (i, record) in take(2_000).iter().enumerate() {
                if i > 0 {
                    chunk.push(b',');
                }
                chunk.extend_from_slice(&serde_json::to_vec(record).unwrap());
            }
            chunk.push(b',');
            let mut sent = 0usize;
            while sent < 1 << 30 {
                // Fails once the client hangs up, which ends the answer.
                stream.write_all(&chunk).await?;
                sent += chunk.len();
            }
            Ok(())
        }
        Behaviour::HugeField | Behaviour::LongField => {
            // Streamed, not built: the test process must stay small, since a child's peak
            // RSS as wait4 reports it starts from its parent's at the spawn.
            let size = if behaviour == Behaviour::HugeField { 300_000_000 } else { 5 << 20 };
            let mut record = take(1).remove(0);
            record.what = "@".into();
            let body = page(vec![record], "m1");
            let at = body.iter().position(|b| *b == b'@').unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len() - 1 + size
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body[..at]).await?;
            let chunk = vec![b'x'; 1 << 20];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                stream.write_all(&chunk[..n]).await?;
                left -= n;
            }
            stream.write_all(&body[at + 1..]).await
        }
        Behaviour::SameMark => respond(&mut stream, &page(take(10), "stuck")).await,
        Behaviour::Reserve => {
            // First run: GET → ten records (m1); m1 → the end (m1). Second run: m1 → the
            // same ten again under m2 (a restored database); m2 → the end.
            let body = match (n, sent.as_deref()) {
                (0, None) => page(netwrix::generate::generate(10, 12), "m1"),
                (_, Some("m1")) if n >= 2 => page(netwrix::generate::generate(10, 12), "m2"),
                (_, Some(mark)) => page(Vec::new(), mark),
                (_, None) => page(Vec::new(), "m1"),
            };
            respond(&mut stream, &body).await
        }
    }
}

async fn respond(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let d = dir.display();
    let text = format!(
        r#"
[state]
path = "{d}/state.db"
[spool]
prune_interval = "100ms"
[retry]
initial_delay = "10ms"
max_delay = "100ms"
give_up_after = "20s"

[[job]]
name = "hostile"
url = "{url}"
format = "json"
user = "u"
password = "p"
timeout = "60s"

[[sink]]
name = "archive"
type = "file"
path = "{d}/out/records.jsonl"
"#
    );
    crate::harness::write_config(dir, &text)
}

/// What one `run --once` did: its exit status, its log, its peak RSS (from `wait4`).
struct Outcome {
    success: bool,
    log: String,
    peak_rss: u64,
}

/// Runs the bridge and reports its exit code and peak RSS (KiB). A small process must
/// start it: a child's `ru_maxrss` starts at the high-water mark of the process it was
/// spawned from, and this test binary (shared by every end-to-end test) runs to gigabytes.
const MEASURE: &str = r#"
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)
print(child.returncode, usage.ru_maxrss)
"#;

/// Runs `auditbridge run --once` to its end (two minutes at most) and measures it.
fn run_once(config: &Path) -> Outcome {
    let log_path = config.with_extension("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new("python3")
        .args(["-c", MEASURE, env!("CARGO_BIN_EXE_auditbridge"), "run", "--once", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("python3 starts (it measures the bridge's peak memory)");
    let ended = wait_until_ok(Duration::from_secs(120), || matches!(child.try_wait(), Ok(Some(_))));
    if !ended {
        let _ = child.kill();
        panic!("run --once did not end within two minutes");
    }
    let mut report = String::new();
    child.stdout.take().expect("piped").read_to_string(&mut report).unwrap();
    let mut fields = report.split_whitespace().map(|f| f.parse::<i64>().unwrap_or(-1));
    let (code, max_rss_kib) = (fields.next().unwrap_or(-1), fields.next().unwrap_or(-1));
    assert!(max_rss_kib >= 0, "the measuring python3 said {report:?}");
    Outcome {
        success: code == 0,
        log: std::fs::read_to_string(&log_path).unwrap(),
        peak_rss: max_rss_kib as u64 * 1024,
    }
}

/// A server of `behaviour`, a bridge configured for it, and one `run --once` against it.
async fn run_against(behaviour: Behaviour) -> (Hostile, tempfile::TempDir, Outcome) {
    let server = serve(behaviour).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &server.url);
    let outcome = tokio::task::spawn_blocking(move || run_once(&config)).await.unwrap();
    (server, dir, outcome)
}

fn job_error(dir: &Path) -> Option<String> {
    let store = state::Store::open(&dir.join("state.db"), Default::default()).unwrap();
    store.jobs().unwrap().into_iter().find(|j| j.name == "hostile").and_then(|j| j.last_error)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gigabyte_page_is_refused_in_bounded_memory() {
    let (server, dir, outcome) = run_against(Behaviour::GigabytePage).await;
    assert!(!outcome.success, "the job must fail: {}", outcome.log);
    assert!(outcome.log.contains("passed the limit of 33554432 bytes (max_page_bytes)"), "{}", outcome.log);
    assert!(outcome.log.contains("job \"hostile\""), "{}", outcome.log);
    assert!(outcome.peak_rss < CEILING, "peak RSS {} MiB", outcome.peak_rss >> 20);
    eprintln!("peak RSS against a 1 GiB page: {} MiB", outcome.peak_rss >> 20);
    let error = job_error(dir.path()).expect("status shows the error");
    assert!(error.contains("raise max_page_bytes"), "{error}");
    assert!(ids_in(&dir.path().join("out/records.jsonl")).is_empty());
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "refused, not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_300_megabyte_value_is_refused_in_bounded_memory_and_a_long_one_by_the_field_cap() {
    let (_server, _dir, outcome) = run_against(Behaviour::HugeField).await;
    assert!(!outcome.success);
    assert!(outcome.log.contains("(max_page_bytes)"), "{}", outcome.log);
    assert!(outcome.peak_rss < CEILING, "peak RSS {} MiB", outcome.peak_rss >> 20);

    let (_server, dir, outcome) = run_against(Behaviour::LongField).await;
    assert!(!outcome.success);
    assert!(
        outcome.log.contains("has a What of 5242880 bytes, over the limit of 4194304 bytes (max_field_bytes)"),
        "{}",
        outcome.log
    );
    assert!(job_error(dir.path()).is_some_and(|e| e.contains("raise max_field_bytes")));
    assert!(ids_in(&dir.path().join("out/records.jsonl")).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mark_that_never_moves_stops_the_job() {
    let (server, dir, outcome) = run_against(Behaviour::SameMark).await;
    assert!(!outcome.success);
    assert!(outcome.log.contains("answered with the continuation mark it was sent"), "{}", outcome.log);
    assert!(job_error(dir.path()).is_some_and(|e| e.contains("not moving forward")));
    // The first page (GET) and the one that came back with its own mark: no loop.
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
    // What the first answer held was spooled under its mark, and delivered once.
    assert_eq!(ids_in(&dir.path().join("out/records.jsonl")).len(), 10);
    assert!(outcome.peak_rss < CEILING, "peak RSS {} MiB", outcome.peak_rss >> 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_served_again_after_pruning_are_not_delivered_twice() {
    let server = serve(Behaviour::Reserve).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &server.url);
    let first = tokio::task::spawn_blocking({
        let config = config.clone();
        move || run_once(&config)
    })
    .await
    .unwrap();
    assert!(first.success, "{}", first.log);
    let out = dir.path().join("out/records.jsonl");
    assert_eq!(ids_in(&out).len(), 10);
    let rows = state::Store::open(&dir.path().join("state.db"), Default::default()).unwrap().spool_rows().unwrap();
    assert_eq!(rows, 0, "the first run pruned what it delivered");

    let second = tokio::task::spawn_blocking(move || run_once(&config)).await.unwrap();
    assert!(second.success, "{}", second.log);
    assert!(server.requests.load(Ordering::SeqCst) >= 4, "the ten were served again");
    assert_eq!(ids_in(&out).len(), 10, "nothing delivered twice");
    assert!(second.log.contains("one this job had already spooled"), "{}", second.log);
    let store = state::Store::open(&dir.path().join("state.db"), Default::default()).unwrap();
    let job = store.jobs().unwrap().into_iter().find(|j| j.name == "hostile").unwrap();
    assert_eq!(job.duplicates_total, 10, "counted in status and /metrics");
}
