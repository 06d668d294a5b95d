//! The state lock: one process delivers through a state file's cursors at a time.
//!
//! Two processes moving the same cursors would each send the batches after them, so
//! every record twice. An advisory `flock` on `<state>.lock` (not on the database
//! itself, which SQLite locks its own way) is held for the whole run and released by
//! the kernel when the process dies, so a crash never leaves a stale lock behind.

use anyhow::Context;
use std::os::unix::fs::OpenOptionsExt;

/// Takes the exclusive lock beside the state file; dropping the file releases it.
pub fn lock_state(state: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another auditbridge is already running with the state file {} (it holds {}); stop it first",
            state.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}
