//! The LEEF format (IBM QRadar Log Event Extended Format), versions 1.0 and 2.0.
//!
//! ```text
//! LEEF:1.0|Netwrix|Auditor|1.0|<Action>|cat=…<TAB>devTime=…<TAB>usrName=…
//! LEEF:2.0|Netwrix|Auditor|1.0|<Action>|^|cat=…^devTime=…^usrName=…
//! ```
//!
//! QRadar normalises a few predefined keys: `cat` (ObjectType), `devTime` (When, epoch
//! milliseconds, so no `devTimeFormat` is needed), `sev` (1..10, from the Action table),
//! `usrName` (Who), and `src`/`dst`, written only when Workstation/Where is an IP
//! address. Every other field, the record id included (`recordId`), is a custom key;
//! the full table is in `docs/leef.md`, and [`visit`] is that table in code.
//!
//! LEEF has no escaping. So that no value can break the record: the delimiter, CR, LF
//! and every other C0 control character in a value become a space; in header fields a
//! `|` becomes `/` and control characters a space. `=` and `\` are written as they are.

use super::digits::{decimal, hex_id};
use super::limit::{push_capped, push_str_capped, put_utf8, Specials};
use super::severity::{self, Level, DEFAULT_LEVEL};
use super::when::when_millis;
use crate::Event;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// LEEF version written in the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum LeefVersion {
    #[serde(rename = "1.0")]
    V1,
    #[default]
    #[serde(rename = "2.0")]
    V2,
}

/// The attribute delimiter of LEEF 2.0, read as one character (`"^"`) or its hex code
/// (`"x09"`, `"0x5E"`, 1 to 4 hex digits). Letters, digits, `=`, space, CR and LF are
/// refused: the first three would be read as part of a key or value, the last two
/// would break the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiter(pub char);

impl Delimiter {
    /// Parses the config's form.
    pub fn parse(s: &str) -> Result<Delimiter, String> {
        let mut chars = s.chars();
        let c = match (chars.next(), chars.next()) {
            (Some(c), None) => c,
            _ => {
                let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix('x')).unwrap_or("");
                if hex.is_empty() || hex.len() > 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("the LEEF delimiter is one character or its hex code like \"x09\", not {s:?}"));
                }
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).ok_or(format!("{s:?} is no character"))?
            }
        };
        if c.is_alphanumeric() || matches!(c, '=' | ' ' | '\r' | '\n') {
            return Err(format!("{c:?} cannot be the LEEF delimiter: it may appear in keys or values"));
        }
        Ok(Delimiter(c))
    }

    /// How the delimiter is written in the LEEF 2.0 header: the character itself when it
    /// is printable ASCII other than `|`, else `x` and its hex code (`x09` for TAB).
    pub fn header_form(self, out: &mut Vec<u8>) {
        let c = self.0;
        if c.is_ascii_graphic() && c != '|' {
            out.push(c as u8);
        } else {
            out.extend_from_slice(format!("x{:02X}", u32::from(c)).as_bytes());
        }
    }
}

impl<'de> Deserialize<'de> for Delimiter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Delimiter::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Which attributes a LEEF sink writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeefProfile {
    /// Ours: QRadar's predefined keys plus camelCase custom keys (docs/leef.md).
    #[default]
    Auditbridge,
    /// The EventData names and values of Netwrix's event log (QRadar) add-on
    /// ([`leef_eventlog`](super::leef_eventlog)).
    NetwrixEventlog,
}

/// The LEEF options of a sink (`[sink.leef]`); every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawLeefOptions")]
pub struct LeefOptions {
    /// `auditbridge` (default) or `netwrix-eventlog`.
    pub profile: LeefProfile,
    /// `"1.0"` (TAB between attributes) or `"2.0"` (default; the delimiter is declared).
    pub version: LeefVersion,
    /// The attribute delimiter; TAB for 1.0, default `^` for 2.0.
    pub delimiter: Delimiter,
    /// Vendor. Default `Netwrix`.
    pub vendor: String,
    /// Product. Default `Auditor`: QRadar picks the DSM by Vendor and Product, so it
    /// stays one value (the DataSource travels in `dataSource`).
    pub product: String,
    /// Product version. Default `1.0`.
    pub product_version: String,
    /// Severity of actions the table does not name (`sev`, 0 is sent as 1). Default 3.
    pub default_severity: Level,
    /// Severity by Action, over the built-in table.
    pub severity: BTreeMap<String, Level>,
}

impl Default for LeefOptions {
    fn default() -> Self {
        LeefOptions {
            profile: LeefProfile::Auditbridge,
            version: LeefVersion::V2,
            delimiter: Delimiter('^'),
            vendor: "Netwrix".into(),
            product: "Auditor".into(),
            product_version: "1.0".into(),
            default_severity: DEFAULT_LEVEL,
            severity: BTreeMap::new(),
        }
    }
}

/// What the config holds, before the delimiter is settled against the version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLeefOptions {
    #[serde(default)]
    profile: LeefProfile,
    #[serde(default)]
    version: LeefVersion,
    delimiter: Option<Delimiter>,
    vendor: Option<String>,
    product: Option<String>,
    product_version: Option<String>,
    default_severity: Option<Level>,
    #[serde(default)]
    severity: BTreeMap<String, Level>,
}

impl TryFrom<RawLeefOptions> for LeefOptions {
    type Error = String;
    fn try_from(raw: RawLeefOptions) -> Result<Self, String> {
        if raw.profile == LeefProfile::NetwrixEventlog && (raw.default_severity.is_some() || !raw.severity.is_empty()) {
            return Err("severity applies to profile = \"auditbridge\" only: the event log add-on has none".into());
        }
        let d = LeefOptions::default();
        let delimiter = match (raw.version, raw.delimiter) {
            (LeefVersion::V1, None) => Delimiter('\t'),
            (LeefVersion::V1, Some(Delimiter('\t'))) => Delimiter('\t'),
            (LeefVersion::V1, Some(_)) => {
                return Err(
                    "LEEF 1.0 always separates attributes by TAB: remove delimiter or use version = \"2.0\"".into()
                )
            }
            (LeefVersion::V2, delimiter) => delimiter.unwrap_or(d.delimiter),
        };
        Ok(LeefOptions {
            profile: raw.profile,
            version: raw.version,
            delimiter,
            vendor: raw.vendor.unwrap_or(d.vendor),
            product: raw.product.unwrap_or(d.product),
            product_version: raw.product_version.unwrap_or(d.product_version),
            default_severity: raw.default_severity.unwrap_or(d.default_severity),
            severity: raw.severity,
        })
    }
}

/// Longest EventID and `usrName` (bytes), from IBM's guide.
pub const EVENT_ID_MAX: usize = 255;
const USR_NAME_MAX: usize = 255;

/// Appends the LEEF header: `LEEF:1.0|vendor|product|version|event id|` or, for 2.0,
/// with the delimiter field after the event id.
pub fn write_header(
    version: LeefVersion,
    delimiter: Delimiter,
    [vendor, product, product_version, event_id]: [&str; 4],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(match version {
        LeefVersion::V1 => b"LEEF:1.0|",
        LeefVersion::V2 => b"LEEF:2.0|",
    });
    for (value, max) in [(vendor, 255), (product, 255), (product_version, 255), (event_id, EVENT_ID_MAX)] {
        // A value with nothing to replace that fits is copied whole.
        if value.len() <= max && HEADER_SPECIALS.find(value.as_bytes(), 0) == value.len() {
            out.extend_from_slice(value.as_bytes());
        } else {
            push_capped(out, value.chars(), max, sanitize_header_char);
        }
        out.push(b'|');
    }
    if version == LeefVersion::V2 {
        delimiter.header_form(out);
        out.push(b'|');
    }
}

/// The bytes [`sanitize_header_char`] changes: `|` and the control characters.
const HEADER_SPECIALS: Specials = Specials::controls_and_one(b'|', false);

fn sanitize_header_char(c: char, out: &mut Vec<u8>) {
    match c {
        '|' => out.push(b'/'),
        c if c.is_ascii_control() && c != '\u{7f}' => out.push(b' '),
        c => put_utf8(c, out),
    }
}

/// Writes `key=value` attributes separated by the delimiter.
pub struct Attributes<'o> {
    out: &'o mut Vec<u8>,
    delimiter: char,
    /// The bytes that send a char of a value down the slow path: control bytes and the
    /// delimiter (for a non-ASCII delimiter, every non-ASCII byte).
    specials: Specials,
    empty: bool,
}

impl<'o> Attributes<'o> {
    /// Starts the attributes at the end of `out` (right after the header).
    pub fn new(out: &'o mut Vec<u8>, delimiter: Delimiter) -> Self {
        let d = delimiter.0;
        let specials =
            if d.is_ascii() { Specials::controls_and_one(d as u8, false) } else { Specials::controls_and_one(0, true) };
        Attributes { out, delimiter: d, specials, empty: true }
    }

    /// Appends `key=value` with the value sanitised and capped at `max` bytes; an empty
    /// value is left out.
    pub fn pair(&mut self, key: &str, value: &str, max: usize) {
        if value.is_empty() {
            return;
        }
        if !self.empty {
            put_utf8(self.delimiter, self.out);
        }
        self.empty = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
        let delimiter = self.delimiter;
        push_str_capped(self.out, value, max, &self.specials, |c, out| {
            if c == delimiter || (c.is_ascii_control() && c != '\u{7f}') {
                out.push(b' ');
            } else {
                put_utf8(c, out);
            }
        });
    }
}

/// The mapping: calls `field(key, value, max)` for each attribute of `event`, in wire
/// order, for the options' profile.
pub fn visit(event: &Event, options: &LeefOptions, mut field: impl FnMut(&str, &str, usize)) {
    if options.profile == LeefProfile::NetwrixEventlog {
        return super::leef_eventlog::visit(event, field);
    }
    let r = &event.record;
    let when = when_millis(r);
    let level = severity::level(&r.action, &options.severity, options.default_severity).get().max(1);
    field("cat", &r.object_type, usize::MAX);
    let mut digits = [0u8; 20];
    if let Some(ms) = when {
        field("devTime", decimal(ms, &mut digits), usize::MAX);
    }
    field("sev", decimal(i64::from(level), &mut digits), usize::MAX);
    field("usrName", &r.who, USR_NAME_MAX);
    let workstation = r.workstation.as_deref().unwrap_or("");
    if is_ip(workstation.trim()) {
        field("src", workstation.trim(), usize::MAX);
    }
    if is_ip(r.where_.trim()) {
        field("dst", r.where_.trim(), usize::MAX);
    }
    let mut hex = [0u8; 32];
    field("recordId", hex_id(&event.id, &mut hex), usize::MAX);
    field("action", &r.action, usize::MAX);
    field("what", &r.what, usize::MAX);
    field("where", &r.where_, usize::MAX);
    field("workstation", workstation, usize::MAX);
    field("dataSource", r.data_source.as_deref().unwrap_or(""), usize::MAX);
    let plan = r.monitoring_plan.as_ref();
    field("monitoringPlan", plan.and_then(|p| p.name.as_deref()).unwrap_or(""), usize::MAX);
    field("monitoringPlanId", plan.and_then(|p| p.id.as_deref()).unwrap_or(""), usize::MAX);
    field("item", r.item.as_ref().and_then(|i| i.name.as_deref()).unwrap_or(""), usize::MAX);
    field("rid", r.rid.as_deref().unwrap_or(""), usize::MAX);
    field("job", &event.job, usize::MAX);
    if event.replay {
        field("replay", "true", usize::MAX);
    }
    if when.is_none() {
        field("when", &r.when, usize::MAX);
    }
    if !r.details.is_empty() {
        super::details::with_rendered(&r.details, "; ", |details| field("details", details, usize::MAX));
    }
}

/// Whether `s` parses as an IP address. Only hex digits, `.` and `:` can make one, so
/// host names (most Workstation and Where values) are turned away before the parser.
fn is_ip(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':') && s.parse::<IpAddr>().is_ok()
}

/// Appends the LEEF record of `event` to `out` (one line, no trailing newline).
pub fn encode(event: &Event, options: &LeefOptions, out: &mut Vec<u8>) {
    let fields = [&*options.vendor, &*options.product, &*options.product_version, &*event.record.action];
    write_header(options.version, options.delimiter, fields, out);
    let mut attrs = Attributes::new(out, options.delimiter);
    visit(event, options, |key, value, max| attrs.pair(key, value, max));
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, Detail, Item, MonitoringPlan, RecordId};

    const HDR: [&str; 4] = ["Netwrix", "Auditor", "10.8", ""];

    fn hdr(event_id: &str) -> [&str; 4] {
        [HDR[0], HDR[1], HDR[2], event_id]
    }

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    /// formats.md §2.6, L1 (the LEEF part; the syslog header is the transport's test).
    #[test]
    fn golden_l1() {
        let mut out = Vec::new();
        let d = Delimiter('\t');
        write_header(LeefVersion::V1, d, hdr("Modified"), &mut out);
        let mut a = Attributes::new(&mut out, d);
        a.pair("cat", "file", 255);
        a.pair("devTime", "1717243200123", 255);
        a.pair("usrName", "CORP\\jdoe", 255);
        a.pair("src", "10.0.0.5", 255);
        a.pair("resource", "\\\\fs01\\Finance\\Q1 a=b.xlsx", 4000);
        a.pair("action", "Modified", 255);
        let want = "LEEF:1.0|Netwrix|Auditor|10.8|Modified|cat=file\tdevTime=1717243200123\tusrName=CORP\\jdoe\tsrc=10.0.0.5\tresource=\\\\fs01\\Finance\\Q1 a=b.xlsx\taction=Modified";
        assert_eq!(text(out), want);
    }

    /// L2: LEEF 2.0 with caret; a value with `^` and CRLF is sanitised.
    #[test]
    fn golden_l2() {
        let mut out = Vec::new();
        let d = Delimiter('^');
        write_header(LeefVersion::V2, d, hdr("Added"), &mut out);
        let mut a = Attributes::new(&mut out, d);
        a.pair("cat", "group", 255);
        a.pair("devTime", "Jun 01 2024 12:00:00.123 UTC", 255);
        a.pair("devTimeFormat", "MMM dd yyyy HH:mm:ss.SSS z", 255);
        a.pair("usrName", "alice@corp.example", 255);
        a.pair("details", "Added: \"CN=Bob^1\"\r\nGroup Type: Security", 4000);
        let want = "LEEF:2.0|Netwrix|Auditor|10.8|Added|^|cat=group^devTime=Jun 01 2024 12:00:00.123 UTC^devTimeFormat=MMM dd yyyy HH:mm:ss.SSS z^usrName=alice@corp.example^details=Added: \"CN=Bob 1\"  Group Type: Security";
        assert_eq!(text(out), want);
    }

    /// L3: LEEF 2.0 declaring TAB in hex, non-ASCII user, pipe in a value.
    #[test]
    fn golden_l3() {
        let mut out = Vec::new();
        let d = Delimiter::parse("x09").unwrap();
        write_header(LeefVersion::V2, d, hdr("Failed Logon"), &mut out);
        let mut a = Attributes::new(&mut out, d);
        for (k, v) in [
            ("cat", "logon"),
            ("sev", "8"),
            ("devTime", "1717243200000"),
            ("usrName", "CORP\\Müller"),
            ("identSrc", "10.0.0.5"),
            ("identHostName", "ws-01"),
            ("details", "a|b=c"),
        ] {
            a.pair(k, v, 255);
        }
        let want = "LEEF:2.0|Netwrix|Auditor|10.8|Failed Logon|x09|cat=logon\tsev=8\tdevTime=1717243200000\tusrName=CORP\\M\u{fc}ller\tidentSrc=10.0.0.5\tidentHostName=ws-01\tdetails=a|b=c";
        assert_eq!(text(out), want);
    }

    #[test]
    fn header_pipes_become_slashes() {
        let mut out = Vec::new();
        write_header(LeefVersion::V2, Delimiter('|'), hdr("Read|Write\n"), &mut out);
        assert_eq!(text(out), "LEEF:2.0|Netwrix|Auditor|10.8|Read/Write |x7C|");
    }

    proptest::proptest! {
        #[test]
        fn the_ip_prefilter_turns_away_no_address(s in "[0-9a-fA-F.:xg% -]{0,20}|[0-9]{1,3}(\\.[0-9]{1,3}){3}") {
            proptest::prop_assert_eq!(is_ip(&s), s.parse::<IpAddr>().is_ok());
        }
    }

    #[test]
    fn delimiters_parse_from_char_or_hex() {
        assert_eq!(Delimiter::parse("^").unwrap(), Delimiter('^'));
        assert_eq!(Delimiter::parse("x5E").unwrap(), Delimiter('^'));
        assert_eq!(Delimiter::parse("0x09").unwrap(), Delimiter('\t'));
        for bad in ["", "ab", "=", "a", "x", "xZZ", "x0A", " "] {
            assert!(Delimiter::parse(bad).is_err(), "{bad:?}");
        }
        let err = serde_json::from_str::<LeefOptions>(r#"{"version": "1.0", "delimiter": "^"}"#).unwrap_err();
        assert!(err.to_string().contains("TAB"), "{err}");
        let o: LeefOptions = serde_json::from_str(r#"{"version": "1.0"}"#).unwrap();
        assert_eq!(o.delimiter, Delimiter('\t'));
        assert!(serde_json::from_str::<LeefOptions>(r#"{"colour": 1}"#).is_err());
    }

    fn record() -> Event {
        Event {
            seq: 1,
            id: RecordId([0x01; 16]),
            job: "corp".into(),
            replay: false,
            record: ActivityRecord {
                rid: Some("R1".into()),
                who: "CORP\\jdoe".into(),
                action: "Failed Logon".into(),
                what: "a^b".into(),
                when: "2024-06-01T12:00:00Z".into(),
                where_: "10.0.0.9".into(),
                object_type: "Logon".into(),
                monitoring_plan: Some(MonitoringPlan { name: Some("Logons".into()), id: None }),
                data_source: Some("Logon Activity".into()),
                item: Some(Item { name: Some("corp.example".into()) }),
                workstation: Some("ws-01".into()),
                details: vec![
                    Detail {
                        property_name: "Cause".into(),
                        message: Some("Bad password".into()),
                        ..Default::default()
                    },
                    Detail { property_name: "Tries".into(), after: Some("3".into()), ..Default::default() },
                ],
            },
        }
    }

    /// The mapping of docs/leef.md, on one full record.
    #[test]
    fn golden_record_mapping() {
        let mut out = Vec::new();
        encode(&record(), &LeefOptions::default(), &mut out);
        let want = concat!(
            "LEEF:2.0|Netwrix|Auditor|1.0|Failed Logon|^|cat=Logon^devTime=1717243200000^sev=7^",
            "usrName=CORP\\jdoe^dst=10.0.0.9^recordId=01010101010101010101010101010101^action=Failed Logon^",
            "what=a b^where=10.0.0.9^workstation=ws-01^dataSource=Logon Activity^monitoringPlan=Logons^",
            "item=corp.example^rid=R1^job=corp^details=Bad password; Tries set to \"3\"",
        );
        assert_eq!(text(out), want);
    }
}
