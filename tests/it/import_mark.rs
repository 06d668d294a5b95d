//! `auditbridge import-mark`: a job takes over where a Netwrix add-on stopped. The
//! emulator holds 10,000 records, the add-on's mark points after record 6,000, and the
//! mark is written in each form the add-ons write it; after the import, `run --once`
//! delivers exactly records 6,001–10,000.

use crate::harness::*;
use std::path::Path;
use std::process::{Command, Output};

const TOTAL: usize = 10_000;
const TAKEN: usize = 6_000;

fn bridge(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auditbridge")).args(args).arg("--config").arg(config).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
    for unit in text.encode_utf16() {
        out.extend(if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
    }
    out
}

/// The add-on's mark file in each form it can take.
fn forms(mark: &str) -> Vec<(&'static str, Vec<u8>)> {
    let clixml = format!(
        "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\r\n  <S>{mark}</S>\r\n</Objs>\r\n"
    );
    vec![
        ("raw", mark.as_bytes().to_vec()),
        ("UTF-8 with a byte-order mark", [b"\xEF\xBB\xBF".as_slice(), format!("{mark}\r\n").as_bytes()].concat()),
        ("UTF-16 LE", utf16(&format!("{mark}\r\n"), false)),
        ("UTF-16 BE", utf16(mark, true)),
        ("XML", utf16(&clixml, false)),
        ("XML", format!("<ContinuationMark xmlns=\"http://schemas.netwrix.com/api/v1/activity_records/\">\n  {mark}\n</ContinuationMark>").into_bytes()),
        ("JSON", format!("\"{mark}\"\r\n").into_bytes()),
        ("JSON", format!("{{\n  \"ContinuationMark\": \"{mark}\"\n}}").into_bytes()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn each_form_of_the_add_ons_mark_resumes_exactly_after_record_6000() {
    let (_emu, running) = emulator(TOTAL).await;
    let mark = netwrix::emulator::enum_mark_at(TAKEN);
    let expected = expected_ids(TOTAL)[TAKEN..].to_vec();
    let url = running.base_url.clone();
    tokio::task::spawn_blocking(move || {
        for (i, (form, bytes)) in forms(&mark).into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let config = write_config(dir.path(), &config_text(dir.path(), &url, "", &file_sink(dir.path())));
            let file = dir.path().join("Netwrix_Auditor_Activity_Records_to_Event_Log_Add-on_Cookie.bin");
            std::fs::write(&file, &bytes).unwrap();
            let out = bridge(&["import-mark", "--job", "corp", "--file", file.to_str().unwrap()], &config);
            let stdout = text(&out.stdout);
            assert!(out.status.success(), "form {i} ({form}): {}", text(&out.stderr));
            assert!(stdout.contains("job \"corp\": mark PG5yPjxu") && stdout.contains(form), "form {i}: {stdout}");
            let out = bridge(&["run", "--once"], &config);
            assert!(out.status.success(), "form {i}: {}", text(&out.stderr));
            let ids = ids_in(&dir.path().join("out/records.jsonl"));
            assert_eq!(ids.len(), TOTAL - TAKEN, "form {i} ({form})");
            assert!(ids == expected, "form {i} ({form}): records 6,001-10,000 exactly, in order");
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_has_a_mark_keeps_it_unless_forced_and_a_wrong_file_is_refused() {
    let (_emu, running) = emulator(3_000).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &config_text(dir.path(), &running.base_url, "", &file_sink(dir.path())));
    let garbage = dir.path().join("notes.txt");
    std::fs::write(&garbage, "last run: Tuesday, all fine\n").unwrap();
    let mark = netwrix::emulator::enum_mark_at(2_500);
    tokio::task::spawn_blocking(move || {
        let out = bridge(&["import-mark", "--job", "corp", "--file", garbage.to_str().unwrap()], &config);
        let stderr = text(&out.stderr);
        assert!(!out.status.success() && stderr.contains("does not look like a continuation mark"), "{stderr}");
        let out = bridge(&["import-mark", "--job", "nope", "--mark", &mark], &config);
        let stderr = text(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("no job is named \"nope\"") && stderr.contains("(jobs: corp)")
        );

        assert!(bridge(&["run", "--once"], &config).status.success());
        assert_eq!(ids_in(&dir.path().join("out/records.jsonl")).len(), 3_000);
        let out = bridge(&["import-mark", "--job", "corp", "--mark", &mark], &config);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "refused once the job has a mark");
        assert!(stderr.contains("already has a mark") && stderr.contains("--force"), "{stderr}");

        let out = bridge(&["import-mark", "--job", "corp", "--mark", &mark, "--force"], &config);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let replaced = netwrix::emulator::enum_mark_at(3_000);
        assert!(stdout.contains(&format!("replaced the mark it had: {replaced}")), "{stdout}");
        // Records 2,501-3,000 are fetched again, as --force was told; the job took them
        // already, so they are counted as duplicates, not delivered twice.
        assert!(bridge(&["run", "--once"], &config).status.success());
        let ids = ids_in(&dir.path().join("out/records.jsonl"));
        assert_eq!(ids.len(), 3_000);
        let store = state::Store::open(&dir.path().join("state.db"), Default::default()).unwrap();
        let job = store.jobs().unwrap().into_iter().find(|j| j.name == "corp").unwrap();
        assert_eq!(job.duplicates_total, 500);
    })
    .await
    .unwrap();
}
