//! HTTPS for the emulator: a self-signed certificate made at start, as a real Auditor
//! server makes one at install (spec §1), so clients' trust options (pinning a fingerprint,
//! trusting a PEM, accepting anything) can all be exercised.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::io;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A fresh certificate and the acceptor that presents it.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub(crate) fingerprint: String,
    pub(crate) cert_pem: String,
}

/// Makes a self-signed certificate for `127.0.0.1`, `::1` and `localhost`.
pub(crate) fn make() -> io::Result<Tls> {
    let names = vec!["127.0.0.1".to_string(), "::1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let cert_der: CertificateDer<'static> = certified.cert.der().clone();
    let fingerprint = hex::encode(Sha256::digest(cert_der.as_ref()));
    let cert_pem = certified.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key)
        .map_err(io::Error::other)?;
    // HTTP.sys speaks HTTP/1.1 to API clients; say so, so no client tries h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { acceptor: TlsAcceptor::from(Arc::new(config)), fingerprint, cert_pem })
}
