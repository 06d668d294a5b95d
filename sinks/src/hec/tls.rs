//! How the HEC sink trusts the collector's certificate: the system roots, only the CAs
//! of a PEM file, or (for a first test) nothing at all.
//!
//! Splunk's HEC listens with its own self-signed certificate unless an administrator
//! installs one, so a CA file (Splunk's `cacert.pem`, or the company CA) is the usual
//! setting; `insecure_skip_verify` exists for a first try and warns at every start.
//! The rustls configuration itself is the Netwrix client's
//! ([`netwrix::client::trust::tls_config`]): one set of verifiers for every HTTPS peer.

use netwrix::client::trust as nx;
use std::path::Path;

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
    let config = match trust {
        Trust::System => nx::tls_config(&nx::Trust::System),
        Trust::CaFile(path) => nx::tls_config(&nx::Trust::CaFile(path.to_path_buf())),
        Trust::Insecure => nx::tls_config(&nx::Trust::Insecure),
        Trust::Nothing => nx::tls_config_refusing_all(),
    };
    config.map_err(|e| e.to_string())
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
