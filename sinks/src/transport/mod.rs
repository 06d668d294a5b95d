//! Transports: how bytes reach a peer. They know nothing of formats; a sink hands them
//! finished messages and learns only whether they were written.

pub mod syslog;
