//! `type = "syslog"`: CEF, LEEF or JSON over syslog to any receiver.

use crate::format::cef::CefOptions;
use crate::format::leef::LeefOptions;
use crate::format::{Encoder, Format};
use crate::transport::syslog::config::{defaults, max_datagram_bytes};
use crate::transport::syslog::{
    Address, Facility, Framing, Header, HeaderStyle, Protocol, SyslogSeverity, Target, TlsConfig,
};
use crate::Duration;
use serde::Deserialize;

/// The keys of a `syslog` sink (the common sink keys are the application's).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Fields")]
pub struct SyslogConfig {
    /// `host:port` of the receiver.
    pub address: Address,
    /// `udp`, `tcp` (default) or `tls`.
    pub protocol: Protocol,
    /// Stream framing: `octet_counting` (default) or `lf`. Not allowed with UDP.
    pub framing: Framing,
    /// `cef` (default), `leef` or `json`.
    pub format: Format,
    /// `[sink.cef]`: CEF options (with `format = "cef"`).
    pub cef: Option<CefOptions>,
    /// `[sink.leef]`: LEEF options (with `format = "leef"`).
    pub leef: Option<LeefOptions>,
    /// `rfc5424` (default), `rfc3164` or `rfc5424_short`.
    pub header: HeaderStyle,
    /// Default `audit` (13).
    pub facility: Facility,
    /// Default `info` (6).
    pub severity: SyslogSeverity,
    /// HOSTNAME in the header; default this machine's name.
    pub hostname: String,
    /// APP-NAME (RFC 3164: the tag; empty = none). Default `auditbridge`.
    pub app_name: String,
    /// MSGID (RFC 5424). Default the format's name (`cef`, `leef`, `json`).
    pub msgid: String,
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
    #[serde(default = "cef")]
    format: Format,
    cef: Option<CefOptions>,
    leef: Option<LeefOptions>,
    #[serde(default)]
    header: HeaderStyle,
    #[serde(default = "defaults::facility")]
    facility: Facility,
    #[serde(default = "defaults::severity")]
    severity: SyslogSeverity,
    hostname: Option<String>,
    app_name: Option<String>,
    msgid: Option<String>,
    #[serde(default = "defaults::max_datagram_bytes", deserialize_with = "max_datagram_bytes")]
    max_datagram_bytes: usize,
    #[serde(default = "defaults::connect_timeout")]
    connect_timeout: Duration,
    #[serde(default = "defaults::write_timeout")]
    write_timeout: Duration,
    tls: Option<TlsConfig>,
}

fn cef() -> Format {
    Format::Cef
}

impl TryFrom<Fields> for SyslogConfig {
    type Error = String;
    fn try_from(f: Fields) -> Result<Self, String> {
        if let Some(m) = f.format.misfit(f.cef.is_some(), f.leef.is_some()) {
            return Err(m);
        }
        let framing = transport_checks(f.protocol, f.framing, f.tls.is_some())?;
        Ok(SyslogConfig {
            address: f.address,
            protocol: f.protocol,
            framing,
            format: f.format,
            cef: f.cef,
            leef: f.leef,
            header: f.header,
            facility: f.facility,
            severity: f.severity,
            hostname: f.hostname.unwrap_or_else(defaults::hostname),
            app_name: f.app_name.unwrap_or_else(|| "auditbridge".into()),
            msgid: f.msgid.unwrap_or_else(|| f.format.name().into()),
            max_datagram_bytes: f.max_datagram_bytes,
            connect_timeout: f.connect_timeout,
            write_timeout: f.write_timeout,
            tls: f.tls,
        })
    }
}

/// The checks every syslog-carrying sink makes: no framing on UDP, `[sink.tls]` only
/// with TLS. Returns the framing to use (octet counting unless set).
pub(crate) fn transport_checks(protocol: Protocol, framing: Option<Framing>, has_tls: bool) -> Result<Framing, String> {
    if protocol == Protocol::Udp && framing.is_some() {
        return Err("framing applies to tcp and tls only: UDP sends one message per datagram".into());
    }
    if has_tls && protocol != Protocol::Tls {
        return Err(format!("a [sink.tls] table is set but protocol = \"{}\"", protocol.to_string().to_lowercase()));
    }
    Ok(framing.unwrap_or(Framing::OctetCounting))
}

impl SyslogConfig {
    /// The header, encoder and target this config describes.
    pub fn parts(&self) -> (Header, Encoder, Target) {
        let header =
            Header::new(self.header, self.facility, self.severity, &self.hostname, &self.app_name, &self.msgid);
        let encoder = Encoder::new(self.format, self.cef.as_ref(), self.leef.as_ref());
        let target = Target {
            address: self.address.clone(),
            protocol: self.protocol,
            framing: self.framing,
            connect_timeout: self.connect_timeout.0,
            write_timeout: self.write_timeout.0,
            max_datagram_bytes: self.max_datagram_bytes,
            tls: self.tls.clone(),
        };
        (header, encoder, target)
    }
}

impl crate::SinkType for SyslogConfig {
    fn build(&self, _: crate::SinkContext<'_>) -> Box<dyn crate::Sink> {
        Box::new(super::SyslogSink::from_config(self))
    }

    fn describe(&self) -> String {
        format!(" -> {} over {} ({}, {:?} header)", self.address, self.protocol, self.format.name(), self.header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SyslogConfig, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_checks() {
        let c = parse(r#"{"address": "siem:6514", "protocol": "tls", "tls": {"ca_file": "/ca.pem"}}"#).unwrap();
        assert_eq!(
            (c.format, c.framing, c.msgid.as_str(), c.app_name.as_str()),
            (Format::Cef, Framing::OctetCounting, "cef", "auditbridge")
        );
        assert!(parse(r#"{"address": "siem:514", "protocol": "udp", "framing": "lf"}"#)
            .unwrap_err()
            .contains("framing applies"));
        assert!(parse(r#"{"address": "siem:514", "tls": {}}"#).unwrap_err().contains("protocol = \"tcp\""));
        assert!(parse(r#"{"address": "siem:514", "format": "leef", "cef": {}}"#).unwrap_err().contains("[sink.cef]"));
        assert!(parse(r#"{"address": "siem:514", "colour": 1}"#).unwrap_err().contains("colour"));
        assert!(parse(r#"{"address": "siem"}"#).unwrap_err().contains("host:port"));
        let c =
            parse(r#"{"address": "siem:514", "format": "leef", "leef": {"delimiter": "x09"}, "header": "rfc3164"}"#)
                .unwrap();
        assert_eq!(c.msgid, "leef");
        assert!(matches!(c.parts().1, Encoder::Leef(_)));
    }
}
