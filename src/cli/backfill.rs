//! `auditbridge backfill`: exports a time range of a job again, through `/search`,
//! under its own mark, with every event flagged as a replay where the format allows.

use crate::pipeline::{self, BackfillRequest};
use crate::{backfill, shutdown};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `auditbridge backfill`.
#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The config file (every key: config/auditbridge.example.toml).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The job whose server and filters to use.
    #[arg(long)]
    pub job: String,
    /// Start of the range: 2024-03-01 or 2024-03-01T10:00:00Z (any offset).
    #[arg(long)]
    pub from: String,
    /// End of the range, same forms.
    #[arg(long)]
    pub to: String,
    /// Deliver to this sink only (default: every sink that takes the job).
    #[arg(long)]
    pub sink: Option<String>,
}

pub async fn backfill(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(&args.config)?;
    let from = backfill::parse_time(&args.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = backfill::parse_time(&args.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    anyhow::ensure!(from < to, "--from ({from}) must come before --to ({to})");
    let request = BackfillRequest { job: args.job, from, to, sink: args.sink };
    let (trigger, shutdown) = shutdown::channel();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        trigger.trigger();
    });
    let store = pipeline::open_handle(&config)?;
    let report = pipeline::backfill(&config, &request, shutdown, store).await?;
    if report.failures.is_empty() {
        println!(
            "backfill of job {:?} from {} to {} done (to {})",
            request.job,
            request.from,
            request.to,
            request.sink.as_deref().unwrap_or("every sink that takes the job")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &report.failures {
            eprintln!("failed: {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}
