//! Helpers the end-to-end tests share: an emulator filled with generated records,
//! a config written into a temp dir, the bridge run in-process or as a child, waiting
//! on a condition, and readers for what the sinks produced.

#![allow(dead_code)]

mod run;
mod wait;

pub use run::{job_named, run_once_in_process, run_once_watching};
pub use wait::{wait_for, wait_until, wait_until_blocking, wait_until_ok};

use netwrix::emulator::{Emulator, EmulatorConfig, RunningEmulator};
use std::path::{Path, PathBuf};

pub const USER: &str = "CORP\\svc-export";
pub const PASSWORD: &str = "Secr3t!";

/// An HTTP client for the tests' own requests. reqwest has no crypto provider of its
/// own in this build (the bridge hands each of its clients one), so the test process
/// installs ring's as the default first.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `GET url` with [`http`]'s client.
pub async fn http_get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http().get(url).send().await
}

/// An emulator over plain HTTP holding `n` generated records (seed 7), with Basic auth.
pub async fn emulator(n: usize) -> (Emulator, RunningEmulator) {
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        ..EmulatorConfig::default()
    });
    emulator.add_records(netwrix::generate::generate(n, 7));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (emulator, running)
}

/// The ids of `n` generated records (seed 7), in the order the emulator serves them.
pub fn expected_ids(n: usize) -> Vec<String> {
    netwrix::generate::generate(n, 7).iter().map(|r| r.id().to_string()).collect()
}

/// A config with one job `corp` against `url` and the sinks given as TOML.
pub fn config_text(dir: &Path, url: &str, extra: &str, sinks: &str) -> String {
    let dir = dir.display();
    format!(
        r#"
[state]
path = "{dir}/state.db"

[retry]
initial_delay = "10ms"
max_delay = "200ms"
{extra}
[[job]]
name = "corp"
url = "{url}"
user = 'CORP\svc-export'
password = "{PASSWORD}"
interval = "200ms"
timeout = "10s"

{sinks}
"#
    )
}

/// A file sink writing to `dir/out/records.jsonl`.
pub fn file_sink(dir: &Path) -> String {
    format!("[[sink]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}/out/records.jsonl\"\n", dir.display())
}

pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("auditbridge.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `auditbridge_id` of every line of a JSON-lines file (empty if absent).
pub fn ids_in(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            v["auditbridge_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Starts `auditbridge run --config CONFIG` (with `--once` when `once`), its output
/// discarded: for tests that kill or signal the real process.
pub fn spawn_run(config: &Path, once: bool) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_auditbridge"));
    cmd.args(["run", "--config"]).arg(config).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    if once {
        cmd.arg("--once");
    }
    cmd.spawn().expect("start auditbridge")
}
