//! `auditbridge vacuum`: gives the state file's free space back to the disk, for a
//! maintenance window. The file keeps the size of its largest backlog otherwise (after a
//! long SIEM outage, gigabytes), and files made by older builds keep 4 KiB pages.

use crate::config;
use crate::disk::free_bytes;
use crate::pipeline::{lock_state, open_store};
use anyhow::{bail, Context};
use std::path::Path;
use std::process::ExitCode;

/// Prunes what every configured sink acknowledged, then rewrites the state file.
pub fn vacuum(path: &Path) -> anyhow::Result<ExitCode> {
    let config = config::load(path)?;
    // No `run` may use the file meanwhile; `status` readers make the vacuum wait, then fail.
    let _lock = lock_state(&config.state.path)?;
    let mut store = open_store(&config)?;
    let sinks: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
    let registered: Vec<String> = store.sinks()?.into_iter().map(|s| s.name).collect();
    // A sink that never ran takes every record still spooled when it starts (its
    // `start` is `oldest` unless set): nothing is pruned for it.
    let pruned = match sinks.iter().find(|s| !registered.iter().any(|r| r == *s)) {
        Some(new) => {
            println!("sink {new:?} has not run yet: nothing pruned");
            0
        }
        None => store.prune(&sinks).context("pruning the spool")?,
    };
    store.sync().context("checkpointing the state file")?;
    let kept = store.spool_rows()?;
    check_room(&config.state.path, store.used_bytes()?)?;
    let v = store.vacuum().with_context(|| format!("vacuuming {}", config.state.path.display()))?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "state {}: {:.1} MiB -> {:.1} MiB ({pruned} delivered records pruned, {kept} kept), page size {} -> {}",
        config.state.path.display(),
        mib(v.bytes_before),
        mib(v.bytes_after),
        v.page_size_before,
        v.page_size_after
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses to start a vacuum that cannot finish for want of disk: SQLite writes a copy of
/// the data kept (`in_use` bytes) and journals what it overwrites, up to twice that in
/// all. Below once, it stops; below twice, it warns. A disk that fills anyway makes
/// SQLite stop the vacuum with the file as it was, but only after the whole copy.
fn check_room(state: &Path, in_use: u64) -> anyhow::Result<()> {
    let dir = state.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let free = match free_bytes(dir) {
        Ok(free) => free,
        Err(e) => {
            eprintln!("warning: cannot tell the free disk space in {}: {e}; vacuuming anyway", dir.display());
            return Ok(());
        }
    };
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match room(in_use, free) {
        Room::Short => bail!(
            "vacuuming {} needs at least {:.1} MiB free on its disk, up to {:.1} MiB (a copy of the data it keeps, \
             and a journal); {} has {:.1} MiB free. The file was not rewritten; free some space and run it again",
            state.display(),
            mib(in_use),
            mib(in_use.saturating_mul(2)),
            dir.display(),
            mib(free)
        ),
        Room::Tight => eprintln!(
            "warning: vacuuming may need up to {:.1} MiB free and {} has {:.1} MiB: if the disk fills, SQLite stops \
             and the file stays as it was",
            mib(in_use.saturating_mul(2)),
            dir.display(),
            mib(free)
        ),
        Room::Enough => {}
    }
    Ok(())
}

/// Whether a disk with `free` bytes has room for vacuuming `in_use` bytes of data.
#[derive(Debug, PartialEq, Eq)]
enum Room {
    /// Less than the copy.
    Short,
    /// The copy, but maybe not its journal.
    Tight,
    Enough,
}

fn room(in_use: u64, free: u64) -> Room {
    if free < in_use {
        Room::Short
    } else if free < in_use.saturating_mul(2) {
        Room::Tight
    } else {
        Room::Enough
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_the_copy_and_up_to_its_journal() {
        assert_eq!(room(100, 99), Room::Short);
        assert_eq!(room(100, 100), Room::Tight);
        assert_eq!(room(100, 199), Room::Tight);
        assert_eq!(room(100, 200), Room::Enough);
        assert_eq!(room(0, 0), Room::Enough);
    }

    #[test]
    fn a_vacuum_that_cannot_fit_is_refused_before_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let err = check_room(&state, u64::MAX / 2).unwrap_err().to_string();
        assert!(err.contains("needs at least") && err.contains("was not rewritten"), "{err}");
        check_room(&state, 1).unwrap();
    }
}
