//! LEEF `profile = "netwrix-eventlog"`: the attributes Netwrix's "SIEM event log" add-on
//! (the one QRadar collects with WinCollect) writes as EventData, with the same names
//! and values, so QRadar custom properties built on them carry over.
//!
//! ```text
//! LEEF:2.0|Netwrix|Auditor|1.0|<Action>|^|DataSource=…^Action=…^Message=<Action ObjectType>^Where=…^ObjectType=…^Who=…^What=…^When=…^Workstation=…^Details=…
//! ```
//!
//! The header's EventID is the Action: the add-on's event id is 16 bits of a CRC32 over
//! ObjectType, Action and DataSource, but how it joins and encodes them is not published,
//! so a guess would give ids that match nothing (docs/leef.md). `When` is the record's
//! When as the API sent it. Details are joined by `; ` (LEEF has no line breaks) and left
//! out when there are none, as the add-on does.

use crate::Event;

/// The EventData of `event`, pair by pair, in the add-on's order.
pub(super) fn visit(event: &Event, mut field: impl FnMut(&str, &str, usize)) {
    let r = &event.record;
    field("DataSource", r.data_source.as_deref().unwrap_or(""), usize::MAX);
    field("Action", &r.action, usize::MAX);
    if r.object_type.is_empty() {
        field("Message", &r.action, usize::MAX);
    } else {
        field("Message", &format!("{} {}", r.action, r.object_type), usize::MAX);
    }
    field("Where", &r.where_, usize::MAX);
    field("ObjectType", &r.object_type, usize::MAX);
    field("Who", &r.who, usize::MAX);
    field("What", &r.what, usize::MAX);
    field("When", &r.when, usize::MAX);
    field("Workstation", r.workstation.as_deref().unwrap_or(""), usize::MAX);
    if !r.details.is_empty() {
        super::details::with_rendered(&r.details, "; ", |details| field("Details", details, usize::MAX));
    }
}

#[cfg(test)]
mod tests {
    use crate::format::leef::{encode, LeefOptions};
    use crate::Event;
    use netwrix::{ActivityRecord, Detail, RecordId};

    fn event() -> Event {
        let record = ActivityRecord {
            who: "CORP\\jdoe".into(),
            action: "Modified".into(),
            what: "\\\\fs01\\Finance\\Q1 a=b.xlsx".into(),
            when: "2024-06-01T12:00:00.123Z".into(),
            where_: "fs01.corp.example".into(),
            object_type: "file".into(),
            data_source: Some("File Servers".into()),
            workstation: Some("ws-01".into()),
            details: vec![Detail {
                property_name: "Size".into(),
                before: Some("1".into()),
                after: Some("2^3".into()),
                message: None,
            }],
            ..Default::default()
        };
        Event { seq: 1, id: RecordId([1; 16]), job: "corp".into(), replay: false, record }
    }

    fn line(e: &Event, options: &LeefOptions) -> String {
        let mut out = Vec::new();
        encode(e, options, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn golden_eventdata() {
        let options: LeefOptions = serde_json::from_str(r#"{"profile": "netwrix-eventlog"}"#).unwrap();
        let want = concat!(
            r"LEEF:2.0|Netwrix|Auditor|1.0|Modified|^|DataSource=File Servers^Action=Modified^Message=Modified file^",
            r"Where=fs01.corp.example^ObjectType=file^Who=CORP\jdoe^What=\\fs01\Finance\Q1 a=b.xlsx^",
            r#"When=2024-06-01T12:00:00.123Z^Workstation=ws-01^Details=Size changed from "1" to "2 3""#,
        );
        assert_eq!(line(&event(), &options), want);
        let mut e = event();
        e.record.details.clear();
        e.record.object_type = "".into();
        assert!(line(&e, &options).contains("^Message=Modified^Where="));
        assert!(line(&e, &options).ends_with("^Workstation=ws-01"));
    }

    #[test]
    fn severity_keys_are_refused() {
        let err = serde_json::from_str::<LeefOptions>(r#"{"profile": "netwrix-eventlog", "default_severity": 4}"#)
            .unwrap_err();
        assert!(err.to_string().contains("severity applies"), "{err}");
    }
}
