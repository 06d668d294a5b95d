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
#[command(group(ArgGroup::new("source").required(true).args(["mark", "file"])))]
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
    let (mark, form) = match (&args.mark, &args.file) {
        (Some(mark), _) => (markfile::check_mark(mark)?, None),
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let (mark, form) =
                markfile::read_mark(&bytes).map_err(|e| anyhow::anyhow!("{}: no mark found: {e}", path.display()))?;
            (mark, Some(form))
        }
        (None, None) => anyhow::bail!("give --mark or --file"),
    };
    // A running bridge keeps the job's mark in memory and would overwrite this one.
    let _lock = pipeline::lock_state(&config.state.path)?;
    let mut store = pipeline::open_store(&config)?;
    let name = job.name.get_ref();
    if let Some(held) = store.mark(name)? {
        if !args.force {
            anyhow::bail!(
                "job {name:?} already has a mark ({}): it has run, and replacing its mark would fetch again or \
                 skip records; give --force to replace it anyway",
                short(&held)
            );
        }
    }
    let replaced = store.set_mark(name, &mark)?;
    let from = form.map(|f: MarkFileForm| format!(" (read from {}, {})", path_text(&args), f.describe()));
    println!("job {name:?}: mark {}{} set; its next run starts after it", short(&mark), from.unwrap_or_default());
    if let Some(old) = replaced {
        println!("replaced the mark it had: {old}");
    }
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
