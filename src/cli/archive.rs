//! `auditbridge archive keygen` and `auditbridge archive verify`: the key pair that signs
//! an archive sink's digests, and the offline check an auditor runs on the archive (or on
//! a copy of its bucket). See docs/archive.md.

use anyhow::Context;
use sinks::archive::{verify, PublicKey, SigningKey};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `auditbridge archive`.
#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    pub command: ArchiveCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Write a new Ed25519 key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Check an archive offline: every digest signed by the key and chained, every
    /// segment present, listed and unchanged, seqs without gaps. Exit 0 when intact.
    Verify {
        /// The archive sink's `path` (or a copy of its bucket prefix).
        dir: PathBuf,
        /// The public key (PREFIX.pub from `archive keygen`).
        #[arg(long)]
        public_key: PathBuf,
        /// Judge only digests written at or after this time (RFC 3339).
        #[arg(long, value_parser = parse_time)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Judge only digests written up to this time, and expect digests up to it: a
        /// last digest older than the digest interval means the tail was cut off.
        #[arg(long, value_parser = parse_time)]
        to: Option<chrono::DateTime<chrono::Utc>>,
    },
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2026-12-06T02:00:00Z ({e})"))
}

pub fn archive(args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ArchiveCommand::Keygen { out } => keygen(&out),
        ArchiveCommand::Verify { dir, public_key, from, to } => run_verify(&dir, &public_key, from, to),
    }
}

fn keygen(prefix: &Path) -> anyhow::Result<ExitCode> {
    let key = SigningKey::generate()?;
    let secret = with_suffix(prefix, "key");
    let public = with_suffix(prefix, "pub");
    write_new(&secret, key.to_text().as_bytes(), 0o600)?;
    write_new(&public, key.public().to_text().as_bytes(), 0o644)?;
    println!("wrote {} (secret, mode 0600) and {} (key id {})", secret.display(), public.display(), key.public().id());
    println!("sign with:   signing_key = \"${{file:{}}}\"", secret.display());
    println!("verify with: auditbridge archive verify DIR --public-key {}", public.display());
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Creates `path` with `mode`, refusing to replace an existing key.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {} (an existing key is never replaced)", path.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", path.display()))
}

fn run_verify(
    dir: &Path,
    public_key: &Path,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(public_key).with_context(|| format!("reading {}", public_key.display()))?;
    let key = PublicKey::parse(&text).with_context(|| format!("reading {}", public_key.display()))?;
    let report = verify::verify(dir, &key, verify::Window { from, to })?;
    for finding in &report.findings {
        println!("{finding}");
    }
    let seqs = report.seqs.map_or("none".to_owned(), |(a, b)| format!("{a}..{b}"));
    let times = report.times.as_ref().map_or("none".to_owned(), |(a, b)| format!("{a} .. {b}"));
    let summary = format!(
        "{} digests ({times}), {} segments, {} records, seqs {seqs}, key {}",
        report.digests,
        report.segments,
        report.records,
        key.id()
    );
    if report.findings.is_empty() {
        println!("intact: {summary}");
        if to.is_none() {
            println!("(no --to given: a cut-off tail cannot be judged; pass the time the copy was taken)");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        println!("NOT INTACT: {} finding(s); {summary}", report.findings.len());
        Ok(ExitCode::FAILURE)
    }
}
