//! `auditbridge vacuum`: gives the state file's free space back to the disk, for a
//! maintenance window. The file keeps the size of its largest backlog otherwise (after a
//! long SIEM outage, gigabytes), and files made by older builds keep 4 KiB pages.

use crate::config;
use crate::pipeline::{lock_state, open_store};
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

/// Prunes what every configured sink acknowledged, then rewrites the state file.
pub fn vacuum(path: &Path) -> anyhow::Result<ExitCode> {
    let config = config::load(path)?;
    // No `run` may use the file meanwhile; `status` readers make the vacuum wait, then fail.
    let _lock = lock_state(&config.state.path)?;
    let mut store = open_store(&config)?;
    let sinks: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
    let registered: Vec<String> = store.sinks()?.into_iter().map(|s| s.name).collect();
    // A sink that never ran takes every record still spooled when it starts (its
    // `start` is `oldest` unless set): nothing is pruned for it.
    let pruned = match sinks.iter().find(|s| !registered.iter().any(|r| r == *s)) {
        Some(new) => {
            println!("sink {new:?} has not run yet: nothing pruned");
            0
        }
        None => store.prune(&sinks).context("pruning the spool")?,
    };
    store.sync().context("checkpointing the state file")?;
    let kept = store.spool_rows()?;
    let v = store.vacuum().with_context(|| format!("vacuuming {}", config.state.path.display()))?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "state {}: {:.1} MiB -> {:.1} MiB ({pruned} delivered records pruned, {kept} kept), page size {} -> {}",
        config.state.path.display(),
        mib(v.bytes_before),
        mib(v.bytes_after),
        v.page_size_before,
        v.page_size_after
    );
    Ok(ExitCode::SUCCESS)
}
