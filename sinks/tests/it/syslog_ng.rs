//! End to end against a real syslog-ng (Debian's 3.38; started here with a private
//! config on free ports): UDP, TCP with octet counting, TCP with LF framing and TLS each
//! deliver 10,000 records through a sink; syslog-ng's parsed fields (host, program,
//! message, and the CEF/LEEF fields through its csv and kv parsers) match the records.
//! Install: scripts/peers/syslog-ng.sh.

use crate::spec_decoders;

use crate::spec_decoders::unescape_value;
use crate::syslogng::{Ports, SyslogNg};
use serde_json::Value;
use sinks::format::cef::{self, CefOptions};
use sinks::format::leef::{self, LeefOptions};
use sinks::syslog::{SyslogConfig, SyslogSink};
use sinks::transport::syslog::{Address, Framing, Protocol, Target, Transport};
use sinks::{Event, Sink};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const RECORDS: usize = 10_000;
const HOST: &str = "bridge01.corp.example";

fn events(n: usize, seed: u64) -> Vec<Event> {
    netwrix::generate::generate(n, seed)
        .into_iter()
        .enumerate()
        .map(|(i, record)| Event { seq: i as u64 + 1, id: record.id(), job: "corp".into(), replay: false, record })
        .collect()
}

fn syslog_sink(toml_keys: &str) -> SyslogSink {
    let text = format!("hostname = \"{HOST}\"\n{toml_keys}");
    let config: SyslogConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    SyslogSink::from_config(&config)
}

/// A self-signed certificate for 127.0.0.1 / localhost, as PEM files in `dir`.
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// Delivers `events` in batches of `batch`; with `pace`, waits after each batch until
/// syslog-ng has written it (UDP has no flow control: a burst larger than the
/// receiver's socket buffer would be dropped by the kernel, not by the bridge).
async fn deliver(sink: &mut SyslogSink, peer: &SyslogNg, events: &[Event], batch: usize, pace: bool) {
    sink.open(None).await.unwrap();
    let mut sent = peer.count();
    for chunk in events.chunks(batch) {
        sink.deliver(chunk).await.unwrap_or_else(|e| panic!("deliver: {e}\n{}", peer.stderr()));
        sent += chunk.len();
        if pace {
            let got = peer.wait_for(sent, Duration::from_secs(30));
            assert_eq!(got, sent, "syslog-ng wrote {got} of {sent} so far\n{}", peer.stderr());
        }
    }
    sink.close().await.unwrap();
}

/// What to compare a parsed message with.
enum Expect<'a> {
    Cef(&'a CefOptions),
    Leef(&'a LeefOptions),
}

/// Every record is in syslog-ng's output exactly once, with the expected host, program
/// and message, and its CEF/LEEF fields as syslog-ng's parsers read them.
fn assert_parsed(peer: &SyslogNg, events: &[Event], program: Option<&str>, expect: Expect<'_>) {
    let got = peer.wait_for(events.len(), Duration::from_secs(60));
    let parsed = peer.parsed();
    assert_eq!(got, events.len(), "message count\n{}", peer.stderr());
    let id_key = match expect {
        Expect::Cef(_) => "externalId",
        Expect::Leef(_) => "recordId",
    };
    let mut by_id: HashMap<String, &Value> = HashMap::new();
    for m in &parsed {
        let (fmt, ext) = match expect {
            Expect::Cef(_) => ("cef", "ext"),
            Expect::Leef(_) => ("leef", "ext"),
        };
        let id = m[fmt][ext][id_key].as_str().unwrap_or_else(|| panic!("no {id_key} in {m}")).to_owned();
        assert!(by_id.insert(id.clone(), m).is_none(), "{id} twice");
    }
    for e in events {
        let m = by_id.get(&e.id.to_string()).unwrap_or_else(|| panic!("record {} missing", e.id));
        assert_eq!(m["HOST"], HOST, "{m}");
        assert_eq!(m["PROGRAM"].as_str(), program, "{m}");
        let mut msg = Vec::new();
        match expect {
            Expect::Cef(o) => {
                cef::encode(e, o, &mut msg);
                let msg = String::from_utf8(msg).unwrap();
                assert_eq!(m["MESSAGE"], msg.as_str());
                assert_cef_fields(m, &msg);
            }
            Expect::Leef(o) => {
                leef::encode(e, o, &mut msg);
                let msg = String::from_utf8(msg).unwrap();
                assert_eq!(m["MESSAGE"], msg.as_str());
                assert_eq!(m["leef"]["event_id"], e.record.action.as_str());
                assert_eq!(m["leef"]["vendor"], "Netwrix");
                let decoded = spec_decoders::decode_leef(&msg).unwrap();
                let ext = m["leef"]["ext"].as_object().unwrap_or_else(|| panic!("no leef.ext in {m}"));
                assert_eq!(ext.len(), decoded.attributes.len(), "{m}");
                for (key, value) in &decoded.attributes {
                    assert_eq!(
                        ext.get(key).and_then(Value::as_str),
                        Some(value.as_str()),
                        "leef.ext.{key} of {}",
                        e.id
                    );
                }
            }
        }
    }
}

/// syslog-ng's csv and kv parsers read the header fields and extension pairs of `msg`
/// as the spec's decoder does.
fn assert_cef_fields(m: &Value, msg: &str) {
    let decoded = spec_decoders::decode_cef(msg).unwrap();
    let names = ["device_vendor", "device_product", "device_version", "device_event_class_id", "name"];
    for (name, want) in names.iter().zip(&decoded.header) {
        assert_eq!(m["cef"][name].as_str(), Some(want.trim()), "cef.{name} in {m}");
    }
    // The values as written (capped where long), read by the spec's decoder;
    // kv-parser keeps CEF escapes as sent, so unescape as the spec says.
    let ext = m["cef"]["ext"].as_object().unwrap_or_else(|| panic!("no cef.ext in {m}"));
    assert_eq!(ext.len(), decoded.extension.len(), "{m}");
    for (key, value) in &decoded.extension {
        let parsed = ext.get(key).and_then(Value::as_str).map(unescape_value);
        assert_eq!(parsed.as_deref(), Some(value.as_str()), "cef.ext.{key} of {msg}");
    }
}

/// Netwrix's line carries no record id: every expected line is in syslog-ng's output
/// as many times as it was sent (generated records may share one), nothing else is.
fn assert_parsed_lines(peer: &SyslogNg, events: &[Event], options: &CefOptions) {
    let got = peer.wait_for(events.len(), Duration::from_secs(60));
    assert_eq!(got, events.len(), "message count\n{}", peer.stderr());
    let mut expected: HashMap<String, usize> = HashMap::new();
    for e in events {
        let mut msg = Vec::new();
        cef::encode(e, options, &mut msg);
        *expected.entry(String::from_utf8(msg).unwrap()).or_default() += 1;
    }
    for m in &peer.parsed() {
        assert_eq!(m["HOST"], HOST, "{m}");
        let msg = m["MESSAGE"].as_str().unwrap_or_else(|| panic!("no MESSAGE in {m}"));
        let left = expected.get_mut(msg).filter(|n| **n > 0).unwrap_or_else(|| panic!("not sent, or twice: {msg}"));
        *left -= 1;
        assert_cef_fields(m, msg);
    }
    assert!(expected.values().all(|n| *n == 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_delivers_10000_cef_records() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let records = events(RECORDS, 11);
    // msg_max 1023, so that every record fits the default 2048-byte datagram and whole
    // lines can be compared (cutting a datagram is the frame tests' business).
    let keys = "protocol = \"udp\"\nformat = \"cef\"\n[cef]\nmsg_max = 1023\n";
    let mut sink = syslog_sink(&format!("address = \"127.0.0.1:{}\"\n{keys}", peer.ports.udp));
    deliver(&mut sink, &peer, &records, 250, true).await;
    let options = CefOptions { msg_max: 1023, ..CefOptions::default() };
    assert_parsed(&peer, &records, Some("auditbridge"), Expect::Cef(&options));
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_octet_counted_delivers_10000_leef_records() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let records = events(RECORDS, 12);
    let mut sink = syslog_sink(&format!("address = \"127.0.0.1:{}\"\nformat = \"leef\"\n", peer.ports.tcp));
    deliver(&mut sink, &peer, &records, 1000, false).await;
    assert_parsed(&peer, &records, Some("auditbridge"), Expect::Leef(&LeefOptions::default()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_lf_framed_delivers_10000_cef_records() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let records = events(RECORDS, 13);
    let mut sink = syslog_sink(&format!(
        "address = \"127.0.0.1:{}\"\nframing = \"lf\"\napp_name = \"nxbridge\"\n",
        peer.ports.tcp_lf
    ));
    deliver(&mut sink, &peer, &records, 1000, false).await;
    assert_parsed(&peer, &records, Some("nxbridge"), Expect::Cef(&CefOptions::default()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_delivers_10000_cef_records_and_checks_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let peer = SyslogNg::start(&dir.path().join("ng"), Ports::free(), Some((cert.clone(), key)));
    let records = events(RECORDS, 14);
    let keys = format!(
        "address = \"127.0.0.1:{}\"\nprotocol = \"tls\"\n[tls]\nca_file = \"{}\"\nserver_name = \"localhost\"\n",
        peer.ports.tls,
        cert.display()
    );
    let mut sink = syslog_sink(&keys);
    let checked = sink.check().await.unwrap();
    assert!(checked.contains("over TLS"), "{checked}");
    deliver(&mut sink, &peer, &records, 1000, false).await;
    assert_parsed(&peer, &records, Some("auditbridge"), Expect::Cef(&CefOptions::default()));

    // A receiver whose certificate the CA file does not vouch for is refused, and
    // retrying cannot help: Fatal.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (other_ca, _) = certificate(&other);
    let mut sink = syslog_sink(&keys.replace(&cert.display().to_string(), &other_ca.display().to_string()));
    let err = sink.deliver(&records[..1]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("handshake"), "{err}");
}

/// `profile = "netwrix"`: Netwrix's own line, over TCP, read back whole by syslog-ng.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_delivers_10000_records_in_netwrix_cef() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let records = events(RECORDS, 17);
    let mut sink = syslog_sink(&format!("address = \"127.0.0.1:{}\"\n[cef]\nprofile = \"netwrix\"\n", peer.ports.tcp));
    deliver(&mut sink, &peer, &records, 1000, false).await;
    assert_parsed_lines(&peer, &records, &CefOptions::netwrix());
    let first = peer.parsed().into_iter().next().unwrap();
    let line = first["MESSAGE"].as_str().unwrap();
    assert!(line.contains("|0|shost=") && line.contains(" start="), "{line}");
}

/// The `arcsight` sink over UDP, by default, sends an event with Netwrix's full 16,000
/// characters of details in one datagram, and syslog-ng reads it whole.
#[tokio::test(flavor = "multi_thread")]
async fn arcsight_udp_carries_16000_characters_of_details_whole() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let mut records = events(50, 19);
    for (i, e) in records.iter_mut().enumerate() {
        // Backslashes, `=` and CRLF double when escaped: 16,000 characters, ~22,000 bytes.
        let text: String = format!("{i}: CORP\\u=x\r\n").chars().cycle().take(16_000).collect();
        e.record.details = vec![netwrix::Detail { message: Some(text.into()), ..Default::default() }];
    }
    let config: sinks::arcsight::ArcsightConfig = toml::from_str(&format!(
        "address = \"127.0.0.1:{}\"\nmode = \"syslog_udp\"\nhostname = \"{HOST}\"\n[cef]\nprofile = \"netwrix\"\n",
        peer.ports.udp
    ))
    .unwrap();
    deliver(&mut config.sink(), &peer, &records, 10, true).await;
    assert_parsed_lines(&peer, &records, &CefOptions::netwrix());
    let longest = peer.parsed().iter().filter_map(|m| m["MESSAGE"].as_str().map(str::len)).max();
    assert!(longest > Some(20_000), "{longest:?}");
}

/// A record with embedded newlines is one message over octet counting: CEF carries the
/// newlines escaped, and the framing carries a raw one too.
#[tokio::test(flavor = "multi_thread")]
async fn newlines_stay_inside_one_message_over_octet_counting() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let mut records = events(2, 15);
    records[0].record.details = vec![netwrix::Detail {
        property_name: "description".into(),
        before: Some("line 1\nline 2\r\nline 3".into()),
        after: Some("x\ny".into()),
        message: None,
    }];
    records[0].record.who = "CORP\\multi\nline".into();
    let mut sink = syslog_sink(&format!("address = \"127.0.0.1:{}\"\n", peer.ports.tcp));
    deliver(&mut sink, &peer, &records, 10, false).await;
    assert_parsed(&peer, &records, Some("auditbridge"), Expect::Cef(&CefOptions::default()));
    let parsed = peer.parsed();
    let msg = parsed.iter().find_map(|m| m["cef"]["ext"]["msg"].as_str()).map(unescape_value).unwrap();
    assert_eq!(msg, "description changed from \"line 1\nline 2\r\nline 3\" to \"x\ny\"");

    // The transport itself: a message holding a raw line feed is one frame.
    let mut transport = Transport::new(Target {
        address: Address { host: "127.0.0.1".into(), port: peer.ports.tcp },
        protocol: Protocol::Tcp,
        framing: Framing::OctetCounting,
        connect_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(5),
        max_datagram_bytes: 2048,
        tls: None,
    });
    let raw = b"<110>1 2024-06-01T12:00:00.000Z bridge01.corp.example raw - - - first line\nsecond line";
    transport.send(raw, &[raw.len()]).await.unwrap();
    transport.close().await;
    assert_eq!(peer.wait_for(3, Duration::from_secs(10)), 3);
    let last = peer.parsed().pop().unwrap();
    assert_eq!(last["MESSAGE"], "first line\nsecond line");
}

/// The `qradar` and `arcsight` sinks' RFC 3164 form (`<PRI>Mmm dd HH:mm:ss host LEEF:…`,
/// no tag) over LF-framed TCP: syslog-ng takes the host, and LEEF/CEF right after it.
#[tokio::test(flavor = "multi_thread")]
async fn qradar_and_arcsight_bsd_headers_are_read_by_syslog_ng() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let records = events(1000, 16);
    let config: sinks::qradar::QradarConfig =
        toml::from_str(&format!("address = \"127.0.0.1:{}\"\nhostname = \"{HOST}\"\n", peer.ports.tcp_lf)).unwrap();
    deliver(&mut config.sink(), &peer, &records, 500, false).await;
    assert_parsed(&peer, &records, None, Expect::Leef(&LeefOptions::default()));

    let dir = tempfile::tempdir().unwrap();
    let peer = SyslogNg::start(dir.path(), Ports::free(), None);
    let config: sinks::arcsight::ArcsightConfig =
        toml::from_str(&format!("address = \"127.0.0.1:{}\"\nhostname = \"{HOST}\"\n", peer.ports.tcp_lf)).unwrap();
    deliver(&mut config.sink(), &peer, &records, 500, false).await;
    assert_parsed(&peer, &records, None, Expect::Cef(&CefOptions::default()));
}
