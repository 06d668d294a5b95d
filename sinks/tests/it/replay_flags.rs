//! Every format flags a record sent again by `auditbridge backfill`, and only such a
//! record: the exact text each format adds.

use netwrix::{ActivityRecord, RecordId};
use sinks::format::{cef, hec, json, leef};
use sinks::Event;

fn event(replay: bool) -> Event {
    let record = ActivityRecord {
        who: "CORP\\a".into(),
        action: "Added".into(),
        what: "x".into(),
        when: "2024-06-01T12:00:00Z".into(),
        where_: "dc1".into(),
        object_type: "user".into(),
        ..Default::default()
    };
    Event { seq: 1, id: RecordId([0x11; 16]), job: "corp".into(), replay, record }
}

fn text(encode: impl Fn(&Event, &mut Vec<u8>)) -> (String, String) {
    let (mut live, mut replay) = (Vec::new(), Vec::new());
    encode(&event(false), &mut live);
    encode(&event(true), &mut replay);
    (String::from_utf8(live).unwrap(), String::from_utf8(replay).unwrap())
}

#[test]
fn each_format_adds_its_flag_to_replays_only() {
    let (live, replay) = text(json::encode);
    assert_eq!(replay, live.replacen("\"job\":\"corp\",", "\"job\":\"corp\",\"auditbridge_replay\":true,", 1));

    let (live, replay) = text(|e, o| cef::encode(e, &cef::CefOptions::default(), o));
    assert!(!live.contains("cn1"));
    assert_eq!(replay, format!("{live} cn1Label=Replay cn1=1"));

    let (live, replay) = text(|e, o| leef::encode(e, &leef::LeefOptions::default(), o));
    assert!(!live.contains("replay="));
    assert_eq!(replay, format!("{live}^replay=true"), "LEEF 2.0 with the default ^ delimiter");

    let (live, replay) = text(|e, o| hec::encode(e, &hec::Meta::default(), o));
    assert_eq!(
        replay,
        live.replacen(
            "\"auditbridge_job\":\"corp\"}",
            "\"auditbridge_job\":\"corp\",\"auditbridge_replay\":\"true\"}",
            1
        )
    );
}
