//! `auditbridge emulate`: the Netwrix Auditor Integration API emulator as a server,
//! for trying the bridge (or curl) without a Netwrix server.

use netwrix::emulator::{Emulator, EmulatorConfig};
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
    /// Require Basic authentication with this user…
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    /// …and this password.
    #[arg(long, requires = "user")]
    pub password: Option<String>,
}

pub async fn emulate(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let config =
        EmulatorConfig { credentials: args.user.zip(args.password), tls: args.tls, ..EmulatorConfig::default() };
    let emulator = Emulator::new(config);
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
    let _ = writeln!(out, "stop with Ctrl-C");
    let _ = out.flush();
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
