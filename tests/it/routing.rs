//! Routing: two jobs and three sinks (a file, CEF over TCP to a real syslog-ng, the
//! HEC receiver), with `jobs` and `filter`: each sink gets exactly its records.

use crate::harness::*;
use crate::syslogng::{Ports, SyslogNg};
use auditbridge::pipeline::{self, RunOptions, StoreHandle};
use netwrix::emulator::{Emulator, EmulatorConfig};
use netwrix::ActivityRecord;
use sinks::hec::receiver::{Receiver, ReceiverConfig};
use std::collections::BTreeSet;
use std::time::Duration;

const TOKEN: &str = "5a1d4c8e-0b7f-3c2a-a6f0-2d9b8e7c6a51";

fn ids<'a>(records: impl IntoIterator<Item = &'a ActivityRecord>) -> BTreeSet<String> {
    records.into_iter().map(|r| r.id().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_jobs_three_sinks_each_sink_gets_exactly_its_records() {
    let corp_records = netwrix::generate::generate(4_000, 31);
    let dmz_records = netwrix::generate::generate(3_000, 32);
    let mut servers = Vec::new();
    for records in [&corp_records, &dmz_records] {
        let emulator = Emulator::new(EmulatorConfig {
            credentials: Some((USER.into(), PASSWORD.into())),
            ..EmulatorConfig::default()
        });
        emulator.add_records(records.clone());
        let running = emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        servers.push((emulator, running));
    }
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(&dir.path().join("syslog-ng"), Ports::free(), None);
    let receiver = Receiver::new(ReceiverConfig { ack: true, ..ReceiverConfig::new(TOKEN) }).unwrap();
    let hec = receiver.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();

    let d = dir.path().display();
    let job = |name: &str, url: &str| {
        format!("[[job]]\nname = \"{name}\"\nurl = \"{url}\"\nuser = 'CORP\\svc-export'\npassword = \"{PASSWORD}\"\n")
    };
    let text = format!(
        r#"
[state]
path = "{d}/state.db"
[retry]
initial_delay = "10ms"
max_delay = "200ms"

{corp}
{dmz}
[[sink]]
name = "archive"
type = "file"
jobs = ["corp"]
path = "{d}/out/corp.jsonl"

[[sink]]
name = "siem"
type = "syslog"
jobs = ["dmz"]
filter = {{ DataSource = ["active directory"] }}
address = "127.0.0.1:{syslog}"
format = "cef"

[[sink]]
name = "splunk"
type = "splunk_hec"
url = "{hec}"
token = "{TOKEN}"
ack = true
ack_poll_interval = "50ms"
filter = {{ Action = ["Added", "Removed"] }}
"#,
        corp = job("corp", &servers[0].1.base_url),
        dmz = job("dmz", &servers[1].1.base_url),
        syslog = peer.ports.tcp,
        hec = hec.base_url,
    );
    let config = auditbridge::config::parse(&text, "routing.toml").unwrap();
    let store = StoreHandle::new(pipeline::open_store(&config).unwrap());
    let (_trigger, shutdown) = auditbridge::shutdown::channel();
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        pipeline::run_with(&config, RunOptions { once: true }, shutdown, store, None),
    )
    .await
    .expect("the run finished")
    .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    // What each sink should hold, computed from the records themselves.
    let want_archive = ids(&corp_records);
    let want_siem = ids(dmz_records.iter().filter(|r| r.data_source.as_deref() == Some("Active Directory")));
    let want_splunk =
        ids(corp_records.iter().chain(&dmz_records).filter(|r| r.action == "Added" || r.action == "Removed"));
    assert!(!want_siem.is_empty() && want_siem.len() < dmz_records.len(), "the filter selects some, not all");
    assert!(!want_splunk.is_empty() && want_splunk.len() < 7_000);

    let archive = ids_in(&dir.path().join("out/corp.jsonl"));
    assert_eq!(archive.len(), want_archive.len(), "no record twice in the file");
    assert_eq!(archive.into_iter().collect::<BTreeSet<_>>(), want_archive);

    peer.wait_for(want_siem.len(), Duration::from_secs(30));
    let siem: Vec<String> = peer
        .parsed()
        .iter()
        .map(|m| m["cef"]["ext"]["externalId"].as_str().expect("externalId parsed by syslog-ng").to_owned())
        .collect();
    assert_eq!(siem.len(), want_siem.len(), "no record twice at syslog-ng");
    assert_eq!(siem.into_iter().collect::<BTreeSet<_>>(), want_siem);

    let splunk = receiver.ids();
    assert_eq!(splunk.len(), want_splunk.len(), "no record twice at the HEC receiver");
    assert_eq!(splunk.into_iter().collect::<BTreeSet<_>>(), want_splunk);
}
