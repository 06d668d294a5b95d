//! The syslog settings a person writes, shared by the `syslog`, `arcsight` and `qradar`
//! sinks: where (`address`), how (`protocol`, `framing`, `[sink.tls]`), and the header's
//! `facility` and `severity`. Each type checks its value when the config is read.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::PathBuf;

/// `host:port` of a receiver (`[v6]:port` for an IPv6 literal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub port: u16,
}

impl Address {
    pub fn parse(s: &str) -> Result<Address, String> {
        let bad = || format!("an address is host:port (like \"siem.corp.example:514\"), not {s:?}");
        let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Address { host: host.to_owned(), port })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Address::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `udp`, `tcp` or `tls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Udp,
    #[default]
    Tcp,
    Tls,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
        })
    }
}

/// How messages are delimited on a stream: `octet_counting` (RFC 6587 `LEN SP MSG`,
/// what RFC 5425 requires on TLS) or `lf` (each message followed by a line feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    OctetCounting,
    Lf,
}

/// The syslog facility: a name (`audit` = 13, `local0`..`local7`, `auth`, …) or 0..=23.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(pub u8);

const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("ntp", 12),
    ("audit", 13),
    ("alert", 14),
    ("clock", 15),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The syslog severity: a name (`info`, `notice`, `warning`, …) or 0..=7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogSeverity(pub u8);

const SEVERITIES: &[(&str, u8)] = &[
    ("emerg", 0),
    ("alert", 1),
    ("crit", 2),
    ("err", 3),
    ("error", 3),
    ("warning", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

/// A name from `table` or a number up to `max`.
fn name_or_number<'de, D: Deserializer<'de>>(d: D, table: &[(&str, u8)], max: u8, what: &str) -> Result<u8, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(i64),
        S(String),
    }
    let names = || table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    match Raw::deserialize(d)? {
        Raw::N(n) if (0..=i64::from(max)).contains(&n) => Ok(n as u8),
        Raw::N(n) => {
            Err(serde::de::Error::custom(format!("a syslog {what} is 0 to {max} or one of {}, not {n}", names())))
        }
        Raw::S(s) => table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&s))
            .map(|(_, v)| *v)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown syslog {what} {s:?}; use one of {}", names()))),
    }
}

impl<'de> Deserialize<'de> for Facility {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(d, FACILITIES, 23, "facility").map(Facility)
    }
}

impl<'de> Deserialize<'de> for SyslogSeverity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        name_or_number(d, SEVERITIES, 7, "severity").map(SyslogSeverity)
    }
}

/// `[sink.tls]`: how a syslog sink trusts the receiver and proves who it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA certificates to trust (only these); absent = the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for receivers that require one (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The name the receiver's certificate must carry; absent = the address's host.
    pub server_name: Option<String>,
}

/// Defaults the sinks share.
pub mod defaults {
    use super::{Facility, SyslogSeverity};
    use crate::Duration;

    pub fn facility() -> Facility {
        Facility(13)
    }
    pub fn severity() -> SyslogSeverity {
        SyslogSeverity(6)
    }
    pub fn connect_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub fn write_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub fn max_datagram_bytes() -> usize {
        2048
    }
    /// This machine's host name (`/proc/sys/kernel/hostname`, `/etc/hostname`), or
    /// `localhost` when neither can be read.
    pub fn hostname() -> String {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "localhost".into())
    }
}

/// Checks `max_datagram_bytes` when read: 480 (what every receiver must accept) to 65507
/// (the largest UDP payload).
pub fn max_datagram_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = i64::deserialize(d)?;
    if (480..=65507).contains(&n) {
        Ok(n as usize)
    } else {
        Err(serde::de::Error::custom(format!("max_datagram_bytes is 480 to 65507, not {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_names_and_numbers() {
        assert_eq!(Address::parse("siem:514").unwrap(), Address { host: "siem".into(), port: 514 });
        assert_eq!(Address::parse("[::1]:6514").unwrap().to_string(), "[::1]:6514");
        for bad in ["siem", "siem:", ":514", "siem:70000", "siem:0"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
        #[derive(Deserialize)]
        struct T {
            f: Facility,
            s: SyslogSeverity,
        }
        let t: T = serde_json::from_str(r#"{"f": "local4", "s": "notice"}"#).unwrap();
        assert_eq!((t.f.0, t.s.0), (20, 5));
        let t: T = serde_json::from_str(r#"{"f": 13, "s": 6}"#).unwrap();
        assert_eq!((t.f.0, t.s.0), (13, 6));
        let err = serde_json::from_str::<T>(r#"{"f": "nope", "s": 6}"#).err().unwrap().to_string();
        assert!(err.contains("unknown syslog facility \"nope\""), "{err}");
        assert!(serde_json::from_str::<T>(r#"{"f": 24, "s": 6}"#).is_err());
    }
}
