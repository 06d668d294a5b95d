//! The `sinks` crate's integration tests as modules of one test binary: the crate links
//! librdkafka, and one link of it is cheaper than one per file.

mod spec_decoders;
mod syslogng;

mod cef_leef_props;
mod replay_flags;
mod sentinel;
mod splunk_datamodel;
mod syslog_ng;
