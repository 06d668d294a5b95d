//! How the client decides that the server at the other end of a TLS connection is the
//! Netwrix server it was configured for.
//!
//! A Netwrix Auditor server ships with an auto-generated self-signed certificate (spec §1,
//! §6), usually without the IP address or even the name clients use. So besides the usual
//! platform roots there are three ways to trust it: a CA bundle, pinning the certificate's
//! SHA-256 fingerprint, or (for a first test only) not checking at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::ClientError;

/// Which server certificates the client accepts over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// The platform's root store (on Linux the system CA bundle, e.g. `/etc/ssl/certs`,
    /// or `SSL_CERT_FILE`); the host name must match the certificate.
    #[default]
    System,
    /// Only the certificates in this PEM file are roots (the platform store is not used);
    /// the host name must match the certificate.
    CaFile(PathBuf),
    /// Exactly the end-entity certificate whose DER has this SHA-256 (hex, with or without
    /// colons, any case, optionally prefixed `sha256:`). Neither host name, issuer nor
    /// validity dates are checked, since a pinned self-signed certificate needs none of them;
    /// the handshake signature still is, so the server must hold the certificate's key.
    Fingerprint(String),
    /// Any certificate at all. For first tests only: a `warn!` is logged for every client built.
    Insecure,
}

/// The SHA-256 of a certificate's DER, lowercase hex without separators.
pub fn fingerprint_of(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Normalises a configured fingerprint to 64 lowercase hex digits.
pub fn parse_fingerprint(text: &str) -> Result<String, ClientError> {
    let trimmed = text.trim();
    let body = ["sha256:", "sha256=", "sha-256:"]
        .iter()
        .find_map(|p| trimmed.get(..p.len()).filter(|head| head.eq_ignore_ascii_case(p)).map(|_| &trimmed[p.len()..]))
        .unwrap_or(trimmed);
    let hex: String = body.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect::<String>().to_ascii_lowercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ClientError::Config(format!(
            "certificate fingerprint {text:?} is not a SHA-256 (64 hex digits, colons allowed)"
        )));
    }
    Ok(hex)
}

/// The crypto provider every connection uses: `ring`, the one provider compiled in (it
/// builds in a fraction of aws-lc's time; see docs/development.md).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls configuration for `trust`. ALPN offers HTTP/1.1 only: HTTP.sys does
/// connection-bound authentication (NTLM, Negotiate) over HTTP/1.1 alone.
pub fn tls_config(trust: &Trust) -> Result<rustls::ClientConfig, ClientError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match trust {
        Trust::System => Arc::new(rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
            ClientError::Config(format!("cannot load the system's CA certificates: {e} (install ca-certificates, set SSL_CERT_FILE, or use another trust mode)"))
        })?),
        Trust::CaFile(path) => {
            let roots = load_roots(path)?;
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ClientError::Config(format!("CA file {}: {e}", path.display())))?
        }
        Trust::Fingerprint(text) => Arc::new(PinnedCertVerifier {
            expected: parse_fingerprint(text)?,
            algorithms: provider.signature_verification_algorithms,
        }),
        Trust::Insecure => Arc::new(AnyCertVerifier { algorithms: provider.signature_verification_algorithms }),
    };
    finish(provider, verifier)
}

fn finish(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, ClientError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A TLS configuration that accepts no certificate: for clients of `http://` URLs, which
/// never open a TLS connection, so they never load the system's CA store.
pub fn tls_config_refusing_all() -> Result<rustls::ClientConfig, ClientError> {
    let provider = provider();
    let verifier = Arc::new(PinnedCertVerifier {
        expected: String::new(),
        algorithms: provider.signature_verification_algorithms,
    });
    finish(provider, verifier)
}

/// Reads a PEM bundle into a root store, with errors that name the file.
fn load_roots(path: &Path) -> Result<RootCertStore, ClientError> {
    let name = path.display();
    let pem = std::fs::read(path).map_err(|e| ClientError::Config(format!("cannot read CA file {name}: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| ClientError::Config(format!("CA file {name}: bad PEM: {e}")))?;
        roots.add(cert).map_err(|e| ClientError::Config(format!("CA file {name}: unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError::Config(format!("CA file {name} holds no PEM certificate (BEGIN CERTIFICATE)")));
    }
    Ok(roots)
}

/// The error a pinned-certificate check fails with; `super::requests` finds it in the
/// error chain to tell the operator both fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate fingerprint mismatch: expected {expected}, got {got}")]
pub struct FingerprintMismatch {
    pub expected: String,
    pub got: String,
}

/// The [`FingerprintMismatch`] somewhere in `error`'s chain of causes: a pinned
/// certificate that did not match, so the operator can be shown both fingerprints.
pub fn find_mismatch<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a FingerprintMismatch> {
    super::error::causes(error).into_iter().find_map(|e| match e.downcast_ref() {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) => {
            other.0.downcast_ref::<FingerprintMismatch>()
        }
        _ => None,
    })
}

/// Accepts exactly one end-entity certificate, by the SHA-256 of its DER.
#[derive(Debug)]
struct PinnedCertVerifier {
    expected: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint_of(end_entity);
        if got == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = FingerprintMismatch { expected: self.expected.clone(), got };
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(mismatch)))))
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

/// Accepts any certificate (`Trust::Insecure`); handshake signatures are still checked.
struct AnyCertVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for AnyCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyCertVerifier")
    }
}

impl ServerCertVerifier for AnyCertVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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

    fn self_signed() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["netwrix.test".to_string()]).expect("rcgen")
    }

    #[test]
    fn fingerprints_parse_in_every_usual_spelling() {
        let plain = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&plain).unwrap(), plain);
        assert_eq!(parse_fingerprint(&colons).unwrap(), plain);
        assert_eq!(parse_fingerprint(&format!(" SHA256:{colons} ")).unwrap(), plain);
        assert!(parse_fingerprint("abcd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
        let err = parse_fingerprint("nope").unwrap_err();
        assert!(matches!(err, ClientError::Config(_)));
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }

    #[test]
    fn pinned_verifier_accepts_only_its_certificate() {
        let right = self_signed();
        let wrong = self_signed();
        let verifier = PinnedCertVerifier {
            expected: fingerprint_of(right.cert.der()),
            algorithms: provider().signature_verification_algorithms,
        };
        let name = ServerName::try_from("10.0.0.5").unwrap();
        assert!(verifier.verify_server_cert(right.cert.der(), &[], &name, &[], UnixTime::now()).is_ok());
        let err = verifier.verify_server_cert(wrong.cert.der(), &[], &name, &[], UnixTime::now()).unwrap_err();
        let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = err else { panic!("{err:?}") };
        let mismatch = other.0.downcast_ref::<FingerprintMismatch>().expect("a FingerprintMismatch");
        assert_eq!(mismatch.expected, fingerprint_of(right.cert.der()));
        assert_eq!(mismatch.got, fingerprint_of(wrong.cert.der()));
    }

    #[test]
    fn every_mode_builds_and_bad_ca_files_are_named() {
        let dir = std::env::temp_dir().join(format!("netwrix-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(&good, self_signed().cert.pem()).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();

        assert!(tls_config(&Trust::CaFile(good)).is_ok());
        assert!(tls_config(&Trust::Insecure).is_ok());
        assert!(tls_config(&Trust::Fingerprint("ab".repeat(32))).is_ok());
        let err = tls_config(&Trust::CaFile(empty.clone())).unwrap_err().to_string();
        assert!(err.contains("empty.pem") && err.contains("no PEM certificate"), "{err}");
        let missing = dir.join("missing.pem");
        let err = tls_config(&Trust::CaFile(missing)).unwrap_err().to_string();
        assert!(err.contains("missing.pem") && err.contains("cannot read"), "{err}");
        let config = tls_config(&Trust::Insecure).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
