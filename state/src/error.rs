//! Every way the durable state can fail, as one error type.
//!
//! The pipeline needs to tell "the disk or SQLite is unhappy" (retry or stop)
//! apart from "the caller asked for something that would lose or repeat data"
//! (a bug to surface loudly), and an operator needs messages that name the file
//! and the numbers involved. Hence one `thiserror` enum with specific variants.

use std::path::PathBuf;

/// Errors returned by [`crate::Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// SQLite reported an error (I/O, busy, corruption, constraint, ...).
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// SQLite failed while opening, configuring or migrating the file.
    #[error("cannot open state database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },

    /// The directory that should hold the database could not be created.
    #[error("cannot create directory {path} for the state database: {source}")]
    CreateDir {
        /// The directory we tried to create.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// The database file could not be created (private, mode 0600).
    #[error("cannot create the state database {path}: {source}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// The database was written by a newer auditbridge; opening it with this
    /// build could misread it, so we refuse.
    #[error(
        "state database {path} has schema version {found}, but this build of auditbridge supports at most \
         version {supported}; run a newer auditbridge (or restore a backup)"
    )]
    NewerSchema {
        /// Schema version recorded in the file.
        found: u32,
        /// Highest schema version this build knows.
        supported: u32,
        /// The database file.
        path: PathBuf,
    },

    /// The file is an SQLite database, but not one of ours.
    #[error("{path} is an SQLite database that does not belong to auditbridge ({reason}); refusing to modify it")]
    ForeignDatabase {
        /// The database file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },

    /// SQLite would not switch the file to write-ahead logging.
    #[error("state database {path} could not be switched to WAL journal mode (SQLite kept {mode:?})")]
    WalUnavailable {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported instead.
        mode: String,
    },

    /// An acknowledgement tried to move a sink's cursor backwards, which would
    /// make the sink receive records twice.
    #[error("sink {sink:?}: cannot move cursor backwards from {current} to {requested}")]
    CursorBackwards {
        /// The sink.
        sink: String,
        /// Its stored cursor.
        current: u64,
        /// The seq that was acknowledged.
        requested: u64,
    },

    /// An acknowledgement named a seq that has never been assigned, which
    /// would make the sink skip records spooled later.
    #[error("sink {sink:?}: cannot move cursor to {requested}, beyond the highest spooled seq {max_seq}")]
    CursorAhead {
        /// The sink.
        sink: String,
        /// The seq that was acknowledged.
        requested: u64,
        /// Highest seq ever assigned.
        max_seq: u64,
    },

    /// A sink name was used that has no cursor; call `register_sink` first.
    #[error("sink {sink:?} is not registered in the state database")]
    UnknownSink {
        /// The sink.
        sink: String,
    },

    /// A number does not fit SQLite's signed 64-bit integers.
    #[error("{what} = {value} is out of range for the state database")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The offending value.
        value: u64,
    },

    /// The database holds something this code never writes (wrong id length,
    /// negative counter, ...).
    #[error("state database holds an invalid value: {0}")]
    Corrupt(String),
}
