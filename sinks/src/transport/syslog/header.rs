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
use chrono::{DateTime, Utc};
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

/// A header ready to be written before any number of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    style: HeaderStyle,
    pri: u8,
    hostname: String,
    app_name: String,
    msgid: String,
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
        Header {
            style,
            pri: facility.0.min(23) * 8 + severity.0.min(7),
            hostname: printable(hostname, host_max),
            app_name,
            msgid: printable(msgid, 32),
        }
    }

    /// Appends the header for a message about an event at `time`, up to and including
    /// the space before MSG.
    pub fn write(&self, time: DateTime<Utc>, out: &mut Vec<u8>) {
        let nil = |s: &str| if s.is_empty() { "-".to_owned() } else { s.to_owned() };
        // Writing into a Vec cannot fail.
        let _ = match self.style {
            HeaderStyle::Rfc5424 => write!(
                out,
                "<{}>1 {} {} {} - {} - ",
                self.pri,
                time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                nil(&self.hostname),
                nil(&self.app_name),
                nil(&self.msgid)
            ),
            HeaderStyle::Rfc5424Short => {
                write!(out, "<{}>1 {} {} ", self.pri, time.format("%Y-%m-%dT%H:%M:%S%.3fZ"), nil(&self.hostname))
            }
            HeaderStyle::Rfc3164 => {
                let host = if self.hostname.is_empty() { "localhost" } else { &self.hostname };
                let r = write!(out, "<{}>{} {} ", self.pri, time.format("%b %e %H:%M:%S"), host);
                if self.app_name.is_empty() {
                    r
                } else {
                    write!(out, "{}: ", self.app_name)
                }
            }
        };
    }
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

    #[test]
    fn fields_are_sanitised_cut_and_nil() {
        let h = Header::new(HeaderStyle::Rfc5424, Facility(0), SyslogSeverity(0), "", &"a b".repeat(30), "");
        let got = written(&h, "2024-06-01T12:00:00Z");
        assert_eq!(got, format!("<0>1 2024-06-01T12:00:00.000Z - {} - - - ", "a_b".repeat(16)));
    }
}
