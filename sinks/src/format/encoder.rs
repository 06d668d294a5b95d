//! The choice of format a sink writes, made once from its config.
//!
//! Sinks that can write more than one format (`file`, `stdout`, `syslog`) hold an
//! [`Encoder`] and call [`Encoder::encode`] per event; which format and with which
//! options is settled when the config is read.

use super::cef::{self, CefOptions};
use super::json;
use super::leef::{self, LeefOptions};
use crate::Event;
use serde::Deserialize;

/// The `format` key: `json` (JSON lines, the default of file and stdout), `cef` or `leef`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Cef,
    Leef,
}

impl Format {
    /// The config's name of the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Cef => "cef",
            Format::Leef => "leef",
        }
    }

    /// Why a `[sink.cef]` or `[sink.leef]` table does not fit this format, if it does not.
    pub fn misfit(self, has_cef: bool, has_leef: bool) -> Option<String> {
        match (self, has_cef, has_leef) {
            (Format::Cef, _, true) | (Format::Json, _, true) => {
                Some(format!("a [sink.leef] table is set but format = \"{}\"", self.name()))
            }
            (Format::Leef, true, _) | (Format::Json, true, _) => {
                Some(format!("a [sink.cef] table is set but format = \"{}\"", self.name()))
            }
            _ => None,
        }
    }
}

/// A format with its options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Encoder {
    #[default]
    Json,
    Cef(CefOptions),
    Leef(LeefOptions),
}

impl Encoder {
    /// The encoder for `format`, with the options given for it (defaults when absent).
    /// Options given for another format are not used; [`Format::misfit`] says so.
    pub fn new(format: Format, cef: Option<&CefOptions>, leef: Option<&LeefOptions>) -> Encoder {
        match format {
            Format::Json => Encoder::Json,
            Format::Cef => Encoder::Cef(cef.cloned().unwrap_or_default()),
            Format::Leef => Encoder::Leef(leef.cloned().unwrap_or_default()),
        }
    }

    /// Which format this is.
    pub fn format(&self) -> Format {
        match self {
            Encoder::Json => Format::Json,
            Encoder::Cef(_) => Format::Cef,
            Encoder::Leef(_) => Format::Leef,
        }
    }

    /// Appends `event` in this format to `out` (no trailing newline).
    pub fn encode(&self, event: &Event, out: &mut Vec<u8>) {
        match self {
            Encoder::Json => json::encode(event, out),
            Encoder::Cef(o) => cef::encode(event, o, out),
            Encoder::Leef(o) => leef::encode(event, o, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{FileSink, FileSinkConfig};
    use crate::stdout::StdoutSink;
    use crate::Sink;
    use netwrix::{ActivityRecord, RecordId};

    fn event(seq: u64) -> Event {
        let record =
            ActivityRecord { who: format!("CORP\\u{seq}").into(), action: "Read".into(), ..Default::default() };
        Event { seq, id: RecordId([seq as u8; 16]), job: "j".into(), replay: false, record }
    }

    fn lines(encoder: &Encoder, events: &[Event]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in events {
            encoder.encode(e, &mut out);
            out.push(b'\n');
        }
        out
    }

    #[tokio::test]
    async fn file_and_stdout_sinks_write_cef_and_leef_lines() {
        let dir = tempfile::tempdir().unwrap();
        let cef = Encoder::new(Format::Cef, None, None);
        let config = FileSinkConfig { encoder: cef.clone(), ..FileSinkConfig::new(dir.path().join("records.cef")) };
        let mut file = FileSink::new(config);
        file.open(None).await.unwrap();
        file.deliver(&[event(1), event(2)]).await.unwrap();
        file.close().await.unwrap();
        let written = std::fs::read(dir.path().join("records.cef")).unwrap();
        assert_eq!(written, lines(&cef, &[event(1), event(2)]));
        assert!(written.starts_with(b"CEF:0|Netwrix|Auditor|1.0|Read|Read|2|externalId=01010101"));

        let leef = Encoder::new(Format::Leef, None, Some(&LeefOptions::default()));
        let mut stdout = StdoutSink::with_writer(Vec::new()).with_encoder(leef.clone());
        stdout.deliver(&[event(3)]).await.unwrap();
        let out = stdout.into_inner();
        assert_eq!(out, lines(&leef, &[event(3)]));
        assert!(out.starts_with(b"LEEF:2.0|Netwrix|Auditor|1.0|Read|^|sev=2^usrName=CORP\\u3^"));
    }

    #[test]
    fn misfitting_option_tables_are_named() {
        assert_eq!(Format::Cef.misfit(true, false), None);
        assert_eq!(Format::Leef.misfit(false, true), None);
        assert!(Format::Json.misfit(true, false).unwrap().contains("[sink.cef]"));
        assert!(Format::Cef.misfit(false, true).unwrap().contains("[sink.leef]"));
    }
}
