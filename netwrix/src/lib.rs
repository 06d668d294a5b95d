//! The Netwrix side of auditbridge.
//!
//! Netwrix Auditor publishes its audit trail through the Integration API
//! (`/netwrix/api/v1/activity_records/...`). This crate holds both ends of that API:
//! the [`ActivityRecord`] model, its XML and JSON codecs, the [`client`] the bridge
//! reads with, and an [`emulator`] that behaves as the documented server does, so the
//! client can be tested without a Netwrix server.

pub mod authproto;
pub mod client;
pub mod compact;
pub mod emulator;
pub mod errorlist;
mod format;
pub mod generate;
mod id;
pub mod json;
pub mod markfile;
mod model;
pub mod search;
mod text;
pub mod xml;

pub use errorlist::{ApiError, ErrorList};
pub use format::{DecodeError, Format, Page};
pub use id::{HexId, RecordId};
pub use model::{ActivityRecord, Detail, Item, MonitoringPlan};
pub use search::{Filter, FilterValue, Operator, SearchRequest};
pub use text::{Text, TextBuf};

/// The XML namespace of activity records, searches and continuation marks.
pub const RECORDS_NS: &str = "http://schemas.netwrix.com/api/v1/activity_records/";
/// The XML namespace of error documents (deliberately not the records' one).
pub const ERRORS_NS: &str = "http://schemas.netwrix.com/api/v1/";
/// The path prefix every API endpoint lives under.
pub const API_PREFIX: &str = "/netwrix/api/v1/activity_records";
