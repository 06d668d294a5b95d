//! The `arcsight` sink: CEF the way ArcSight takes it.
//!
//! | `mode` | what is sent |
//! |---|---|
//! | `syslog_udp` | `<PRI>Mmm dd HH:mm:ss host CEF:0\|…`, one datagram each (SmartConnector "Syslog Daemon", UDP; Netwrix's add-on default) |
//! | `syslog_tcp` (default) | the same, one per line over TCP (SmartConnector "Syslog Daemon", Raw TCP) |
//! | `syslog_tls` | RFC 5424 header, octet counting over TLS (SmartConnector "Syslog NG Daemon") |
//! | `raw_tcp` | bare CEF lines over TCP, no syslog header (ArcSight Logger TCP / CEF TCP receiver) |
//!
//! ArcSight finds `CEF:` right after the syslog header, so the RFC 3164 header carries
//! no tag. The CEF mapping and its options are those of the [CEF format](crate::format::cef).

use crate::format::cef::CefOptions;
use crate::format::Encoder;
use crate::syslog::SyslogSink;
use crate::transport::syslog::config::{defaults, max_datagram_bytes};
use crate::transport::syslog::{
    Address, Facility, Framing, Header, HeaderStyle, Protocol, SyslogSeverity, Target, TlsConfig,
};
use crate::Duration;
use serde::Deserialize;

/// How the sink talks to ArcSight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArcsightMode {
    SyslogUdp,
    #[default]
    SyslogTcp,
    SyslogTls,
    RawTcp,
}

/// The keys of an `arcsight` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Fields")]
pub struct ArcsightConfig {
    /// `host:port` of the SmartConnector or Logger receiver.
    pub address: Address,
    /// `syslog_udp`, `syslog_tcp` (default), `syslog_tls` or `raw_tcp`.
    pub mode: ArcsightMode,
    /// The host name in the syslog header; default this machine's name.
    pub hostname: Option<String>,
    /// Default `audit` (13).
    pub facility: Facility,
    /// Default `info` (6).
    pub severity: SyslogSeverity,
    /// `[sink.cef]`: the CEF options.
    pub cef: Option<CefOptions>,
    /// `syslog_udp`: longer messages are cut to this, with a marker. Default 65507, the
    /// largest UDP payload over IPv4, so an event with Netwrix's 16,000 characters of
    /// details goes whole (docs/syslog.md: when it still cannot).
    pub max_datagram_bytes: usize,
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// The longest a batch's write may take. Default 30 s.
    pub write_timeout: Duration,
    /// `[sink.tls]`, with `mode = "syslog_tls"`.
    pub tls: Option<TlsConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    address: Address,
    #[serde(default)]
    mode: ArcsightMode,
    hostname: Option<String>,
    #[serde(default = "defaults::facility")]
    facility: Facility,
    #[serde(default = "defaults::severity")]
    severity: SyslogSeverity,
    cef: Option<CefOptions>,
    #[serde(default = "udp_max", deserialize_with = "max_datagram_bytes")]
    max_datagram_bytes: usize,
    #[serde(default = "defaults::connect_timeout")]
    connect_timeout: Duration,
    #[serde(default = "defaults::write_timeout")]
    write_timeout: Duration,
    tls: Option<TlsConfig>,
}

/// The largest UDP payload over IPv4: Netwrix's ArcSight add-on sends one event per
/// datagram uncut, so the bridge cuts only what UDP cannot carry at all.
pub const UDP_MAX_DATAGRAM_BYTES: usize = 65_507;

fn udp_max() -> usize {
    UDP_MAX_DATAGRAM_BYTES
}

impl TryFrom<Fields> for ArcsightConfig {
    type Error = String;
    fn try_from(f: Fields) -> Result<Self, String> {
        if f.tls.is_some() && f.mode != ArcsightMode::SyslogTls {
            return Err("a [sink.tls] table is set but mode is not \"syslog_tls\"".into());
        }
        Ok(ArcsightConfig {
            address: f.address,
            mode: f.mode,
            hostname: f.hostname,
            facility: f.facility,
            severity: f.severity,
            cef: f.cef,
            max_datagram_bytes: f.max_datagram_bytes,
            connect_timeout: f.connect_timeout,
            write_timeout: f.write_timeout,
            tls: f.tls,
        })
    }
}

impl ArcsightConfig {
    /// The sink this config describes.
    pub fn sink(&self) -> SyslogSink {
        let (protocol, framing, style) = match self.mode {
            ArcsightMode::SyslogUdp => (Protocol::Udp, Framing::Lf, Some(HeaderStyle::Rfc3164)),
            ArcsightMode::SyslogTcp => (Protocol::Tcp, Framing::Lf, Some(HeaderStyle::Rfc3164)),
            ArcsightMode::SyslogTls => (Protocol::Tls, Framing::OctetCounting, Some(HeaderStyle::Rfc5424)),
            ArcsightMode::RawTcp => (Protocol::Tcp, Framing::Lf, None),
        };
        let hostname = self.hostname.clone().unwrap_or_else(defaults::hostname);
        let header = style.map(|s| Header::new(s, self.facility, self.severity, &hostname, "", "cef"));
        let target = Target {
            address: self.address.clone(),
            protocol,
            framing,
            connect_timeout: self.connect_timeout.0,
            write_timeout: self.write_timeout.0,
            max_datagram_bytes: self.max_datagram_bytes,
            tls: self.tls.clone(),
        };
        SyslogSink::new(header, Encoder::Cef(self.cef.clone().unwrap_or_default()), target)
    }
}

impl crate::SinkType for ArcsightConfig {
    fn build(&self, _: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(self.sink())
    }

    fn describe(&self) -> String {
        format!(" -> {} ({:?}, CEF)", self.address, self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use netwrix::{ActivityRecord, RecordId};

    fn event() -> Event {
        let record = ActivityRecord {
            who: "CORP\\a".into(),
            action: "Read".into(),
            when: "2024-06-01T12:00:00Z".into(),
            object_type: "file".into(),
            ..Default::default()
        };
        Event { seq: 1, id: RecordId([0; 16]), job: "j".into(), replay: false, record }
    }

    #[test]
    fn syslog_modes_have_a_tagless_bsd_header_and_raw_has_none() {
        let config: ArcsightConfig =
            serde_json::from_str(r#"{"address": "arc:514", "mode": "syslog_udp", "hostname": "bridge01"}"#).unwrap();
        let mut sink = config.sink();
        let (buf, _) = sink.build(&[event()]);
        let text = String::from_utf8(buf.to_vec()).unwrap();
        assert!(
            text.starts_with(
                "<110>Jun  1 12:00:00 bridge01 CEF:0|Netwrix|Auditor|1.0|Read|Read file|2|rt=1717243200000 "
            ),
            "{text}"
        );

        let config: ArcsightConfig = serde_json::from_str(r#"{"address": "arc:514", "mode": "raw_tcp"}"#).unwrap();
        let mut sink = config.sink();
        let (buf, _) = sink.build(&[event()]);
        assert!(buf.starts_with(b"CEF:0|Netwrix|"));
    }

    /// Netwrix sends up to 16,000 characters of details; over UDP, by default, they fit.
    #[test]
    fn udp_default_fits_an_event_with_16000_characters_of_details() {
        let config: ArcsightConfig =
            serde_json::from_str(r#"{"address": "arc:514", "mode": "syslog_udp", "cef": {"profile": "netwrix"}}"#)
                .unwrap();
        assert_eq!(config.max_datagram_bytes, UDP_MAX_DATAGRAM_BYTES);
        let mut e = event();
        let message = format!("{}\\", "a=".repeat(7_999));
        e.record.details = vec![netwrix::Detail { message: Some(message.into()), ..Default::default() }];
        let mut sink = config.sink();
        let (buf, _) = sink.build(&[e]);
        let text = String::from_utf8(buf.to_vec()).unwrap();
        // Every `=` and `\` escaped: 16,000 characters are 32,000 bytes of msg.
        assert!(text.ends_with(&format!(" msg={}\\\\", r"a\=".repeat(7_999))), "{}", &text[..200]);
        assert!(buf.len() < UDP_MAX_DATAGRAM_BYTES, "{}", buf.len());
    }
}
