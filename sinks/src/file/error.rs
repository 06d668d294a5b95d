//! Which I/O failures are worth retrying. A retry cannot fix a permission, a directory
//! where the file should be, or a read-only filesystem: those wait for a person (`Fatal`);
//! anything else (disk full, an NFS hiccup, a file removed under us) is `Transient`.

use crate::SinkError;
use std::io;
use std::path::Path;

/// Classifies `e`, naming what was being done and to which path.
pub(crate) fn io_error(doing: &str, path: &Path, e: io::Error) -> SinkError {
    io_error_of("file sink", doing, path, e)
}

/// [`io_error`] for another sink that writes files (`sink` starts the message).
pub(crate) fn io_error_of(sink: &str, doing: &str, path: &Path, e: io::Error) -> SinkError {
    let context = format!("{sink}: {doing} {}", path.display());
    let error = if is_permanent(e.kind()) { SinkError::fatal(context) } else { SinkError::transient(context) };
    error.caused_by(e)
}

fn is_permanent(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::*;
    matches!(kind, PermissionDenied | IsADirectory | NotADirectory | ReadOnlyFilesystem | InvalidFilename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_kinds_are_fatal_and_name_the_path() {
        for kind in [io::ErrorKind::PermissionDenied, io::ErrorKind::ReadOnlyFilesystem, io::ErrorKind::IsADirectory] {
            let e = io_error("opening", Path::new("/x/y.jsonl"), io::Error::from(kind));
            assert_eq!(e.kind(), crate::SinkErrorKind::Fatal, "{kind:?}: {e:?}");
            assert!(e.report().to_string().contains("/x/y.jsonl"), "{kind:?}: {e:?}");
        }
        for kind in [io::ErrorKind::StorageFull, io::ErrorKind::Interrupted, io::ErrorKind::NotFound] {
            let e = io_error("writing", Path::new("/x/y.jsonl"), io::Error::from(kind));
            assert!(e.is_transient(), "{kind:?}");
        }
    }
}
