//! `auditbridge hec-receiver`: a Splunk HTTP Event Collector stand-in, so a person can try
//! a `splunk_hec` sink (token, gzip, indexer acknowledgement) before pointing it at Splunk.

use sinks::hec::receiver::{Receiver, ReceiverConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `auditbridge hec-receiver`.
#[derive(Debug, clap::Args)]
pub struct HecReceiverArgs {
    /// Address to listen on (Splunk's HEC port is 8088).
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub listen: SocketAddr,
    /// The token to accept (`Authorization: Splunk <token>`).
    #[arg(long)]
    pub token: String,
    /// Indexer acknowledgement on, as for a token with "Enable indexer acknowledgement".
    #[arg(long)]
    pub ack: bool,
    /// Serve HTTPS with a self-signed certificate made at start (printed, in PEM).
    #[arg(long)]
    pub tls: bool,
    /// Append every indexed event envelope, one a line, to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// With `--ack`: report a request's ack true only this long after it was accepted, as
    /// a busy indexer does ("500ms", "2s"; default at once).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub ack_delay: std::time::Duration,
}

pub async fn hec_receiver(args: HecReceiverArgs) -> anyhow::Result<ExitCode> {
    let config = ReceiverConfig {
        ack: args.ack,
        tls: args.tls,
        keep_events: false,
        output: args.output.clone(),
        ack_delay: args.ack_delay,
        ..ReceiverConfig::new(args.token)
    };
    let receiver = Receiver::new(config)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.output.as_deref().unwrap_or("".as_ref()).display()))?;
    let running = receiver.serve(args.listen).await?;
    // Written with errors ignored: whoever started us may close our stdout.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "Splunk HEC receiver at {}/services/collector/event (indexer acknowledgement {})",
        running.base_url,
        if args.ack { "on" } else { "off" }
    );
    if let Some(pem) = &running.cert_pem {
        let _ = writeln!(out, "self-signed certificate (use it as the sink's tls.ca_file):\n{pem}");
        if let Some(fingerprint) = running.fingerprint() {
            let _ = writeln!(out, "its SHA-256 (or pin it as the sink's tls.fingerprint): {fingerprint}");
        }
    }
    match &args.output {
        Some(path) => _ = writeln!(out, "writing indexed events to {}", path.display()),
        None => _ = writeln!(out, "counting indexed events (--output FILE keeps them)"),
    }
    super::stand_in::report_until_ctrl_c(&mut out, "events indexed", || receiver.indexed_count()).await?;
    running.shutdown().await;
    let stats = receiver.stats();
    let _ = writeln!(
        out,
        "{} events indexed from {} accepted requests ({} event requests in all)",
        stats.indexed, stats.accepted_requests, stats.event_requests
    );
    Ok(ExitCode::SUCCESS)
}
