//! Microsoft Sentinel, on paper: our CEF lines taken through the documented CEF →
//! CommonSecurityLog column mapping and then the projections of Sentinel's
//! `NetwrixAuditor` parser (`../shared/spec/compat.md` §2), for both CEF profiles. Every
//! parser column must hold the record field it stands for, so workbooks and analytics
//! rules built on the parser read our events as they read Netwrix's.

use crate::spec_decoders;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use netwrix::{ActivityRecord, Detail, RecordId};
use sinks::format::cef::{self, CefOptions, CefProfile};
use sinks::format::{cef_netwrix, details, severity};
use sinks::Event;
use std::collections::HashMap;

/// The CEF → CommonSecurityLog mapping of compat.md §2: header fields and known keys
/// become columns; any other key lands in `AdditionalExtensions` as `key=value;`.
fn common_security_log(line: &str) -> HashMap<&'static str, String> {
    let cef = spec_decoders::decode_cef(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let mut row = HashMap::new();
    let header = ["DeviceVendor", "DeviceProduct", "DeviceVersion", "DeviceEventClassID", "Activity", "LogSeverity"];
    for (column, value) in header.into_iter().zip(cef.header) {
        row.insert(column, value);
    }
    let mut additional = String::new();
    for (key, value) in cef.extension {
        let column = match key.as_str() {
            "shost" => "SourceHostName",
            "suser" => "SourceUserName",
            "filePath" => "FilePath",
            "cat" => "DeviceEventCategory",
            "start" => "StartTime",
            "msg" => "Message",
            "rt" => "ReceiptTime",
            "externalId" => "ExternalID",
            "dvchost" => "DeviceName",
            "act" => "DeviceAction",
            "deviceFacility" => "DeviceFacility",
            "cs1" | "cs2" | "cs3" | "cs4" | "cs5" | "cs6" => custom(&key, "DeviceCustomString", ""),
            "cs1Label" | "cs2Label" | "cs3Label" | "cs4Label" | "cs5Label" | "cs6Label" => {
                custom(&key, "DeviceCustomString", "Label")
            }
            "cn1" => "DeviceCustomNumber1",
            "cn1Label" => "DeviceCustomNumber1Label",
            "flexString1" => "FlexString1",
            "flexString1Label" => "FlexString1Label",
            _ => {
                additional.push_str(&format!("{key}={value};"));
                continue;
            }
        };
        let value =
            if column == "StartTime" { cef_time(&value).map(|t| t.to_rfc3339()).unwrap_or_default() } else { value };
        assert!(row.insert(column, value).is_none(), "{column} twice in {line}");
    }
    row.insert("AdditionalExtensions", additional);
    row
}

/// `cs3` → `DeviceCustomString3`, `cs3Label` → `DeviceCustomString3Label`.
fn custom(key: &str, prefix: &str, suffix: &str) -> &'static str {
    let n = &key[2..3];
    Box::leak(format!("{prefix}{n}{suffix}").into_boxed_str())
}

/// A CEF timestamp as the agent reads one into a datetime column: epoch milliseconds,
/// or `MMM dd yyyy HH:mm:ss` without a zone, taken as UTC.
fn cef_time(value: &str) -> Option<DateTime<Utc>> {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return Utc.timestamp_millis_opt(value.parse().ok()?).single();
    }
    NaiveDateTime::parse_from_str(value, "%b %d %Y %H:%M:%S").ok().map(|t| t.and_utc())
}

/// The parser's projections (compat.md §2), column by column; `None` when the row is
/// not Netwrix's.
fn netwrix_auditor(row: &HashMap<&str, String>) -> Option<HashMap<&'static str, String>> {
    let col = |c: &str| row.get(c).cloned().unwrap_or_default();
    if col("DeviceVendor") != "Netwrix" {
        return None;
    }
    // `key=value` pairs of AdditionalExtensions whose value fits the parser's class.
    let extra: HashMap<String, String> = col("AdditionalExtensions")
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_:/@.,#{}><\" ".contains(c)))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let coalesce = |a: String, b: Option<&String>| if a.is_empty() { b.cloned().unwrap_or_default() } else { a };
    let start = extra.get("start").and_then(|s| cef_time(s)).map(|t| t.to_rfc3339());
    Some(HashMap::from([
        ("EventStartTime", coalesce(col("StartTime"), start.as_ref())),
        ("EventSeverity", col("LogSeverity")),
        ("EventResult", col("Activity")),
        ("Object", col("FilePath")),
        ("ActorUsername", col("SourceUserName")),
        ("SrcHostname", col("SourceHostName")),
        ("EventMessage", col("Message")),
        ("EventOriginalResultDetails", coalesce(col("DeviceEventCategory"), extra.get("cat"))),
        ("EventOriginalType", col("DeviceEventClassID")),
        ("EventSubType", col("DeviceProduct")),
    ]))
}

/// What each parser column must hold for `record` under `options`.
fn expected(record: &ActivityRecord, options: &CefOptions) -> HashMap<&'static str, String> {
    let netwrix = options.profile == CefProfile::Netwrix;
    let when = record.when_utc().expect("When parses");
    // Netwrix's `start` has whole seconds.
    let when = if netwrix { Utc.timestamp_opt(when.timestamp(), 0).single().expect("in range") } else { when };
    let severity =
        if netwrix { 0 } else { severity::level(&record.action, &options.severity, options.default_severity).get() };
    let mut message = String::new();
    details::render(&record.details, "\n", &mut message);
    if netwrix {
        // Netwrix's cut: 16,000 characters, no marker.
        message = message.chars().take(cef_netwrix::MSG_CHARS).collect();
    }
    HashMap::from([
        ("EventStartTime", when.to_rfc3339()),
        ("EventSeverity", severity.to_string()),
        ("EventResult", format!("{} {}", record.action, record.object_type)),
        ("Object", record.what.to_string()),
        ("ActorUsername", record.who.to_string()),
        // shost: Where in Netwrix's line (docs/cef.md), Workstation in ours.
        (
            "SrcHostname",
            if netwrix { record.where_.to_string() } else { record.workstation.as_deref().unwrap_or("").to_owned() },
        ),
        ("EventMessage", message),
        ("EventOriginalResultDetails", record.object_type.to_string()),
        ("EventOriginalType", record.action.to_string()),
        ("EventSubType", record.data_source.as_deref().unwrap_or("").to_owned()),
    ])
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

fn events() -> Vec<Event> {
    let mut records = netwrix::generate::generate(2000, 18);
    // One record with every field, details included.
    let mut full = records[0].clone();
    full.workstation = Some("ws-07.corp.example".into());
    full.details = vec![Detail {
        property_name: "Description".into(),
        before: Some("a".into()),
        after: Some("b".into()),
        message: None,
    }];
    records.push(full);
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| Event { seq: i as u64 + 1, id: record.id(), job: "corp".into(), replay: false, record })
        .collect()
}

fn check_profile(options: &CefOptions) {
    let mut filled: HashMap<&str, usize> = HashMap::new();
    let events = events();
    for event in &events {
        let mut line = Vec::new();
        cef::encode(event, options, &mut line);
        let line = String::from_utf8(line).expect("UTF-8");
        let parsed = netwrix_auditor(&common_security_log(&line)).expect("DeviceVendor is Netwrix");
        let want = expected(&event.record, options);
        let head: String = line.chars().take(300).collect();
        for (column, value) in &want {
            let got = &parsed[column];
            if column == &"EventMessage" && options.profile == CefProfile::Auditbridge && got.ends_with("[truncated]") {
                // Longer than msg_max: the head of the details, cut with a marker.
                let kept = got.trim_end_matches("[truncated]");
                assert!(value.starts_with(kept) && kept.len() > 1000, "{column} of {head}");
            } else {
                assert!(got == value, "{column} of {head}…: {:?} is not {:?}", short(got), short(value));
            }
            if !value.is_empty() {
                *filled.entry(column).or_default() += 1;
            }
        }
    }
    // Every column is filled for the records that have its field (all of them for most).
    for column in ["EventStartTime", "EventSeverity", "EventResult", "Object", "ActorUsername", "EventOriginalType"] {
        assert_eq!(filled.get(column), Some(&events.len()), "{column}");
    }
    for column in ["SrcHostname", "EventMessage", "EventOriginalResultDetails"] {
        assert!(filled.get(column).is_some_and(|n| *n > 0), "{column} never filled");
    }
}

#[test]
fn the_netwrix_profile_fills_every_parser_column() {
    check_profile(&CefOptions::netwrix());
    check_profile(&CefOptions { extras: true, ..CefOptions::netwrix() });
}

#[test]
fn the_auditbridge_profile_fills_every_parser_column() {
    check_profile(&CefOptions::default());
}

/// Without `start`, as before issue 18, EventStartTime was empty: the check catches it.
#[test]
fn a_line_without_start_leaves_event_start_time_empty() {
    let record = ActivityRecord { action: "Added".into(), object_type: "user".into(), ..Default::default() };
    let event = Event { seq: 1, id: RecordId([0; 16]), job: "j".into(), replay: false, record };
    let mut line = Vec::new();
    cef::encode(&event, &CefOptions::default(), &mut line);
    let parsed = netwrix_auditor(&common_security_log(&String::from_utf8(line).unwrap())).unwrap();
    assert_eq!(parsed["EventStartTime"], "");
}
