//! The blocking half of the archive sink: appending, closing segments, writing digests
//! and recovering, with std::fs.
//!
//! Closed segments and digests are never undone: they may already be uploaded to WORM
//! storage, and they hold only records the pipeline handed over whole. So recovery rolls
//! *forward*: a segment closed after the last acknowledgement stays, and records the
//! pipeline delivers again that it already holds (`seq` at or below the highest archived)
//! are dropped, which keeps every record in the archive exactly once. Only the open
//! segment is cut back, to the acknowledged length (see [`Committed`](super::committed)).
//!
//! A close is three steps, each of which may be the last before a crash: rename
//! `active.<n>.jsonl.gz` into `segments/` under its final name, write the digest, start
//! segment `n + 1`. Opening finds any closed segment no digest covers and writes the
//! digest for it, so a crash between the steps leaves nothing unvouched.

use super::committed::Committed;
use super::config::ArchiveConfig;
use super::digest::{self, Body, SegmentEntry};
use super::segment::{self, Member};
#[cfg(test)]
use crate::Event;
use crate::SinkError;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

fn io_error(doing: &str, path: &Path, e: std::io::Error) -> SinkError {
    crate::file::error::io_error_of("archive sink", doing, path, e)
}

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// The segment being written.
#[derive(Debug)]
struct Active {
    index: u64,
    path: PathBuf,
    file: File,
    len: u64,
    members: Vec<Member>,
    /// SHA-256 of the file's bytes so far.
    sha: Sha256,
}

/// The last digest written: what the next one links to.
#[derive(Debug, Clone)]
struct Head {
    number: u64,
    link: digest::Previous,
    time: DateTime<Utc>,
    archived_through: Option<u64>,
}

/// An open archive; see the [module documentation](self).
#[derive(Debug)]
pub(crate) struct Writer {
    config: ArchiveConfig,
    segments: PathBuf,
    digests: PathBuf,
    active: Option<Active>,
    next_index: u64,
    /// The highest seq in the archive (closed segments and the open one).
    archived_max: Option<u64>,
    head: Option<Head>,
    /// Closed segments not yet in a digest.
    pending: Vec<SegmentEntry>,
    /// A step failed part way: reload from disk before the next one.
    dirty: bool,
}

impl Writer {
    /// Opens the archive in `config.path`, rolling forward from a crash (see the module
    /// documentation). `committed` is the value stored beside the cursor; `None` for a
    /// new sink, which refuses a directory that already holds segments.
    pub fn open(config: &ArchiveConfig, committed: Option<Committed>, now: DateTime<Utc>) -> Result<Self, SinkError> {
        let segments = config.path.join("segments");
        let digests = config.path.join("digests");
        for dir in [&config.path, &segments, &digests] {
            make_dir(dir)?;
        }
        let mut w = Writer {
            config: config.clone(),
            segments,
            digests,
            active: None,
            next_index: 1,
            archived_max: None,
            head: None,
            pending: Vec::new(),
            dirty: true,
        };
        w.load(committed, now)?;
        Ok(w)
    }

    /// The value to store beside the cursor for what is on disk now.
    pub fn position(&self) -> Committed {
        match &self.active {
            Some(a) => Committed { index: a.index, len: a.len },
            None => Committed { index: self.next_index, len: 0 },
        }
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The number of the newest digest (0 before the first): it grows whenever a file is
    /// closed, so the uploader knows when to look for new ones.
    pub fn head_number(&self) -> u64 {
        self.head.as_ref().map_or(0, |h| h.number)
    }

    /// The highest seq the archive holds: a batch is cut to the events after it.
    pub fn archived_max(&self) -> Option<u64> {
        self.archived_max
    }

    /// Appends the events of `batch` the archive does not hold yet as one gzip member,
    /// then closes the segment if it is full or old. Returns the value to acknowledge.
    /// (The sink encodes off the lock and calls [`write_member`](Self::write_member).)
    #[cfg(test)]
    pub fn write_events(&mut self, batch: &[Event], now: DateTime<Utc>) -> Result<Committed, SinkError> {
        let skip = batch.iter().take_while(|e| self.archived_max.is_some_and(|m| e.seq <= m)).count();
        let fresh = &batch[skip..];
        if fresh.is_empty() {
            return self.write_member(None, now);
        }
        let mut buf = Vec::new();
        let member = segment::encode_member(fresh, now, &mut Vec::new(), &mut buf);
        self.write_member(Some((&buf, member)), now)
    }

    /// Appends one encoded member (made by [`segment::encode_member`] from events after
    /// [`archived_max`](Self::archived_max)), then closes the segment if it is full or
    /// old. Returns the value to acknowledge.
    pub fn write_member(
        &mut self,
        member: Option<(&[u8], Member)>,
        now: DateTime<Utc>,
    ) -> Result<Committed, SinkError> {
        if self.dirty {
            self.load(Some(self.position()), now)?;
        }
        if let Some((bytes, member)) = member {
            if self.archived_max.is_some_and(|m| member.first_seq <= m) {
                if self.archived_max.is_some_and(|m| member.last_seq > m) {
                    return Err(SinkError::transient("archive sink: batch overlaps the archive's end; retrying"));
                }
            } else {
                self.dirty = true;
                self.append(bytes, member)?;
                self.dirty = false;
            }
        }
        self.tick(now)?;
        Ok(self.position())
    }

    /// Closes the open segment if it is full or old, and writes a digest if one is due:
    /// called after each batch and by the sink's timer.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Result<(), SinkError> {
        if self.dirty {
            self.load(Some(self.position()), now)?;
        }
        self.dirty = true;
        let due_close = self.active.as_ref().is_some_and(|a| {
            a.len >= self.config.segment_bytes
                || a.members.first().is_some_and(|m| elapsed(m.time, now) >= self.config.segment_interval.0)
        });
        if due_close {
            self.close_active(now)?;
        } else if self.head.as_ref().is_none_or(|h| elapsed(h.time, now) >= self.config.digest_interval.0) {
            self.write_digest(now)?;
        }
        self.dirty = false;
        Ok(())
    }

    /// At shutdown: closes the open segment, so everything archived is vouched for by
    /// a digest while the bridge is stopped.
    pub fn close(mut self, now: DateTime<Utc>) -> Result<(), SinkError> {
        if self.dirty {
            self.load(Some(self.position()), now)?;
        }
        self.close_active(now)
    }

    fn append(&mut self, bytes: &[u8], mut member: Member) -> Result<(), SinkError> {
        if self.active.is_none() {
            let index = self.next_index;
            let path = self.active_path(index);
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .truncate(false)
                .mode(FILE_MODE)
                .open(&path)
                .map_err(|e| io_error("creating", &path, e))?;
            file.set_len(0).map_err(|e| io_error("emptying", &path, e))?;
            self.sync_dir(&self.config.path)?;
            self.active = Some(Active { index, path, file, len: 0, members: Vec::new(), sha: Sha256::new() });
        }
        let a = self.active.as_mut().ok_or_else(|| SinkError::transient("archive: no open segment"))?;
        member.offset = a.len;
        a.file.write_all(bytes).map_err(|e| io_error("writing", &a.path, e))?;
        if self.config.fsync {
            a.file.sync_data().map_err(|e| io_error("syncing", &a.path, e))?;
        }
        a.sha.update(bytes);
        a.len += member.bytes;
        self.archived_max = Some(member.last_seq);
        a.members.push(member);
        Ok(())
    }

    /// Moves the open segment into `segments/` under its final name and writes the
    /// digest that covers it.
    fn close_active(&mut self, now: DateTime<Utc>) -> Result<(), SinkError> {
        let Some(a) = self.active.take() else { return Ok(()) };
        let (first, last) = (a.members.first(), a.members.last());
        let (Some(first), Some(last)) = (first, last) else {
            self.active = Some(a);
            return Ok(());
        };
        let job = segment::job_label(a.members.iter().map(|m| m.job.as_str()));
        let name = segment::segment_name(&job, first.first_seq, last.last_seq, first.time, now);
        let target = self.segments.join(&name);
        if target.symlink_metadata().is_ok() {
            let msg = format!("archive: {} already exists; refusing to overwrite it", target.display());
            self.active = Some(a);
            return Err(SinkError::fatal(msg));
        }
        if self.config.fsync {
            a.file.sync_all().map_err(|e| io_error("syncing", &a.path, e))?;
        }
        std::fs::rename(&a.path, &target).map_err(|e| io_error("closing", &a.path, e))?;
        self.sync_dir(&self.segments)?;
        self.sync_dir(&self.config.path)?;
        let entry = SegmentEntry {
            sha256: hex::encode(a.sha.clone().finalize()),
            ..SegmentEntry::new(name, &[], &a.members, now)
        };
        self.pending.push(SegmentEntry { bytes: a.len, ..entry });
        self.next_index = a.index + 1;
        self.write_digest(now)
    }

    /// Writes the next digest, covering the pending segments, and makes it the head.
    fn write_digest(&mut self, now: DateTime<Utc>) -> Result<(), SinkError> {
        let number = self.head.as_ref().map_or(1, |h| h.number + 1);
        let segments = std::mem::take(&mut self.pending);
        let archived_through =
            segments.last().map(|s| s.last_seq).or_else(|| self.head.as_ref().and_then(|h| h.archived_through));
        let body = Body {
            format: digest::FORMAT.into(),
            number,
            time: digest::rfc3339(now),
            interval_secs: self.config.digest_interval.0.as_secs(),
            dense: self.config.dense,
            previous: self.head.as_ref().map(|h| h.link.clone()),
            records: segments.iter().map(|s| s.records).sum(),
            bytes: segments.iter().map(|s| s.bytes).sum(),
            first_seq: segments.first().map(|s| s.first_seq),
            last_seq: segments.last().map(|s| s.last_seq),
            archived_through_seq: archived_through,
            segments,
        };
        let name = digest::digest_name(number, now);
        let signed = digest::sign(&body, &name, &self.config.signing_key);
        let path = self.digests.join(&name);
        let tmp = self.digests.join(format!(".{name}.tmp"));
        write_file(&tmp, &signed.bytes, self.config.fsync)?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error("writing", &path, e))?;
        self.sync_dir(&self.digests)?;
        self.head = Some(Head { number, link: signed.link, time: now, archived_through });
        Ok(())
    }

    /// Reads the archive's state from disk: the chain's head, closed segments no digest
    /// covers yet (given a digest now), and the open segment cut to `committed`.
    fn load(&mut self, committed: Option<Committed>, now: DateTime<Utc>) -> Result<(), SinkError> {
        self.dirty = true;
        self.active = None;
        self.pending.clear();
        self.head = self.read_head()?;
        let through = self.head.as_ref().and_then(|h| h.archived_through);
        let mut closed: Vec<(u64, String)> = Vec::new();
        for name in list(&self.segments)? {
            if let Some((first, last)) = segment::seqs_of_name(&name) {
                self.archived_max = self.archived_max.max(Some(last));
                if through.is_none_or(|t| first > t) {
                    closed.push((first, name));
                }
            }
        }
        closed.sort();
        if committed.is_none() && (through.is_some() || !closed.is_empty()) {
            return Err(SinkError::fatal(format!(
                "archive: {} already holds an archive and this sink has no state; point a new archive at an empty directory",
                self.config.path.display()
            )));
        }
        for (_, name) in closed {
            let path = self.segments.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| io_error("reading", &path, e))?;
            let members = segment::scan(&bytes, None)
                .map_err(|e| SinkError::fatal(format!("archive: closed segment {}", path.display())).caused_by(e))?;
            let closed_at = name.rsplit('.').nth(2).and_then(|t| t.split('-').nth(1)).and_then(segment::parse_stamp);
            warn!(segment = %name, "a segment closed before a crash has no digest yet; writing it");
            self.pending.push(SegmentEntry::new(name, &bytes, &members, closed_at.unwrap_or(now)));
        }
        self.archived_max = self.archived_max.max(through);
        let committed = committed.unwrap_or(Committed { index: 1, len: 0 });
        self.next_index = committed.index;
        for name in list(&self.config.path)? {
            let Some(index) = name.strip_prefix("active.").and_then(|r| r.strip_suffix(".jsonl.gz")) else { continue };
            let Ok(index) = index.parse::<u64>() else { continue };
            let path = self.config.path.join(&name);
            if index == committed.index {
                self.reopen(index, path, committed.len)?;
            } else {
                info!(path = %path.display(), "removing an open segment written after the last acknowledgement");
                std::fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
                self.next_index = self.next_index.max(index + 1);
            }
        }
        if !self.pending.is_empty() || self.head.is_none() {
            self.write_digest(now)?;
        }
        self.dirty = false;
        Ok(())
    }

    /// Reopens segment `index` cut back to `len` bytes (to its last whole member if it
    /// is shorter, which only a person or a failing disk can cause).
    fn reopen(&mut self, index: u64, path: PathBuf, len: u64) -> Result<(), SinkError> {
        let mut bytes = std::fs::read(&path).map_err(|e| io_error("reading", &path, e))?;
        if (bytes.len() as u64) < len {
            warn!(path = %path.display(), committed = len, actual = bytes.len(), "open segment is shorter than acknowledged");
        }
        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        let members = match segment::scan(&bytes, None) {
            Ok(m) => m,
            Err(e) => {
                warn!(path = %path.display(), error = %e, "open segment damaged; keeping its whole members");
                let keep = e.offset;
                bytes.truncate(keep as usize);
                segment::scan(&bytes, None)
                    .map_err(|e| SinkError::fatal(format!("archive: {}", path.display())).caused_by(e))?
            }
        };
        let file = OpenOptions::new().append(true).open(&path).map_err(|e| io_error("opening", &path, e))?;
        file.set_permissions(Permissions::from_mode(FILE_MODE)).map_err(|e| io_error("opening", &path, e))?;
        file.set_len(bytes.len() as u64).map_err(|e| io_error("truncating", &path, e))?;
        file.sync_data().map_err(|e| io_error("syncing", &path, e))?;
        if let Some(m) = members.last() {
            self.archived_max = self.archived_max.max(Some(m.last_seq));
        }
        let mut sha = Sha256::new();
        sha.update(&bytes);
        self.active = Some(Active { index, path, file, len: bytes.len() as u64, members, sha });
        Ok(())
    }

    /// The newest digest on disk (by number), if any; temporary files of a write a crash
    /// interrupted are removed.
    fn read_head(&self) -> Result<Option<Head>, SinkError> {
        let mut best: Option<(u64, String)> = None;
        for name in list(&self.digests)? {
            if name.ends_with(".tmp") {
                let path = self.digests.join(&name);
                std::fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
            } else if let Some(n) = digest::number_of_name(&name) {
                if best.as_ref().is_none_or(|(b, _)| n > *b) {
                    best = Some((n, name));
                }
            }
        }
        let Some((number, name)) = best else { return Ok(None) };
        let path = self.digests.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| io_error("reading", &path, e))?;
        let parsed = digest::parse(&bytes, &self.config.signing_key.public())
            .map_err(|e| SinkError::fatal(format!("archive: {}", path.display())).caused_by(e))?;
        if !parsed.signed_by_key {
            return Err(SinkError::fatal(format!(
                "archive: {} is not signed by the configured signing_key (key {}); refusing to extend its chain",
                path.display(),
                parsed.signature.key_id
            )));
        }
        let time = digest::parse_time(&parsed.body.time)
            .ok_or_else(|| SinkError::fatal(format!("archive: {}: bad time", path.display())))?;
        Ok(Some(Head {
            number,
            link: digest::Previous { file: name, sha256: parsed.sha256, signature: parsed.signature.signature },
            time,
            archived_through: parsed.body.archived_through_seq,
        }))
    }

    fn active_path(&self, index: u64) -> PathBuf {
        self.config.path.join(format!("active.{index:06}.jsonl.gz"))
    }

    fn sync_dir(&self, dir: &Path) -> Result<(), SinkError> {
        if !self.config.fsync {
            return Ok(());
        }
        let syncing = |e| io_error("syncing directory", dir, e);
        File::open(dir).map_err(syncing)?.sync_all().map_err(syncing)
    }
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (now - since).to_std().unwrap_or_default()
}

fn make_dir(dir: &Path) -> Result<(), SinkError> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io_error("creating directory", dir, e))
}

/// The file names in `dir`, sorted.
fn list(dir: &Path) -> Result<Vec<String>, SinkError> {
    let listing = |e| io_error("listing", dir, e);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(listing)? {
        if let Some(name) = entry.map_err(listing)?.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn write_file(path: &Path, bytes: &[u8], fsync: bool) -> Result<(), SinkError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| io_error("creating", path, e))?;
    f.write_all(bytes).map_err(|e| io_error("writing", path, e))?;
    if fsync {
        f.sync_all().map_err(|e| io_error("syncing", path, e))?;
    }
    Ok(())
}
