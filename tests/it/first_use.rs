//! What a new user tripped on, following the README (issue 23, point 6): each checked on
//! the command's captured output.

use crate::harness::*;
use std::path::Path;
use std::process::{Command, Output};

fn bridge(args: &[&str], config: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditbridge"));
    cmd.args(args);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.env_remove("AUDITBRIDGE_T_UNSET_ONE").env_remove("AUDITBRIDGE_T_UNSET_TWO").env_remove("RUST_LOG");
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config whose job password and HEC token are unset environment variables.
fn config_with_unset_secrets(dir: &Path) -> std::path::PathBuf {
    let hec = "[[sink]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nurl = \"http://127.0.0.1:1\"\n\
               token = \"${AUDITBRIDGE_T_UNSET_TWO}\"\n";
    let sinks = format!("{}\n{hec}", file_sink(dir));
    let text = config_text(dir, "http://127.0.0.1:1", "", &sinks).replace(PASSWORD, "${AUDITBRIDGE_T_UNSET_ONE}");
    write_config(dir, &text)
}

#[test]
fn status_needs_no_secret_and_explains_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_unset_secrets(dir.path());
    let out = bridge(&["status"], Some(&config));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "status without the secrets set: {}", text(&out.stderr));
    assert!(stdout.contains("corp") && stdout.contains("archive") && stdout.contains("splunk"), "{stdout}");
    assert!(stdout.contains("MARK     held: the job has a continuation mark"), "{stdout}");
    assert!(stdout.contains("LAG ") && stdout.contains("- when it has none") && stdout.contains("lag_seconds 0"));
    let out = bridge(&["status", "--json"], Some(&config));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn validate_reports_every_unset_variable_with_the_error_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_unset_secrets(dir.path());
    let out = bridge(&["validate"], Some(&config));
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains("AUDITBRIDGE_T_UNSET_ONE is not set"), "{stderr}");
    assert!(lines[1].starts_with("error: ") && lines[1].contains("AUDITBRIDGE_T_UNSET_TWO is not set"), "{stderr}");
    assert!(lines[0].contains("auditbridge.toml:13:"), "the line of the reference: {stderr}");
    // Any other config error has the same prefix.
    std::fs::write(&config, "[[job]]\nname = \"corp\"\n").unwrap();
    let stderr = text(&bridge(&["validate"], Some(&config)).stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("missing field `url`"), "{stderr}");
}

#[test]
fn a_job_no_sink_takes_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!("{}jobs = [\"corp\"]\n", file_sink(dir.path()));
    let text_ = config_text(dir.path(), "http://127.0.0.1:1", "", &sinks)
        .replace("[[job]]", "[[job]]\nname = \"orphan\"\nurl = \"http://127.0.0.1:1\"\n\n[[job]]");
    let config = write_config(dir.path(), &text_);
    let out = bridge(&["validate"], Some(&config));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "a warning, not an error: {stderr}");
    assert!(stderr.contains("warning: job \"orphan\" is taken by no sink"), "{stderr}");
    assert!(!stderr.contains("job \"corp\""), "{stderr}");
    // The shipped example routes every job it defines.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/auditbridge.example.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditbridge"));
    let out = cmd.args(["validate", "--config"]).arg(example).env("NETWRIX_PASSWORD", "x").output().unwrap();
    assert!(out.status.success() && !text(&out.stderr).contains("warning"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_once_says_what_it_fetched_and_delivered_and_logs_without_colours() {
    let (_emu, running) = emulator(3_000).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())));
    let out = tokio::task::spawn_blocking(move || bridge(&["run", "--once"], Some(&config))).await.unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let summary = "run --once: fetched 3000 records (3000 new, 0 already spooled), delivered 3000 to archive";
    assert!(stderr.lines().any(|l| l == summary), "{stderr}");
    assert_eq!(stdout, "", "standard output stays free for a stdout sink");
    assert!(stderr.contains("auditbridge starting"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "no ANSI escape codes when stderr is a pipe: {stderr:?}");
}

#[test]
fn config_option_has_help_text() {
    for command in ["run", "validate", "status", "vacuum", "backfill", "import-mark"] {
        let out = bridge(&[command, "--help"], None);
        let stdout = text(&out.stdout);
        let line = stdout.lines().find(|l| l.contains("-c, --config")).unwrap_or_default();
        assert!(line.contains("-c, --config <CONFIG>") && line.contains("The config file"), "{command}: {stdout}");
    }
}

#[test]
fn readme_minimal_config_spells_the_pin_as_the_example_does() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let minimal = &readme[readme.find("A minimal config").unwrap()..];
    let minimal = &minimal[..minimal.find("```\n\n").unwrap()];
    assert!(minimal.contains("fingerprint_sha256 = "), "{minimal}");
}

#[test]
fn demo_summary_names_every_output_and_how_to_see_status() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo-out");
    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["demo", "--records", "2000", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let demo_toml = out_dir.join("demo.toml");
    for path in ["records.jsonl", "records.cef", "records.leef", "splunk-hec.jsonl", "demo.toml", "state.db"] {
        let path = out_dir.join(path);
        assert!(path.exists() && stdout.contains(&path.display().to_string()), "{} in {stdout}", path.display());
    }
    let hint = format!("auditbridge status --config {}", demo_toml.display());
    assert!(stdout.contains(&hint), "{stdout}");
    let out = bridge(&["status"], Some(&demo_toml));
    assert!(out.status.success() && text(&out.stdout).contains("file"), "{}", text(&out.stderr));
}
