//! The syslog header written before each message's MSG.
//!
//! | style | bytes before MSG |
//! |---|---|
//! | `rfc5424` | `<PRI>1 2024-06-01T12:00:00.123Z HOST APP-NAME - MSGID - ` |
//! | `rfc3164` | `<PRI>Jun  1 12:00:00 HOST TAG: ` (no `TAG: ` when the app name is empty) |
//! | `rfc5424_short` | `<PRI>1 2024-06-01T12:00:00.123Z HOST ` (IBM's form for LEEF to QRadar) |
//!
//! PRI = facility × 8 + severity. Times are UTC: RFC 5424 with milliseconds and `Z`;
//! RFC 3164 has no zone or year, so its receivers read the time as their own (CEF's
//! `rt` and LEEF's `devTime` carry the exact instant). Header fields are cut to their
//! RFC lengths and anything outside printable US-ASCII becomes `_`; an empty field is
//! written as the NILVALUE `-` in RFC 5424.

use super::config::{Facility, SyslogSeverity};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Deserialize;
use std::io::Write;

/// Which header layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderStyle {
    #[default]
    Rfc5424,
    Rfc3164,
    Rfc5424Short,
}

/// A header ready to be written before any number of messages: everything but the time
/// is made once, so a message costs the time's digits and two copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    style: HeaderStyle,
    /// `<PRI>1 ` or `<PRI>`.
    before_time: String,
    /// What follows the time, up to and including the space before MSG.
    after_time: String,
}

impl Header {
    /// A header; the names are sanitised and cut here, once.
    pub fn new(
        style: HeaderStyle,
        facility: Facility,
        severity: SyslogSeverity,
        hostname: &str,
        app_name: &str,
        msgid: &str,
    ) -> Header {
        let (host_max, app_max) = match style {
            HeaderStyle::Rfc3164 => (255, 32),
            _ => (255, 48),
        };
        let mut app_name = printable(app_name, app_max);
        if style == HeaderStyle::Rfc3164 {
            app_name.retain(|c| c != ':' && c != '[' && c != ']');
        }
        let pri = facility.0.min(23) * 8 + severity.0.min(7);
        let hostname = printable(hostname, host_max);
        let nil = |s: &str| if s.is_empty() { "-".to_owned() } else { s.to_owned() };
        let (before_time, after_time) = match style {
            HeaderStyle::Rfc5424 => (
                format!("<{pri}>1 "),
                format!(" {} {} - {} - ", nil(&hostname), nil(&app_name), nil(&printable(msgid, 32))),
            ),
            HeaderStyle::Rfc5424Short => (format!("<{pri}>1 "), format!(" {} ", nil(&hostname))),
            HeaderStyle::Rfc3164 => {
                let host = if hostname.is_empty() { "localhost" } else { &hostname };
                let tag = if app_name.is_empty() { String::new() } else { format!("{app_name}: ") };
                (format!("<{pri}>"), format!(" {host} {tag}"))
            }
        };
        Header { style, before_time, after_time }
    }

    /// Appends the header for a message about an event at `time`, up to and including
    /// the space before MSG.
    pub fn write(&self, time: DateTime<Utc>, out: &mut Vec<u8>) {
        out.extend_from_slice(self.before_time.as_bytes());
        match self.style {
            HeaderStyle::Rfc5424 | HeaderStyle::Rfc5424Short => rfc5424_time(time, out),
            HeaderStyle::Rfc3164 => rfc3164_time(time, out),
        }
        out.extend_from_slice(self.after_time.as_bytes());
    }
}

/// `%Y-%m-%dT%H:%M:%S%.3fZ`, by hand for years 0 to 9999 and whole seconds below 60.
fn rfc5424_time(time: DateTime<Utc>, out: &mut Vec<u8>) {
    let (year, nanos) = (time.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{}", time.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        return;
    }
    let year = year as u32;
    let millis = nanos / 1_000_000;
    push_two(out, year / 100);
    push_two(out, year % 100);
    out.push(b'-');
    push_two(out, time.month());
    out.push(b'-');
    push_two(out, time.day());
    out.push(b'T');
    push_clock(&time, out);
    out.push(b'.');
    out.extend_from_slice(&[b'0' + (millis / 100) as u8, b'0' + (millis / 10 % 10) as u8, b'0' + (millis % 10) as u8]);
    out.push(b'Z');
}

/// `%b %e %H:%M:%S` (the day padded with a space), by hand below a leap second.
fn rfc3164_time(time: DateTime<Utc>, out: &mut Vec<u8>) {
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    if time.nanosecond() >= 1_000_000_000 {
        let _ = write!(out, "{}", time.format("%b %e %H:%M:%S"));
        return;
    }
    out.extend_from_slice(MONTHS[time.month0() as usize]);
    out.push(b' ');
    let day = time.day();
    out.push(if day < 10 { b' ' } else { b'0' + (day / 10) as u8 });
    out.push(b'0' + (day % 10) as u8);
    out.push(b' ');
    push_clock(&time, out);
}

/// `HH:MM:SS`.
fn push_clock(time: &DateTime<Utc>, out: &mut Vec<u8>) {
    push_two(out, time.hour());
    out.push(b':');
    push_two(out, time.minute());
    out.push(b':');
    push_two(out, time.second());
}

/// `n` (below 100) as two digits.
fn push_two(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

/// `s` in printable US-ASCII (33..=126; anything else becomes `_`), cut to `max` bytes.
fn printable(s: &str, max: usize) -> String {
    s.chars().map(|c| if c.is_ascii_graphic() { c } else { '_' }).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn written(h: &Header, t: &str) -> String {
        let mut out = Vec::new();
        h.write(at(t), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// formats.md §1.8 "Same record inside syslog" and §2.6 L1/L2 (the header parts).
    #[test]
    fn golden_headers() {
        let audit_info = (Facility(13), SyslogSeverity(6));
        let h =
            Header::new(HeaderStyle::Rfc5424, audit_info.0, audit_info.1, "fs01.corp.example", "netwrix-bridge", "cef");
        assert_eq!(
            written(&h, "2024-06-01T12:00:00.123Z"),
            "<110>1 2024-06-01T12:00:00.123Z fs01.corp.example netwrix-bridge - cef - "
        );
        let h = Header::new(HeaderStyle::Rfc3164, audit_info.0, audit_info.1, "fs01", "", "");
        assert_eq!(written(&h, "2024-06-01T12:00:00.123Z"), "<110>Jun  1 12:00:00 fs01 ");
        let h = Header::new(HeaderStyle::Rfc5424Short, Facility(1), SyslogSeverity(5), "192.168.1.1", "x", "y");
        assert_eq!(written(&h, "2019-01-18T11:07:53.520Z"), "<13>1 2019-01-18T11:07:53.520Z 192.168.1.1 ");
        let h = Header::new(HeaderStyle::Rfc3164, Facility(20), SyslogSeverity(5), "fs01", "auditbridge", "");
        assert_eq!(written(&h, "2024-12-24T09:05:07Z"), "<165>Dec 24 09:05:07 fs01 auditbridge: ");
    }

    proptest::proptest! {
        /// The hand-written times are what chrono writes, leap seconds and years past 9999 included.
        #[test]
        fn times_are_what_chrono_writes(millis in -62_000_000_000_000i64..300_000_000_000_000, leap in proptest::bool::weighted(0.05)) {
            let mut time = DateTime::from_timestamp_millis(millis).unwrap_or_default();
            if leap {
                time = time.with_nanosecond(1_000_000_000 + time.nanosecond() % 1_000_000_000).unwrap_or(time);
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            rfc5424_time(time, &mut a);
            rfc3164_time(time, &mut b);
            proptest::prop_assert_eq!(String::from_utf8(a).unwrap(), time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            proptest::prop_assert_eq!(String::from_utf8(b).unwrap(), time.format("%b %e %H:%M:%S").to_string());
        }
    }

    #[test]
    fn fields_are_sanitised_cut_and_nil() {
        let h = Header::new(HeaderStyle::Rfc5424, Facility(0), SyslogSeverity(0), "", &"a b".repeat(30), "");
        let got = written(&h, "2024-06-01T12:00:00Z");
        assert_eq!(got, format!("<0>1 2024-06-01T12:00:00.000Z - {} - - - ", "a_b".repeat(16)));
    }
}
