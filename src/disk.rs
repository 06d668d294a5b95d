//! How much disk a command may still fill: `vacuum` and `bench` check before they write
//! gigabytes, so a full disk is a clear refusal up front instead of a failure half-way.

use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_bytes_reads_the_filesystem_and_names_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        let missing = dir.path().join("not-there");
        assert_eq!(free_bytes(&missing).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
