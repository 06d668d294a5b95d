//! The Splunk HTTP Event Collector envelope: one event as the JSON object `/event` takes.
//!
//! ```text
//! {"time":1709288102.123,"host":"dc01.corp.example","source":"auditbridge","sourcetype":"netwrix",
//!  "index":"audit","event":{"RID":…,"Who":…,…},"fields":{"auditbridge_id":"<32 hex>","auditbridge_job":"corp"}}
//! ```
//!
//! * `time` is the record's `When` as epoch seconds with exactly three decimals (Splunk keeps
//!   milliseconds); a `When` that does not parse leaves `time` out, so Splunk stamps the
//!   receipt time rather than refusing the event.
//! * `host` is the configured one, or else the record's `Where` (left out when empty).
//! * `event` is the record exactly as Netwrix's own JSON writes it (`Who`, `Action`, …), so the
//!   field extractions of Netwrix's Splunk add-on (sourcetype `netwrix`) apply unchanged.
//! * `fields` are indexed fields: the record id (`auditbridge_id`), what a search de-duplicates
//!   on, and the export job (`auditbridge_job`). They are kept out of `event` so that a JSON
//!   search-time extraction does not show them twice.
//!
//! The keys are written in this order; absent optional keys are left out. No separator
//! after the object: concatenating envelopes is the request builder's business.

use super::record_json::{self, string};
use crate::Event;
use std::io::Write;

/// The envelope keys that come from configuration rather than from the record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta<'a> {
    /// `host`; `None` = the record's `Where`.
    pub host: Option<&'a str>,
    /// `source`; `None` = the token's default.
    pub source: Option<&'a str>,
    /// `sourcetype`; `None` = the token's default.
    pub sourcetype: Option<&'a str>,
    /// `index`; `None` = the token's default index.
    pub index: Option<&'a str>,
}

/// Appends the envelope of `event` to `out` (compact JSON, no trailing separator).
pub fn encode(event: &Event, meta: &Meta<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    if let Some(ms) = super::when::when_millis(&event.record) {
        key(out, &mut first, "time");
        push_epoch_millis(out, ms);
    }
    let host = meta.host.or(Some(event.record.where_.as_str()).filter(|w| !w.is_empty()));
    for (name, value) in
        [("host", host), ("source", meta.source), ("sourcetype", meta.sourcetype), ("index", meta.index)]
    {
        if let Some(value) = value {
            key(out, &mut first, name);
            string(out, value);
        }
    }
    key(out, &mut first, "event");
    record_json::record(out, &event.record);
    key(out, &mut first, "fields");
    out.extend_from_slice(b"{\"auditbridge_id\":\"");
    out.extend_from_slice(event.id.hex().as_str().as_bytes());
    out.extend_from_slice(b"\",\"auditbridge_job\":");
    string(out, &event.job);
    if event.replay {
        out.extend_from_slice(b",\"auditbridge_replay\":\"true\"");
    }
    out.extend_from_slice(b"}}");
}

/// Writes `,"name":` (no comma before the first key).
fn key(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    string(out, name);
    out.push(b':');
}

/// Writes epoch milliseconds as seconds with three decimals (`-1.5 s` is `-1.500`).
fn push_epoch_millis(out: &mut Vec<u8>, ms: i64) {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    let _ = write!(out, "{sign}{}.{:03}", abs / 1000, abs % 1000);
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, Detail, Item, MonitoringPlan, RecordId};

    fn event(record: ActivityRecord) -> Event {
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = (i as u8) * 17;
        }
        Event { seq: 3, id: RecordId(id), job: "corp".into(), replay: false, record }
    }

    fn encoded(e: &Event, meta: &Meta<'_>) -> String {
        let mut out = Vec::new();
        encode(e, meta, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    const META: Meta<'static> =
        Meta { host: None, source: Some("auditbridge"), sourcetype: Some("netwrix"), index: Some("audit") };

    #[test]
    fn full_record_with_every_key() {
        let rec = ActivityRecord {
            rid: Some("20240301101502123A1B".into()),
            who: "CORP\\jdoe".into(),
            action: "Modified".into(),
            what: "\\corp\\Groups\\Finance".into(),
            when: "2024-03-01T10:15:02.123Z".into(),
            where_: "dc01.corp.example".into(),
            object_type: "group".into(),
            monitoring_plan: Some(MonitoringPlan { name: Some("AD".into()), id: Some("{0A1B}".into()) }),
            data_source: Some("Active Directory".into()),
            item: Some(Item { name: Some("corp.example (Domain)".into()) }),
            workstation: Some("ws7".into()),
            details: vec![Detail {
                property_name: "member".into(),
                before: None,
                after: Some("Müller \"q\"\n".into()),
                message: None,
            }],
        };
        let want = concat!(
            r#"{"time":1709288102.123,"host":"dc01.corp.example","source":"auditbridge","sourcetype":"netwrix","#,
            r#""index":"audit","event":{"RID":"20240301101502123A1B","Who":"CORP\\jdoe","Action":"Modified","#,
            r#""What":"\\corp\\Groups\\Finance","When":"2024-03-01T10:15:02.123Z","Where":"dc01.corp.example","#,
            r#""ObjectType":"group","MonitoringPlan":{"Name":"AD","ID":"{0A1B}"},"DataSource":"Active Directory","#,
            r#""Item":{"Name":"corp.example (Domain)"},"Workstation":"ws7","#,
            r#""DetailList":[{"PropertyName":"member","After":"Müller \"q\"\n"}]},"#,
            r#""fields":{"auditbridge_id":"00112233445566778899aabbccddeeff","auditbridge_job":"corp"}}"#,
        );
        assert_eq!(encoded(&event(rec), &META), want);
    }

    #[test]
    fn whole_seconds_offsets_and_configured_host() {
        let rec = ActivityRecord {
            when: "2024-03-01T12:15:02+02:00".into(),
            where_: "ignored.example".into(),
            ..Default::default()
        };
        let meta = Meta { host: Some("bridge01"), source: None, sourcetype: None, index: None };
        let want = concat!(
            r#"{"time":1709288102.000,"host":"bridge01","event":{"Who":"","Action":"","What":"","#,
            r#""When":"2024-03-01T12:15:02+02:00","Where":"ignored.example","ObjectType":""},"#,
            r#""fields":{"auditbridge_id":"00112233445566778899aabbccddeeff","auditbridge_job":"corp"}}"#,
        );
        assert_eq!(encoded(&event(rec), &meta), want);
    }

    #[test]
    fn unparsable_when_and_empty_where_leave_time_and_host_out() {
        let rec = ActivityRecord { when: "yesterday".into(), ..Default::default() };
        let want = concat!(
            r#"{"source":"auditbridge","sourcetype":"netwrix","index":"audit","event":{"Who":"","Action":"","#,
            r#""What":"","When":"yesterday","Where":"","ObjectType":""},"#,
            r#""fields":{"auditbridge_id":"00112233445566778899aabbccddeeff","auditbridge_job":"corp"}}"#,
        );
        assert_eq!(encoded(&event(rec), &META), want);
    }

    #[test]
    fn times_before_1970_keep_their_sign() {
        let rec = ActivityRecord { when: "1969-12-31T23:59:58.500Z".into(), ..Default::default() };
        assert!(encoded(&event(rec), &Meta::default()).starts_with(r#"{"time":-1.500,"event":"#));
    }

    #[test]
    fn output_parses_and_the_event_is_the_record() {
        let rec = ActivityRecord {
            who: "a\\b\r\n\u{1}\u{2028}".into(),
            when: "2024-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        let e = event(rec.clone());
        let v: serde_json::Value = serde_json::from_str(&encoded(&e, &META)).expect("json");
        assert_eq!(v["time"].as_f64(), Some(1704067200.0));
        assert_eq!(v["fields"]["auditbridge_id"], "00112233445566778899aabbccddeeff");
        let back: ActivityRecord = serde_json::from_value(v["event"].clone()).expect("record");
        assert_eq!(back, rec);
    }
}
