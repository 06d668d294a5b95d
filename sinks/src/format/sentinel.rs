//! One activity record as a row of the Log Analytics table the Sentinel sink writes to
//! (docs/sentinel.md): a flat JSON object whose keys are the columns of [`COLUMNS`], the
//! stream declared in `config/sentinel/dcr.json`.
//!
//! ```text
//! {"TimeGenerated":"2024-03-01T10:15:02.123Z","AuditbridgeId":"<32 hex>","Job":"corp","Replay":false,
//!  "RID":…,"Who":…,"Action":…,"What":…,"When":…,"Where":…,"ObjectType":…,"MonitoringPlanName":…,
//!  "MonitoringPlanID":…,"DataSource":…,"ItemName":…,"Workstation":…,"DetailList":[{…}]}
//! ```
//!
//! Flat, because a column is what KQL filters and summarizes on (`MonitoringPlan.Name` would be
//! a `dynamic` to unpack in every query); `DetailList` stays one `dynamic` column, an array
//! of Netwrix's detail objects. `TimeGenerated` is `When` in UTC with milliseconds, left
//! out when `When` does not parse (the DCR's transformation then puts the ingestion time).
//! Absent optional fields are left out (null in the table). `AuditbridgeId` is how a query
//! drops repeats: the API has no de-duplication of its own.
//!
//! **Limits** (the Logs Ingestion API's): a column value is at most 64 KB, and a call at most
//! 1 MB. Every string value whose JSON text would be longer than `max_value` bytes is cut on a
//! character boundary and ends with a marker saying so (` [auditbridge: cut, N bytes in all]`),
//! and `DetailList` too: its details' values are then cut shorter and the details that do not
//! fit are replaced by one detail saying how many were cut. So a row is never more than 14
//! values of `max_value` plus its keys, which [`value_limit`] keeps under a request's size:
//! no record is ever too large to send, and none is cut silently.

use super::record_json::string;
use crate::Event;
use netwrix::Detail;

/// A column's type in the DCR's stream declaration and the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Datetime,
    Boolean,
    Dynamic,
}

impl ColumnType {
    /// The name the DCR and table definitions use.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Datetime => "datetime",
            ColumnType::Boolean => "boolean",
            ColumnType::Dynamic => "dynamic",
        }
    }
}

/// Every column a row may have, in the order written.
pub const COLUMNS: &[(&str, ColumnType)] = &[
    ("TimeGenerated", ColumnType::Datetime),
    ("AuditbridgeId", ColumnType::String),
    ("Job", ColumnType::String),
    ("Replay", ColumnType::Boolean),
    ("RID", ColumnType::String),
    ("Who", ColumnType::String),
    ("Action", ColumnType::String),
    ("What", ColumnType::String),
    ("When", ColumnType::String),
    ("Where", ColumnType::String),
    ("ObjectType", ColumnType::String),
    ("MonitoringPlanName", ColumnType::String),
    ("MonitoringPlanID", ColumnType::String),
    ("DataSource", ColumnType::String),
    ("ItemName", ColumnType::String),
    ("Workstation", ColumnType::String),
    ("DetailList", ColumnType::Dynamic),
];

/// The columns whose values can be long: the strings of the record and the job, and
/// `DetailList` (`TimeGenerated`, `AuditbridgeId` and `Replay` have a fixed size).
const LONG_COLUMNS: usize = 14;

/// The API's limit on one column value.
pub const MAX_VALUE: usize = 64 << 10;

/// The longest value (as JSON text) that keeps a row under `max_row` bytes: 64 KB, or less
/// when rows must be smaller (the keys and punctuation of a row take under 400 bytes).
pub fn value_limit(max_row: usize) -> usize {
    (max_row.saturating_sub(400) / LONG_COLUMNS).clamp(256, MAX_VALUE)
}

/// Appends the row of `event` to `out` (compact, no trailing separator), every value's JSON
/// text at most `max_value` bytes (at least 256).
pub fn encode(event: &Event, max_value: usize, out: &mut Vec<u8>) {
    let max_value = max_value.max(256);
    let r = &event.record;
    out.push(b'{');
    if let Some(t) = r.when_utc() {
        out.extend_from_slice(b"\"TimeGenerated\":\"");
        out.extend_from_slice(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().as_bytes());
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(b"\"AuditbridgeId\":\"");
    out.extend_from_slice(event.id.hex().as_str().as_bytes());
    out.extend_from_slice(b"\",\"Job\":");
    cut(out, &event.job, max_value);
    out.extend_from_slice(if event.replay { b",\"Replay\":true" } else { b",\"Replay\":false" });
    let mut column = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            cut(out, v, max_value);
        }
    };
    column("RID", r.rid.as_deref());
    column("Who", Some(&*r.who));
    column("Action", Some(&*r.action));
    column("What", Some(&*r.what));
    column("When", Some(&*r.when));
    column("Where", Some(&*r.where_));
    column("ObjectType", Some(&*r.object_type));
    let plan = r.monitoring_plan.as_ref();
    column("MonitoringPlanName", plan.and_then(|p| p.name.as_deref()));
    column("MonitoringPlanID", plan.and_then(|p| p.id.as_deref()));
    column("DataSource", r.data_source.as_deref());
    column("ItemName", r.item.as_ref().and_then(|i| i.name.as_deref()));
    column("Workstation", r.workstation.as_deref());
    if !r.details.is_empty() {
        out.extend_from_slice(b",\"DetailList\":");
        details(out, &r.details, max_value);
    }
    out.push(b'}');
}

/// The JSON array of `details`, at most `max` bytes: whole if it fits, else each value cut to
/// an eighth of `max` and as many details as fit, then one detail saying how many were cut.
fn details(out: &mut Vec<u8>, list: &[Detail], max: usize) {
    let start = out.len();
    write_details(out, list, usize::MAX);
    if out.len() - start <= max {
        return;
    }
    out.truncate(start);
    out.push(b'[');
    let note_room = 160;
    let mut kept = 0;
    let mut one = Vec::new();
    for d in list {
        one.clear();
        detail(&mut one, d, max / 8);
        // `[`, the details so far, a comma, this one, a comma, the note and `]`.
        if out.len() - start + one.len() + note_room > max {
            break;
        }
        if kept > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&one);
        kept += 1;
    }
    if kept > 0 {
        out.push(b',');
    }
    let note = format!(
        "{} of {} details cut: DetailList over {max} bytes (the record in full is in Netwrix Auditor)",
        list.len() - kept,
        list.len()
    );
    out.extend_from_slice(b"{\"PropertyName\":\"auditbridge\",\"Message\":");
    string(out, &note);
    out.extend_from_slice(b"}]");
}

fn write_details(out: &mut Vec<u8>, list: &[Detail], max_value: usize) {
    out.push(b'[');
    for (n, d) in list.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        detail(out, d, max_value);
    }
    out.push(b']');
}

/// One detail with Netwrix's keys, absent values left out.
fn detail(out: &mut Vec<u8>, d: &Detail, max_value: usize) {
    out.extend_from_slice(b"{\"PropertyName\":");
    cut(out, &d.property_name, max_value);
    for (key, value) in [(&b",\"Before\":"[..], &d.before), (b",\"After\":", &d.after), (b",\"Message\":", &d.message)]
    {
        if let Some(v) = value {
            out.extend_from_slice(key);
            cut(out, v, max_value);
        }
    }
    out.push(b'}');
}

/// Appends `value` as a JSON string of at most `max` bytes: whole if it fits, else its
/// longest prefix (whole characters) that fits with the marker after it.
fn cut(out: &mut Vec<u8>, value: &str, max: usize) {
    if value.len() * 6 + 2 <= max || escaped_len(value) + 2 <= max {
        string(out, value);
        return;
    }
    let marker = format!(" [auditbridge: cut, {} bytes in all]", value.len());
    let room = max.saturating_sub(2 + marker.len());
    let mut used = 0;
    let mut end = 0;
    for (i, c) in value.char_indices() {
        let cost = match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used + cost > room {
            break;
        }
        used += cost;
        end = i + c.len_utf8();
    }
    let mut text = String::with_capacity(end + marker.len());
    text.push_str(&value[..end]);
    text.push_str(&marker);
    string(out, &text);
}

/// The length of `value` as JSON string content (without quotes).
fn escaped_len(value: &str) -> usize {
    value
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0C => 2,
            b if b < 0x20 => 6,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, Item, MonitoringPlan, RecordId};

    fn event(record: ActivityRecord) -> Event {
        Event { seq: 1, id: RecordId([0xab; 16]), job: "corp".into(), replay: false, record }
    }

    fn row(e: &Event, max: usize) -> String {
        let mut out = Vec::new();
        encode(e, max, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    const ID: &str = "abababababababababababababababab";

    #[test]
    fn a_full_record_is_one_flat_row_in_column_order() {
        let e = event(ActivityRecord {
            rid: Some("20240301101502123A1B".into()),
            who: "CORP\\jdoe".into(),
            action: "Modified".into(),
            what: "\\corp\\Groups\\\"Finance\"".into(),
            when: "2024-03-01T11:15:02.5+01:00".into(),
            where_: "dc01.corp.example".into(),
            object_type: "group".into(),
            monitoring_plan: Some(MonitoringPlan { name: Some("AD".into()), id: Some("{0A1B}".into()) }),
            data_source: Some("Active Directory".into()),
            item: Some(Item { name: Some("corp.example (Domain)".into()) }),
            workstation: Some("ws7".into()),
            details: vec![Detail {
                property_name: "member".into(),
                before: None,
                after: Some("CN=Ann\nSmith".into()),
                message: None,
            }],
        });
        let want = format!(
            r#"{{"TimeGenerated":"2024-03-01T10:15:02.500Z","AuditbridgeId":"{ID}","Job":"corp","Replay":false,"RID":"20240301101502123A1B","Who":"CORP\\jdoe","Action":"Modified","What":"\\corp\\Groups\\\"Finance\"","When":"2024-03-01T11:15:02.5+01:00","Where":"dc01.corp.example","ObjectType":"group","MonitoringPlanName":"AD","MonitoringPlanID":"{{0A1B}}","DataSource":"Active Directory","ItemName":"corp.example (Domain)","Workstation":"ws7","DetailList":[{{"PropertyName":"member","After":"CN=Ann\nSmith"}}]}}"#
        );
        assert_eq!(row(&e, MAX_VALUE), want);
        let value: serde_json::Value = serde_json::from_str(&want).unwrap();
        for key in value.as_object().unwrap().keys() {
            assert!(COLUMNS.iter().any(|(c, _)| c == key), "{key} is a declared column");
        }
    }

    #[test]
    fn absent_fields_are_left_out_and_an_unparsable_when_has_no_time_generated() {
        let mut e = event(ActivityRecord { when: "yesterday".into(), ..Default::default() });
        e.replay = true;
        assert_eq!(
            row(&e, MAX_VALUE),
            format!(
                r#"{{"AuditbridgeId":"{ID}","Job":"corp","Replay":true,"Who":"","Action":"","What":"","When":"yesterday","Where":"","ObjectType":""}}"#
            )
        );
    }

    #[test]
    fn long_values_are_cut_on_characters_with_a_marker() {
        let e = event(ActivityRecord { what: "é\"".repeat(200).into(), ..Default::default() });
        let text = row(&e, 300);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let what = value["What"].as_str().unwrap();
        assert!(what.ends_with(" [auditbridge: cut, 600 bytes in all]"), "{what}");
        assert!(what.starts_with("é\"é\""));
        assert!(serde_json::to_string(what).unwrap().len() <= 300);
        // 37 bytes of marker, 2 quotes, and 65 pairs `é\"` of 4 bytes each: 299 of the 300.
        assert_eq!(serde_json::to_string(what).unwrap().len(), 299);
    }

    #[test]
    fn a_detail_list_over_the_limit_keeps_what_fits_and_says_how_many_were_cut() {
        let d = |i: usize| Detail {
            property_name: format!("p{i}").into(),
            before: Some("b".repeat(100).into()),
            after: Some("a".repeat(5000).into()),
            message: None,
        };
        let e = event(ActivityRecord { details: (0..10).map(d).collect(), ..Default::default() });
        let text = row(&e, 4096);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = value["DetailList"].as_array().unwrap();
        let detail_json = serde_json::to_string(&value["DetailList"]).unwrap();
        assert!(detail_json.len() <= 4096, "{}", detail_json.len());
        let kept = list.len() - 1;
        assert!(kept >= 1);
        assert_eq!(list[0]["PropertyName"], "p0");
        assert!(list[0]["After"].as_str().unwrap().ends_with("[auditbridge: cut, 5000 bytes in all]"));
        assert_eq!(
            list[kept]["Message"].as_str().unwrap(),
            format!(
                "{} of 10 details cut: DetailList over 4096 bytes (the record in full is in Netwrix Auditor)",
                10 - kept
            )
        );
    }

    #[test]
    fn a_row_of_huge_values_stays_under_the_request_limit() {
        let big = "\u{1}".repeat(1 << 20);
        let e = event(ActivityRecord {
            who: big.as_str().into(),
            what: big.as_str().into(),
            where_: big.as_str().into(),
            details: vec![Detail { property_name: big.as_str().into(), before: None, after: None, message: None }],
            ..Default::default()
        });
        for max_row in [1_000_000, 100_000] {
            let text = row(&e, value_limit(max_row));
            assert!(text.len() < max_row, "{} for {max_row}", text.len());
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
        assert_eq!(value_limit(1_000_000), MAX_VALUE);
    }
}
