//! The commands of `auditbridge`, one file each.

mod archive;
mod backfill;
mod bench;
mod demo;
mod emulate;
mod hec_receiver;
mod import_mark;
mod preview;
mod run;
mod sentinel_receiver;
mod stand_in;
mod status;
mod trust;
mod vacuum;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exports Netwrix Auditor activity records to SIEMs and archives: nothing lost, nothing twice.
#[derive(Debug, Parser)]
#[command(name = "auditbridge", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the export: every job and every sink of the config, until stopped.
    Run {
        /// The config file (every key: config/auditbridge.example.toml).
        #[arg(long, short)]
        config: PathBuf,
        /// Drain every job to the end of data, deliver everything, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Check a config file without running it.
    Validate {
        /// The config file (every key: config/auditbridge.example.toml).
        #[arg(long, short)]
        config: PathBuf,
        /// Also contact every job's API and every sink's peer.
        #[arg(long)]
        check: bool,
    },
    /// Show, per job and per sink, where the export stands.
    Status {
        /// The config file (every key: config/auditbridge.example.toml).
        #[arg(long, short)]
        config: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Give the state file's free space back to the disk (stop `run` first).
    Vacuum {
        /// The config file (every key: config/auditbridge.example.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Export generated records from a built-in emulator into ./demo-out/, with no setup.
    Demo {
        /// How many records the emulator generates.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Where the output and state go (emptied first).
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Also export to an in-process Microsoft Sentinel stand-in (Logs Ingestion API and
        /// Entra ID token endpoint, over HTTPS) into sentinel.jsonl.
        #[arg(long)]
        sentinel: bool,
    },
    /// Give a job the continuation mark an add-on saved, to take over where it stopped.
    ImportMark(import_mark::ImportMarkArgs),
    /// Print the bytes a sink would send for its next records, moving nothing.
    Preview(preview::PreviewArgs),
    /// Export a time range of a job again (through /search, under its own mark).
    Backfill(backfill::BackfillArgs),
    /// Show the certificate a Netwrix server presents and the config line that pins it.
    Trust(trust::TrustArgs),
    /// Serve an emulator of the Netwrix Auditor Integration API.
    Emulate(emulate::EmulateArgs),
    /// Serve a Splunk HTTP Event Collector stand-in, to try a splunk_hec sink without Splunk.
    HecReceiver(hec_receiver::HecReceiverArgs),
    /// Serve a Logs Ingestion API and Entra ID token stand-in, to try a sentinel sink without Azure.
    SentinelReceiver(sentinel_receiver::SentinelReceiverArgs),
    /// Measure export speed and cost against the emulator and real peers (docs/performance.md).
    Bench(bench::BenchArgs),
    /// Keys for, and offline verification of, an archive sink (docs/archive.md).
    Archive(archive::ArchiveArgs),
}

impl Command {
    /// Whether the command runs the export pipeline (fetch, spool, sinks) for a while:
    /// those bound their heap ([`crate::heap`]).
    pub fn exports(&self) -> bool {
        matches!(self, Command::Run { .. } | Command::Demo { .. } | Command::Backfill(_))
    }
}

/// Sets up tracing on standard error; `RUST_LOG` overrides the default level
/// (`info`, or `warn` for the demo, whose progress bar says the rest).
///
/// `RUST_LOG` takes a level and `target=level` pairs (`info,netwrix=debug`): the
/// `Targets` filter, which needs no regex engine (EnvFilter's span and field filters
/// cost a regex crate in every build). A value it cannot read is reported and ignored.
pub fn init_logging(cli: &Cli) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let default = if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info" };
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let (filter, unread) = match from_env.as_deref().map(str::parse::<Targets>) {
        Some(Ok(filter)) => (filter, None),
        Some(Err(e)) => (default.parse::<Targets>().unwrap_or_default(), Some(e)),
        None => (default.parse::<Targets>().unwrap_or_default(), None),
    };
    // Colours only for a person at a terminal: escape codes spoil journald and log files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // The builder's own level would drop debug events before `filter` saw them.
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match cli.log_format {
        LogFormat::Text => builder.finish().with(filter).init(),
        LogFormat::Json => builder.json().finish().with(filter).init(),
    }
    if let Some(e) = unread {
        tracing::warn!("RUST_LOG is not a level or `target=level` list ({e}); using {default}");
    }
}

/// An error and its causes on one line, `a: b: c`, leaving out a cause whose text the
/// line already holds, or that only says the last one again with a prefix (SQLite's
/// errors repeat their cause: "file is not a database", then "Error code 26: file is
/// not a database").
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut last = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let repeats = line.contains(&text) || (!last.is_empty() && text.ends_with(&last));
        last.clone_from(&text);
        if repeats {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Files written by any command are private (`umask 077`): the state file, spool and
/// sink outputs hold audit data. A file sink's `file_mode` loosens its own files.
pub fn private_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Runs the chosen command.
pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config, once } => run::run(&config, once).await,
        Command::Validate { config, check } => validate::validate(&config, check).await,
        Command::Status { config, json } => status::status(&config, json),
        Command::Vacuum { config } => vacuum::vacuum(&config),
        Command::Demo { records, out, sentinel } => demo::demo(records, &out, sentinel).await,
        Command::Emulate(args) => emulate::emulate(args).await,
        Command::Trust(args) => trust::trust(args).await,
        Command::Backfill(args) => backfill::backfill(args).await,
        Command::ImportMark(args) => import_mark::import_mark(args),
        Command::Preview(args) => preview::preview(args).await,
        Command::HecReceiver(args) => hec_receiver::hec_receiver(args).await,
        Command::SentinelReceiver(args) => sentinel_receiver::sentinel_receiver(args).await,
        Command::Bench(args) => bench::bench(args).await,
        Command::Archive(args) => archive::archive(args),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_chain_says_each_cause_once() {
        let sqlite = std::io::Error::other("Error code 26: file is not a database");
        let error = anyhow::Error::new(sqlite)
            .context("file is not a database")
            .context("cannot open state database /s.db: file is not a database")
            .context("opening the state file /s.db");
        assert_eq!(
            super::error_chain(&error),
            "opening the state file /s.db: cannot open state database /s.db: file is not a database"
        );
    }
}
