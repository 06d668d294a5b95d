//! CEF `profile = "netwrix"`: the line Netwrix's CEF Export add-on writes (its ArcSight
//! add-on sends the same mapping), so ArcSight rules, Sentinel's `NetwrixAuditor` parser
//! and regex parsers keyed on `cat=… suser=… filePath=… start=…` keep matching.
//!
//! ```text
//! CEF:0|Netwrix|<DataSource>|1.0|<Action>|<Action> <ObjectType>|0|shost=<Where> cat=<ObjectType> suser=<Who> filePath=<What> start=<MMM dd yyyy HH:mm:ss> msg=<details>
//! ```
//!
//! The header is [`cef::encode`](super::cef::encode)'s with severity 0. The values are
//! whole (Netwrix caps none but the details, which it cuts at 16,000 characters); `shost`
//! is Where, the audited server (docs/cef.md says why). `start` has no zone, as Netwrix's;
//! its clock is `timezone` (UTC by default). With `extras = true` our keys follow
//! Netwrix's, so a regex anchored on Netwrix's sequence still matches.

use super::cef::{custom_strings, replay, CefOptions, ACT_MAX, EXTERNAL_ID_MAX, STRING_MAX};
use super::digits::{decimal, hex_id};
use super::when::when_millis;
use crate::Event;
use chrono::{Datelike, TimeZone, Timelike};
use serde::{Deserialize, Deserializer};
use std::io::Write;

/// Where Netwrix's CEF Export cuts the details (characters, not bytes).
pub const MSG_CHARS: usize = 16_000;

/// The clock `start` is written in: an IANA time zone name (`Europe/Berlin`), `UTC` by
/// default. Netwrix writes the Auditor server's local time without a zone; a receiver
/// that reads it as UTC (Sentinel does) is right only with `UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(pub chrono_tz::Tz);

impl Default for Timezone {
    fn default() -> Self {
        Timezone(chrono_tz::UTC)
    }
}

impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<chrono_tz::Tz>().map(Timezone).map_err(|_| {
            serde::de::Error::custom(format!(
                "timezone {s:?} is not an IANA time zone name (like \"UTC\", \"Europe/Berlin\")"
            ))
        })
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `ms` (epoch milliseconds) as `MMM dd yyyy HH:mm:ss` in `zone`, written into `buf`:
/// English month, 24-hour clock, no fraction, no zone (Netwrix's `start`).
pub fn start_text(ms: i64, zone: Timezone, buf: &mut [u8; 32]) -> &str {
    let Some(t) = zone.0.timestamp_millis_opt(ms).single() else {
        return "";
    };
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let month = MONTHS[t.month0() as usize];
    let written =
        write!(cursor, "{month} {:02} {:04} {:02}:{:02}:{:02}", t.day(), t.year(), t.hour(), t.minute(), t.second());
    let len = if written.is_ok() { cursor.position() as usize } else { 0 };
    // Only ASCII was written.
    std::str::from_utf8(&buf[..len]).unwrap_or("")
}

/// The first `max` characters of `s`.
fn first_chars(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

/// The extension of the netwrix profile, pair by pair, in wire order.
pub(super) fn visit(event: &Event, options: &CefOptions, mut field: impl FnMut(&str, &str, usize)) {
    let r = &event.record;
    field("shost", &r.where_, usize::MAX);
    field("cat", &r.object_type, usize::MAX);
    field("suser", &r.who, usize::MAX);
    field("filePath", &r.what, usize::MAX);
    let when = when_millis(r);
    let mut start = [0u8; 32];
    if let Some(ms) = when {
        field("start", start_text(ms, options.timezone, &mut start), usize::MAX);
    }
    if !r.details.is_empty() {
        super::details::with_rendered(&r.details, "\n", |msg| field("msg", first_chars(msg, MSG_CHARS), usize::MAX));
    }
    if !options.extras {
        return;
    }
    let mut digits = [0u8; 20];
    if let Some(ms) = when {
        field("rt", decimal(ms, &mut digits), usize::MAX);
    }
    let mut hex = [0u8; 32];
    field("externalId", hex_id(&event.id, &mut hex), EXTERNAL_ID_MAX);
    field("act", &r.action, ACT_MAX);
    field("deviceFacility", r.data_source.as_deref().unwrap_or(""), STRING_MAX);
    custom_strings(event, when.is_none(), options, &mut field);
    // shost holds Where here, so Workstation needs a key of its own.
    if let Some(ws) = r.workstation.as_deref().filter(|w| !w.is_empty()) {
        field("flexString1Label", "Workstation", STRING_MAX);
        field("flexString1", ws, STRING_MAX);
    }
    replay(event, &mut field);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::cef::{encode, CefProfile};
    use netwrix::{ActivityRecord, Detail, RecordId};

    /// The record behind compat.md §1's sample line.
    fn sample() -> Event {
        let record = ActivityRecord {
            who: "enterprise\\administrator".into(),
            action: "Added".into(),
            what: "\\local\\enterprise\\users\\newuser".into(),
            when: "2017-03-28T14:01:48Z".into(),
            where_: "enterprisedc.enterprise.local".into(),
            object_type: "user".into(),
            data_source: Some("Active Directory".into()),
            workstation: Some("ws-17.enterprise.local".into()),
            ..Default::default()
        };
        Event { seq: 1, id: RecordId([0xcd; 16]), job: "corp".into(), replay: false, record }
    }

    fn line(event: &Event, options: &CefOptions) -> String {
        let mut out = Vec::new();
        encode(event, options, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// compat.md §1: Netwrix's published line, byte for byte.
    #[test]
    fn golden_netwrix_sample() {
        let want = r"CEF:0|Netwrix|Active Directory|1.0|Added|Added user|0|shost=enterprisedc.enterprise.local cat=user suser=enterprise\\administrator filePath=\\local\\enterprise\\users\\newuser start=Mar 28 2017 14:01:48";
        assert_eq!(line(&sample(), &CefOptions::netwrix()), want);
    }

    #[test]
    fn extras_follow_netwrix_keys_and_timezone_moves_the_clock() {
        let mut e = sample();
        e.record.details =
            vec![Detail { property_name: "Member".into(), before: None, after: Some("x".into()), message: None }];
        let options: CefOptions =
            serde_json::from_str(r#"{"profile": "netwrix", "extras": true, "timezone": "Europe/Berlin"}"#).unwrap();
        let want = concat!(
            r"CEF:0|Netwrix|Active Directory|1.0|Added|Added user|0|shost=enterprisedc.enterprise.local cat=user ",
            r"suser=enterprise\\administrator filePath=\\local\\enterprise\\users\\newuser start=Mar 28 2017 16:01:48 ",
            r#"msg=Member set to "x" rt=1490709708000 externalId=cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd act=Added "#,
            r"deviceFacility=Active Directory cs5Label=Job cs5=corp flexString1Label=Workstation flexString1=ws-17.enterprise.local",
        );
        assert_eq!(line(&e, &options), want);
    }

    #[test]
    fn msg_is_cut_at_16000_characters_without_a_marker() {
        let mut e = sample();
        e.record.details = vec![Detail {
            property_name: String::new().into(),
            before: None,
            after: None,
            message: Some("é".repeat(20_000).into()),
        }];
        let got = line(&e, &CefOptions::netwrix());
        let msg = got.split(" msg=").nth(1).unwrap();
        assert_eq!(msg.chars().count(), MSG_CHARS);
        assert!(msg.chars().all(|c| c == 'é'));
    }

    #[test]
    fn start_text_edges() {
        let mut buf = [0u8; 32];
        assert_eq!(start_text(0, Timezone::default(), &mut buf), "Jan 01 1970 00:00:00");
        let zone = Timezone("America/New_York".parse().unwrap());
        assert_eq!(start_text(1_717_243_200_999, zone, &mut buf), "Jun 01 2024 08:00:00");
    }

    #[test]
    fn keys_of_the_other_profile_are_refused() {
        let err = |json: &str| serde_json::from_str::<CefOptions>(json).unwrap_err().to_string();
        assert!(err(r#"{"extras": true}"#).contains("extras applies to profile = \"netwrix\""));
        assert!(err(r#"{"timezone": "UTC"}"#).contains("timezone applies"));
        assert!(
            err(r#"{"profile": "netwrix", "msg_max": 2000}"#).contains("msg_max applies to profile = \"auditbridge\"")
        );
        assert!(err(r#"{"profile": "netwrix", "severity": {"Read": 1}}"#).contains("severity 0"));
        assert!(err(r#"{"profile": "netwrix", "timezone": "Mars/Base"}"#).contains("IANA"));
        let o: CefOptions = serde_json::from_str(r#"{"profile": "netwrix"}"#).unwrap();
        assert_eq!((o.profile, o.extras, o.timezone), (CefProfile::Netwrix, false, Timezone::default()));
        assert_eq!(CefOptions::default().msg_max, 4000);
    }

    #[test]
    fn options_read_from_toml_like_config() {
        let o: CefOptions =
            serde_json::from_str(r#"{"custom_string_max": 4000, "severity": {"Read": 1}, "default_severity": 2}"#)
                .unwrap();
        assert_eq!((o.custom_string_max, o.default_severity.get(), o.vendor.as_str()), (4000, 2, "Netwrix"));
        let err = serde_json::from_str::<CefOptions>(r#"{"custom_string_max": 5000}"#).unwrap_err().to_string();
        assert!(err.contains("custom_string_max is 1023 to 4000"), "{err}");
        assert!(serde_json::from_str::<CefOptions>(r#"{"colour": 1}"#).is_err());
    }
}
