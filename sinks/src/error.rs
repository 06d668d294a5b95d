//! [`SinkError`]: why a batch was not delivered, whether retrying can help, and the
//! error that caused it, kept as a [`source`](std::error::Error::source) so a reader
//! (the log, `status`, the binary's error line) sees every cause and not only our words.

use std::error::Error;
use std::fmt;

/// A cause of any type, as it came from the library that failed.
type Cause = Box<dyn Error + Send + Sync + 'static>;

/// Whether retrying the same batch can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkErrorKind {
    /// Worth retrying as it is (peer down, timeout, I/O hiccup).
    Transient,
    /// Retrying the same batch cannot help until a person acts (bad token, bad path).
    Fatal,
}

/// Why a batch was not delivered: its kind, what the sink was doing, and the cause.
///
/// `Display` shows only the sink's own words (`context`), as [`std::error::Error`]
/// asks of an error with a source; [`report`](SinkError::report) shows the whole chain on
/// one line, which is what a person should be shown.
#[derive(Debug)]
pub struct SinkError {
    kind: SinkErrorKind,
    context: String,
    source: Option<Cause>,
}

impl SinkError {
    /// A failure worth retrying, described by `context`.
    pub fn transient(context: impl Into<String>) -> Self {
        SinkError { kind: SinkErrorKind::Transient, context: context.into(), source: None }
    }

    /// A failure that waits for a person, described by `context`.
    pub fn fatal(context: impl Into<String>) -> Self {
        SinkError { kind: SinkErrorKind::Fatal, context: context.into(), source: None }
    }

    /// The same error, caused by `source` (kept whole, with its own causes).
    pub fn caused_by(mut self, source: impl Into<Cause>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> SinkErrorKind {
        self.kind
    }

    pub fn is_transient(&self) -> bool {
        self.kind == SinkErrorKind::Transient
    }

    /// What the sink was doing, without the causes.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The error and every cause on one line, `": "` between them; a cause whose text
    /// is already on the line (some libraries repeat their source) is left out.
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl Error for SinkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// [`SinkError::report`]: the whole chain, for logs and messages.
pub struct Report<'a>(&'a SinkError);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.context.clone();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !text.is_empty() && !line.contains(&text) {
                if !line.is_empty() {
                    line.push_str(": ");
                }
                line.push_str(&text);
            }
            cause = e.source();
        }
        f.write_str(&line)
    }
}

/// The whole chain of `error`, which must be fatal (for tests that read what a person reads).
#[cfg(test)]
pub(crate) fn fatal_report(error: &SinkError) -> String {
    assert_eq!(error.kind(), SinkErrorKind::Fatal, "{error:?}");
    error.report().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn the_report_shows_every_cause_once_and_display_only_the_context() {
        let inner = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
        let e = SinkError::transient("syslog to a:514 (tcp): connecting").caused_by(inner);
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "syslog to a:514 (tcp): connecting");
        assert_eq!(e.report().to_string(), "syslog to a:514 (tcp): connecting: connection refused");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("connection refused"));

        // Wrapped again (as the pipeline does), the chain is still walked to the end.
        let outer = SinkError::fatal("archive sink").caused_by(e);
        assert_eq!(outer.kind(), SinkErrorKind::Fatal);
        assert_eq!(outer.report().to_string(), "archive sink: syslog to a:514 (tcp): connecting: connection refused");
    }

    #[test]
    fn a_cause_that_repeats_its_source_is_not_shown_twice() {
        #[derive(Debug)]
        struct Repeats(io::Error);
        impl fmt::Display for Repeats {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "request failed: {}", self.0)
            }
        }
        impl Error for Repeats {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = SinkError::fatal("splunk_hec").caused_by(Repeats(io::Error::other("timed out")));
        assert_eq!(e.report().to_string(), "splunk_hec: request failed: timed out");
    }
}
