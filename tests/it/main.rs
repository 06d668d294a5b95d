//! Every end-to-end test of the binary, as modules of one test binary: one link of
//! librdkafka instead of one per file. The modules share a process and run in parallel,
//! so none may change process-wide state (environment, umask, current directory); a
//! child process is the place for that. Peers are started per test, on free ports.

mod harness;
mod kafka_peer;
mod kerberos_peer;
#[path = "../../sinks/tests/it/syslogng/mod.rs"]
mod syslogng;

mod archive_crash;
mod archive_s3;
mod auth_schemes;
mod backfill;
mod backpressure;
mod bad_input;
mod config_files;
mod crash;
mod curl_examples;
mod demo_archive;
mod faults;
mod first_use;
mod hec_crash;
mod hostile_server;
mod import_mark;
mod kafka;
mod kafka_crash;
mod kerberos;
mod mark_health;
mod metrics;
mod operations;
mod preview;
mod preview_kafka;
mod reload;
mod routing;
mod search_job;
mod sentinel;
mod sentinel_crash;
mod sentinel_python;
mod sigterm;
mod splunk_hec;
mod start_at;
mod syslog_restart;
mod tls_pinning;
mod trust_command;
mod vacuum;
