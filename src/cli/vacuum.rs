//! `auditbridge vacuum`: gives the state file's free space back to the disk, for a
//! maintenance window. The file keeps the size of its largest backlog otherwise (after a
//! long SIEM outage, gigabytes), and files made by older builds keep 4 KiB pages.

use crate::config;
use crate::disk::{free_bytes, same_filesystem, sqlite_temp_dir};
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

/// Refuses to start a vacuum that cannot finish for want of disk. SQLite writes a copy of
/// the data kept (`in_use` bytes) in its temporary directory ([`sqlite_temp_dir`]), then
/// writes it back over the state file, journaling what it overwrites (up to as much again)
/// beside the file. Where both are on one filesystem that is up to twice `in_use` there,
/// otherwise `in_use` on each. Without room for the copy it stops; without room for the
/// journal as well, it warns. A disk that fills anyway makes SQLite stop the vacuum with
/// the file as it was, but only after the whole copy.
fn check_room(state: &Path, in_use: u64) -> anyhow::Result<()> {
    let dir = state.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    check_room_in(state, dir, &sqlite_temp_dir(), in_use)
}

fn check_room_in(state: &Path, dir: &Path, temp: &Path, in_use: u64) -> anyhow::Result<()> {
    let free = |d: &Path| match free_bytes(d) {
        Ok(free) => Some(free),
        Err(e) => {
            eprintln!("warning: cannot tell the free disk space in {}: {e}; vacuuming anyway", d.display());
            None
        }
    };
    let Some(state_free) = free(dir) else { return Ok(()) };
    // Unknown counts as shared: the stricter of the two checks.
    let temp_free = if same_filesystem(dir, temp).unwrap_or(true) {
        None
    } else {
        let Some(f) = free(temp) else { return Ok(()) };
        Some(f)
    };
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match room(in_use, state_free, temp_free) {
        Room::Short => bail!(
            "vacuuming {} needs at least {:.1} MiB free on its disk, up to {:.1} MiB (a copy of the data it keeps, \
             and a journal); {} has {:.1} MiB free. The file was not rewritten; free some space and run it again",
            state.display(),
            mib(in_use),
            mib(in_use.saturating_mul(2)),
            dir.display(),
            mib(state_free),
        ),
        Room::ShortTemp => bail!(
            "vacuuming {} needs {:.1} MiB free in SQLite's temporary directory {} for its copy of the data kept, \
             which has {:.1} MiB free. The file was not rewritten; free some space there, or point SQLITE_TMPDIR \
             at a directory with room (the state file's own, for one), and run it again",
            state.display(),
            mib(in_use),
            temp.display(),
            mib(temp_free.unwrap_or(0)),
        ),
        Room::Tight => eprintln!(
            "warning: vacuuming may need up to {:.1} MiB free in {} and it has {:.1} MiB: if the disk fills, \
             SQLite stops and the file stays as it was",
            mib(if temp_free.is_some() { in_use } else { in_use.saturating_mul(2) }),
            dir.display(),
            mib(state_free)
        ),
        Room::Enough => {}
    }
    Ok(())
}

/// Whether there is room for vacuuming `in_use` bytes of data, with `state_free` bytes
/// free beside the state file and `temp_free` in SQLite's temporary directory when that
/// is on another filesystem (`None`: the same one).
#[derive(Debug, PartialEq, Eq)]
enum Room {
    /// Less than the copy, beside the state file.
    Short,
    /// Less than the copy, in the temporary directory on its own filesystem.
    ShortTemp,
    /// The copy, but maybe not the journal.
    Tight,
    Enough,
}

fn room(in_use: u64, state_free: u64, temp_free: Option<u64>) -> Room {
    match temp_free {
        None if state_free < in_use => Room::Short,
        None if state_free < in_use.saturating_mul(2) => Room::Tight,
        Some(temp) if temp < in_use => Room::ShortTemp,
        Some(_) if state_free < in_use => Room::Tight,
        _ => Room::Enough,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_the_copy_and_up_to_its_journal() {
        // The temporary directory on the state file's filesystem.
        assert_eq!(room(100, 99, None), Room::Short);
        assert_eq!(room(100, 100, None), Room::Tight);
        assert_eq!(room(100, 199, None), Room::Tight);
        assert_eq!(room(100, 200, None), Room::Enough);
        assert_eq!(room(0, 0, None), Room::Enough);
        // On a filesystem of its own: the copy there, the journal beside the file.
        assert_eq!(room(100, 1000, Some(99)), Room::ShortTemp);
        assert_eq!(room(100, 99, Some(100)), Room::Tight);
        assert_eq!(room(100, 100, Some(100)), Room::Enough);
    }

    #[test]
    fn a_temporary_directory_without_room_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        // /dev/shm is a filesystem of its own where there is one; otherwise the check is
        // the shared one and names the state file's directory.
        let temp = Path::new("/dev/shm");
        let err = check_room_in(&state, dir.path(), temp, u64::MAX / 2).unwrap_err().to_string();
        if temp.is_dir() && !same_filesystem(dir.path(), temp).unwrap() {
            assert!(err.contains("temporary directory /dev/shm") && err.contains("SQLITE_TMPDIR"), "{err}");
        } else {
            assert!(err.contains("needs at least"), "{err}");
        }
        check_room_in(&state, dir.path(), temp, 1).unwrap();
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
