//! The demo writes a compliance archive beside its other outputs, verifies it, and prints
//! the `archive verify` command an auditor would run; that command, run as printed,
//! passes.

use std::process::Command;

#[test]
fn the_demo_writes_a_verified_archive_and_prints_the_command_to_check_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-out");
    let demo = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["demo", "--records", "5000", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "demo: {stdout}\n{}", String::from_utf8_lossy(&demo.stderr));
    assert!(stdout.contains("verified intact") && stdout.contains("5000 records"), "{stdout}");
    let command = stdout
        .lines()
        .find_map(|l| l.split_once("check it again: ").map(|(_, c)| c.to_owned()))
        .unwrap_or_else(|| panic!("the verify command is printed: {stdout}"));
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(&args[..3], ["auditbridge", "archive", "verify"]);
    let verify = Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(&args[1..]).output().unwrap();
    let report = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success() && report.starts_with("intact:"), "{report}");
}
