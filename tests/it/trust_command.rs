//! `auditbridge trust URL` shows the emulator's self-signed certificate and a pin line
//! that, pasted into a job, connects.

use netwrix::emulator::{Emulator, EmulatorConfig};
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn trust_prints_the_certificate_and_a_working_pin() {
    let emulator = Emulator::new(EmulatorConfig { tls: true, ..EmulatorConfig::default() });
    emulator.add_records(netwrix::generate::generate(5, 3));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = running.base_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(["trust", &url]).output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fingerprint = running.fingerprint.clone().unwrap();
    assert!(stdout.contains(&format!("fingerprint = \"{fingerprint}\"")), "{stdout}");
    assert!(
        stdout.contains("(self-signed)") && stdout.contains("valid:") && stdout.contains("IP:127.0.0.1"),
        "{stdout}"
    );

    // The printed line, pasted into a job, connects.
    let dir = tempfile::tempdir().unwrap();
    let pin = stdout.lines().find(|l| l.starts_with("fingerprint = ")).unwrap();
    let text = format!(
        "[state]\npath = \"{}/s.db\"\n[[job]]\nname = \"corp\"\nurl = \"{}\"\n[job.tls]\n{pin}\n[[sink]]\nname = \"out\"\ntype = \"file\"\npath = \"{}/out.jsonl\"\n",
        dir.path().display(),
        running.base_url,
        dir.path().display()
    );
    let config = auditbridge::config::parse(&text, "t.toml").unwrap();
    let client = auditbridge::pipeline::client_for(&config.jobs[0]).unwrap();
    assert_eq!(client.first_page().await.unwrap().records.len(), 5);

    let out = Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(["trust", "http://127.0.0.1:1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an https:// URL"));
}
