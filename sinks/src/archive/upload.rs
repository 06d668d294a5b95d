//! WORM upload: closed segments and digests go, once each, to an S3-compatible bucket
//! with Object Lock retention and a SHA-256 checksum the server checks.
//!
//! Requests are signed with SigV4 by `rusty-s3` (a small sans-IO crate: it only builds
//! presigned URLs) and sent with the `reqwest` client the project already has; see
//! docs/archive.md for why not the AWS SDK. A key is never overwritten: each upload asks
//! first (HEAD), and sends `If-None-Match: *`; an object already there with the same MD5
//! (its ETag) counts as uploaded (a crash after the PUT, before the ledger), a different
//! one stops the sink (`Fatal`). What went up is noted in the archive's `uploaded` ledger
//! (one relative path a line, fsynced) only after the server acknowledged it.

use crate::{Duration, Secret, SinkError};
use base64::Engine as _;
use md5::Md5;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

/// `[sink.s3]` of an archive sink: where closed files are uploaded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The service's base URL: `https://s3.eu-west-1.amazonaws.com`, or a MinIO/Ceph one.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// Prepended to every key (`auditbridge/corp/` → `auditbridge/corp/segments/…`).
    #[serde(default)]
    pub prefix: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    #[serde(default)]
    pub session_token: Option<Secret>,
    /// How long each object is locked from its upload: `"365d"`, `"7y"`.
    pub retention: Duration,
    /// `compliance` (nobody, not even the root account, can shorten it) or `governance`
    /// (users with s3:BypassGovernanceRetention can).
    #[serde(default)]
    pub mode: LockMode,
    /// `https://endpoint/bucket/key` (default, what MinIO and most S3-compatible stores
    /// want) rather than `https://bucket.endpoint/key`.
    #[serde(default = "default_true")]
    pub path_style: bool,
    /// Whole-request timeout of each upload.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(120)
}

/// The Object Lock retention mode.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    #[default]
    Compliance,
    Governance,
}

impl LockMode {
    fn header(self) -> &'static str {
        match self {
            LockMode::Compliance => "COMPLIANCE",
            LockMode::Governance => "GOVERNANCE",
        }
    }
}

/// Presigned URLs live this long: long enough for a slow upload to start.
const SIGNED_FOR: std::time::Duration = std::time::Duration::from_secs(900);

/// Uploads an archive directory's closed files; see the [module documentation](self).
#[derive(Debug)]
pub(crate) struct Uploader {
    config: S3Config,
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
    dir: PathBuf,
    /// The ledger's entries; the lock also keeps two uploads (deliver, timer) apart.
    done: tokio::sync::Mutex<HashSet<String>>,
    /// The newest digest number known uploaded with everything before it.
    uploaded_head: AtomicU64,
    /// The last pass failed (or none ran yet): the next call looks again.
    failed: AtomicBool,
}

impl Uploader {
    pub fn new(config: &S3Config, dir: &Path) -> Result<Self, SinkError> {
        let fatal = |what: String| SinkError::fatal(format!("archive sink s3: {what}"));
        let endpoint = config.endpoint.parse().map_err(|e| fatal(format!("endpoint {:?}: {e}", config.endpoint)))?;
        let style = if config.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(endpoint, style, config.bucket.clone(), config.region.clone())
            .map_err(|e| fatal(format!("bucket {:?}: {e}", config.bucket)))?;
        let key = config.access_key_id.expose().to_owned();
        let secret = config.secret_access_key.expose().to_owned();
        let credentials = match &config.session_token {
            Some(token) => Credentials::new_with_token(key, secret, token.expose().to_owned()),
            None => Credentials::new(key, secret),
        };
        let tls = if config.endpoint.starts_with("https:") {
            netwrix::client::trust::tls_config(&netwrix::client::trust::Trust::System)
        } else {
            netwrix::client::trust::tls_config_refusing_all()
        }
        .map_err(|e| fatal(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .timeout(config.timeout.0)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("auditbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fatal(format!("cannot build the HTTP client: {e}")))?;
        let done = match std::fs::read_to_string(dir.join("uploaded")) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(fatal(format!("reading {}: {e}", dir.join("uploaded").display()))),
        };
        Ok(Self {
            config: config.clone(),
            bucket,
            credentials,
            http,
            dir: dir.to_path_buf(),
            done: done.into(),
            uploaded_head: AtomicU64::new(0),
            failed: AtomicBool::new(true),
        })
    }

    /// Uploads what is pending when the chain has grown past `head` since the last pass
    /// that succeeded, or that pass failed: listing the directories for every batch
    /// would cost more than the batch. A file is always closed before the digest that
    /// raises `head`, so a pass after reading `head` sees every file it vouches for.
    pub async fn upload_after(&self, head: u64) -> Result<usize, SinkError> {
        if head <= self.uploaded_head.load(SeqCst) && !self.failed.load(SeqCst) {
            return Ok(0);
        }
        match self.upload_pending().await {
            Ok(n) => {
                self.failed.store(false, SeqCst);
                self.uploaded_head.fetch_max(head, SeqCst);
                Ok(n)
            }
            Err(e) => {
                self.failed.store(true, SeqCst);
                Err(e)
            }
        }
    }

    /// Uploads every closed segment and digest not in the ledger: segments first, in
    /// seq order, then digests, in chain order, so a digest never arrives before what it
    /// lists. Returns how many went up.
    pub async fn upload_pending(&self) -> Result<usize, SinkError> {
        let mut done = self.done.lock().await;
        let mut count = 0;
        for sub in ["segments", "digests"] {
            for name in list(&self.dir.join(sub))? {
                let rel = format!("{sub}/{name}");
                if done.contains(&rel) {
                    continue;
                }
                let path = self.dir.join(&rel);
                let bytes = tokio::fs::read(&path).await.map_err(|e| {
                    SinkError::transient(format!("archive sink s3: reading {}", path.display())).caused_by(e)
                })?;
                self.upload_one(&rel, bytes).await?;
                self.note(&rel)?;
                done.insert(rel);
                count += 1;
            }
        }
        Ok(count)
    }

    /// Whether the bucket answers with our credentials (`validate --check`).
    pub async fn check(&self) -> Result<String, SinkError> {
        let url = rusty_s3::actions::HeadBucket::new(&self.bucket, Some(&self.credentials)).sign(SIGNED_FOR);
        let response = self.http.head(url).send().await.map_err(|e| transient("HEAD bucket", e))?;
        match response.status().as_u16() {
            200 => Ok(format!("bucket {} answers", self.config.bucket)),
            code => Err(SinkError::fatal(format!("archive sink s3: HEAD bucket {}: HTTP {code}", self.config.bucket))),
        }
    }

    async fn upload_one(&self, rel: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        let key = format!("{}{rel}", self.config.prefix);
        let md5 = Md5::digest(&bytes);
        if self.already_there(&key, &md5).await? {
            return Ok(());
        }
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let until = chrono::Utc::now()
            + chrono::Duration::from_std(self.config.retention.0).unwrap_or(chrono::Duration::days(36_500));
        let headers = [
            ("content-md5", b64(&md5)),
            ("if-none-match", "*".to_owned()),
            ("x-amz-checksum-sha256", b64(&Sha256::digest(&bytes))),
            ("x-amz-object-lock-mode", self.config.mode.header().to_owned()),
            ("x-amz-object-lock-retain-until-date", until.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ("x-amz-sdk-checksum-algorithm", "SHA256".to_owned()),
        ];
        let mut action = rusty_s3::actions::PutObject::new(&self.bucket, Some(&self.credentials), &key);
        for (name, value) in &headers {
            action.headers_mut().insert(*name, value.clone());
        }
        let mut request = self.http.put(action.sign(SIGNED_FOR)).body(bytes);
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| transient(&format!("PUT {key}"), e))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            412 if self.already_there(&key, &md5).await? => Ok(()),
            412 => Err(self.taken(&key)),
            429 | 500..=599 => Err(SinkError::transient(format!("archive sink s3: PUT {key}: HTTP {status}"))),
            _ => {
                let body = response.text().await.unwrap_or_default();
                Err(SinkError::fatal(format!("archive sink s3: PUT {key}: HTTP {status}: {}", body.trim())))
            }
        }
    }

    /// Whether `key` exists with these bytes (its ETag is their MD5); an object there
    /// with other bytes is `Fatal`: we never overwrite.
    async fn already_there(&self, key: &str, md5: &[u8]) -> Result<bool, SinkError> {
        let url = rusty_s3::actions::HeadObject::new(&self.bucket, Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.http.head(url).send().await.map_err(|e| transient(&format!("HEAD {key}"), e))?;
        match response.status().as_u16() {
            404 => Ok(false),
            200 => {
                let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("");
                if etag.trim_matches('"') == hex::encode(md5) {
                    Ok(true)
                } else {
                    Err(self.taken(key))
                }
            }
            code @ (429 | 500..=599) => Err(SinkError::transient(format!("archive sink s3: HEAD {key}: HTTP {code}"))),
            code => Err(SinkError::fatal(format!("archive sink s3: HEAD {key}: HTTP {code}"))),
        }
    }

    fn taken(&self, key: &str) -> SinkError {
        SinkError::fatal(format!(
            "archive sink s3: bucket {} already holds other bytes at {key}; an archive never overwrites a key (two archives sharing a prefix?)",
            self.config.bucket
        ))
    }

    /// Adds `rel` to the ledger, durably.
    fn note(&self, rel: &str) -> Result<(), SinkError> {
        let path = self.dir.join("uploaded");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| SinkError::transient(format!("archive sink s3: {}", path.display())).caused_by(e))?;
        f.write_all(format!("{rel}\n").as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| SinkError::transient(format!("archive sink s3: {}", path.display())).caused_by(e))
    }
}

fn transient(doing: &str, e: reqwest::Error) -> SinkError {
    SinkError::transient(format!("archive sink s3: {doing}")).caused_by(e)
}

/// The closed files in `dir`, sorted (segment names sort by seq, digests by number).
fn list(dir: &Path) -> Result<Vec<String>, SinkError> {
    let err =
        |e: std::io::Error| SinkError::transient(format!("archive sink s3: listing {}", dir.display())).caused_by(e);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        if let Some(name) = entry.map_err(err)?.file_name().to_str() {
            if !name.starts_with('.') {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}
