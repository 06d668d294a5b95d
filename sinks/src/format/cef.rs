//! The CEF format (ArcSight Common Event Format 0): one record, one line.
//!
//! ```text
//! CEF:0|Netwrix|<DataSource>|1.0|<Action>|<Action> <ObjectType>|<severity>|rt=… externalId=… suser=…
//! ```
//!
//! The default profile (`auditbridge`) follows Netwrix's own CEF export so that ArcSight
//! content built for it keeps working (vendor `Netwrix`, product = DataSource, signature
//! id = Action, name = "Action ObjectType", `suser`, `filePath`, `cat`, `shost`, `msg`),
//! and adds what that export leaves out: `rt` and `start` (When, epoch milliseconds),
//! `externalId` (the record id), `dvchost` (Where) and labelled custom strings for the
//! rest. `profile = "netwrix"` writes Netwrix's line exactly ([`cef_netwrix`](super::cef_netwrix)).
//! The full tables are in `docs/cef.md`; [`visit`] is them in code.
//!
//! Escaping follows the CEF standard exactly: header fields escape `\` and `|` (CR and
//! LF cannot be escaped there and become a space, CRLF one space); extension values
//! escape `\`, `=`, LF (`\n`) and CR (`\r`) and leave `|`, spaces and TAB as they are.
//! Other C0 control characters become a space in both. Every value is capped at its
//! dictionary length (see [`limit`](super::limit)); empty values are left out.

use super::cef_netwrix::{self, Timezone};
use super::digits::{decimal, hex_id, push_u64};
use super::limit::{push_capped, push_str_capped, put_utf8, Specials};
use super::severity::{self, Level, DEFAULT_LEVEL};
use super::when::when_millis;
use crate::Event;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Which line a CEF sink writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CefProfile {
    /// Ours: Netwrix's header and keys plus `rt`, `start`, `externalId`, `dvchost` and
    /// labelled custom strings, with the severity table.
    #[default]
    Auditbridge,
    /// Exactly the line of Netwrix's CEF Export add-on (see [`netwrix`](super::cef_netwrix)),
    /// so content built on it (regexes, Sentinel's parser) keeps matching.
    Netwrix,
}

/// The CEF options of a sink (`[sink.cef]`); every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawCefOptions")]
pub struct CefOptions {
    /// `auditbridge` (default) or `netwrix`.
    pub profile: CefProfile,
    /// `netwrix` profile: append our keys after Netwrix's. Default false.
    pub extras: bool,
    /// `netwrix` profile: the clock of `start`. Default UTC.
    pub timezone: Timezone,
    /// Device Vendor. Default `Netwrix`.
    pub vendor: String,
    /// Device Product; absent = the record's DataSource (Netwrix's choice), or `Auditor`
    /// for a record without one.
    pub product: Option<String>,
    /// Device Version. Default `1.0` (what Netwrix's export writes).
    pub device_version: String,
    /// Longest `cs1`..`cs6` value in bytes: 1023 (CEF rev. 16, every connector) or up to
    /// 4000 (rev. 23 and later). Default 1023.
    pub custom_string_max: usize,
    /// `auditbridge` profile: longest `msg` (the details) in bytes, 1023 to 16000.
    /// Default 4000: what Netwrix's own ArcSight add-on lets a whole event be (docs/cef.md).
    pub msg_max: usize,
    /// Severity of actions the table does not name. Default 3.
    pub default_severity: Level,
    /// Severity by Action, over the built-in table (`"Failed Logon" = 9`).
    pub severity: BTreeMap<String, Level>,
}

/// Default `msg_max` of the `auditbridge` profile.
pub const MSG_MAX_DEFAULT: usize = 4000;

impl Default for CefOptions {
    fn default() -> Self {
        CefOptions {
            profile: CefProfile::Auditbridge,
            extras: false,
            timezone: Timezone::default(),
            vendor: "Netwrix".into(),
            product: None,
            device_version: "1.0".into(),
            custom_string_max: 1023,
            msg_max: MSG_MAX_DEFAULT,
            default_severity: DEFAULT_LEVEL,
            severity: BTreeMap::new(),
        }
    }
}

impl CefOptions {
    /// The options of `profile = "netwrix"`, everything else default.
    pub fn netwrix() -> Self {
        CefOptions { profile: CefProfile::Netwrix, ..CefOptions::default() }
    }
}

/// What the config holds, before the keys are checked against the profile.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCefOptions {
    #[serde(default)]
    profile: CefProfile,
    extras: Option<bool>,
    timezone: Option<Timezone>,
    vendor: Option<String>,
    product: Option<String>,
    device_version: Option<String>,
    #[serde(default, deserialize_with = "custom_string_max")]
    custom_string_max: Option<usize>,
    #[serde(default, deserialize_with = "msg_max")]
    msg_max: Option<usize>,
    default_severity: Option<Level>,
    severity: Option<BTreeMap<String, Level>>,
}

impl TryFrom<RawCefOptions> for CefOptions {
    type Error = String;
    fn try_from(raw: RawCefOptions) -> Result<Self, String> {
        // A key the profile does not use is refused rather than silently ignored.
        let misplaced = match raw.profile {
            CefProfile::Auditbridge if raw.extras.is_some() => Some("extras"),
            CefProfile::Auditbridge if raw.timezone.is_some() => Some("timezone"),
            CefProfile::Netwrix if raw.msg_max.is_some() => Some("msg_max"),
            CefProfile::Netwrix if raw.severity.is_some() || raw.default_severity.is_some() => Some("severity"),
            _ => None,
        };
        if let Some(key) = misplaced {
            return Err(match raw.profile {
                CefProfile::Auditbridge => format!("{key} applies to profile = \"netwrix\" only"),
                CefProfile::Netwrix => format!(
                    "{key} applies to profile = \"auditbridge\" only: the netwrix profile writes severity 0 \
                     and cuts msg at 16,000 characters, as Netwrix's CEF Export does"
                ),
            });
        }
        let d = CefOptions::default();
        Ok(CefOptions {
            profile: raw.profile,
            extras: raw.extras.unwrap_or(false),
            timezone: raw.timezone.unwrap_or_default(),
            vendor: raw.vendor.unwrap_or(d.vendor),
            product: raw.product,
            device_version: raw.device_version.unwrap_or(d.device_version),
            custom_string_max: raw.custom_string_max.unwrap_or(d.custom_string_max),
            msg_max: raw.msg_max.unwrap_or(d.msg_max),
            default_severity: raw.default_severity.unwrap_or(d.default_severity),
            severity: raw.severity.unwrap_or_default(),
        })
    }
}

fn custom_string_max<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    bounded(d, 1023, 4000, "custom_string_max").map(Some)
}

fn msg_max<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    bounded(d, 1023, 16000, "msg_max").map(Some)
}

fn bounded<'de, D: Deserializer<'de>>(d: D, min: i64, max: i64, key: &str) -> Result<usize, D::Error> {
    let n = i64::deserialize(d)?;
    if (min..=max).contains(&n) {
        Ok(n as usize)
    } else {
        Err(serde::de::Error::custom(format!("{key} is {min} to {max} bytes, not {n}")))
    }
}

/// Header field limits (bytes of the escaped text), from the CEF standard.
pub const VENDOR_MAX: usize = 63;
pub const PRODUCT_MAX: usize = 63;
pub const VERSION_MAX: usize = 31;
pub const SIGNATURE_ID_MAX: usize = 1023;
pub const NAME_MAX: usize = 512;

/// The seven header fields after `CEF:0`.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub vendor: &'a str,
    pub product: &'a str,
    pub version: &'a str,
    pub signature_id: &'a str,
    pub name: &'a str,
    /// 0..=10.
    pub severity: u8,
}

/// Appends `CEF:0|vendor|product|version|signature id|name|severity|` (the extension
/// follows directly).
pub fn write_header(h: &Header<'_>, out: &mut Vec<u8>) {
    write_header_named(h, [h.name, ""], out);
}

/// [`write_header`] with the name given as two parts joined by a space (just the first
/// when the second is empty), so that `encode` need not build "Action ObjectType" in a
/// new `String` per record. `h.name` is not used.
fn write_header_named(h: &Header<'_>, [first, second]: [&str; 2], out: &mut Vec<u8>) {
    out.extend_from_slice(b"CEF:0|");
    for (value, max) in
        [(h.vendor, VENDOR_MAX), (h.product, PRODUCT_MAX), (h.version, VERSION_MAX), (h.signature_id, SIGNATURE_ID_MAX)]
    {
        push_header_field(out, value, max);
        out.push(b'|');
    }
    if second.is_empty() {
        push_header_field(out, first, NAME_MAX);
    } else if first.len() + 1 + second.len() <= NAME_MAX && header_clean(first) && header_clean(second) {
        out.extend_from_slice(first.as_bytes());
        out.push(b' ');
        out.extend_from_slice(second.as_bytes());
    } else {
        push_header_field(out, &format!("{first} {second}"), NAME_MAX);
    }
    out.push(b'|');
    push_u64(out, u64::from(h.severity.min(10)));
    out.push(b'|');
}

/// The bytes that make a header field more than its UTF-8 bytes: `\`, `|` and the
/// control characters (CR and LF among them, so CRLF folding too).
const HEADER_SPECIALS: Specials = Specials::controls_and(b'\\', b'|');

/// Whether `value` is written into a header field as it is.
fn header_clean(value: &str) -> bool {
    HEADER_SPECIALS.find(value.as_bytes(), 0) == value.len()
}

/// Appends one header field, escaped and capped. A value without special bytes that
/// fits is copied whole; anything else goes char by char.
fn push_header_field(out: &mut Vec<u8>, value: &str, max: usize) {
    if value.len() <= max && header_clean(value) {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    // CRLF folds to one character (a space) before escaping.
    let chars = value.char_indices().filter(|&(i, c)| !(c == '\r' && value[i + 1..].starts_with('\n'))).map(|(_, c)| c);
    push_capped(out, chars, max, escape_header_char);
}

fn escape_header_char(c: char, out: &mut Vec<u8>) {
    match c {
        '\\' => out.extend_from_slice(b"\\\\"),
        '|' => out.extend_from_slice(b"\\|"),
        c if c.is_ascii_control() && c != '\u{7f}' => out.push(b' '),
        c => put_utf8(c, out),
    }
}

/// The bytes [`escape_extension_char`] may change (TAB, which it keeps, among them): what
/// sends a char of a value down the slow path of `push_str_capped`.
const EXTENSION_SPECIALS: Specials = Specials::controls_and(b'\\', b'=');

fn escape_extension_char(c: char, out: &mut Vec<u8>) {
    match c {
        '\\' => out.extend_from_slice(b"\\\\"),
        '=' => out.extend_from_slice(b"\\="),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.push(b'\t'),
        c if c.is_ascii_control() && c != '\u{7f}' => out.push(b' '),
        c => put_utf8(c, out),
    }
}

/// Writes `key=value` pairs of the extension, one space apart.
pub struct Extension<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Extension<'o> {
    /// Starts an extension at the end of `out` (right after the header).
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        Extension { out, empty: true }
    }

    /// Appends `key=value`, the value escaped and capped at `max` bytes. An empty value
    /// is left out. `key` must be a CEF key (ASCII letters and digits; not checked).
    pub fn pair(&mut self, key: &str, value: &str, max: usize) {
        if value.is_empty() {
            return;
        }
        if !self.empty {
            self.out.push(b' ');
        }
        self.empty = false;
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'=');
        push_str_capped(self.out, value, max, &EXTENSION_SPECIALS, escape_extension_char);
    }
}

/// Extension value limits used by the mapping (bytes of the escaped text).
pub(super) const STRING_MAX: usize = 1023;
const DVCHOST_MAX: usize = 100;
pub(super) const ACT_MAX: usize = 63;
pub(super) const EXTERNAL_ID_MAX: usize = 40;

/// The mapping: calls `field(key, value, max)` for each extension pair of `event`, in
/// wire order, for the options' profile. [`encode`] writes them; tests use it to know
/// what was meant to be written.
pub fn visit(event: &Event, options: &CefOptions, mut field: impl FnMut(&str, &str, usize)) {
    if options.profile == CefProfile::Netwrix {
        return cef_netwrix::visit(event, options, field);
    }
    let r = &event.record;
    let when = when_millis(r);
    let mut digits = [0u8; 20];
    if let Some(ms) = when {
        let ms = decimal(ms, &mut digits);
        field("rt", ms, usize::MAX);
        // `start` too: Sentinel's parser and regexes keyed on Netwrix's line read it.
        field("start", ms, usize::MAX);
    }
    let mut hex = [0u8; 32];
    field("externalId", hex_id(&event.id, &mut hex), EXTERNAL_ID_MAX);
    field("act", &r.action, ACT_MAX);
    field("suser", &r.who, STRING_MAX);
    field("dvchost", &r.where_, DVCHOST_MAX);
    field("shost", r.workstation.as_deref().unwrap_or(""), STRING_MAX);
    field("filePath", &r.what, STRING_MAX);
    field("cat", &r.object_type, STRING_MAX);
    field("deviceFacility", r.data_source.as_deref().unwrap_or(""), STRING_MAX);
    custom_strings(event, when.is_none(), options, &mut field);
    replay(event, &mut field);
    if !r.details.is_empty() {
        super::details::with_rendered(&r.details, "\n", |msg| field("msg", msg, options.msg_max));
    }
}

/// `cs1`..`cs6` with their labels (cs6: When as sent, when `when_unparsed`).
pub(super) fn custom_strings(
    event: &Event,
    when_unparsed: bool,
    options: &CefOptions,
    field: &mut impl FnMut(&str, &str, usize),
) {
    let r = &event.record;
    let plan = r.monitoring_plan.as_ref();
    let custom = [
        ("cs1", "cs1Label", "MonitoringPlan", plan.and_then(|p| p.name.as_deref())),
        ("cs2", "cs2Label", "Item", r.item.as_ref().and_then(|i| i.name.as_deref())),
        ("cs3", "cs3Label", "MonitoringPlanId", plan.and_then(|p| p.id.as_deref())),
        ("cs4", "cs4Label", "RID", r.rid.as_deref()),
        ("cs5", "cs5Label", "Job", Some(event.job.as_str())),
        // When is in `rt` unless it did not parse; then it travels as sent.
        ("cs6", "cs6Label", "When", if when_unparsed { Some(r.when.as_str()) } else { None }),
    ];
    for (key, label_key, label, value) in custom {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            field(label_key, label, STRING_MAX);
            field(key, value, options.custom_string_max);
        }
    }
}

/// `cn1Label=Replay cn1=1` for a record sent again by `auditbridge backfill`.
pub(super) fn replay(event: &Event, field: &mut impl FnMut(&str, &str, usize)) {
    if event.replay {
        field("cn1Label", "Replay", STRING_MAX);
        field("cn1", "1", STRING_MAX);
    }
}

/// Appends the CEF record of `event` to `out` (one line, no trailing newline).
pub fn encode(event: &Event, options: &CefOptions, out: &mut Vec<u8>) {
    let r = &event.record;
    let product = options.product.as_deref().or(r.data_source.as_deref().filter(|s| !s.is_empty()));
    let level = match options.profile {
        CefProfile::Auditbridge => severity::level(&r.action, &options.severity, options.default_severity).get(),
        // Netwrix's export always writes 0.
        CefProfile::Netwrix => 0,
    };
    let header = Header {
        vendor: &options.vendor,
        product: product.unwrap_or("Auditor"),
        version: &options.device_version,
        signature_id: &r.action,
        name: "",
        severity: level,
    };
    // The name is "Action ObjectType", or the Action alone.
    write_header_named(&header, [&r.action, &r.object_type], out);
    let mut ext = Extension::new(out);
    visit(event, options, |key, value, max| ext.pair(key, value, max));
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwrix::{ActivityRecord, Detail, Item, MonitoringPlan, RecordId};

    fn header<'a>(signature_id: &'a str, name: &'a str, severity: u8) -> Header<'a> {
        Header { vendor: "Netwrix", product: "Auditor", version: "10.8", signature_id, name, severity }
    }

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    /// formats.md §1.8, example C1: pipe in header, Windows paths, `=` in a value.
    #[test]
    fn golden_c1() {
        let mut out = Vec::new();
        write_header(&header("Modified", "Modified file|share", 3), &mut out);
        let mut ext = Extension::new(&mut out);
        ext.pair("rt", "1717243200123", usize::MAX);
        ext.pair("suser", "CORP\\jdoe", 1023);
        ext.pair("filePath", "\\\\fs01\\Finance\\Q1 a=b.xlsx", 1023);
        ext.pair("act", "Modified", 63);
        ext.pair("outcome", "success", 63);
        let want = r"CEF:0|Netwrix|Auditor|10.8|Modified|Modified file\|share|3|rt=1717243200123 suser=CORP\\jdoe filePath=\\\\fs01\\Finance\\Q1 a\=b.xlsx act=Modified outcome=success";
        assert_eq!(text(out), want);
        assert_eq!(want.len(), 162);
    }

    /// Example C2: CRLF, quotes, `=` inside msg, pipe inside an extension value.
    #[test]
    fn golden_c2() {
        let mut out = Vec::new();
        write_header(&header("Added", "Added group member", 5), &mut out);
        let mut ext = Extension::new(&mut out);
        ext.pair("rt", "Jun 01 2024 12:00:00.123 UTC", usize::MAX);
        ext.pair("suser", "alice@corp.example", 1023);
        ext.pair("duser", "Domain Admins", 1023);
        ext.pair("msg", "Added: \"CN=Bob,OU=IT\"\r\nGroup Type: \"Security\"", 1023);
        ext.pair("cs1Label", "MonitoringPlan", 1023);
        ext.pair("cs1", "AD plan | prod", 1023);
        let want = r#"CEF:0|Netwrix|Auditor|10.8|Added|Added group member|5|rt=Jun 01 2024 12:00:00.123 UTC suser=alice@corp.example duser=Domain Admins msg=Added: "CN\=Bob,OU\=IT"\r\nGroup Type: "Security" cs1Label=MonitoringPlan cs1=AD plan | prod"#;
        assert_eq!(text(out), want);
        assert_eq!(want.len(), 227);
    }

    /// Example C3: non-ASCII, backslash in header, trailing backslash, tab.
    #[test]
    fn golden_c3() {
        let mut out = Vec::new();
        write_header(&header("Failed Logon", "Failed logon for CORP\\müller", 8), &mut out);
        let mut ext = Extension::new(&mut out);
        ext.pair("rt", "1717243200000", usize::MAX);
        ext.pair("suser", "CORP\\Müller", 1023);
        ext.pair("shost", "ws-01", 1023);
        ext.pair("src", "10.0.0.5", 1023);
        ext.pair("filePath", "C:\\temp\\", 1023);
        ext.pair("cs2Label", "Details", 1023);
        ext.pair("cs2", "a|b=c\td", 1023);
        let want = "CEF:0|Netwrix|Auditor|10.8|Failed Logon|Failed logon for CORP\\\\m\u{fc}ller|8|rt=1717243200000 suser=CORP\\\\M\u{fc}ller shost=ws-01 src=10.0.0.5 filePath=C:\\\\temp\\\\ cs2Label=Details cs2=a|b\\=c\td";
        let got = text(out);
        assert_eq!(got, want);
        assert_eq!(got.len(), 184);
        assert!(got.as_bytes().windows(2).any(|w| w == [0xC3, 0xBC]));
    }

    #[test]
    fn header_newlines_become_spaces_and_values_are_capped_with_a_marker() {
        let mut out = Vec::new();
        let long = "v".repeat(100);
        write_header(
            &Header {
                vendor: &long,
                product: "a\r\nb\rc\nd",
                version: "1",
                signature_id: "x",
                name: "n",
                severity: 42,
            },
            &mut out,
        );
        let got = text(out);
        let vendor = format!("{}{}", "v".repeat(VENDOR_MAX - super::super::limit::CUT_MARKER.len()), "[truncated]");
        assert_eq!(got, format!("CEF:0|{vendor}|a b c d|1|x|n|10|"));
    }

    #[test]
    fn other_control_characters_become_spaces() {
        let mut out = Vec::new();
        Extension::new(&mut out).pair("msg", "a\u{1}b\u{1b}c\u{7f}", 1023);
        assert_eq!(text(out), "msg=a b c\u{7f}");
    }

    fn record() -> Event {
        Event {
            seq: 1,
            id: RecordId([0xab; 16]),
            job: "corp".into(),
            replay: false,
            record: ActivityRecord {
                rid: Some("20240601120000123ABCD".into()),
                who: "CORP\\jdoe".into(),
                action: "Modified".into(),
                what: "\\\\fs01\\Finance\\Q1 a=b.xlsx".into(),
                when: "2024-06-01T12:00:00.123Z".into(),
                where_: "fs01.corp.example".into(),
                object_type: "file".into(),
                monitoring_plan: Some(MonitoringPlan { name: Some("File servers".into()), id: Some("{P1}".into()) }),
                data_source: Some("File Servers".into()),
                item: Some(Item { name: Some("fs01".into()) }),
                workstation: Some("ws-01".into()),
                details: vec![
                    Detail {
                        property_name: "Size".into(),
                        before: Some("1".into()),
                        after: Some("2".into()),
                        message: None,
                    },
                    Detail {
                        property_name: "Owner".into(),
                        before: None,
                        after: Some("CORP\\x".into()),
                        message: None,
                    },
                ],
            },
        }
    }

    /// The mapping of docs/cef.md, on one full record.
    #[test]
    fn golden_record_mapping() {
        let mut out = Vec::new();
        encode(&record(), &CefOptions::default(), &mut out);
        let want = concat!(
            r"CEF:0|Netwrix|File Servers|1.0|Modified|Modified file|4|",
            r"rt=1717243200123 start=1717243200123 externalId=abababababababababababababababab act=Modified suser=CORP\\jdoe ",
            r"dvchost=fs01.corp.example shost=ws-01 filePath=\\\\fs01\\Finance\\Q1 a\=b.xlsx cat=file ",
            r"deviceFacility=File Servers cs1Label=MonitoringPlan cs1=File servers cs2Label=Item cs2=fs01 ",
            r"cs3Label=MonitoringPlanId cs3={P1} cs4Label=RID cs4=20240601120000123ABCD cs5Label=Job cs5=corp ",
            r#"msg=Size changed from "1" to "2"\nOwner set to "CORP\\x""#,
        );
        assert_eq!(text(out), want);
    }

    #[test]
    fn options_change_product_severity_and_caps() {
        let mut e = record();
        e.record.when = "yesterday".into();
        e.record.monitoring_plan = Some(MonitoringPlan { name: Some("p".repeat(2000).into()), id: None });
        let mut options = CefOptions { product: Some("Auditor".into()), ..CefOptions::default() };
        options.severity.insert("Modified".into(), Level::new(9));
        let mut out = Vec::new();
        encode(&e, &options, &mut out);
        let got = text(out);
        assert!(got.starts_with("CEF:0|Netwrix|Auditor|1.0|Modified|Modified file|9|externalId="), "{got}");
        assert!(got.contains(" cs6Label=When cs6=yesterday"), "{got}");
        let cs1 = got.split(" cs1=").nth(1).unwrap().split(" cs").next().unwrap();
        assert_eq!(cs1.len(), 1023);
        assert!(cs1.ends_with("[truncated]"));
    }

    /// The old encoder, field by field through `visit`, with the header built from one
    /// joined name: what `encode` must write byte for byte.
    fn encode_slow(event: &Event, options: &CefOptions) -> Vec<u8> {
        let r = &event.record;
        let product = options.product.as_deref().or(r.data_source.as_deref().filter(|s| !s.is_empty()));
        let name =
            if r.object_type.is_empty() { r.action.to_string() } else { format!("{} {}", r.action, r.object_type) };
        let level = severity::level(&r.action, &options.severity, options.default_severity);
        let header = Header {
            vendor: &options.vendor,
            product: product.unwrap_or("Auditor"),
            version: &options.device_version,
            signature_id: &r.action,
            name: &name,
            severity: level.get(),
        };
        let mut out = Vec::new();
        write_header(&header, &mut out);
        let mut ext = Extension::new(&mut out);
        visit(event, options, |key, value, max| ext.pair(key, value, max));
        out
    }

    proptest::proptest! {
        #[test]
        fn the_joined_header_name_is_the_name(
            action in "[a-z|\\\r\n ]{0,12}",
            object_type in "[a-z|\\\r\n ]{0,12}",
            long in 0usize..600,
        ) {
            let mut e = record();
            e.record.action = format!("{action}{}", "a".repeat(long)).into();
            e.record.object_type = object_type.into();
            let mut out = Vec::new();
            encode(&e, &CefOptions::default(), &mut out);
            proptest::prop_assert_eq!(out, encode_slow(&e, &CefOptions::default()));
        }
    }
}
