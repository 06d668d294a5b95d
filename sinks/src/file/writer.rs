//! The blocking half of the file sink: appending, rotating and recovering, with std::fs.
//!
//! Every method here may block (writes, `fsync`s, renames); the async [`FileSink`]
//! runs them on tokio's blocking pool. The writer keeps one invariant: before it writes,
//! the files on disk are exactly those the caller's last acknowledged [`Committed`]
//! describes. Whenever it cannot vouch for that (a step failed, or the caller's state
//! differs from its own) it first [recovers](Writer::recover) to that state.
//!
//! Rotation of generation `g` is three steps, each of which may be the last before a
//! crash: rename the active file to `rotated(g)`, create an empty active file, write the
//! batch. Until the pipeline stores the new value its stored value still says
//! "generation `g`, length `L`", and recovery from it restores `rotated(g)` as the active
//! file (replacing whatever the new one holds) and truncates it to `L`.
//!
//! [`FileSink`]: super::FileSink

use super::committed::Committed;
use super::config::FileSinkConfig;
use super::error::io_error;
use super::layout::Layout;
use crate::SinkError;
use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use tracing::{info, warn};

/// An open file sink's files and what it knows of them.
#[derive(Debug)]
pub(crate) struct Writer {
    layout: Layout,
    rotate_bytes: Option<u64>,
    fsync: bool,
    /// Permission bits of the files it creates or opens.
    mode: u32,
    /// The active file, opened for appending; `None` between rotation steps.
    file: Option<File>,
    /// What is on disk, as far as this writer knows.
    pos: Committed,
    /// A step that changes the disk started and has not finished (it failed or
    /// panicked, or it is the middle of a rotation): the disk may differ from `pos`.
    dirty: bool,
}

impl Writer {
    /// Opens the sink's files, undoing whatever was written after `committed`
    /// (`None`: a new sink; see [`FileSink`](super::FileSink) for what it does with an
    /// existing file).
    pub fn open(config: &FileSinkConfig, committed: Option<Committed>) -> Result<Self, SinkError> {
        let layout = Layout::new(&config.path)?;
        if !layout.dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(config.mode.for_dir())
                .create(&layout.dir)
                .and_then(|()| std::fs::set_permissions(&layout.dir, Permissions::from_mode(config.mode.for_dir())))
                .map_err(|e| io_error("creating directory", &layout.dir, e))?;
        }
        let mut w = Writer {
            mode: config.mode.0,
            layout,
            rotate_bytes: config.rotate_bytes,
            fsync: config.fsync,
            file: None,
            pos: Committed { generation: 1, len: 0 },
            dirty: true,
        };
        match committed {
            Some(c) => w.recover(c)?,
            None => w.start_new()?,
        }
        Ok(w)
    }

    /// What the files hold now; the value to acknowledge after a successful open.
    pub fn position(&self) -> Committed {
        self.pos
    }

    /// Marks the disk state unknown (a step panicked): the next write recovers first.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Appends `bytes` (whole lines) after the acknowledged state `from`, rotating first
    /// if the active file is full, and returns the state to acknowledge. If a step fails
    /// part way, the writer knows it and the next call recovers to its `from` first.
    pub fn write_batch(&mut self, from: Committed, bytes: &[u8]) -> Result<Committed, SinkError> {
        if self.dirty || self.file.is_none() || self.pos != from {
            self.recover(from)?;
        }
        if self.needs_rotation() {
            self.rotate_rename()?;
            self.rotate_start()?;
        }
        self.append(bytes)
    }

    /// Syncs what was written (for `fsync = false`, once at shutdown) and closes the file.
    pub fn close(mut self) -> Result<(), SinkError> {
        if let Some(f) = self.file.take() {
            f.sync_data().map_err(|e| io_error("syncing", &self.layout.active, e))?;
        }
        Ok(())
    }

    fn needs_rotation(&self) -> bool {
        matches!(self.rotate_bytes, Some(limit) if self.pos.len > 0 && self.pos.len >= limit)
    }

    /// Rotation step 1: the active file of generation `g` becomes `rotated(g)`.
    ///
    /// A file already at `rotated(g)` can only be a person's doing (generations only
    /// grow); it is refused, `Fatal`, before anything changes.
    pub(super) fn rotate_rename(&mut self) -> Result<(), SinkError> {
        let target = self.layout.rotated(self.pos.generation);
        if target.symlink_metadata().is_ok() {
            // Only a person can have put it there: generations only grow.
            return Err(SinkError::fatal(format!(
                "file sink: {} already exists; refusing to overwrite it by rotating {}",
                target.display(),
                self.layout.active.display()
            )));
        }
        self.dirty = true;
        self.file = None;
        std::fs::rename(&self.layout.active, &target).map_err(|e| io_error("rotating", &self.layout.active, e))?;
        if self.fsync {
            self.layout.sync_dir()?;
        }
        Ok(())
    }

    /// Rotation step 2: an empty active file of generation `g + 1`.
    pub(super) fn rotate_start(&mut self) -> Result<(), SinkError> {
        self.dirty = true;
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(self.mode)
            .open(&self.layout.active)
            .and_then(|f| f.set_permissions(Permissions::from_mode(self.mode)).map(|()| f))
            .map_err(|e| io_error("creating", &self.layout.active, e))?;
        if self.fsync {
            self.layout.sync_dir()?;
        }
        self.file = Some(file);
        self.pos = Committed { generation: self.pos.generation + 1, len: 0 };
        self.dirty = false;
        Ok(())
    }

    /// The last step: one write of the whole batch, then `fsync`.
    pub(super) fn append(&mut self, bytes: &[u8]) -> Result<Committed, SinkError> {
        let path = &self.layout.active;
        let file = self.file.as_mut().ok_or_else(|| SinkError::transient("file sink: no active file"))?;
        self.dirty = true;
        // One buffer, one write (`write_all` only loops on a short write).
        file.write_all(bytes).map_err(|e| io_error("writing", path, e))?;
        if self.fsync {
            file.sync_data().map_err(|e| io_error("syncing", path, e))?;
        }
        self.pos.len += bytes.len() as u64;
        self.dirty = false;
        Ok(self.pos)
    }

    /// A new sink: a generation above every rotated file present (so rotating never
    /// overwrites one), appending to whatever the active file already holds.
    fn start_new(&mut self) -> Result<(), SinkError> {
        let generation = self.layout.rotated_generations()?.last().map_or(1, |g| g + 1);
        let mut file = self.open_active()?;
        let len = self.len_of(&file)?;
        let len = if len > 0 {
            warn!(
                path = %self.layout.active.display(),
                bytes = len,
                "file sink has no committed state but its file holds data; keeping it and appending after it"
            );
            self.end_with_newline(&mut file, len)?
        } else {
            len
        };
        if self.fsync {
            self.layout.sync_dir()?;
        }
        self.file = Some(file);
        self.pos = Committed { generation, len };
        self.dirty = false;
        Ok(())
    }

    /// Brings the files back to the acknowledged state `to`: removes rotated files of
    /// later generations, restores `rotated(to.generation)` if that generation was rotated
    /// after the acknowledgement, and truncates the active file to `to.len`. Idempotent,
    /// so a crash during recovery is recovered from by the next open.
    pub(super) fn recover(&mut self, to: Committed) -> Result<(), SinkError> {
        self.dirty = true;
        self.file = None;
        let later: Vec<u64> = self.layout.rotated_generations()?.into_iter().filter(|&g| g > to.generation).collect();
        for g in &later {
            let path = self.layout.rotated(*g);
            warn!(path = %path.display(), "removing a file rotated after the last acknowledgement");
            std::fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
        }
        if !later.is_empty() && self.fsync {
            self.layout.sync_dir()?;
        }
        let rotated = self.layout.rotated(to.generation);
        if rotated.symlink_metadata().is_ok() {
            warn!(
                path = %rotated.display(),
                "rotation happened after the last acknowledgement; restoring the rotated file as the active one"
            );
            std::fs::rename(&rotated, &self.layout.active).map_err(|e| io_error("restoring", &rotated, e))?;
            if self.fsync {
                self.layout.sync_dir()?;
            }
        }
        let existed = self.layout.active.symlink_metadata().is_ok();
        let mut file = self.open_active()?;
        if !existed && self.fsync {
            self.layout.sync_dir()?;
        }
        let actual = self.len_of(&file)?;
        let len = if actual > to.len {
            info!(
                path = %self.layout.active.display(),
                bytes = actual - to.len,
                "discarding lines written after the last acknowledgement"
            );
            file.set_len(to.len).map_err(|e| io_error("truncating", &self.layout.active, e))?;
            file.sync_data().map_err(|e| io_error("syncing", &self.layout.active, e))?;
            to.len
        } else if actual < to.len {
            warn!(
                path = %self.layout.active.display(),
                committed = to.len,
                actual,
                "file is shorter than what was acknowledged (truncated or removed by someone?); appending to it"
            );
            self.end_with_newline(&mut file, actual)?
        } else {
            actual
        };
        self.file = Some(file);
        self.pos = Committed { generation: to.generation, len };
        self.dirty = false;
        Ok(())
    }

    fn open_active(&self) -> Result<File, SinkError> {
        // The mode is set on every open, not only at creation (where the umask would
        // apply): the file has the bits the config says, whoever created it.
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(self.mode)
            .open(&self.layout.active)
            .and_then(|f| f.set_permissions(Permissions::from_mode(self.mode)).map(|()| f))
            .map_err(|e| io_error("opening", &self.layout.active, e))
    }

    fn len_of(&self, file: &File) -> Result<u64, SinkError> {
        Ok(file.metadata().map_err(|e| io_error("reading metadata of", &self.layout.active, e))?.len())
    }

    /// Adds a newline if a foreign or damaged file of `len` bytes does not end with one,
    /// so our first line is a line of its own. Returns the new length.
    fn end_with_newline(&self, file: &mut File, len: u64) -> Result<u64, SinkError> {
        if len == 0 || last_byte(&self.layout.active)? == b'\n' {
            return Ok(len);
        }
        let path = &self.layout.active;
        file.write_all(b"\n").map_err(|e| io_error("writing", path, e))?;
        file.sync_data().map_err(|e| io_error("syncing", path, e))?;
        Ok(len + 1)
    }
}

fn last_byte(path: &Path) -> Result<u8, SinkError> {
    let reading = |e| io_error("reading", path, e);
    let mut f = File::open(path).map_err(reading)?;
    f.seek(SeekFrom::End(-1)).map_err(reading)?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).map_err(reading)?;
    Ok(b[0])
}
