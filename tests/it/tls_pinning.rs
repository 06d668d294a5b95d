//! Certificate pinning through the config and the real pipeline: a job whose
//! `tls.fingerprint_sha256` is the server's certificate exports everything; a job pinned
//! to another certificate is refused at the TLS handshake, stops (no retry towards an
//! unverified server) and says both fingerprints, in the run's report and in `status`.

use crate::harness::*;
use netwrix::emulator::{Emulator, EmulatorConfig};
use std::time::Duration;

async fn run(text: &str) -> (auditbridge::pipeline::RunReport, state::JobState) {
    let (report, store) = run_once_in_process(text, Duration::from_secs(60)).await;
    (report, job_named(&store, "corp"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_fingerprint_connects_and_another_certificate_is_refused_naming_both() {
    let emulator = Emulator::new(EmulatorConfig {
        credentials: Some((USER.into(), PASSWORD.into())),
        tls: true,
        ..EmulatorConfig::default()
    });
    emulator.add_records(netwrix::generate::generate(2_500, 7));
    let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let fingerprint = running.fingerprint.clone().unwrap();
    let pinned = |fp: &str, dir: &std::path::Path| {
        let text = config_text(dir, &running.base_url, "", &file_sink(dir));
        text.replace("timeout = \"10s\"\n", &format!("timeout = \"10s\"\ntls.fingerprint_sha256 = \"{fp}\"\n"))
    };

    // The right certificate, pinned in the colon-separated upper-case form Windows shows.
    let dir = tempfile::tempdir().unwrap();
    let windows =
        fingerprint.as_bytes().chunks(2).map(|p| String::from_utf8_lossy(p).to_uppercase()).collect::<Vec<_>>();
    let (report, job) = run(&pinned(&windows.join(":"), dir.path())).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(job.spooled_total, 2_500);
    assert_eq!(ids_in(&dir.path().join("out/records.jsonl")), expected_ids(2_500));

    // Another certificate's fingerprint: refused, both fingerprints shown, nothing taken.
    let before = emulator.requests();
    let dir = tempfile::tempdir().unwrap();
    let other = "3f".repeat(32);
    let (report, job) = run(&pinned(&other, dir.path())).await;
    let failure = report.failures.join("\n");
    let both = format!("certificate fingerprint mismatch: expected {other}, got {fingerprint}");
    assert!(failure.contains("job \"corp\"") && failure.contains(&both), "{failure}");
    assert!(job.last_error.unwrap().contains(&both));
    assert_eq!((job.spooled_total, job.mark), (0, None));
    assert_eq!(emulator.requests(), before, "the refused job never reached the API");
}
