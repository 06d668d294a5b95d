//! The layout of one Kafka message, apart from its value (which is the format's
//! business): the key and the headers.
//!
//! * key: the record id, 32 lower-case hex digits (librdkafka's default partitioner
//!   spreads records over the partitions by it);
//! * headers: `auditbridge-id` (the same id), `auditbridge-seq` (the spool sequence
//!   number, decimal), `netwrix-datasource` (the record's DataSource, empty when it has
//!   none), `netwrix-job` (the export job), and `auditbridge-writer` (32 hex digits
//!   naming this sink in this state file; see `committed.rs`).

use crate::Event;
use rdkafka::message::{Header, Headers, OwnedHeaders};

pub const HEADER_ID: &str = "auditbridge-id";
pub const HEADER_SEQ: &str = "auditbridge-seq";
pub const HEADER_DATASOURCE: &str = "netwrix-datasource";
pub const HEADER_JOB: &str = "netwrix-job";
pub const HEADER_WRITER: &str = "auditbridge-writer";

/// The message key of `event`: its id as 32 hex digits.
pub fn key(event: &Event) -> String {
    event.id.to_string()
}

/// The headers of `event`, written by the sink whose writer id is `writer` (32 hex).
pub fn headers(event: &Event, key: &str, writer: &str) -> OwnedHeaders {
    let seq = event.seq.to_string();
    let datasource = event.record.data_source.as_deref().unwrap_or("");
    let headers = OwnedHeaders::new_with_capacity(6)
        .insert(Header { key: HEADER_ID, value: Some(key) })
        .insert(Header { key: HEADER_SEQ, value: Some(&seq) })
        .insert(Header { key: HEADER_DATASOURCE, value: Some(datasource) })
        .insert(Header { key: HEADER_JOB, value: Some(event.job.as_str()) })
        .insert(Header { key: HEADER_WRITER, value: Some(writer) });
    if event.replay {
        // Sent again by `auditbridge backfill`.
        headers.insert(Header { key: "auditbridge-replay", value: Some("true") })
    } else {
        headers
    }
}

/// What the sink needs from a message it finds at a partition's tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub seq: Option<u64>,
    pub writer: Option<String>,
}

/// Reads the `auditbridge-seq` and `auditbridge-writer` headers of a message.
pub fn stamp<H: Headers>(headers: Option<&H>) -> Stamp {
    let mut stamp = Stamp { seq: None, writer: None };
    let Some(headers) = headers else { return stamp };
    for h in headers.iter() {
        let Some(value) = h.value.and_then(|v| std::str::from_utf8(v).ok()) else { continue };
        match h.key {
            HEADER_SEQ => stamp.seq = value.parse().ok(),
            HEADER_WRITER => stamp.writer = Some(value.to_owned()),
            _ => {}
        }
    }
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, RecordId};

    #[test]
    fn headers_carry_id_seq_datasource_job_writer_in_order() {
        let record = ActivityRecord { data_source: Some("Active Directory".into()), ..Default::default() };
        let event = Event { seq: 42, id: RecordId([0xab; 16]), job: "corp".into(), replay: false, record };
        let k = key(&event);
        assert_eq!(k, "abababababababababababababababab");
        let h = headers(&event, &k, "00ff");
        let got: Vec<(String, String)> =
            h.iter().map(|h| (h.key.to_owned(), String::from_utf8(h.value.unwrap().to_vec()).unwrap())).collect();
        let want = [
            ("auditbridge-id", k.as_str()),
            ("auditbridge-seq", "42"),
            ("netwrix-datasource", "Active Directory"),
            ("netwrix-job", "corp"),
            ("auditbridge-writer", "00ff"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
        assert_eq!(stamp(Some(&h)), Stamp { seq: Some(42), writer: Some("00ff".into()) });
        assert_eq!(stamp::<OwnedHeaders>(None), Stamp { seq: None, writer: None });
    }
}
