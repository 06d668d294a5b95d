//! `auditbridge sentinel-receiver`: a stand-in for the Azure Monitor Logs Ingestion API and
//! the Entra ID token endpoint, so a person can try a `sentinel` sink (credentials, DCR,
//! limits, throttling) before pointing it at Azure.

use sinks::sentinel::receiver::{certificate_der, Fault, Receiver, ReceiverConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Options of `auditbridge sentinel-receiver`.
#[derive(Debug, clap::Args)]
pub struct SentinelReceiverArgs {
    /// Address to listen on; the sink's `endpoint` and `authority_host` are both this.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    #[arg(long)]
    pub tenant_id: String,
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub client_secret: String,
    /// A PEM file with a certificate registered with the app: client assertions signed by
    /// its key are taken too (a sink's `client_certificate`).
    #[arg(long)]
    pub client_certificate: Option<PathBuf>,
    #[arg(long)]
    pub dcr_immutable_id: String,
    #[arg(long, default_value = "Custom-NetwrixAuditor_CL")]
    pub stream: String,
    /// How long each token lives ("5s", "1h"; Entra's usual is about an hour).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3599s")]
    pub token_lifetime: Duration,
    /// Serve plain HTTP instead of HTTPS with a self-signed certificate (Microsoft's own
    /// clients send tokens over HTTPS only).
    #[arg(long)]
    pub http: bool,
    /// Write the self-signed certificate, in PEM, to this file (the sink's `tls.ca_file`).
    #[arg(long)]
    pub cert_out: Option<PathBuf>,
    /// Append every accepted row, one JSON object a line, to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Answer 429 with `Retry-After` for this long from the start ("10s").
    #[arg(long, value_parser = humantime::parse_duration)]
    pub throttle_for: Option<Duration>,
    /// The `Retry-After` of `--throttle-for`, in seconds.
    #[arg(long, default_value_t = 2)]
    pub retry_after: u64,
    /// The app has no role on the DCR: every call is answered 403.
    #[arg(long)]
    pub forbid: bool,
}

pub async fn sentinel_receiver(args: SentinelReceiverArgs) -> anyhow::Result<ExitCode> {
    let client_certificate = match &args.client_certificate {
        Some(path) => {
            let pem =
                std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            Some(certificate_der(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let config = ReceiverConfig {
        client_certificate,
        stream: args.stream.clone(),
        token_lifetime: args.token_lifetime,
        tls: !args.http,
        output: args.output.clone(),
        ..ReceiverConfig::new(&args.tenant_id, &args.client_id, &args.client_secret, &args.dcr_immutable_id)
    };
    let receiver = Receiver::new(config)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.output.as_deref().unwrap_or("".as_ref()).display()))?;
    if let Some(duration) = args.throttle_for {
        receiver.inject(Fault::Throttle { status: 429, duration, retry_after: args.retry_after });
    }
    receiver.set_role(!args.forbid);
    let running = receiver.serve(args.listen).await?;
    // Written with errors ignored: whoever started us may close our stdout.
    let mut out = std::io::stdout();
    let base = &running.base_url;
    let _ = writeln!(
        out,
        "Logs Ingestion stand-in at {base}/dataCollectionRules/{}/streams/{}?api-version=2023-01-01\n\
         token endpoint {base}/{}/oauth2/v2.0/token (set the sink's endpoint and authority_host to {base})",
        args.dcr_immutable_id, args.stream, args.tenant_id
    );
    if let Some(pem) = &running.cert_pem {
        match &args.cert_out {
            Some(path) => {
                std::fs::write(path, pem).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                let _ = writeln!(out, "self-signed certificate written to {} (the sink's tls.ca_file)", path.display());
            }
            None => _ = writeln!(out, "self-signed certificate (use it as the sink's tls.ca_file):\n{pem}"),
        }
    }
    match &args.output {
        Some(path) => _ = writeln!(out, "writing accepted rows to {}", path.display()),
        None => _ = writeln!(out, "counting accepted rows (--output FILE keeps them)"),
    }
    super::stand_in::report_until_ctrl_c(&mut out, "rows accepted", || receiver.row_count()).await?;
    running.shutdown().await;
    let stats = receiver.stats();
    let _ = writeln!(
        out,
        "{} rows accepted in {} calls ({} answered 204), {} tokens granted",
        stats.rows,
        stats.calls,
        stats.answers.get(&204).copied().unwrap_or(0),
        stats.tokens
    );
    Ok(ExitCode::SUCCESS)
}
