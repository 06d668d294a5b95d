//! Reloading the config on SIGHUP during an export of 30,000 records: a sink added,
//! one removed and one changed, then a broken config refused. The sink that stayed
//! throughout has every record exactly once, in order; the added one a gapless tail.

use crate::harness::*;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const TOTAL: usize = 30_000;

fn file(name: &str, dir: &Path, extra: &str) -> String {
    format!("[[sink]]\nname = \"{name}\"\ntype = \"file\"\npath = \"{}/out/{name}.jsonl\"\n{extra}\n", dir.display())
}

fn lines(dir: &Path, name: &str) -> Vec<String> {
    ids_in(&dir.join(format!("out/{name}.jsonl")))
}

/// How many lines a sink's file has: what the waits poll, without parsing them all.
fn count(dir: &Path, name: &str) -> usize {
    std::fs::read(dir.join(format!("out/{name}.jsonl"))).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
}

/// The last line of a sink's file, as written.
fn last(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(format!("out/{name}.jsonl"))).ok()?;
    text.lines().last().map(|l| l.split(',').next().unwrap_or(l).to_owned())
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    wait_until_blocking(what, Duration::from_secs(300), &mut done);
}

fn hup(pid: u32) {
    assert!(Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sinks_added_removed_changed_and_a_broken_config_during_an_export() {
    let (emu, running) = emulator(TOTAL).await;
    // Slow pages (6 s for the 60 pages at least), so the export is still going through
    // every reload.
    for _ in 0..TOTAL / 500 {
        emu.inject(netwrix::emulator::Fault::Delay(Duration::from_millis(100)));
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let text = |sinks: &str| {
        config_text(&d, &running.base_url, "", sinks).replace("timeout = \"10s\"\n", "timeout = \"10s\"\ncount = 500\n")
    };
    let config = write_config(&d, &text(&format!("{}{}", file("a", &d, ""), file("b", &d, ""))));
    let log = std::fs::File::create(d.join("bridge.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let pid = child.id();
    let log_path = d.join("bridge.log");
    let log = move || std::fs::read_to_string(&log_path).unwrap_or_default();
    let added = text(&format!("{}{}{}", file("a", &d, ""), file("b", &d, ""), file("c", &d, "")));
    let changed = text(&format!("{}{}", file("a", &d, "batch_records = 250"), file("c", &d, "")));
    let (d2, config2) = (d.clone(), config.clone());
    let log2 = log.clone();
    tokio::task::spawn_blocking(move || {
        let (d, log) = (d2, log2);
        wait("3,000 records in a", || count(&d, "a") >= 3_000);
        std::fs::write(&config2, &added).unwrap();
        hup(pid);
        wait("the added sink c to deliver", || count(&d, "c") > 0);

        wait("9,000 records in a", || count(&d, "a") >= 9_000);
        std::fs::write(&config2, &changed).unwrap();
        hup(pid);
        wait("the second reload", || log().matches("reloading the config").count() == 2);

        wait("15,000 records in a", || count(&d, "a") >= 15_000);
        std::fs::write(&config2, changed.replace("batch_records = 250", "batch_records = \"many\"")).unwrap();
        hup(pid);
        wait("the broken config to be refused", || log().contains("reload refused"));
        wait("every record in a and c", || {
            count(&d, "a") >= TOTAL && last(&d, "c").is_some_and(|l| last(&d, "a") == Some(l))
        });
    })
    .await
    .unwrap();
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(child.wait().unwrap().success());

    let log = log();
    assert!(log.contains("reload refused, the running config is kept") && log.contains("string \"many\""), "{log}");
    let expected = expected_ids(TOTAL);
    let a = lines(&d, "a");
    assert_eq!(a.len(), TOTAL, "the sink that stayed (and was changed) lost or doubled nothing");
    assert!(a == expected, "in order");
    let b = lines(&d, "b");
    assert!(b.len() < TOTAL && b[..] == expected[..b.len()], "the removed sink stopped; what it had is intact");
    let c = lines(&d, "c");
    assert_eq!(c.iter().collect::<HashSet<_>>().len(), c.len(), "the added sink doubled nothing");
    assert!(c[..] == expected[TOTAL - c.len()..], "the added sink has a gapless tail up to the last record");
}
