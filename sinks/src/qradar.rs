//! The `qradar` sink: LEEF over syslog, with the header QRadar expects.
//!
//! QRadar reads an optional syslog header before `LEEF:` and takes its host field as
//! the Log Source Identifier, so `hostname` decides which log source the events land
//! in. Two header forms are documented by IBM: `rfc3164` (default,
//! `<PRI>Mmm dd HH:mm:ss host LEEF:…`, the widest accepted) and `rfc5424_short`
//! (`<PRI>1 2024-06-01T12:00:00.123Z host LEEF:…`, with the year and zone). Neither has
//! a tag or app name: QRadar must find `LEEF:` right after the host. The LEEF mapping
//! and its options are those of the [LEEF format](crate::format::leef).

use crate::format::leef::LeefOptions;
use crate::format::Encoder;
use crate::syslog::SyslogSink;
use crate::transport::syslog::config::{defaults, max_datagram_bytes};
use crate::transport::syslog::{
    Address, Facility, Framing, Header, HeaderStyle, Protocol, SyslogSeverity, Target, TlsConfig,
};
use crate::Duration;
use serde::Deserialize;

/// Which header QRadar gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QradarHeader {
    #[default]
    Rfc3164,
    Rfc5424Short,
}

/// The keys of a `qradar` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Fields")]
pub struct QradarConfig {
    /// `host:port` of QRadar's syslog listener (or an Event Collector).
    pub address: Address,
    /// `udp`, `tcp` (default) or `tls` (a "TLS Syslog" log source).
    pub protocol: Protocol,
    /// Stream framing: `lf` (default on TCP, what QRadar's TCP syslog reads) or
    /// `octet_counting` (default on TLS).
    pub framing: Framing,
    /// `rfc3164` (default) or `rfc5424_short`.
    pub header: QradarHeader,
    /// The Log Source Identifier QRadar routes by; default this machine's name.
    pub hostname: String,
    /// Default `audit` (13).
    pub facility: Facility,
    /// Default `info` (6).
    pub severity: SyslogSeverity,
    /// `[sink.leef]`: the LEEF options.
    pub leef: Option<LeefOptions>,
    /// UDP: longer messages are cut to this, with a marker. Default 2048.
    pub max_datagram_bytes: usize,
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// The longest a batch's write may take. Default 30 s.
    pub write_timeout: Duration,
    /// `[sink.tls]`, with `protocol = "tls"`.
    pub tls: Option<TlsConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    address: Address,
    #[serde(default)]
    protocol: Protocol,
    framing: Option<Framing>,
    #[serde(default)]
    header: QradarHeader,
    hostname: Option<String>,
    #[serde(default = "defaults::facility")]
    facility: Facility,
    #[serde(default = "defaults::severity")]
    severity: SyslogSeverity,
    leef: Option<LeefOptions>,
    #[serde(default = "defaults::max_datagram_bytes", deserialize_with = "max_datagram_bytes")]
    max_datagram_bytes: usize,
    #[serde(default = "defaults::connect_timeout")]
    connect_timeout: Duration,
    #[serde(default = "defaults::write_timeout")]
    write_timeout: Duration,
    tls: Option<TlsConfig>,
}

impl TryFrom<Fields> for QradarConfig {
    type Error = String;
    fn try_from(f: Fields) -> Result<Self, String> {
        crate::syslog::transport_checks(f.protocol, f.framing, f.tls.is_some())?;
        let framing =
            f.framing.unwrap_or(if f.protocol == Protocol::Tcp { Framing::Lf } else { Framing::OctetCounting });
        Ok(QradarConfig {
            address: f.address,
            protocol: f.protocol,
            framing,
            header: f.header,
            hostname: f.hostname.unwrap_or_else(defaults::hostname),
            facility: f.facility,
            severity: f.severity,
            leef: f.leef,
            max_datagram_bytes: f.max_datagram_bytes,
            connect_timeout: f.connect_timeout,
            write_timeout: f.write_timeout,
            tls: f.tls,
        })
    }
}

impl QradarConfig {
    /// The sink this config describes.
    pub fn sink(&self) -> SyslogSink {
        let style = match self.header {
            QradarHeader::Rfc3164 => HeaderStyle::Rfc3164,
            QradarHeader::Rfc5424Short => HeaderStyle::Rfc5424Short,
        };
        let header = Header::new(style, self.facility, self.severity, &self.hostname, "", "");
        let target = Target {
            address: self.address.clone(),
            protocol: self.protocol,
            framing: self.framing,
            connect_timeout: self.connect_timeout.0,
            write_timeout: self.write_timeout.0,
            max_datagram_bytes: self.max_datagram_bytes,
            tls: self.tls.clone(),
        };
        SyslogSink::new(Some(header), Encoder::Leef(self.leef.clone().unwrap_or_default()), target)
    }
}

impl crate::SinkType for QradarConfig {
    fn build(&self, _: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(self.sink())
    }

    fn describe(&self) -> String {
        format!(" -> {} over {} (LEEF, log source {:?})", self.address, self.protocol, self.hostname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use netwrix::{ActivityRecord, RecordId};

    #[test]
    fn the_header_names_the_log_source_and_leef_follows_it() {
        let config: QradarConfig =
            serde_json::from_str(r#"{"address": "qradar:514", "hostname": "10.1.2.3", "leef": {"version": "1.0"}}"#)
                .unwrap();
        assert_eq!(config.framing, Framing::Lf);
        let record =
            ActivityRecord { action: "Added".into(), when: "2024-06-01T12:00:00Z".into(), ..Default::default() };
        let mut sink = config.sink();
        let (buf, _) = sink.build(&[Event { seq: 1, id: RecordId([0; 16]), job: "j".into(), replay: false, record }]);
        let text = String::from_utf8(buf.to_vec()).unwrap();
        assert!(
            text.starts_with(
                "<110>Jun  1 12:00:00 10.1.2.3 LEEF:1.0|Netwrix|Auditor|1.0|Added|devTime=1717243200000\tsev=4\t"
            ),
            "{text}"
        );
        let err = serde_json::from_str::<QradarConfig>(r#"{"address": "q:514", "protocol": "udp", "framing": "lf"}"#);
        assert!(err.unwrap_err().to_string().contains("framing applies"));
    }
}
