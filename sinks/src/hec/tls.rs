//! How the HEC sink trusts the collector's certificate: the system roots, only the CAs
//! of a PEM file, or (for a first test) nothing at all.
//!
//! Splunk's HEC listens with its own self-signed certificate unless an administrator
//! installs one, so a CA file (Splunk's `cacert.pem`, or the company CA) is the usual
//! setting; `insecure_skip_verify` exists for a first try and warns at every start.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// Which certificates to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust<'a> {
    /// The platform's roots; the host name must match.
    System,
    /// Only the CAs in this PEM file; the host name must match.
    CaFile(&'a Path),
    /// Anything (handshake signatures are still checked).
    Insecure,
    /// Nothing: for `http://` URLs, which never open TLS, so they never load the system store.
    Nothing,
}

/// Builds the rustls client configuration for `trust` (HTTP/1.1 only, as HEC speaks).
pub(crate) fn client_config(trust: Trust<'_>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        Trust::System => Arc::new(rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
            format!("cannot load the system's CA certificates: {e} (install ca-certificates or set tls.ca_file)")
        })?),
        Trust::CaFile(path) => WebPkiServerVerifier::builder_with_provider(Arc::new(roots(path)?), provider.clone())
            .build()
            .map_err(|e| format!("CA file {}: {e}", path.display()))?,
        Trust::Insecure => Arc::new(Verifier { accept: true, algorithms }),
        Trust::Nothing => Arc::new(Verifier { accept: false, algorithms }),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Reads a PEM bundle into a root store, with errors that name the file.
fn roots(path: &Path) -> Result<RootCertStore, String> {
    let name = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {name}: {e}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("CA file {name}: bad PEM: {e}"))?;
        roots.add(cert).map_err(|e| format!("CA file {name}: unusable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("CA file {name} holds no PEM certificate (BEGIN CERTIFICATE)"));
    }
    Ok(roots)
}

/// Accepts every certificate (`accept`) or none; signatures are checked either way.
#[derive(Debug)]
struct Verifier {
    accept: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accept {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("TLS is not expected for an http:// URL".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds_and_bad_ca_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ca.pem");
        let cert = rcgen::generate_simple_self_signed(vec!["splunk.test".to_string()]).unwrap();
        std::fs::write(&good, cert.cert.pem()).unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing\n").unwrap();
        assert!(client_config(Trust::CaFile(&good)).is_ok());
        assert!(client_config(Trust::Insecure).is_ok());
        assert!(client_config(Trust::Nothing).is_ok());
        let err = client_config(Trust::CaFile(&empty)).unwrap_err();
        assert!(err.contains("empty.pem") && err.contains("no PEM certificate"), "{err}");
        let err = client_config(Trust::CaFile(&dir.path().join("missing.pem"))).unwrap_err();
        assert!(err.contains("missing.pem") && err.contains("cannot read"), "{err}");
    }
}
