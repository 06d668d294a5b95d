//! `auditbridge trust URL`: shows the certificate a Netwrix server presents (subject,
//! issuer, validity, names, SHA-256 fingerprint) and the config lines that pin it, so
//! a self-signed certificate can be trusted knowingly rather than by skipping checks.

use netwrix::client::{fingerprint_of, peek_certificates};
use std::process::ExitCode;
use std::time::Duration;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Options of `auditbridge trust`.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// The job's url, e.g. https://netwrix.corp.example:9699
    pub url: String,
    /// How long to wait for the handshake.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

pub async fn trust(args: TrustArgs) -> anyhow::Result<ExitCode> {
    let chain = peek_certificates(&args.url, args.timeout).await?;
    println!("{} presented {} certificate(s); the server's own:", args.url, chain.len());
    let der = &chain[0];
    let fingerprint = fingerprint_of(der);
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => describe(&cert),
        Err(e) => println!("  (the certificate could not be parsed for display: {e})"),
    }
    println!("  SHA-256:  {}", colons(&fingerprint));
    println!();
    println!("Check it against the certificate on the Netwrix server before pinning it (export");
    println!("the API certificate as .cer, then: certutil -hashfile api.cer SHA256; Windows'");
    println!("own \"thumbprint\" is SHA-1 and will not match; for a Splunk HEC collector:");
    println!("openssl x509 -in $SPLUNK_HOME/etc/auth/server.pem -noout -fingerprint -sha256).");
    println!("Then add to the job ([job.tls]) or to the splunk_hec sink ([sink.tls]):");
    println!();
    println!("fingerprint = \"{fingerprint}\"");
    Ok(ExitCode::SUCCESS)
}

fn describe(cert: &X509Certificate<'_>) {
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    println!("  subject:  {subject}");
    if subject == issuer {
        println!("  issuer:   {issuer} (self-signed)");
    } else {
        println!("  issuer:   {issuer}");
    }
    let validity = cert.validity();
    let now = chrono::Utc::now().timestamp();
    let (from, to) = (validity.not_before.timestamp(), validity.not_after.timestamp());
    let state = if now < from {
        " NOT YET VALID".to_owned()
    } else if now > to {
        " EXPIRED".to_owned()
    } else {
        format!(" (expires in {} days)", (to - now) / 86_400)
    };
    println!("  valid:    {} to {}{state}", date(from), date(to));
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => format!("DNS:{d}"),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => format!("IP:{}", std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        format!("IP:{}", std::net::Ipv6Addr::from(b))
                    }
                    _ => "IP:?".to_owned(),
                },
                other => format!("{other:?}"),
            })
            .collect();
        println!("  names:    {}", names.join(", "));
    }
}

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(|| unix.to_string(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
}

fn colons(hex: &str) -> String {
    hex.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":")
}
