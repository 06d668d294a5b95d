//! The processes a benchmark runs against, each started as a child on a free loopback
//! port and killed when dropped: the emulator, syslog-ng, the HEC and Sentinel receivers and tansu.

use anyhow::{bail, Context};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed (by its own pid) and reaped when dropped.
pub struct Peer {
    child: Child,
    /// `127.0.0.1:port` it listens on.
    pub addr: String,
}

impl Peer {
    /// The CPU time (user + system, its reaped children included) it has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        super::measure::process_cpu_seconds(self.child.id())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `command`, its stderr into `log`, and waits until `port` accepts connections.
fn start(mut command: Command, port: u16, log: &Path, what: &str, limit: Duration) -> anyhow::Result<Peer> {
    let stderr = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let mut peer = Peer { child, addr: format!("127.0.0.1:{port}") };
    let deadline = Instant::now() + limit;
    while TcpStream::connect(&peer.addr).is_err() {
        if let Some(status) = peer.child.try_wait()? {
            bail!("{what} exited at start ({status}); its log: {}", log.display());
        }
        if Instant::now() > deadline {
            bail!("{what} did not listen on {} within {limit:?}; its log: {}", peer.addr, log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(peer)
}

/// `auditbridge emulate` with `records` generated records, plain HTTP, no authentication.
pub fn emulator(records: usize, dir: &Path) -> anyhow::Result<Peer> {
    let port = free_port()?;
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["emulate", "--listen", &format!("127.0.0.1:{port}"), "--generate", &records.to_string()]);
    // Generating a million records takes a few seconds.
    start(command, port, &dir.join("emulator.log"), "the emulator", Duration::from_secs(300))
}

/// `auditbridge hec-receiver` with indexer acknowledgement (each ack reported `ack_delay`
/// after its request was accepted), counting events only.
pub fn hec_receiver(token: &str, ack_delay: Duration, dir: &Path) -> anyhow::Result<Peer> {
    let port = free_port()?;
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["hec-receiver", "--listen", &format!("127.0.0.1:{port}"), "--token", token, "--ack"]);
    command.args(["--ack-delay", &format!("{}ms", ack_delay.as_millis())]);
    start(command, port, &dir.join("hec-receiver.log"), "the HEC receiver", Duration::from_secs(30))
}

/// `auditbridge sentinel-receiver` over HTTPS (tenant `t`, client `c`, secret `s`, DCR
/// `dcr-bench`), counting rows only; returns it and its certificate's PEM file.
pub fn sentinel_receiver(dir: &Path) -> anyhow::Result<(Peer, PathBuf)> {
    let port = free_port()?;
    let ca = dir.join("sentinel-receiver-ca.pem");
    let _ = std::fs::remove_file(&ca);
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["sentinel-receiver", "--listen", &format!("127.0.0.1:{port}")]);
    command.args(["--tenant-id", "t", "--client-id", "c", "--client-secret", "s", "--dcr-immutable-id", "dcr-bench"]);
    command.arg("--cert-out").arg(&ca);
    let peer =
        start(command, port, &dir.join("sentinel-receiver.log"), "the Sentinel receiver", Duration::from_secs(30))?;
    // The certificate is written just after the port opens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ca.exists() {
        if Instant::now() > deadline {
            bail!("the Sentinel receiver did not write {}", ca.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((peer, ca))
}

/// syslog-ng with one TCP source (RFC 6587 octet counting, RFC 5424) writing each
/// message as a line to `dir/syslog-ng/messages.log`. Installed by `scripts/peers/syslog-ng.sh`.
pub fn syslog_ng(dir: &Path) -> anyhow::Result<Peer> {
    let found = Command::new("sh").args(["-c", "command -v syslog-ng"]).stdout(Stdio::null()).status()?.success();
    if !found {
        bail!("syslog-ng is not installed: run scripts/peers/syslog-ng.sh");
    }
    let port = free_port()?;
    let d = dir.join("syslog-ng");
    std::fs::create_dir_all(&d)?;
    let config = format!(
        r#"@version: 3.38
options {{ stats-freq(0); log-msg-size(65536); log-fetch-limit(1000); flush-lines(1000); }};
source s_tcp {{ syslog(ip("127.0.0.1") port({port}) transport("tcp") log-iw-size(100000)); }};
destination d_file {{ file("{out}" template("$MSG\n")); }};
log {{ source(s_tcp); destination(d_file); }};
"#,
        out = d.join("messages.log").display()
    );
    std::fs::write(d.join("syslog-ng.conf"), config)?;
    let mut command = Command::new("syslog-ng");
    command
        .args(["-F", "-e", "--no-caps"])
        .arg(format!("--cfgfile={}", d.join("syslog-ng.conf").display()))
        .arg(format!("--persist-file={}", d.join("syslog-ng.persist").display()))
        .arg(format!("--pidfile={}", d.join("syslog-ng.pid").display()))
        .arg(format!("--control={}", d.join("syslog-ng.ctl").display()));
    start(command, port, &d.join("stderr.log"), "syslog-ng", Duration::from_secs(30))
}

/// The tansu broker (installed by `scripts/peers/tansu.sh`) with in-memory storage and
/// `topic` created with three partitions.
pub fn tansu(topic: &str, dir: &Path) -> anyhow::Result<Peer> {
    let bin = PathBuf::from(".peers/bin/tansu");
    if !bin.exists() {
        bail!("the Kafka peer tansu is not installed at {}: run scripts/peers/tansu.sh", bin.display());
    }
    let port = free_port()?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(&bin);
    command.args(["broker", "--listener-url", &url, "--advertised-listener-url", &url]);
    command.args(["--storage-engine", "memory://tansu/"]);
    let peer = start(command, port, &dir.join("tansu.log"), "tansu", Duration::from_secs(30))?;
    let status = Command::new(&bin)
        .args(["topic", "create", "--broker", &url, "--partitions", "3", topic])
        .stdout(Stdio::null())
        .status()
        .context("creating the Kafka topic with tansu")?;
    if !status.success() {
        bail!("tansu topic create {topic} failed ({status})");
    }
    Ok(peer)
}
