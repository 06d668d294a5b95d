//! A `mode = "search"` job through the real pipeline: filters written in TOML, sent with
//! the stored mark inside ActivityRecordSearch on every page (XML and JSON), each page
//! committed with its mark; a later run resumes from that mark and takes only new matches.
//! Two jobs on one server (enum and search) keep their own marks.

use crate::harness::*;
use netwrix::ActivityRecord;
use std::time::Duration;

const FILTERS: &str = r#"mode = "search"
count = 250
filters.DataSource = ["Active Directory", { StartsWith = "exchange" }]
filters.Action = { NotEqualTo = ["Read", "Removed"] }
"#;

/// The test's own reading of FILTERS.
fn selected(r: &ActivityRecord) -> bool {
    let ds = r.data_source.as_deref().unwrap_or("").to_lowercase();
    let action = r.action.to_lowercase();
    (ds == "active directory" || ds.starts_with("exchange")) && action != "read" && action != "removed"
}

async fn run(text: &str) -> auditbridge::pipeline::RunReport {
    run_once_in_process(text, Duration::from_secs(120)).await.0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_job_exports_exactly_the_matching_records_and_resumes_from_its_mark() {
    for format in ["xml", "json"] {
        let (emulator, running) = emulator(8_000).await;
        let dir = tempfile::tempdir().unwrap();
        let job = format!("{FILTERS}format = \"{format}\"\n");
        let text = config_text(dir.path(), &running.base_url, "", &file_sink(dir.path()))
            .replace("timeout = \"10s\"\n", &format!("timeout = \"10s\"\n{job}"));
        let report = run(&text).await;
        assert!(report.failures.is_empty(), "{format}: {:?}", report.failures);
        let generated = netwrix::generate::generate(8_000, 7);
        let expected: Vec<String> = generated.iter().filter(|r| selected(r)).map(|r| r.id().to_string()).collect();
        assert!(expected.len() > 500 && expected.len() < 8_000, "{}", expected.len());
        let out = dir.path().join("out/records.jsonl");
        assert_eq!(ids_in(&out), expected, "{format}");

        // New records: the next run asks with the stored mark and takes only the new matches.
        let mut late = generated[..40].to_vec();
        for (i, r) in late.iter_mut().enumerate() {
            r.what = format!("late object {i}").into();
        }
        let late_matches = late.iter().filter(|r| selected(r)).count();
        emulator.add_records(late);
        let report = run(&text).await;
        assert!(report.failures.is_empty(), "{format}: {:?}", report.failures);
        let all = ids_in(&out);
        let new = &all[expected.len()..];
        assert!(late_matches > 0 && new.len() == late_matches, "{format}: {} new of {late_matches}", new.len());
        let store = state::Store::open(&dir.path().join("state.db"), state::StoreOptions::default()).unwrap();
        let job = store.jobs().unwrap().into_iter().find(|j| j.name == "corp").unwrap();
        assert_eq!(job.duplicates_total, 0);
        assert!(job.mark.is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enum_job_and_a_search_job_on_one_server_keep_their_own_marks() {
    let (_emulator, running) = emulator(3_000).await;
    let dir = tempfile::tempdir().unwrap();
    let base = config_text(dir.path(), &running.base_url, "", &file_sink(dir.path()));
    let second = format!(
        "[[job]]\nname = \"exchange\"\nurl = \"{}\"\nuser = 'CORP\\svc-export'\npassword = \"{PASSWORD}\"\n{FILTERS}\n",
        running.base_url
    );
    let text = base.replace("[[sink]]", &format!("{second}[[sink]]"));
    let report = run(&text).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let store = state::Store::open(&dir.path().join("state.db"), state::StoreOptions::default()).unwrap();
    let jobs = store.jobs().unwrap();
    let corp = jobs.iter().find(|j| j.name == "corp").unwrap();
    let exchange = jobs.iter().find(|j| j.name == "exchange").unwrap();
    // Each job spooled all it should: a record is a duplicate only within its own job.
    let matches = netwrix::generate::generate(3_000, 7).iter().filter(|r| selected(r)).count() as u64;
    assert_eq!((corp.spooled_total, corp.duplicates_total), (3_000, 0));
    assert_eq!((exchange.spooled_total, exchange.duplicates_total), (matches, 0));
    // A sink that takes both jobs gets both copies of a shared record, with the same id.
    let ids = ids_in(&dir.path().join("out/records.jsonl"));
    assert_eq!(ids.len() as u64, 3_000 + matches);
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 3_000);
    assert!(corp.mark.is_some() && exchange.mark.is_some() && corp.mark != exchange.mark);
}

/// Two search jobs whose filters overlap, each routed to its own file sink: each sink
/// gets every record of its job, the shared ones included (they used to go only to the
/// job that spooled them first).
#[tokio::test(flavor = "multi_thread")]
async fn two_overlapping_search_jobs_each_deliver_every_record_to_their_own_sink() {
    let (_emulator, running) = emulator(3_005).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let job = |name: &str, filters: &str| {
        format!(
            "[[job]]\nname = \"{name}\"\nurl = \"{}\"\nuser = 'CORP\\svc-export'\npassword = \"{PASSWORD}\"\n\
             mode = \"search\"\ncount = 300\n{filters}\n",
            running.base_url
        )
    };
    let sink = |name: &str, job: &str| {
        format!("[[sink]]\nname = \"{name}\"\ntype = \"file\"\njobs = [\"{job}\"]\npath = \"{d}/out/{name}.jsonl\"\n")
    };
    let text = format!(
        "[state]\npath = \"{d}/state.db\"\n{}{}{}{}",
        job("security", "filters.DataSource = [\"Active Directory\", { StartsWith = \"exchange\" }]"),
        job("changes", "filters.Action = { NotEqualTo = [\"Read\", \"Removed\"] }"),
        sink("siem", "security"),
        sink("archive", "changes"),
    );
    let report = run(&text).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let generated = netwrix::generate::generate(3_005, 7);
    let want = |keep: fn(&ActivityRecord) -> bool| -> Vec<String> {
        generated.iter().filter(|r| keep(r)).map(|r| r.id().to_string()).collect()
    };
    let security = want(|r| {
        let ds = r.data_source.as_deref().unwrap_or("").to_lowercase();
        ds == "active directory" || ds.starts_with("exchange")
    });
    let changes = want(|r| !["read", "removed"].contains(&r.action.to_lowercase().as_str()));
    let shared = security.iter().filter(|id| changes.contains(id)).count();
    assert!(shared > 100 && shared < security.len(), "the filters overlap: {shared}");
    assert_eq!(ids_in(&dir.path().join("out/siem.jsonl")), security);
    assert_eq!(ids_in(&dir.path().join("out/archive.jsonl")), changes);
}
