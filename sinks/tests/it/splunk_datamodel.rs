//! The CIM data model mapping of Netwrix's Splunk add-on (`addon/splunk/datamodelmap.md`),
//! run as field criteria on the HEC events we send: every criterion selects, from our
//! events' own fields, exactly the records it selects by their record fields, and the
//! rows whose data sources the generator makes select some. A model of Splunk's search on
//! `sourcetype=netwrix`, not Splunk: docs/splunk.md lists the searches.

use serde_json::Value;
use sinks::format::hec::{self, Meta};
use sinks::Event;

const ACCOUNTS: &[&str] = &["user", "computer", "inetorgperson", "service principal", "mail contact", "mail user"];
const LOGON_SOURCES: &[&str] = &["Microsoft Entra ID", "Logon Activity", "SQL Server", "VMware"];
const ACCOUNT_SOURCES: &[&str] = &["Active Directory", "Microsoft Entra ID", "Exchange*"];

/// Splunk's `field IN (…)` with `*` wildcards, ignoring case as Splunk does for values.
fn is_in(value: &str, list: &[&str]) -> bool {
    let value = value.to_lowercase();
    list.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => value.starts_with(&prefix.to_lowercase()),
        None => value == p.to_lowercase(),
    })
}

/// The add-on's table: data model, and its criterion on (DataSource, Action, ObjectType).
/// Endpoint › Filesystem says `DataSource="File Server"` there; records say "File Servers".
type Criterion = fn(&str, &str, &str) -> bool;
const MODELS: &[(&str, Criterion)] = &[
    ("Successful_Authentication", |d, a, _| is_in(d, LOGON_SOURCES) && a == "Successful Logon"),
    ("Failed_Authentication", |d, a, _| is_in(d, LOGON_SOURCES) && a == "Failed Logon"),
    ("Created Accounts", |d, a, o| is_in(d, ACCOUNT_SOURCES) && a == "Added" && is_in(o, ACCOUNTS)),
    ("Updated Accounts", |d, a, o| is_in(d, ACCOUNT_SOURCES) && is_in(a, &["Modified", "Moved"]) && is_in(o, ACCOUNTS)),
    ("Deleted Accounts", |d, a, o| is_in(d, ACCOUNT_SOURCES) && a == "Removed" && is_in(o, ACCOUNTS)),
    ("All_Changes", |d, a, o| {
        is_in(d, &["Active Directory", "Microsoft Entra ID", "Exchange*", "File Servers"])
            && is_in(a, &["Added", "Modified", "Moved", "Removed"])
            && !is_in(o, ACCOUNTS)
    }),
    ("All_Email", |d, a, o| is_in(d, &["Exchange*"]) && o == "Mailbox Item" && is_in(a, &["Sent", "Removed"])),
    ("Filesystem", |d, a, o| {
        is_in(d, &["File Server*"])
            && is_in(a, &["Added", "Modified", "Moved", "Removed", "Renamed"])
            && is_in(o, &["file", "folder"])
    }),
];

#[test]
fn the_add_ons_data_model_criteria_select_our_hec_events() {
    let meta = Meta { host: None, source: Some("auditbridge"), sourcetype: Some("netwrix"), index: Some("netwrix") };
    let events: Vec<Event> = netwrix::generate::generate(20_000, 18)
        .into_iter()
        .enumerate()
        .map(|(i, record)| Event { seq: i as u64 + 1, id: record.id(), job: "corp".into(), replay: false, record })
        .collect();
    let mut selected = vec![0usize; MODELS.len()];
    for e in &events {
        let mut out = Vec::new();
        hec::encode(e, &meta, &mut out);
        let envelope: Value = serde_json::from_slice(&out).expect("one JSON envelope");
        assert_eq!(envelope["sourcetype"], "netwrix");
        let field = |name: &str| envelope["event"][name].as_str().unwrap_or("").to_owned();
        let (d, a, o) = (field("DataSource"), field("Action"), field("ObjectType"));
        let r = &e.record;
        for (n, (model, criterion)) in MODELS.iter().enumerate() {
            let by_record = criterion(r.data_source.as_deref().unwrap_or(""), &r.action, &r.object_type);
            assert_eq!(criterion(&d, &a, &o), by_record, "{model}: {envelope}");
            selected[n] += usize::from(by_record);
        }
    }
    for ((model, _), n) in MODELS.iter().zip(&selected) {
        // The generator's Entra ID is "Entra ID", not "Microsoft Entra ID": every other
        // row has records of its data sources.
        assert!(*n > 0, "{model} selected none of {} events", events.len());
    }
}
