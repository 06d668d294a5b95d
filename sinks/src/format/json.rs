//! The JSON event format: one compact object per event, Netwrix's field names at top level.
//!
//! A SIEM parses Netwrix Auditor's own JSON (`Who`, `Action`, `MonitoringPlan`, …), so the
//! object is that record, flat, preceded by two keys of ours:
//!
//! ```text
//! {"auditbridge_id":"<32 hex digits>","job":"<job>","RID":…,"Who":…,…,"DetailList":[…]}
//! ```
//!
//! `auditbridge_id` is the record's deterministic [`RecordId`](netwrix::RecordId), the key
//! a SIEM de-duplicates on; `job` names the export job that fetched the record. The record's
//! fields follow in the model's order with its serde names, so absent optional fields are
//! left out and empty strings stay `""` (written by [`record_json`], byte for byte what
//! `serde_json` writes). No trailing newline: line framing is the transport's business.

use super::record_json;
use crate::Event;

/// Appends the JSON object of `event` to `out` (compact, no trailing newline).
pub fn encode(event: &Event, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"auditbridge_id\":\"");
    out.extend_from_slice(event.id.hex().as_str().as_bytes());
    out.extend_from_slice(b"\",\"job\":");
    record_json::string(out, &event.job);
    if event.replay {
        // Present (and true) only on records sent again by `auditbridge backfill`.
        out.extend_from_slice(b",\"auditbridge_replay\":true");
    }
    record_json::fields(out, &event.record, false);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, Detail, Item, MonitoringPlan, RecordId, Text};

    fn event(job: &str, record: ActivityRecord) -> Event {
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i as u8) * 17;
        }
        Event { seq: 7, id: RecordId(id), job: job.into(), replay: false, record }
    }

    fn encoded(e: &Event) -> String {
        let mut out = Vec::new();
        encode(e, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    const ID: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn default_record_keeps_mandatory_fields_and_drops_absent_ones() {
        let got = encoded(&event("ad", ActivityRecord::default()));
        let want = format!(
            r#"{{"auditbridge_id":"{ID}","job":"ad","Who":"","Action":"","What":"","When":"","Where":"","ObjectType":""}}"#
        );
        assert_eq!(got, want);
    }

    #[test]
    fn full_record_with_escapes_and_non_ascii() {
        let rec = ActivityRecord {
            rid: Some("20240301101502123A1B".into()),
            who: "CORP\\jdoe".into(),
            action: "Modified".into(),
            what: "\\example\\corp\\Groups\\Finance".into(),
            when: "2024-03-01T10:15:02Z".into(),
            where_: "dc01.corp.example".into(),
            object_type: "group".into(),
            monitoring_plan: Some(MonitoringPlan {
                name: Some("AD – Müller".into()),
                id: Some("{0A1B2C3D-0000-0000-0000-000000000001}".into()),
            }),
            data_source: Some("Active Directory".into()),
            item: Some(Item { name: Some("corp.example (Domain)".into()) }),
            workstation: Some(Text::new()),
            details: vec![
                Detail {
                    property_name: "description".into(),
                    before: Some("line1\nline2\t\"q\"".into()),
                    after: None,
                    message: None,
                },
                Detail {
                    property_name: "member".into(),
                    before: None,
                    after: Some("日本語 \u{1} end".into()),
                    message: Some(Text::new()),
                },
            ],
        };
        let got = encoded(&event("job \"1\"", rec));
        let want = concat!(
            r#"{"auditbridge_id":"00112233445566778899aabbccddeeff","job":"job \"1\"","#,
            r#""RID":"20240301101502123A1B","Who":"CORP\\jdoe","Action":"Modified","#,
            r#""What":"\\example\\corp\\Groups\\Finance","When":"2024-03-01T10:15:02Z","#,
            r#""Where":"dc01.corp.example","ObjectType":"group","#,
            r#""MonitoringPlan":{"Name":"AD – Müller","ID":"{0A1B2C3D-0000-0000-0000-000000000001}"},"#,
            r#""DataSource":"Active Directory","Item":{"Name":"corp.example (Domain)"},"#,
            r#""Workstation":"","DetailList":["#,
            r#"{"PropertyName":"description","Before":"line1\nline2\t\"q\""},"#,
            r#"{"PropertyName":"member","After":"日本語 \u0001 end","Message":""}]}"#,
        );
        assert_eq!(got, want);
        // One line, whatever the record holds.
        assert!(!got.contains('\n'));
    }

    #[test]
    fn empty_nested_objects_stay_valid_json() {
        let rec = ActivityRecord {
            monitoring_plan: Some(MonitoringPlan::default()),
            item: Some(Item::default()),
            ..Default::default()
        };
        let got = encoded(&event("", rec));
        let want = format!(
            r#"{{"auditbridge_id":"{ID}","job":"","Who":"","Action":"","What":"","When":"","Where":"","ObjectType":"","MonitoringPlan":{{}},"Item":{{}}}}"#
        );
        assert_eq!(got, want);
    }

    #[test]
    fn appends_without_touching_what_is_there() {
        let mut out = b"prefix\n".to_vec();
        encode(&event("j", ActivityRecord::default()), &mut out);
        assert!(out.starts_with(b"prefix\n{\"auditbridge_id\""));
        assert_eq!(out.last(), Some(&b'}'));
    }

    #[test]
    fn output_parses_back_to_the_record() {
        let rec = ActivityRecord {
            who: "a\\b\r\n\u{7f}\u{2028}".into(),
            details: vec![Detail { property_name: "p".into(), ..Default::default() }],
            ..Default::default()
        };
        let e = event("j", rec.clone());
        let v: serde_json::Value = serde_json::from_str(&encoded(&e)).expect("json");
        assert_eq!(v["auditbridge_id"], ID);
        assert_eq!(v["job"], "j");
        let back: ActivityRecord = serde_json::from_value(v).expect("record");
        assert_eq!(back, rec);
    }
}
