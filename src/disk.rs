//! How much disk a command may still fill: `vacuum` and `bench` check before they write
//! gigabytes, so a full disk is a clear refusal up front instead of a failure half-way.

use std::path::{Path, PathBuf};

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: `statvfs` is plain data (all zeros is a valid value), filled by the call
    // from a NUL-terminated path that outlives it.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// The directory SQLite writes its temporary files to (a `VACUUM`'s copy of the
/// database among them): the first of `SQLITE_TMPDIR`, `TMPDIR`, `/var/tmp`, `/usr/tmp`
/// and `/tmp` that is a directory, as SQLite's own search on Unix; `.` when none is.
pub fn sqlite_temp_dir() -> PathBuf {
    let from_env = ["SQLITE_TMPDIR", "TMPDIR"].into_iter().filter_map(std::env::var_os).map(PathBuf::from);
    let fixed = ["/var/tmp", "/usr/tmp", "/tmp"].into_iter().map(PathBuf::from);
    from_env.chain(fixed).find(|d| d.is_dir()).unwrap_or_else(|| PathBuf::from("."))
}

/// Whether two existing paths are on one filesystem (the same device).
pub fn same_filesystem(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(a)?.dev() == std::fs::metadata(b)?.dev())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temp_dir_is_a_directory_and_a_dir_shares_its_own_filesystem() {
        assert!(sqlite_temp_dir().is_dir());
        let dir = tempfile::tempdir().unwrap();
        assert!(same_filesystem(dir.path(), dir.path()).unwrap());
        assert!(same_filesystem(dir.path(), &dir.path().join("missing")).is_err());
    }

    #[test]
    fn free_bytes_reads_the_filesystem_and_names_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        let missing = dir.path().join("not-there");
        assert_eq!(free_bytes(&missing).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
