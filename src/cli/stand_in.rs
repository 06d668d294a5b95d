//! What every stand-in command (`hec-receiver`, `sentinel-receiver`) does once it serves:
//! say how to stop it, report its count as it changes, and stop on Ctrl-C.

use std::io::Write;
use std::time::Duration;

/// Prints "stop with Ctrl-C", then `"{n} {what}"` every 5 seconds in which `count` changed,
/// until Ctrl-C.
pub async fn report_until_ctrl_c(out: &mut impl Write, what: &str, count: impl Fn() -> u64) -> anyhow::Result<()> {
    let _ = writeln!(out, "stop with Ctrl-C");
    let _ = out.flush();
    let mut shown = 0;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            r = &mut ctrl_c => return Ok(r?),
            () = tokio::time::sleep(Duration::from_secs(5)) => {
                let n = count();
                if n != shown {
                    shown = n;
                    let _ = writeln!(out, "{n} {what}");
                }
            }
        }
    }
}
