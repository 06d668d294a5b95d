//! The `netwrix` crate's integration tests as modules of one test binary: one link
//! instead of one per file. `common` holds the proptest strategies they share.

mod common;

mod acceptance;
mod auth;
mod client;
mod codec_fuzz;
mod codec_roundtrip;
mod emulator;
mod search_every_filter;
