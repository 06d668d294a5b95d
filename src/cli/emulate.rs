//! `auditbridge emulate`: the Netwrix Auditor Integration API emulator as a server,
//! for trying the bridge (or curl) without a Netwrix server.

use netwrix::emulator::{Emulator, EmulatorConfig, FaultSpec, ServerScheme, FAULT_GRAMMAR};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Options of `auditbridge emulate`.
#[derive(Debug, clap::Args)]
pub struct EmulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9699")]
    pub listen: SocketAddr,
    /// Serve HTTPS with a self-signed certificate made at start (its fingerprint is printed).
    #[arg(long)]
    pub tls: bool,
    /// Fill the emulator with this many generated records.
    #[arg(long, default_value_t = 0)]
    pub generate: usize,
    /// Seed of the generated records (the same seed gives the same records).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Require authentication as this user (`DOMAIN\\user`)…
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    /// …and this password.
    #[arg(long, requires = "user")]
    pub password: Option<String>,
    /// The scheme(s) the login is accepted with: basic, digest (SHA-256 and MD5),
    /// ntlm (NTLMv2) or negotiate (SPNEGO carrying NTLM, or raw NTLM). Repeat to offer
    /// several, one WWW-Authenticate challenge each, in the order given. Default: basic.
    #[arg(long = "auth", value_name = "SCHEME", value_parser = parse_scheme, requires = "user")]
    pub auth: Vec<ServerScheme>,
    /// Inject failures into enum and search answers (repeatable). Queued faults are
    /// served first, in the order given; scheduled ones (every=N:, random=P:) for the
    /// whole run. The grammar is below.
    #[arg(long = "fault", value_name = "SPEC", value_parser = parse_fault, long_help = fault_help())]
    pub faults: Vec<FaultSpec>,
}

fn parse_scheme(text: &str) -> Result<ServerScheme, String> {
    ServerScheme::parse(text).ok_or_else(|| format!("{text:?} is not one of basic, digest, ntlm, negotiate"))
}

fn parse_fault(text: &str) -> Result<FaultSpec, String> {
    FaultSpec::parse(text).map_err(|e| e.to_string())
}

fn fault_help() -> String {
    format!("Inject failures into enum and search answers (repeatable).\n\n{FAULT_GRAMMAR}")
}

pub async fn emulate(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let schemes = if args.auth.is_empty() { vec![ServerScheme::Basic] } else { args.auth.clone() };
    let config = EmulatorConfig {
        credentials: args.user.zip(args.password),
        schemes: schemes.clone(),
        tls: args.tls,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::new(config);
    for fault in &args.faults {
        emulator.apply(fault);
    }
    if args.generate > 0 {
        emulator.add_records(netwrix::generate::generate(args.generate, args.seed));
    }
    let running = emulator.serve(args.listen).await?;
    // Written with errors ignored: whoever started us may close our stdout, and the
    // emulator must go on serving regardless.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "Netwrix Auditor API emulator: {} records at {}/netwrix/api/v1/activity_records/enum",
        emulator.len(),
        running.base_url
    );
    if let Some(fp) = &running.fingerprint {
        let _ = writeln!(out, "certificate SHA-256 fingerprint: {fp}");
    }
    let names: Vec<&str> = schemes.iter().map(|s| s.name()).collect();
    let _ = writeln!(out, "authentication: {}", names.join(", "));
    if !args.faults.is_empty() {
        let _ = writeln!(out, "faults: {} injected (--fault)", args.faults.len());
    }
    let _ = writeln!(out, "stop with Ctrl-C");
    let _ = out.flush();
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
