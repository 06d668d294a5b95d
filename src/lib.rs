//! auditbridge: exports Netwrix Auditor activity records into the tools security
//! teams already run, without losing or duplicating any.
//!
//! The binary's pieces: [`config`] (the TOML file), [`pipeline`] (fetch → spool →
//! sinks), [`cli`] (the commands), and the small mechanisms they share:
//! [`shutdown`] and [`backoff`].

pub mod backfill;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod disk;
pub mod heap;
pub mod metrics;
pub mod pipeline;
pub mod schedule;
pub mod shutdown;
