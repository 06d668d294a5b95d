//! The rustls client configuration of a syslog-over-TLS connection (RFC 5425): trust
//! a CA file or the system roots, optionally present a client certificate.

use super::config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Builds the client configuration; every error names the file and the key.
pub(crate) fn client_config(settings: &TlsConfig) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &settings.ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(path, "tls.ca_file")? {
                roots.add(cert).map_err(|e| format!("tls.ca_file {}: {e}", path.display()))?;
            }
            builder.with_root_certificates(roots)
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| format!("TLS: cannot use the system's trusted roots: {e}"))?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
    match (&settings.cert_file, &settings.key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "tls.cert_file")?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("tls.key_file {}: no usable PEM private key: {e}", key.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("tls.cert_file/key_file: {e}"))
        }
        _ => Err("tls.cert_file and tls.key_file go together: set both or neither".into()),
    }
}

fn certificates(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{key} {}: cannot read: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key} {}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{key} {}: no certificate in the file", path.display()));
    }
    Ok(certs)
}
