//! The `state` crate's integration tests as modules of one test binary (one link).

mod migration_v2;
mod store;
