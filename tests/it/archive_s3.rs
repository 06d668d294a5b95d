//! The archive sink's WORM upload against a real S3-compatible server with Object Lock:
//! moto_server (PyPI `moto[server]`, installed by scripts/peers/moto.sh), started here.
//! Exported while being SIGKILLed during uploads, every segment and digest ends up in the
//! bucket once, locked (COMPLIANCE, a year out), byte for byte as on disk; a copy of the
//! bucket verifies and holds every record once; the server refuses to delete a locked
//! version, and a second write to a key never replaces what was archived.

use crate::harness::*;
use rand::{Rng, SeedableRng};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const RECORDS: usize = 40_000;
const BUCKET: &str = "auditbridge-archive";
const PREFIX: &str = "corp/";
const SIGNED: Duration = Duration::from_secs(600);

/// moto_server on a free port, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_moto() -> Moto {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers/venv/bin/moto_server");
    assert!(
        binary.exists(),
        "moto_server is missing at {}: install the test peer with scripts/peers/moto.sh (moto[server]==5.2.5 into .peers/venv)",
        binary.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, port };
    let url = format!("http://127.0.0.1:{port}/moto-api/");
    wait_for("moto_server answers", Duration::from_secs(60), || async { http_get(&url).await.ok() }).await;
    moto
}

/// A signed S3 client for the checks (rusty-s3 + reqwest, as the sink).
struct S3 {
    http: reqwest::Client,
    bucket: Bucket,
    creds: Credentials,
}

impl S3 {
    fn new(port: u16) -> S3 {
        let endpoint = format!("http://127.0.0.1:{port}").parse().unwrap();
        S3 {
            http: http(),
            bucket: Bucket::new(endpoint, UrlStyle::Path, BUCKET, "us-east-1").unwrap(),
            creds: Credentials::new("AKIDTEST", "test-secret"),
        }
    }

    async fn create_locked_bucket(&self) {
        let mut action = rusty_s3::actions::CreateBucket::new(&self.bucket, &self.creds);
        action.headers_mut().insert("x-amz-bucket-object-lock-enabled", "true");
        let r = self
            .http
            .put(action.sign(SIGNED))
            .header("x-amz-bucket-object-lock-enabled", "true")
            .body(Vec::new())
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.text().await.unwrap());
    }

    async fn keys(&self) -> Vec<String> {
        let mut action = rusty_s3::actions::GetObject::new(&self.bucket, Some(&self.creds), "");
        action.query_mut().insert("list-type", "2");
        action.query_mut().insert("prefix", PREFIX);
        let url = action.sign(SIGNED).to_string().replacen(&format!("/{BUCKET}/?"), &format!("/{BUCKET}?"), 1);
        let text = self.http.get(url).send().await.unwrap().text().await.unwrap();
        assert!(!text.contains("<IsTruncated>true"), "one page is enough");
        let mut keys: Vec<String> =
            text.split("<Key>").skip(1).filter_map(|s| s.split("</Key>").next()).map(str::to_owned).collect();
        keys.sort();
        keys
    }

    async fn head(&self, key: &str) -> reqwest::Response {
        let url = rusty_s3::actions::HeadObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED);
        self.http.head(url).send().await.unwrap()
    }

    async fn get(&self, key: &str, version: Option<&str>) -> (u16, Vec<u8>) {
        let mut action = rusty_s3::actions::GetObject::new(&self.bucket, Some(&self.creds), key);
        if let Some(v) = version {
            action.query_mut().insert("versionId", v);
        }
        let r = self.http.get(action.sign(SIGNED)).send().await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    async fn delete_version(&self, key: &str, version: &str) -> u16 {
        let mut action = rusty_s3::actions::DeleteObject::new(&self.bucket, Some(&self.creds), key);
        action.query_mut().insert("versionId", version);
        self.http.delete(action.sign(SIGNED)).send().await.unwrap().status().as_u16()
    }

    async fn put(&self, key: &str, body: &'static [u8], if_none_match: bool) -> u16 {
        let mut action = rusty_s3::actions::PutObject::new(&self.bucket, Some(&self.creds), key);
        if if_none_match {
            action.headers_mut().insert("if-none-match", "*");
        }
        let mut request = self.http.put(action.sign(SIGNED)).body(body);
        if if_none_match {
            request = request.header("if-none-match", "*");
        }
        request.send().await.unwrap().status().as_u16()
    }
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_every_closed_file_once_locked_across_sigkills() {
    let moto = start_moto().await;
    let s3 = S3::new(moto.port);
    s3.create_locked_bucket().await;
    let (_emu, running) = emulator(RECORDS).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("archive");
    let keygen = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["archive", "keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let out = dir.path().join("archive-out");
    let sink = format!(
        r#"[[sink]]
name = "archive"
type = "archive"
path = "{}"
signing_key = "${{file:{}.key}}"
batch_records = 500
segment_bytes = 150000
[sink.s3]
endpoint = "http://127.0.0.1:{}"
region = "us-east-1"
bucket = "{BUCKET}"
prefix = "{PREFIX}"
access_key_id = "AKIDTEST"
secret_access_key = "${{file:{}}}"
retention = "365d"
mode = "compliance"
"#,
        out.display(),
        key.display(),
        moto.port,
        dir.path().join("s3-secret").display()
    );
    std::fs::write(dir.path().join("s3-secret"), "test-secret\n").unwrap();
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &sink));

    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id().into());
    for kill in 0..3 {
        let mut child = spawn_run(&config, false);
        // Kill while uploads are going on: once this run has uploaded something.
        let before = uploaded(&out);
        wait_until("this run uploaded 3 files", Duration::from_secs(180), || uploaded(&out) >= before + 3).await;
        // The instant of the kill is random: that is what is tested, not a wait.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        child.kill().expect("SIGKILL");
        tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
        eprintln!("kill {}: {} files uploaded", kill + 1, uploaded(&out));
    }
    let mut last = spawn_run(&config, true);
    let status = tokio::task::spawn_blocking(move || last.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the final run --once exits 0");

    // Every closed file is in the bucket, once, byte for byte, locked a year out.
    let local = local_files(&out);
    let keys = s3.keys().await;
    let expected: Vec<String> = local.iter().map(|rel| format!("{PREFIX}{rel}")).collect();
    assert_eq!(keys, expected, "the bucket holds exactly the closed segments and digests");
    let copy = dir.path().join("bucket-copy");
    let year = chrono::Utc::now() + chrono::Duration::days(364);
    for (rel, k) in local.iter().zip(&keys) {
        let head = s3.head(k).await;
        assert_eq!(head.status().as_u16(), 200, "{k}");
        assert_eq!(header(&head, "x-amz-object-lock-mode"), "COMPLIANCE", "{k}");
        let until = chrono::DateTime::parse_from_rfc3339(header(&head, "x-amz-object-lock-retain-until-date"))
            .unwrap_or_else(|e| panic!("{k}: retain-until-date: {e}"));
        assert!(until > year, "{k} locked until {until}");
        let (code, bytes) = s3.get(k, None).await;
        assert_eq!(code, 200);
        assert!(bytes == std::fs::read(out.join(rel)).unwrap(), "{k}: same bytes as on disk");
        let target = copy.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }

    // The copy of the bucket verifies, and its segments hold every record once.
    let to = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let verify = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["archive", "verify"])
        .arg(&copy)
        .arg("--public-key")
        .arg(format!("{}.pub", key.display()))
        .args(["--to", &to])
        .output()
        .unwrap();
    assert!(verify.status.success(), "verify on the bucket copy:\n{}", String::from_utf8_lossy(&verify.stdout));
    assert!(ids_in_segments(&copy) == expected_ids(RECORDS), "every record once, in order");

    // The server keeps what is locked: no delete of the version, no replacement.
    let victim = keys.iter().find(|k| k.contains("/segments/")).unwrap();
    let version = header(&s3.head(victim).await, "x-amz-version-id").to_owned();
    assert!(!version.is_empty(), "versioned (Object Lock needs versioning)");
    let deleted = s3.delete_version(victim, &version).await;
    assert_eq!(deleted, 403, "deleting a locked version is refused");
    let overwrite = s3.put(victim, b"forged", true).await;
    assert!(!(200..300).contains(&overwrite), "a conditional overwrite is refused (HTTP {overwrite})");
    let (code, bytes) = s3.get(victim, Some(&version)).await;
    assert_eq!(code, 200);
    assert!(
        bytes == std::fs::read(out.join(victim.strip_prefix(PREFIX).unwrap())).unwrap(),
        "the locked version is intact"
    );
}

/// How many files the archive has noted as uploaded.
fn uploaded(out: &Path) -> usize {
    std::fs::read_to_string(out.join("uploaded")).map_or(0, |t| t.lines().count())
}

/// `segments/…` and `digests/…` on disk, sorted.
fn local_files(out: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for sub in ["digests", "segments"] {
        for e in std::fs::read_dir(out.join(sub)).unwrap() {
            v.push(format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()));
        }
    }
    v.sort();
    v
}

fn ids_in_segments(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("segments")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut ids = Vec::new();
    for f in files {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut text).unwrap();
        ids.extend(text.lines().map(|l| l[19..51].to_owned()));
    }
    ids
}
