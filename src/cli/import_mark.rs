//! `auditbridge import-mark`: takes over from one of Netwrix's add-ons without a gap
//! and without sending again what it exported, by giving a job the continuation mark
//! the add-on saved (its `…_Cookie.bin`), before the job's first run.

use crate::config;
use crate::pipeline;
use clap::ArgGroup;
use netwrix::markfile::{self, MarkFileForm};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `auditbridge import-mark`.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("source").required(true).args(["mark", "file", "since"])))]
pub struct ImportMarkArgs {
    /// The config file (every key: config/auditbridge.example.toml).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The job that takes the mark.
    #[arg(long)]
    pub job: String,
    /// The mark itself, as the add-on's settings show it.
    #[arg(long)]
    pub mark: Option<String>,
    /// The add-on's mark file (…_Cookie.bin): raw, with a BOM, UTF-16, XML or JSON.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// For the add-ons that keep a timestamp (ArcSight, QRadar .bin): start the job's next
    /// run from this time, as start_at does (2024-03-01 or 2024-03-01T10:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Replace the mark the job already has (what it fetched since is not fetched again).
    #[arg(long)]
    pub force: bool,
}

pub fn import_mark(args: ImportMarkArgs) -> anyhow::Result<ExitCode> {
    // Only the state file is written: the job's secrets are not needed.
    let (config, _unresolved_secrets) = config::load_deferring(&args.config)?;
    let Some(job) = config.jobs.iter().find(|j| j.name.get_ref() == &args.job) else {
        let names: Vec<_> = config.jobs.iter().map(|j| j.name.get_ref().as_str()).collect();
        anyhow::bail!("no job is named {:?} in {} (jobs: {})", args.job, args.config.display(), names.join(", "));
    };
    let name = job.name.get_ref();
    if let Some(since) = &args.since {
        let from = crate::backfill::parse_time(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
        return import_since(&config, name, &from, args.force);
    }
    let (mark, form) = match (&args.mark, &args.file) {
        (Some(mark), _) => (markfile::check_mark(mark)?, None),
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let (mark, form) =
                markfile::read_mark(&bytes).map_err(|e| anyhow::anyhow!("{}: no mark found: {e}", path.display()))?;
            (mark, Some(form))
        }
        (None, None) => anyhow::bail!("give --mark, --file or --since"),
    };
    // A running bridge keeps the job's mark in memory and would overwrite this one.
    let _lock = pipeline::lock_state(&config.state.path)?;
    let mut store = pipeline::open_store(&config)?;
    if let Some(held) = store.mark(name)? {
        if !args.force {
            anyhow::bail!(
                "job {name:?} already has a mark ({}): it has run, and replacing its mark would fetch again or \
                 skip records (records fetched again that the job took within spool.dedup_window are \
                 skipped, not delivered twice; `auditbridge backfill` sends records again on purpose); \
                 give --force to replace it anyway",
                short(&held)
            );
        }
    }
    let replaced = store.set_mark(name, Some(&mark))?;
    if let Some(from) = store.start_from(name)? {
        // The mark replaces a start time: it is an enum mark, no search under a When filter.
        store.set_start_from(name, None)?;
        println!("replaced the start time it had: {from}");
    }
    let from = form.map(|f: MarkFileForm| format!(" (read from {}, {})", path_text(&args), f.describe()));
    println!("job {name:?}: mark {}{} set; its next run starts after it", short(&mark), from.unwrap_or_default());
    if let Some(old) = replaced {
        println!("replaced the mark it had: {old}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: the job's next run searches from `from` on, as with `start_at`.
fn import_since(config: &config::Config, name: &str, from: &str, force: bool) -> anyhow::Result<ExitCode> {
    let _lock = pipeline::lock_state(&config.state.path)?;
    let mut store = pipeline::open_store(config)?;
    let (mark, kept) = (store.mark(name)?, store.start_from(name)?);
    if !force && (mark.is_some() || kept.is_some()) {
        let what = match (&mark, &kept) {
            (Some(m), _) => format!("a mark ({})", short(m)),
            (None, Some(k)) => format!("a start time ({k})"),
            (None, None) => String::new(),
        };
        anyhow::bail!(
            "job {name:?} already has {what}: replacing it would fetch again or skip records; \
             give --force to replace it anyway"
        );
    }
    if let Some(old) = store.set_mark(name, None)? {
        println!("replaced the mark it had: {old}");
    }
    if let Some(old) = kept {
        println!("replaced the start time it had: {old}");
    }
    store.set_start_from(name, Some(from))?;
    println!(
        "job {name:?}: starts from {from} on its next run (through /search with a When filter, under its own mark)"
    );
    Ok(ExitCode::SUCCESS)
}

fn path_text(args: &ImportMarkArgs) -> String {
    args.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

/// A mark as shown in messages: its start and length (marks run to kilobytes).
fn short(mark: &str) -> String {
    let head: String = mark.chars().take(24).collect();
    if head.len() == mark.len() {
        head
    } else {
        format!("{head}… ({} characters)", mark.len())
    }
}
