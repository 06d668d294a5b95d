//! Pure formats: how an [`Event`](crate::Event) becomes bytes.
//!
//! A format is a plain function from an event to bytes appended to a caller's buffer.
//! It does no I/O, holds no state and cannot fail, so every transport can reuse one
//! buffer for a whole batch and the exact bytes a SIEM receives can be pinned in tests.

pub mod hec;
pub mod json;
pub mod record_json;
pub mod sentinel;
// CEF and LEEF (issue 5): the formats, their shared helpers, and the per-sink choice.
pub mod cef;
pub mod cef_netwrix;
pub mod details;
mod digits;
pub mod encoder;
pub mod leef;
pub mod leef_eventlog;
pub mod limit;
pub mod severity;
pub(crate) mod when;
pub use encoder::{Encoder, Format};
