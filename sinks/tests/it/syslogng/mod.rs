//! A private syslog-ng for tests (recipe: ../shared/spec/test-peers.md §2.1): a config
//! in a temp dir, started with its own --cfgfile/--persist-file/--pidfile/--control on
//! free loopback ports; UDP, TCP with octet counting, TCP with LF framing and, when a
//! certificate is given, TLS. Every message is written, parsed, to `out/parsed.jsonl`
//! (CEF through csv-parser + kv-parser; LEEF 1.0 and 2.0 with `^` likewise).
//! Installed by `scripts/peers/syslog-ng.sh`; a test without it fails saying so.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ports of one syslog-ng.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub udp: u16,
    pub tcp: u16,
    pub tcp_lf: u16,
    pub tls: u16,
}

impl Ports {
    /// Free loopback ports (each bound once by us, then released).
    pub fn free() -> Ports {
        let tcp = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Ports { udp, tcp: tcp(), tcp_lf: tcp(), tls: tcp() }
    }
}

/// A running syslog-ng; killed on drop.
pub struct SyslogNg {
    pub dir: PathBuf,
    pub ports: Ports,
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
}

fn require(binary: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {binary}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{binary} is not installed: run scripts/peers/syslog-ng.sh (apt-get install syslog-ng-core syslog-ng-scl), \
         or scripts/test.sh which installs every test peer"
    );
}

impl SyslogNg {
    /// Writes the config into `dir` and starts syslog-ng; `tls` = (cert, key) PEM files
    /// for the TLS source (none: no TLS source).
    pub fn start(dir: &Path, ports: Ports, tls: Option<(PathBuf, PathBuf)>) -> SyslogNg {
        require("syslog-ng");
        require("syslog-ng-ctl");
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let mut s = SyslogNg { dir: dir.to_owned(), ports, tls, child: None };
        std::fs::write(dir.join("syslog-ng.conf"), s.config()).unwrap();
        s.spawn();
        s
    }

    fn config(&self) -> String {
        let d = self.dir.display();
        let p = self.ports;
        let tls_source = match &self.tls {
            Some((cert, key)) => format!(
                r#"source s_tls {{ syslog(ip("127.0.0.1") port({}) transport("tls")
    tls(key-file("{}") cert-file("{}") peer-verify(optional-untrusted)) flags(store-raw-message)); }};"#,
                p.tls,
                key.display(),
                cert.display()
            ),
            None => String::new(),
        };
        let tls_log = if self.tls.is_some() { "source(s_tls);" } else { "" };
        format!(
            r#"@version: 3.38
@include "scl.conf"
# Test receiver. Nothing under /etc is read.
options {{ keep-hostname(yes); chain-hostnames(no); stats-freq(0); create-dirs(yes); log-msg-size(65536); }};
source s_udp {{ syslog(ip("127.0.0.1") port({udp}) transport("udp") so-rcvbuf(4194304) flags(store-raw-message)); }};
source s_tcp {{ syslog(ip("127.0.0.1") port({tcp}) transport("tcp") flags(store-raw-message)); }};
source s_tcpnl {{ network(ip("127.0.0.1") port({tcp_lf}) transport("tcp") flags(syslog-protocol, store-raw-message)); }};
{tls_source}
parser p_cef {{
  csv-parser(columns("cef.version","cef.device_vendor","cef.device_product","cef.device_version",
                     "cef.device_event_class_id","cef.name","cef.agent_severity","cef.extensions")
             delimiters("|") dialect(escape-backslash) flags(greedy, strip-whitespace) quote-pairs(""));
  kv-parser(prefix("cef.ext.") template("${{cef.extensions}}"));
}};
parser p_leef1 {{
  csv-parser(columns("leef.version","leef.vendor","leef.product","leef.product_version","leef.event_id","leef.extensions")
             delimiters("|") dialect(escape-backslash) flags(greedy) quote-pairs(""));
  kv-parser(prefix("leef.ext.") pair-separator("\t") template("${{leef.extensions}}"));
}};
parser p_leef2 {{
  csv-parser(columns("leef.version","leef.vendor","leef.product","leef.product_version","leef.event_id","leef.delimiter","leef.extensions")
             delimiters("|") dialect(escape-backslash) flags(greedy) quote-pairs(""));
  kv-parser(prefix("leef.ext.") pair-separator("^") template("${{leef.extensions}}"));
}};
destination d_json {{ file("{d}/out/parsed.jsonl"
    template("$(format-json --scope rfc5424 --exclude DATE --key ISODATE --key SOURCE --key cef.* --key leef.* --exclude cef.extensions --exclude leef.extensions)\n")); }};
log {{
  source(s_udp); source(s_tcp); source(s_tcpnl); {tls_log}
  if (program("^(CEF|LEEF)$")) {{ rewrite {{ set("${{PROGRAM}}:${{MESSAGE}}" value("MESSAGE")); unset(value("PROGRAM")); }}; }};
  if (message("^CEF:[0-9]+\\|")) {{ parser(p_cef); }}
  elif (message("^LEEF:1\\.0\\|")) {{ parser(p_leef1); }}
  elif (message("^LEEF:2\\.0\\|")) {{ parser(p_leef2); }};
  destination(d_json);
}};
"#,
            udp = p.udp,
            tcp = p.tcp,
            tcp_lf = p.tcp_lf,
        )
    }

    fn run(&self, file: &str) -> String {
        self.dir.join("run").join(file).display().to_string()
    }

    /// Starts the daemon (again, after [`stop`](Self::stop)) and waits until it answers.
    pub fn spawn(&mut self) {
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(self.run("stderr.log")).unwrap();
        let child = Command::new("syslog-ng")
            .args(["-F", "-e", "--no-caps"])
            .arg(format!("--cfgfile={}", self.dir.join("syslog-ng.conf").display()))
            .arg(format!("--persist-file={}", self.run("syslog-ng.persist")))
            .arg(format!("--pidfile={}", self.run("syslog-ng.pid")))
            .arg(format!("--control={}", self.run("syslog-ng.ctl")))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start syslog-ng");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new("syslog-ng-ctl")
                .args(["stats", &format!("--control={}", self.run("syslog-ng.ctl"))])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("syslog-ng exited at start ({status}): {}", self.stderr());
            }
            assert!(Instant::now() < deadline, "syslog-ng did not become ready: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it the way a service manager does (SIGTERM) and waits for the exit.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.run("stderr.log")).unwrap_or_default()
    }

    pub fn parsed_path(&self) -> PathBuf {
        self.dir.join("out").join("parsed.jsonl")
    }

    /// How many messages have been written so far.
    pub fn count(&self) -> usize {
        std::fs::read(self.parsed_path()).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0)
    }

    /// Waits until at least `n` messages are written (up to `limit`); returns the count.
    pub fn wait_for(&self, n: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let c = self.count();
            if c >= n || Instant::now() > deadline {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every message written, parsed.
    pub fn parsed(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.parsed_path()).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("syslog-ng wrote bad JSON {l:?}: {e}")))
            .collect()
    }
}

impl Drop for SyslogNg {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
