//! Every `auth` a job can choose, end to end through the real pipeline against the
//! emulator accepting that scheme: the export completes with every record once, and a
//! wrong password stops the job at once with a 401 naming the scheme. The last test runs
//! the `auditbridge emulate` binary itself with `--auth ntlm --fault …`.

use crate::harness::*;
use netwrix::emulator::{Emulator, EmulatorConfig, ServerScheme};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn run(text: &str) -> (auditbridge::pipeline::RunReport, state::JobState) {
    let (report, store) = run_once_in_process(text, Duration::from_secs(120)).await;
    (report, job_named(&store, "corp"))
}

fn with_auth(dir: &std::path::Path, url: &str, auth: &str) -> String {
    config_text(dir, url, "", &file_sink(dir))
        .replace("timeout = \"10s\"\n", &format!("timeout = \"10s\"\nauth = \"{auth}\"\n"))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_auth_scheme_exports_everything_and_a_wrong_password_stops_at_once() {
    let cases = [
        ("basic", vec![ServerScheme::Basic], "Basic"),
        ("digest", vec![ServerScheme::Digest], "Digest"),
        ("ntlm", vec![ServerScheme::Ntlm], "NTLM"),
        ("negotiate", vec![ServerScheme::Negotiate], "Negotiate"),
        ("auto", vec![ServerScheme::Ntlm, ServerScheme::Digest, ServerScheme::Basic], "NTLM"),
    ];
    for (auth, schemes, name) in cases {
        let emulator = Emulator::new(EmulatorConfig {
            credentials: Some((USER.into(), PASSWORD.into())),
            schemes,
            ..EmulatorConfig::default()
        });
        emulator.add_records(netwrix::generate::generate(5_000, 7));
        let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (report, job) = run(&with_auth(dir.path(), &running.base_url, auth)).await;
        assert!(report.failures.is_empty(), "{auth}: {:?}", report.failures);
        assert_eq!((job.spooled_total, job.duplicates_total), (5_000, 0), "{auth}");
        assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(5_000), "{auth}");

        let dir = tempfile::tempdir().unwrap();
        let (report, job) = run(&with_auth(dir.path(), &running.base_url, auth).replace(PASSWORD, "wrong")).await;
        let failure = report.failures.join("\n");
        let expected = format!("HTTP 401 Unauthorized ({name}): check the user and password");
        assert!(failure.contains("job \"corp\"") && failure.contains(&expected), "{auth}: {failure}");
        assert!(job.last_error.unwrap().contains(&expected), "{auth}");
        assert_eq!((job.spooled_total, job.mark), (0, None));
    }
}

/// `auditbridge emulate` as a process, killed on drop.
struct Emulate(std::process::Child);

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulate_command_takes_auth_and_fault_options() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditbridge"))
        .args(["emulate", "--listen", &format!("127.0.0.1:{port}"), "--generate", "20000", "--seed", "7"])
        .args(["--user", USER, "--password", PASSWORD, "--auth", "ntlm", "--auth", "digest"])
        .args(["--fault", "503x2", "--fault", "every=4:reset", "--fault", "every=5:malformed"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start auditbridge emulate");
    let mut banner = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    while !banner.contains("stop with Ctrl-C") {
        assert!(out.read_line(&mut banner).unwrap() > 0, "emulate ended early: {banner}");
    }
    let _emulate = Emulate(child);
    assert!(banner.contains("authentication: NTLM, Digest") && banner.contains("faults: 3"), "{banner}");

    let dir = tempfile::tempdir().unwrap();
    let (report, job) = run(&with_auth(dir.path(), &format!("http://127.0.0.1:{port}"), "auto")).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((job.spooled_total, job.duplicates_total), (20_000, 0));
    let ids: Vec<String> = netwrix::generate::generate(20_000, 7).iter().map(|r| r.id().to_string()).collect();
    assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), ids);

    let bad = Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(["emulate", "--fault", "teapot"]).output().unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("invalid --fault \"teapot\"") && stderr.contains("every=N"), "{stderr}");
}
